"""Hugging Face ZeroGPU support in one small shim: ``gpu(fn)``.

On a ZeroGPU Space the ``spaces`` package is installed; a function decorated with ``spaces.GPU``
gets a GPU for the length of each call (in a forked worker), and ``spaces`` must be imported
before torch touches CUDA, so ``app.py`` imports this module first. There ``torch.cuda`` reports
the GPU, so ``device=auto`` resolves to ``cuda:0`` (``workbench.devices.resolve_device``).
Everywhere else ``spaces`` is absent and ``gpu`` returns the function unchanged.

>>> def double(x): return 2 * x
>>> gpu(double) is double or spaces_available()
True
>>> gpu(duration=120)(double)(21)
42
"""

from __future__ import annotations

import importlib.util
from typing import Any, Callable, TypeVar, overload

F = TypeVar("F", bound=Callable[..., Any])

try:  # imported at module import: before torch initialises CUDA (a ZeroGPU requirement)
    import spaces as _spaces
except ImportError:
    _spaces = None


def spaces_available() -> bool:
    """Whether the ``spaces`` package (Hugging Face Spaces' GPU helpers) is importable here."""
    return _spaces is not None or importlib.util.find_spec("spaces") is not None


@overload
def gpu(fn: F, *, duration: int | None = None) -> F: ...
@overload
def gpu(fn: None = None, *, duration: int | None = None) -> Callable[[F], F]: ...


def gpu(fn: F | None = None, *, duration: int | None = None) -> Any:
    """``spaces.GPU`` (``duration``: the most seconds one call may hold the GPU, ``spaces``' default
    when ``None``) where ``spaces`` is installed; otherwise the function itself. Works bare
    (``gpu(fn)``) or with arguments (``gpu(duration=120)(fn)``)."""

    def decorate(f: F) -> F:
        if _spaces is None:
            return f
        return _spaces.GPU(f, duration=duration) if duration is not None else _spaces.GPU(f)

    return decorate(fn) if fn is not None else decorate
