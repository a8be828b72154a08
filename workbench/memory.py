"""Out-of-memory handling in one place, in the manner of accelerate's ``utils/memory.py``: one
predicate (``is_oom``), one backend-agnostic cache-clearing function (``release_memory``) and one
back-off (``Backoff``: halve the batch size, keep it, run the batch in chunks that fit); every
error that is not out-of-memory is re-raised as it is.

>>> backoff = Backoff(8)
>>> def run(items):
...     if len(items) > 2:
...         raise MemoryError("too big")
...     return [x * 10 for x in items]
>>> backoff.run(run, [1, 2, 3, 4, 5]), backoff.batch_size, backoff.backoffs
([10, 20, 30, 40, 50], 2, 2)
"""

from __future__ import annotations

import functools
import gc
from typing import Any, Callable, Sequence, TypeVar

from workbench.errors import OutOfMemoryError

T = TypeVar("T")
R = TypeVar("R")

#: Messages of the RuntimeErrors that mean out-of-memory (accelerate's list, plus the CPU allocator's,
#: MPS's and cuBLAS's).
OOM_MESSAGES = (
    "out of memory",
    "cudnn_status_not_supported",
    "can't allocate memory",
    "cublas_status_alloc_failed",
    "failed to allocate",
)


def is_oom(exc: BaseException) -> bool:
    """Whether ``exc`` means something did not fit in memory: torch's ``OutOfMemoryError`` of any
    backend, Python's ``MemoryError``, a RuntimeError whose message says so, or the workbench's own
    ``OutOfMemoryError`` (one input that did not fit).

    >>> is_oom(MemoryError()), is_oom(RuntimeError("CUDA out of memory.")), is_oom(ValueError("out of memory"))
    (True, True, False)
    """
    if isinstance(exc, (MemoryError, OutOfMemoryError)):
        return True
    if isinstance(exc, RuntimeError) and type(exc).__name__ == "OutOfMemoryError":  # torch's, without importing it
        return True
    if isinstance(exc, RuntimeError) and exc.args:
        message = str(exc.args[0]).lower()
        return any(m in message for m in OOM_MESSAGES)
    return False


@functools.lru_cache(maxsize=1)
def _libc() -> Any:
    import ctypes
    import ctypes.util

    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc at ``arenas`` arenas (``mallopt(M_ARENA_MAX)``; call before threads start):
    a server that runs each job in a new thread otherwise gets up to 8 arenas per core, and memory
    freed in one is not given back while another is fragmented. False where this is not glibc.

        limit_malloc_arenas(2)
        # -> True on Linux
    """
    libc = _libc()
    mallopt = getattr(libc, "mallopt", None)
    return bool(mallopt and mallopt(-8, int(arenas)))  # -8: M_ARENA_MAX


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``; microseconds): after a
    large request the process shrinks back instead of keeping its peak."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)


def release_memory(device: Any = None) -> None:
    """Collect garbage and release the accelerator's cached blocks (CUDA, MPS, XPU), whatever the
    backend; ``device`` (a ``torch.device``) limits it to that device's backend."""
    gc.collect()
    import torch

    kind = getattr(device, "type", None)
    if torch.cuda.is_available() and kind in (None, "cuda"):
        torch.cuda.empty_cache()
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available() and kind in (None, "mps"):
        torch.mps.empty_cache()
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available() and kind in (None, "xpu"):
        xpu.empty_cache()


def _reason(exc: BaseException) -> str:
    from workbench.messages import with_type

    return with_type(exc)


class Backoff:
    """Runs batches, halving the batch size on out-of-memory and keeping the size that fits.

    ``run(fn, batch)`` calls ``fn(batch)``; when that runs out of memory it frees memory, sets
    ``batch_size`` to at most half the batch, and runs the batch in chunks of ``batch_size`` (a
    chunk that still does not fit shrinks it further). ``on_backoff(batch)`` is told each time.
    One input that does not fit raises ``OutOfMemoryError`` saying what to do.
    """

    def __init__(self, batch_size: int, *, on_backoff: Callable[[Sequence[Any]], None] | None = None) -> None:
        self.batch_size = batch_size
        self.backoffs = 0
        self.on_backoff = on_backoff

    def run(self, fn: Callable[[Sequence[T]], list[R]], batch: Sequence[T]) -> list[R]:
        try:
            return fn(batch)
        except Exception as exc:
            if not is_oom(exc):
                raise
            reason = _reason(exc)
        release_memory()  # outside the except block, so the failed batch's frames can be freed
        if len(batch) == 1:
            raise OutOfMemoryError(
                "Out of memory even with one input per batch: use a smaller model, a lower-precision dtype "
                f"(bfloat16), shorter inputs (truncation), or a device with more memory. ({reason})")
        self.backoffs += 1
        self.batch_size = min(self.batch_size, (len(batch) + 1) // 2)
        if self.on_backoff is not None:
            self.on_backoff(batch)
        out: list[R] = []
        while len(out) < len(batch):  # in chunks of the size that fits now (a chunk may shrink it more)
            out += self.run(fn, batch[len(out):len(out) + self.batch_size])
        return out
