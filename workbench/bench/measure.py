"""The benchmark's instruments: peak memory (``PeakMemory``), forward-call latency
(``ForwardTimer``) and the FLOPs of a forward pass (``flop_model``). The matmul peak they are
compared with is ``workbench.kernels.matmul_peaks``.
"""

from __future__ import annotations

import gc
import threading
import time
from typing import Any, Callable

import numpy as np
import torch

from workbench.runner import backend_for


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


class PeakMemory:
    """Peak memory during a block, in MB above what was in use when it started.

    On a GPU: ``torch.cuda.max_memory_allocated``. On a CPU: the process's peak RSS — on Linux the
    kernel's own high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``), exact and
    free; elsewhere RSS sampled every ``interval`` seconds by a thread (which costs the block some
    CPU time). Freed heap pages are handed back first, so memory an earlier block freed does not
    hide this block's peak."""

    def __init__(self, device: torch.device, interval: float = 0.005) -> None:
        self.device, self.interval = device, interval
        self.peak_mb = 0.0
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
            return self
        import psutil

        _trim_heap()
        self._proc = psutil.Process()
        if _reset_peak_rss():
            self._base = _status_kb("VmRSS") * 1024
            return self
        self._base = self._peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self._peak = max(self._peak, self._proc.memory_info().rss)

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_mb = (torch.cuda.max_memory_allocated(self.device) - self._base) / 2**20
            return
        if self._thread is None:
            self.peak_mb = max(0.0, (_status_kb("VmHWM") * 1024 - self._base) / 2**20)
            return
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, self._proc.memory_info().rss)
        self.peak_mb = (self._peak - self._base) / 2**20


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark of this process to its current RSS (Linux 4.0+)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_kb("VmHWM") > 0
    except OSError:
        return False


def _status_kb(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (0 when it is not there)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _trim_heap() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``), so the RSS a run
    starts from does not already hold what an earlier, larger run freed; elsewhere a no-op."""
    import ctypes
    import ctypes.util

    gc.collect()
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class ForwardTimer:
    """Wall time of every forward call of ``model`` (torch hooks; the same for both runners)."""

    def __init__(self, model: torch.nn.Module, device: torch.device) -> None:
        self.model, self.device = model, device
        self.latencies: list[float] = []

    def _pre(self, *_: Any, **__: Any) -> None:
        self._t = time.perf_counter()

    def _post(self, *_: Any, **__: Any) -> None:
        sync(self.device)
        self.latencies.append(time.perf_counter() - self._t)

    def __enter__(self) -> "ForwardTimer":
        self._handles = [self.model.register_forward_pre_hook(self._pre), self.model.register_forward_hook(self._post)]
        return self

    def __exit__(self, *exc: Any) -> None:
        for h in self._handles:
            h.remove()


def flop_model(pipe: Any, params: dict[str, Any], items: list[Any]) -> Callable[[int], float]:
    """FLOPs of one forward pass as a function of its length (tokens, samples or pixels),
    counted by torch's FlopCounterMode (attention included) on up to three real passes and fitted
    as ``a·L + b·L²`` (exact when the workload has at most three lengths)."""
    from torch.utils.flop_counter import FlopCounterMode, sdpa_flop_count

    def cpu_flash(q, k, v, *args: Any, **kwargs: Any) -> int:
        return sdpa_flop_count(q, k, v)

    mapping = {torch.ops.aten._scaled_dot_product_flash_attention_for_cpu: cpu_flash}
    backend = backend_for(pipe, params)
    passes = [p for item_passes in backend.prepare(items[:64]) for p in item_passes]
    by_cost = {backend.cost(p): p for p in passes}
    costs = sorted(by_cost)
    picks = costs if len(costs) <= 3 else [costs[0], costs[len(costs) // 2], costs[-1]]
    measured = {}
    for c in picks:
        with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
            backend.run([by_cost[c]])
        measured[c] = float(counter.get_total_flops())
    if len(measured) <= 3 and set(measured) == set(costs):
        exact = dict(measured)
    else:
        exact = {}
    x = np.array(list(measured), dtype=np.float64)
    y = np.array(list(measured.values()))
    design = np.stack([x, x**2], axis=1)
    (a, b), *_ = np.linalg.lstsq(design, y, rcond=None)

    def flops(cost: int) -> float:
        return exact[cost] if cost in exact else max(0.0, a * cost + b * cost * cost)

    return flops
