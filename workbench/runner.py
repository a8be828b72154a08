"""The batch runner: length-aware batching that pays off where plain pipeline batching does not.

``run_batch(pipe, inputs, batch_size=N)`` gives the same results as ``pipe(inputs)`` (each result
is what the pipeline returns for that item in a list call), but

- orders each window of inputs by length (tokens, audio samples or pixels) and cuts the sorted
  window into the batches that cost least in all: each forward pass costs a fixed overhead
  (``pass_overhead``, in token positions: on a CPU mostly the time to stream the weights once)
  plus its padded positions (``plan_batches``, an exact dynamic programme), within
  ``batch_size`` rows and the ``max_tokens`` budget;
- on a CPU where oneDNN's linear layer is faster than torch's default (``workbench.kernels``), runs
  the model's linear layers with it, weights packed once — IEEE float32 as well (results equal
  torch's to rounding), in this thread only; an int8 model's linear layers likewise through
  oneDNN's int8 linear where that beats plain torchao (``stats.kernels`` says ``onednn-int8``);
- counts ``batch_size`` in forward passes (a QA context with three windows is three passes);
- streams: a generator or a dataset column is read in windows, so memory stays bounded
  (``iter_batch`` yields results in the caller's order as each window finishes);
- backs off on out-of-memory: the batch size is halved and kept for the rest of the run, the
  batch runs again in chunks of that size, and ``stats.oom_backoffs`` says it happened; other
  errors propagate;
- reports progress through ``progress(done, total)`` (``total`` is None for a generator).

Feature-extraction results are float32 numpy arrays trimmed to each input's real tokens
(``[tokens, hidden]``), or pooled vectors with ``pooling="mean"|"cls"`` (and ``normalize=True``).

    from workbench.manager import PipelineManager
    pipe = PipelineManager().get("text-classification")
    out = run_batch(pipe, ["good", "a much longer and rather bad text"], batch_size=8)
    out.results[0]["label"], out.stats.padding_share
    # -> ('POSITIVE', 0.0)
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sized
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, ContextManager, Iterable, Iterator, Sequence

import numpy as np

from workbench.batching import Backend, make_backend
from workbench.features import Features
from workbench.kernels import kernels_name, model_kernels
from workbench.memory import Backoff
from workbench.tasks import TaskSpec, pipeline_spec

Progress = Callable[[int, "int | None"], None]

#: Inputs read (and pre-processed) at a time; sorting by length happens within a window.
DEFAULT_WINDOW = 2048
#: The cost of one forward pass in padded token positions, by device type and dtype, for planning
#: batches: on a CPU about the time to stream a small model's weights once, over the time of one
#: token (half-precision tokens are ~2.5x cheaper, so a pass is worth more of them; measured with
#: all-MiniLM-L6-v2 on the natural workload); on a GPU mostly the launch overhead.
PASS_OVERHEAD = {("cpu", "float32"): 48, ("cpu", "bfloat16"): 128, ("cpu", "float16"): 128}
PASS_OVERHEAD_ACCELERATOR = 1024
@dataclass
class RunStats:
    """What a run did: sizes, back-offs, padding and time. ``padded_cost`` counts the positions
    the model computed (real + padding) in the unit of ``cost`` (tokens for text)."""

    batch_size: int
    max_tokens: int | None = None
    final_batch_size: int = 0
    final_max_tokens: int | None = None
    oom_backoffs: int = 0
    items: int = 0
    passes: int = 0
    forward_passes: int = 0
    real_cost: int = 0
    padded_cost: int = 0
    counts_tokens: bool = True
    pass_overhead: int | None = None
    kernels: str = "torch"
    seconds: float = 0.0
    batch_seconds: list[float] = field(default_factory=list)
    batch_rows: list[int] = field(default_factory=list)
    batch_cost: list[int] = field(default_factory=list)

    @property
    def padding_share(self) -> float:
        """Share of computed positions that were padding (0.0 = none)."""
        return 1.0 - self.real_cost / self.padded_cost if self.padded_cost else 0.0

    @property
    def real_tokens(self) -> int | None:
        return self.real_cost if self.counts_tokens else None

    def summary(self) -> dict[str, Any]:
        """A JSON-able dict (per-batch lists left out)."""
        out = {k: v for k, v in asdict(self).items() if not k.startswith("batch_") or k == "batch_size"}
        out["padding_share"] = round(self.padding_share, 4)
        return out


@dataclass
class BatchResult:
    """What ``run_batch`` returns: the results, in the caller's order, and the run's ``RunStats``
    (``workbench.results.RunResult`` is one run of a task in the UI; this is a batch run)."""

    results: list[Any]
    stats: RunStats

    def __len__(self) -> int:
        return len(self.results)

    def __getitem__(self, i: int) -> Any:
        return self.results[i]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.results)


def run_batch(pipe: Any, inputs: Iterable[Any], *, batch_size: int = 8, max_tokens: int | None = None,
              max_padding: float | None = None, pass_overhead: int | str | None = "auto",
              kernels: str = "auto", progress: Progress | None = None, window: int | None = None,
              sort: bool = True, spec: TaskSpec | None = None, **params: Any) -> BatchResult:
    """Run ``pipe`` over ``inputs`` in length-sorted batches; results in the caller's order.

    ``batch_size`` caps the forward passes per batch and ``max_tokens`` the padded positions
    per batch (rows × longest row; None: no cap). Within those caps batches are planned to cost
    least, counting ``pass_overhead`` token positions per forward pass (``"auto"``: by device and
    dtype, ``PASS_OVERHEAD``; None: fill every batch up to the caps). ``max_padding`` also forbids a
    batch whose padding exceeds that share of it (None: no such rule). ``kernels`` picks the
    linear-layer kernels: ``auto``, ``torch`` or ``onednn`` (``workbench.kernels``). ``window``
    is how many inputs are read and sorted at a time (default ``DEFAULT_WINDOW``); ``sort=False``
    keeps the input order and fills batches in turn (plain pipeline batching, for comparisons).
    Other keywords go to the pipeline as in ``pipe(inputs, **params)``; feature-extraction also
    takes ``pooling`` and ``normalize``. ``spec`` is the task ``pipe`` runs (default: the registered
    task of ``pipe.task``); it says how to batch it (``backend_for``).
    """
    stats = RunStats(batch_size, max_tokens)
    results = list(iter_batch(pipe, inputs, batch_size=batch_size, max_tokens=max_tokens, max_padding=max_padding,
                              pass_overhead=pass_overhead, kernels=kernels, progress=progress, window=window,
                              sort=sort, stats=stats, spec=spec, **params))
    return BatchResult(results, stats)


def iter_batch(pipe: Any, inputs: Iterable[Any], *, batch_size: int = 8, max_tokens: int | None = None,
               max_padding: float | None = None, pass_overhead: int | str | None = "auto", kernels: str = "auto",
               progress: Progress | None = None, window: int | None = None, sort: bool = True,
               stats: RunStats | None = None, spec: TaskSpec | None = None, **params: Any) -> Iterator[Any]:
    """Like ``run_batch`` but returns an iterator of results, in order, produced window by
    window, so a long generator is processed with bounded memory. Arguments are checked at once;
    pass ``stats`` to read the run's stats."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1 (or None for no cap), got {max_tokens}")
    if max_padding is not None and not 0 <= max_padding < 1:
        raise ValueError(f"max_padding is a share of the batch, 0 <= max_padding < 1 (or None), got {max_padding}")
    if isinstance(inputs, (str, bytes, dict)):
        raise TypeError("run_batch takes a list (or generator, or dataset column) of inputs; wrap a single input "
                        "in a list")
    stats = stats if stats is not None else RunStats(batch_size, max_tokens)
    stats.final_batch_size, stats.final_max_tokens = batch_size, max_tokens
    backend = backend_for(pipe, params, spec)
    stats.counts_tokens = backend.counts_tokens
    stats.pass_overhead = _pass_overhead(pass_overhead, backend) if sort else None
    context = model_kernels(backend.model, kernels)
    stats.kernels = kernels_name(context)
    total = len(inputs) if isinstance(inputs, Sized) else None
    window = max(1, window or DEFAULT_WINDOW)
    scheduler = _Scheduler(backend, stats, sort, progress, total, max_padding if sort else None, context)
    return _windows(scheduler, iter(inputs), window, stats)


def backend_for(pipe: Any, params: dict[str, Any], spec: TaskSpec | None = None) -> Backend:
    """The batch runner's backend for ``pipe`` running ``spec`` (default: the registered task of
    ``pipe.task``; none for a pipeline the registry does not know: the generic backend)."""
    if spec is None:
        spec = pipeline_spec(getattr(pipe, "task", "") or "")
    return make_backend(pipe, params, spec)


def _pass_overhead(value: int | str | None, backend: Backend) -> int | None:
    if value != "auto":
        if value is not None and (isinstance(value, str) or value < 0):
            raise ValueError(f"pass_overhead is a number of token positions >= 0, 'auto' or None; got {value!r}")
        return value
    params = getattr(backend.model, "parameters", None)
    first = next((p for p in params() if p.is_floating_point()), None) if callable(params) else None
    if first is None:
        return PASS_OVERHEAD[("cpu", "float32")]
    if first.device.type != "cpu":
        return PASS_OVERHEAD_ACCELERATOR
    return PASS_OVERHEAD.get(("cpu", str(first.dtype).removeprefix("torch.")), PASS_OVERHEAD[("cpu", "float32")])


def _windows(scheduler: "_Scheduler", iterator: Iterator[Any], window: int, stats: RunStats) -> Iterator[Any]:
    start = time.perf_counter()
    try:
        while chunk := list(itertools.islice(iterator, window)):
            yield from scheduler.run_window(chunk)
    finally:
        stats.seconds += time.perf_counter() - start


def plan_batches(costs: Sequence[int], *, batch_size: int, max_tokens: int | None = None,
                 max_padding: float | None = None, pass_overhead: float = 0.0) -> list[int]:
    """Cut ascending ``costs`` into consecutive batches of least total cost, where a batch costs
    ``pass_overhead`` plus rows × its longest (last) cost; at most ``batch_size`` rows, at most
    ``max_tokens`` padded positions (a single row may exceed it), padding at most ``max_padding``
    of the batch. Returns each batch's end index. Exact: a dynamic programme over the cut points,
    O(len(costs) × batch_size).

    >>> plan_batches([3, 3, 3, 50], batch_size=8, pass_overhead=10)   # padding 141 > overhead 10
    [3, 4]
    >>> plan_batches([3, 3, 3, 50], batch_size=8, pass_overhead=1000)  # one pass is cheaper
    [4]
    """
    n = len(costs)
    c = np.asarray(costs, dtype=np.float64)
    prefix = np.concatenate([[0.0], np.cumsum(c)])
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    start_of = np.zeros(n + 1, dtype=np.int64)
    for i in range(1, n + 1):
        lo = max(0, i - batch_size)
        rows = np.arange(i - lo, 0, -1, dtype=np.float64)  # batch j..i-1 for j = lo..i-1
        padded = rows * c[i - 1]
        total = best[lo:i] + pass_overhead + padded
        if max_tokens is not None:
            total[(padded > max_tokens) & (rows > 1)] = np.inf
        if max_padding is not None:
            total[(padded - (prefix[i] - prefix[lo:i]) > max_padding * padded + 1e-9) & (rows > 1)] = np.inf
        j = int(np.argmin(total))  # the first minimum: the largest batch among equals
        best[i], start_of[i] = total[j], lo + j
    ends = []
    i = n
    while i > 0:
        ends.append(i)
        i = int(start_of[i])
    return ends[::-1]


class _Scheduler:
    """Runs windows: prepare, sort, cut batches, run with OOM back-off, finish in input order."""

    def __init__(self, backend: Backend, stats: RunStats, sort: bool, progress: Progress | None,
                 total: int | None, max_padding: float | None, kernels: ContextManager[Any]) -> None:
        self.backend, self.stats, self.sort, self.max_padding = backend, stats, sort, max_padding
        self.progress, self.total, self.kernels = progress, total, kernels
        self.done = 0

    def run_window(self, items: list[Any]) -> list[Any]:
        backend, stats = self.backend, self.stats
        per_item = backend.prepare(items)
        owners: list[int] = []
        passes: list[Features] = []
        for i, item_passes in enumerate(per_item):
            owners += [i] * len(item_passes)
            passes += item_passes
        costs = [backend.cost(p) for p in passes]
        groups = [backend.group(p) for p in passes]
        order = list(range(len(passes)))
        if self.sort:
            keys = {g: k for k, g in enumerate(dict.fromkeys(groups))}
            order.sort(key=lambda j: (keys[groups[j]], costs[j]))
        rows: list[Features | None] = [None] * len(passes)
        remaining = [len(p) for p in per_item]
        finished = sum(1 for r in remaining if r == 0)
        with self.kernels:
            for batch in self._cut(order, costs, groups):
                for j, row in zip(batch, self._run(batch, passes, costs)):
                    rows[j] = row
                    remaining[owners[j]] -= 1
                    finished += remaining[owners[j]] == 0
                if self.progress is not None:
                    self.progress(self.done + finished, self.total)
        results = []
        start = 0
        for item_passes in per_item:
            item_rows = rows[start:start + len(item_passes)]
            start += len(item_passes)
            results.append(backend.finish(item_rows))  # type: ignore[arg-type]
        stats.items += len(items)
        stats.passes += len(passes)
        stats.real_cost += sum(costs)
        self.done += len(items)
        if self.progress is not None and not passes:
            self.progress(self.done, self.total)
        return results

    def _cut(self, order: list[int], costs: list[int], groups: list[Any]) -> Iterator[list[int]]:
        """Consecutive batches of ``order``, one group each. Sorted token inputs are planned
        (``plan_batches``, planned again after an out-of-memory back-off); otherwise batches are
        filled in turn up to the caps."""
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and groups[order[end]] == groups[order[start]]:
                end += 1
            segment = order[start:end]
            start = end
            if self.stats.pass_overhead is None or not self.backend.counts_tokens:
                yield from self._fill(segment, costs)
                continue
            while segment:
                caps = (self.stats.final_batch_size, self.stats.final_max_tokens)
                cuts = plan_batches([costs[j] for j in segment], batch_size=caps[0], max_tokens=caps[1],
                                    max_padding=self.max_padding, pass_overhead=self.stats.pass_overhead)
                begin = 0
                for cut in cuts:
                    yield segment[begin:cut]
                    begin = cut
                    if (self.stats.final_batch_size, self.stats.final_max_tokens) != caps:
                        break  # an out-of-memory back-off changed the caps: plan the rest again
                segment = segment[begin:]

    def _fill(self, segment: list[int], costs: list[int]) -> Iterator[list[int]]:
        """Batches filled in turn: at most ``final_batch_size`` passes and ``final_max_tokens``
        padded positions (a single over-long pass still runs alone), padding at most
        ``max_padding`` of the batch."""
        batch: list[int] = []
        longest = real = 0
        for j in segment:
            size, budget, slack = self.stats.final_batch_size, self.stats.final_max_tokens, self.max_padding
            c = costs[j]
            longer = max(longest, c)
            padded = longer * (len(batch) + 1)
            if batch and (len(batch) >= size or (self.backend.counts_tokens and (
                    (budget is not None and padded > budget)
                    or (slack is not None and padded - real - c > slack * padded)))):
                yield batch
                batch, longer, real = [], c, 0
            batch.append(j)
            longest, real = longer, real + c
        if batch:
            yield batch

    def _run(self, batch: list[int], passes: list[Features], costs: list[int]) -> list[Features]:
        """Run one batch with the out-of-memory back-off (``workbench.memory.Backoff``): the batch
        size is halved and kept, and the batch runs in chunks of that size."""
        backoff = Backoff(self.stats.final_batch_size, on_backoff=lambda chunk: self._backed_off(chunk, costs))
        return backoff.run(lambda chunk: self._forward(chunk, passes), batch)

    def _backed_off(self, chunk: Sequence[int], costs: list[int]) -> None:
        """After an out-of-memory error: the smaller batch size, and a token budget the chunks fit in."""
        stats, half = self.stats, (len(chunk) + 1) // 2
        stats.oom_backoffs += 1
        stats.final_batch_size = min(stats.final_batch_size, half)
        if self.backend.counts_tokens:
            width = max(costs[j] for j in chunk)
            cap = max(width, half * width)
            stats.final_max_tokens = min(stats.final_max_tokens or cap, cap)

    def _forward(self, chunk: Sequence[int], passes: list[Features]) -> list[Features]:
        stats = self.stats
        start = time.perf_counter()
        out = self.backend.run([passes[j] for j in chunk])
        stats.batch_seconds.append(time.perf_counter() - start)
        stats.batch_rows.append(len(chunk))
        stats.forward_passes += 1
        stats.padded_cost += out.padded_cost
        stats.batch_cost.append(out.padded_cost)
        return out.rows
