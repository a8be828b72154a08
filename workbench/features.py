"""The one type the batch runner and our adapters share, below both of them.

>>> row: Features = {"input_ids": [[1, 2]], "length": 2}
"""

from __future__ import annotations

from typing import Any

Features = dict[str, Any]
"""One forward pass's inputs (tensors and metadata by name), for the runner's backends and our adapters."""
