"""The one out-of-memory predicate, cache release and back-off (workbench/memory.py), which the
runner, the service and the benchmark all use."""

from __future__ import annotations

import pytest
import torch

from workbench.errors import OutOfMemoryError
from workbench.memory import Backoff, is_oom, release_memory


@pytest.mark.parametrize("exc", [
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
    RuntimeError("MPS backend out of memory"),
    RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory"),
    RuntimeError("cuDNN error: CUDNN_STATUS_NOT_SUPPORTED."),
    RuntimeError("CUBLAS_STATUS_ALLOC_FAILED when calling cublasCreate"),
    RuntimeError("Failed to allocate 4096 bytes"),
    MemoryError(),
    OutOfMemoryError("one input did not fit"),
])
def test_out_of_memory_is_recognised(exc):
    assert is_oom(exc)


@pytest.mark.parametrize("exc", [RuntimeError("shape mismatch"), KeyError("out of memory"),
                                 ValueError("out of memory"), RuntimeError()])
def test_other_errors_are_not(exc):
    assert not is_oom(exc)


def test_release_memory_runs_on_this_machine():
    release_memory()
    release_memory(torch.device("cpu"))


class Limit:
    """A batch function that runs out of memory above ``rows`` items and records what it ran."""

    def __init__(self, rows: int, error: BaseException | None = None) -> None:
        self.rows, self.error, self.calls = rows, error, []

    def __call__(self, batch):
        self.calls.append(list(batch))
        if len(batch) > self.rows:
            raise self.error or torch.OutOfMemoryError("CUDA out of memory.")
        return [x * 2 for x in batch]


def test_backoff_halves_keeps_the_size_and_keeps_order():
    told = []
    backoff = Backoff(16, on_backoff=lambda batch: told.append(len(batch)))
    limit = Limit(3)
    assert backoff.run(limit, list(range(10))) == [x * 2 for x in range(10)]
    assert backoff.batch_size == 3 and backoff.backoffs == 2 and told == [10, 5]
    assert backoff.run(limit, [1, 2, 3]) == [2, 4, 6]  # the kept size fits: no further back-off
    assert backoff.backoffs == 2


def test_backoff_gives_up_at_one_input_with_a_clear_message():
    with pytest.raises(OutOfMemoryError, match="one input per batch.*bfloat16"):
        Backoff(4).run(Limit(0), [1, 2, 3, 4])


def test_backoff_reraises_other_errors():
    limit = Limit(1, error=ValueError("bad input"))
    with pytest.raises(ValueError, match="bad input"):
        Backoff(4).run(limit, [1, 2])
    assert limit.calls == [[1, 2]]
