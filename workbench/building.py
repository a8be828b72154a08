"""One model build at a time per process: transformers' loading changes process-wide state.

``from_pretrained`` and ``from_config`` set ``torch.set_default_dtype`` to the requested dtype for
the duration of the build, swap ``torch.nn.init`` functions for no-ops, and build on the meta
device before the weights are copied in. None of that is thread-local: two builds of different
dtypes in two threads interleave into models with mixed dtypes, or parameters left on the meta
device ("mat1 and mat2 must have the same dtype", "Cannot copy out of meta tensor"), and the
broken pipeline would be cached for every later user. Every build in the workbench — the manager's
loads, the offline stand-ins' first build — therefore runs inside ``exclusive_build()``. Loads of
the same key are single-flight in ``PipelineManager`` already; this makes loads of *different* keys
queue for the few seconds each build takes. Inference is not held: it creates no parameters, and
its tensors get explicit dtypes from the model (``tests/test_manager.py`` checks runs during loads).

>>> with exclusive_build():
...     with exclusive_build():  # re-entrant: a build may build what it needs (an offline model)
...         pass
"""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

_BUILD_LOCK = threading.RLock()


@contextlib.contextmanager
def exclusive_build() -> Iterator[None]:
    """Hold the process's build lock while the block builds a model (re-entrant)."""
    with _BUILD_LOCK:
        yield
