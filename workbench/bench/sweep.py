"""The sweep: every device × dtype loaded and warmed up, then every runner × batch size measured
(one untimed pass for peak memory and outputs, then the timed repeats, interleaved).
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import statistics
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import torch

from workbench.bench.outputs import digest
from workbench.bench.config import RUNNERS, BenchCancelled, BenchConfig, BenchProgress, generation_bench
from workbench.bench.machine import environment, local_revision
from workbench.bench.measure import ForwardTimer, PeakMemory, flop_model, sync
from workbench.bench.report import COLUMNS, BenchResult, Measure, add_speedup, plain_padding, recommend, row
from workbench.errors import RunCancelled, WorkbenchError
from workbench.kernels import int8_kernel_choice, int8_matmul_peaks, kernels_name, matmul_peaks, model_kernels
from workbench.memory import is_oom
from workbench.offline.random_models import resolve_bench_model
from workbench.progress import RunControl, watch
from workbench.runner import backend_for, run_batch
from workbench.workloads import make_workload

if TYPE_CHECKING:
    from workbench.manager import PipelineManager


@dataclass
class _Combo:
    """One device × dtype of a sweep: its pipeline, inputs, costs and a measure per runner × size,
    and the sweep's ``control`` (every pipeline call is watched by it, so a Cancel stops it)."""

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
    measures: dict[tuple[str, int], Measure]
    control: RunControl

    @property
    def key(self) -> tuple[str, str]:
        return str(self.device), self.dtype


def run_benchmark(manager: "PipelineManager", config: BenchConfig, *, progress: BenchProgress | None = None,
                  stop_event: threading.Event | None = None) -> BenchResult:
    """Measure ``config``'s sweep; see the module docstring for what each row holds.

    Every device × dtype is loaded and warmed up first. Then every row runs once untimed, for its
    peak memory and its outputs: measuring peak RSS hands the heap's free pages back first, and the
    run after that pays page faults a process in steady state does not (the runner ran up to 40%
    slower right after a plain run). Then each repeat times every combination, batch size and runner
    in turn (runners alternating order), so a machine that speeds up or slows down during the sweep
    affects every row alike. All combinations stay loaded until the end.

    Once ``stop_event`` is set the sweep stops at its next check — between these steps, before each
    matmul-peak product, and inside each pipeline call at every stage, forward pass and layer
    (``workbench.progress``) — and raises ``BenchCancelled`` with the rows measured so far (a run
    cut short is not counted)."""
    import pandas as pd

    from workbench.tasks import get_task

    spec = get_task(config.task)
    if generation_bench(spec):  # decoder-only generation: TTFT, ITL, output tokens/s, continuous batching
        from workbench.bench.generation import run_generation_benchmark

        return run_generation_benchmark(manager, config, progress=progress, stop_event=stop_event)
    if "continuous" in config.runners:
        raise ValueError(f"the continuous runner is transformers' continuous batching, for decoder-only text "
                         f"generation; {spec.name} runs with plain and runner")
    if not spec.batchable:
        raise WorkbenchError(f"{spec.name} runs one input at a time (it is not batchable), so there is nothing to "
                             "benchmark across batch sizes.")
    unknown = set(config.runners) - set(RUNNERS)
    if unknown:
        raise ValueError(f"unknown runner(s) {sorted(unknown)}; choose from {', '.join(RUNNERS)}")
    sizes = list(config.batch_sizes)
    report = progress or (lambda fraction, what: None)
    pairs = [(d, t) for d in config.devices for t in _with_reference(config.dtypes)]
    steps = max(1, len(pairs) * (config.repeats + 2) * len(sizes) * len(config.runners))
    env = environment(manager, config)
    if tuple(_with_reference(config.dtypes)) != tuple(config.dtypes):
        env["reference_dtype"] = "float32 added: the reference the quantized rows' agreement columns compare with"
    combos: list[_Combo] = []

    def result() -> BenchResult:
        rows, outputs = _rows(combos, sizes)
        table = add_speedup(pd.DataFrame(rows, columns=COLUMNS))
        return BenchResult(table, env, recommend(table, outputs), config)

    control = RunControl(stop_event)
    try:
        for i, (device_name, dtype_name) in enumerate(pairs):
            control.check()
            combos.append(_prepare(manager, config, spec.name, device_name, dtype_name, sizes, env, control,
                                   lambda what, i=i: report(i * len(sizes) * len(config.runners) / steps, what)))
        done = len(pairs) * len(sizes) * len(config.runners)  # the loads and warm-ups' share of the progress
        for rep in range(-1, config.repeats):  # -1: the untimed pass for peak memory and outputs
            order = list(config.runners) if max(rep, 0) % 2 == 0 else list(reversed(config.runners))
            for combo, bs, runner in itertools.product(combos, sizes, order):
                control.check()
                m = combo.measures[(runner, bs)]
                done += 1
                what = "peak memory" if rep < 0 else f"run {rep + 1}/{config.repeats}"
                report(done / steps, f"{combo.device} {combo.dtype}: {runner}, batch {bs}, {what}")
                if m.status == "ok":
                    _measure(m, runner, combo, bs, timed=rep >= 0, task=spec.name)
    except RunCancelled:
        raise BenchCancelled(result()) from None
    out = result()
    try:
        env["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    report(1.0, "done")
    return out


def _with_reference(dtypes: tuple[str, ...]) -> list[str]:
    """The dtypes to sweep: those asked for, with float32 first when a quantized precision is asked
    for without it (every quantized row says how far it is from float32 on the same inputs)."""
    from workbench.devices import dtype_name
    from workbench.quantize import is_quantized

    names = [dtype_name(d) for d in dtypes]
    if any(is_quantized(d) for d in names) and "float32" not in names:
        return ["float32", *dtypes]
    return list(dtypes)


def _prepare(manager: "PipelineManager", config: BenchConfig, task: str, device_name: str, dtype_name: str,
             sizes: list[int], env: dict[str, Any], control: RunControl, report: Callable[[str], None]) -> _Combo:
    """Load one device × dtype, make its workload, measure its matmul peak, count its FLOPs, warm up
    (``control`` checked between these steps and kept as the combination's, for its runs)."""
    from workbench.devices import precision_name, resolve_device

    device = resolve_device(device_name)
    dname = precision_name(dtype_name, device)
    report(f"loading {config.model or task} on {device} in {dname}")
    loaded = manager.load(task, resolve_bench_model(config.model), revision=config.revision, device=device_name,
                          dtype=dname)
    pipe = loaded.pipe
    control.check()
    mask = getattr(getattr(pipe, "tokenizer", None), "mask_token", None) or "[MASK]"
    work = make_workload(config.workload, task, n=config.n, seed=config.seed, path=config.path,
                         column=config.column, mask_token=mask, policy=manager.policy)
    params = {**work.params, **config.params}
    env.setdefault("workload", work.description)
    env.setdefault("params", {k: str(v) for k, v in params.items()})
    env["model_path"] = loaded.source.path
    env["model_revision"] = loaded.source.revision or local_revision(loaded.source.path)
    env["model_description"] = loaded.description
    env["parameters"] = loaded.parameters
    where = f"{device}/{dname}"
    control.check()
    report(f"measuring matmul peak on {device} in {dname}")
    peaks = (int8_matmul_peaks(device, check=control.check) if dname == "int8"
             else matmul_peaks(device, loaded_dtype(pipe, dname), check=control.check))
    env.setdefault("matmul_peak_gflops", {})[where] = round(max(peaks.values()) / 1e9, 1)
    env.setdefault("matmul_gflops_by_kernel", {})[where] = {k: round(v / 1e9, 1) for k, v in peaks.items()}
    chosen = model_kernels(getattr(pipe, "model", None), config.kernels)
    env.setdefault("runner_kernels", {})[where] = kernels_name(chosen)
    if dname == "int8" and device.type == "cpu":
        from dataclasses import asdict

        from workbench.quantize import reduce_range

        env.setdefault("int8_kernel_choice", {})[where] = asdict(int8_kernel_choice(reduce_range(device)))
    env.setdefault("precision", {})[where] = loaded.precision
    backend = backend_for(pipe, params)
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
                   {(r, bs): Measure() for bs in sizes for r in config.runners}, control)
    # warm-up: every runner once on a slice, at the smallest and largest batch size
    control.check()
    report(f"warming up on {device} in {dname}")
    warm = work.items[: min(len(work.items), 2 * max(sizes))]
    for runner in config.runners:
        for bs in {sizes[0], sizes[-1]}:
            try:
                _call(runner, combo, warm, bs)
            except Exception as exc:
                if not is_oom(exc):
                    raise
    return combo


def loaded_dtype(pipe: Any, name: str) -> torch.dtype:
    """The float dtype a combination computes in: ``name``'s, or for a quantized precision its
    model's (int4's bfloat16)."""
    from workbench.quantize import is_quantized

    if not is_quantized(name):
        return getattr(torch, name)
    params = getattr(getattr(pipe, "model", None), "parameters", None)
    first = next((p for p in params() if p.is_floating_point() and type(p) in (torch.Tensor, torch.nn.Parameter)),
                 None) if callable(params) else None
    return first.dtype if first is not None else torch.float32


def _rows(combos: list[_Combo], sizes: list[int]) -> tuple[list[dict[str, Any]], dict[tuple[str, str], list[Any]]]:
    """The table's rows for every measure with at least one run, and each combination's best
    outputs (for comparing dtypes). Outputs are compared with the unbatched plain pipeline in
    float32 when that ran, else with the first plain row."""
    reference: list[Any] | None = None
    for combo in combos:
        m = combo.measures.get(("plain", sizes[0]))
        if reference is None and combo.dtype == "float32" and sizes[0] == 1 and m is not None and m.outputs:
            reference = m.outputs
    if reference is None:  # float32's first row when it ran (a quantized row is compared with float32)
        ordered = sorted(combos, key=lambda c: c.dtype != "float32")
        firsts = [m.outputs for c in ordered for m in c.measures.values() if m.outputs is not None]
        reference = firsts[0] if firsts else None
    rows, outputs = [], {}
    for combo in combos:
        measured = {k: m for k, m in combo.measures.items() if m.seconds or m.status != "ok"}
        for (runner, bs), m in measured.items():
            if runner == "plain" and m.status == "ok":
                m.padding_share = plain_padding(combo.costs, bs) if combo.tokens is not None else 0.0
            rows.append(row(runner, bs, str(combo.device), combo.dtype, m, len(combo.items), combo.tokens,
                             combo.useful_flops, combo.peak, reference))
        ok = [m for m in measured.values() if m.status == "ok" and m.seconds and m.outputs]
        if ok:
            outputs[combo.key] = min(ok, key=lambda m: statistics.median(m.seconds)).outputs
    return rows, outputs


def _call(runner: str, combo: _Combo, items: list[Any], bs: int, stats_out: dict | None = None) -> list[Any]:
    """One run of ``combo``'s pipeline on ``items``, watched by its control: ``pipe(items,
    batch_size=bs)`` (plain) or ``run_batch`` with the runner's options."""
    pipe, params = combo.pipe, combo.params
    with watch(pipe, combo.control):
        if runner == "plain":
            return list(pipe(items, batch_size=bs, **params))
        out = run_batch(pipe, items, batch_size=bs, **combo.options, **params)
    if stats_out is not None:
        stats_out["stats"] = out.stats
    return out.results


def _measure(m: Measure, runner: str, combo: _Combo, bs: int, *, timed: bool, task: str) -> None:
    """One run of a row: timed (seconds, forward latencies, the runner's stats), or untimed for its
    peak memory (``PeakMemory``) and its outputs."""
    device, model = combo.device, getattr(combo.pipe, "model", None)
    info: dict[str, Any] = {}
    timer = ForwardTimer(model, device) if timed and isinstance(model, torch.nn.Module) else None
    # Timed runs: the garbage collector off during the run, as ``timeit`` does (no full collection
    # before each run: in a process holding torch and transformers one costs ~0.4 s); the peak
    # memory runs collect first (``PeakMemory`` trims the heap).
    collecting = gc.isenabled()
    try:
        with (contextlib.nullcontext() if timed else PeakMemory(device)) as mem, (timer or contextlib.nullcontext()):
            if timed:
                gc.disable()
            start = time.perf_counter()
            out = _call(runner, combo, combo.items, bs, info)
            sync(device)
            seconds = time.perf_counter() - start
    except Exception as exc:
        if is_oom(exc):
            m.status = "oom"
            gc.collect()
            return
        raise
    finally:
        if collecting:
            gc.enable()
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
