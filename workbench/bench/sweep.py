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
from typing import TYPE_CHECKING, Any, Callable, Iterator

import torch

from workbench.bench.comparison import digest
from workbench.bench.config import (RUNNERS, BenchCancelled, BenchConfig, BenchProgress, InputCount, InputsProgress,
                                    generation_bench, input_counter)
from workbench.bench.machine import environment, local_revision
from workbench.bench.measure import ForwardTimer, PeakMemory, flop_model, sync
from workbench.bench.report import COLUMNS, BenchResult, Measure, add_speedup, plain_padding, recommend, row
from workbench.errors import InputError, RunCancelled, WorkbenchError
from workbench.kernels import int8_kernel_choice, int8_matmul_peaks, kernels_name, matmul_peaks, model_kernels
from workbench.memory import is_oom
from workbench.offline import OFFLINE_PREFIX
from workbench.offline.random_models import resolve_bench_model
from workbench.progress import RunControl, watch
from workbench.runner import backend_for, run_batch
from workbench.workloads import Workload, make_workload

if TYPE_CHECKING:
    from workbench.bench.quality import Labelled
    from workbench.manager import PipelineManager


#: The status of a plain row above batch size 1 for a task whose transformers pipeline cannot batch
#: (``BenchSpec.plain_batches``).
PLAIN_CANNOT_BATCH = "pipeline cannot batch"
class SweepControl(RunControl):
    """The sweep's ``RunControl``: while ``counting_inputs`` (a plain pipeline call), it tells a
    counter how many inputs the pipeline has postprocessed so far — one ``postprocess`` per input,
    reported as the ``postprocessing`` stage by ``workbench.progress``'s hooks.

    >>> seen = []
    >>> control = SweepControl()
    >>> with control.counting_inputs(seen.append):
    ...     control.set_stage("inference"); control.set_stage("postprocessing"); control.set_stage("postprocessing")
    >>> control.set_stage("postprocessing"); seen
    [1, 2]
    """

    def __init__(self, cancel_event: threading.Event | None = None) -> None:
        super().__init__(cancel_event)
        self._count: InputCount | None = None
        self._counted = 0

    def set_stage(self, stage: str) -> None:
        super().set_stage(stage)
        if stage == "postprocessing" and self._count is not None:
            self._counted += 1
            self._count(self._counted)

    @contextlib.contextmanager
    def counting_inputs(self, count: InputCount | None) -> Iterator[None]:
        """Count the inputs postprocessed during the block to ``count`` (None: count nothing)."""
        self._count, self._counted = count, 0
        try:
            yield
        finally:
            self._count = None


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
    control: SweepControl
    model: str = ""
    labelled: "Labelled | None" = None

    @property
    def key(self) -> tuple[str, str, str]:
        return self.model, str(self.device), self.dtype


def run_benchmark(manager: "PipelineManager", config: BenchConfig, *, progress: BenchProgress | None = None,
                  stop_event: threading.Event | None = None,
                  on_row: Callable[[BenchResult], None] | None = None,
                  on_inputs: InputsProgress | None = None) -> BenchResult:
    """Measure ``config``'s sweep; see the module docstring for what each row holds.

    Every device × dtype is loaded and warmed up first. Then every row runs once untimed, for its
    peak memory and its outputs: measuring peak RSS hands the heap's free pages back first, and the
    run after that pays page faults a process in steady state does not (the runner ran up to 40%
    slower right after a plain run). Then each repeat times every combination, batch size and runner
    in turn (runners alternating order), so a machine that speeds up or slows down during the sweep
    affects every row alike. All combinations stay loaded until the model's rows are measured.

    Several models (``config.models``) are swept one after the other, each loaded through the
    manager (its bounds hold: a model's pipelines are let go before the next loads); every row is
    compared with the first model's reference run. With references (``config.references``) the
    labelled data is read and checked before anything loads, and the untimed run's outputs are
    scored by the task's metric (``workbench.bench.quality``).

    Once ``stop_event`` is set the sweep stops at its next check — between these steps, before each
    matmul-peak product, and inside each pipeline call at every stage, forward pass and layer
    (``workbench.progress``) — and raises ``BenchCancelled`` with the rows measured so far (a run
    cut short is not counted).

    ``on_row`` is called with the partial result (every row measured so far, medians of the repeats
    done) each time a timed measurement finishes, so a caller can show rows as they come;
    ``on_inputs`` as each measurement's inputs finish (``InputsProgress``: the runner's after each
    batch, plain pipeline batching's after each input; ``progress`` is told once per step)."""
    import pandas as pd

    from workbench.tasks import get_task

    spec = get_task(config.task)
    if config.references and spec.metric is None:  # references a task cannot score: refused before anything loads
        _labelled(manager, config, spec.name)
    if generation_bench(spec):  # decoder-only generation: TTFT, ITL, output tokens/s, continuous batching
        from workbench.bench.generation import run_generation_benchmark

        return run_generation_benchmark(manager, config, progress=progress, stop_event=stop_event, on_row=on_row,
                                        on_inputs=on_inputs)
    if "continuous" in config.runners:
        raise ValueError(f"the continuous runner is transformers' continuous batching, for decoder-only text "
                         f"generation; {spec.name} runs with plain and runner")
    if not spec.batchable:
        raise WorkbenchError(f"{spec.name} runs one input at a time (it is not batchable), so there is nothing to "
                             "benchmark across batch sizes.")
    unknown = set(config.runners) - set(RUNNERS)
    if unknown:
        raise ValueError(f"unknown runner(s) {sorted(unknown)}; choose from {', '.join(RUNNERS)}")
    labelled = _labelled(manager, config, spec.name)
    sizes = list(config.batch_sizes)
    models = config.models
    report = progress or (lambda fraction, what: None)
    pairs = [(d, t) for d in config.devices for t in _with_reference(config.dtypes)]
    per_model = max(1, len(pairs) * (config.repeats + 2) * len(sizes) * len(config.runners))
    steps = per_model * len(models)
    env = environment(manager, config)
    if tuple(_with_reference(config.dtypes)) != tuple(config.dtypes):
        env["reference_dtype"] = "float32 added: the reference the quantized rows' agreement columns compare with"
    if labelled is not None:
        env["references"] = labelled.description
        env["metric"] = labelled.metric
    combos: list[_Combo] = []  # the model being measured
    done_rows: list[dict[str, Any]] = []
    done_outputs: dict[tuple[str, str, str], list[Any]] = {}
    reference: dict[str, Any] = {}

    def result() -> BenchResult:
        rows, outputs = _rows(combos, sizes, reference)
        _note_references(combos, env)
        table = add_speedup(pd.DataFrame(done_rows + rows, columns=COLUMNS))
        said = recommend(table, {**done_outputs, **outputs}, tolerance=config.quality_tolerance)
        notes = [f"{model}: {note}" if len(models) > 1 else note
                 for model, notes in env.get("quality_notes", {}).items() for note in notes]
        return BenchResult(table, env, "\n\n".join([said, *notes]), config)

    control = SweepControl(stop_event)
    try:
        for mi, model in enumerate(models):
            base = mi * per_model
            for i, (device_name, dtype_name) in enumerate(pairs):
                control.check()
                combos.append(_prepare(manager, config, spec.name, model, device_name, dtype_name, sizes, env,
                                       control, labelled, lambda what, i=i, base=base: report(
                                           (base + i * len(sizes) * len(config.runners)) / steps, what)))
            done = base + len(pairs) * len(sizes) * len(config.runners)  # the loads and warm-ups' share
            for rep in range(-1, config.repeats):  # -1: the untimed pass for peak memory and outputs
                order = list(config.runners) if max(rep, 0) % 2 == 0 else list(reversed(config.runners))
                for combo, bs, runner in itertools.product(combos, sizes, order):
                    control.check()
                    m = combo.measures[(runner, bs)]
                    what = "peak memory" if rep < 0 else f"run {rep + 1}/{config.repeats}"
                    who = f"{combo.model}: " if len(models) > 1 else ""
                    report(done / steps, f"{who}{combo.device} {combo.dtype}: {runner}, batch {bs}, {what}")
                    count = input_counter(on_inputs, done, steps, len(combo.items))
                    done += 1
                    if m.status == "ok":
                        _measure(m, runner, combo, bs, timed=rep >= 0, task=spec.name, count=count)
                    if on_row is not None and rep >= 0:
                        on_row(result())
            rows, outputs = _rows(combos, sizes, reference)
            _note_references(combos, env)
            done_rows += rows
            done_outputs.update(outputs)
            combos.clear()  # this model's pipelines go before the next model loads
    except RunCancelled:
        raise BenchCancelled(result()) from None
    out = result()
    try:
        env["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    report(1.0, "done")
    return out


def _note_references(combos: list[_Combo], env: dict[str, Any]) -> None:
    """What the metric said about the references, per model (labels the model does not have…)."""
    for combo in combos:
        notes = [n for m in combo.measures.values() if m.quality is not None for n in m.quality.notes]
        if notes:
            env.setdefault("quality_notes", {})[combo.model] = list(dict.fromkeys(notes))


def _labelled(manager: "PipelineManager", config: BenchConfig, task: str) -> "Labelled | None":
    """The labelled data of a sweep with references, read and checked before any model loads."""
    if not config.references:
        return None
    if not config.path:
        raise InputError("References need labelled data: give the file (--file) whose column "
                         f"`{config.references}` holds them.")
    from workbench.bench.quality import labelled_workload

    paths = [config.path] if isinstance(config.path, (str, os.PathLike)) else list(config.path)
    if len(paths) != 1:
        raise InputError(f"References come from one table (CSV, JSONL, Parquet) with a column `{config.references}`; "
                         f"got {len(paths)} files.")
    columns = tuple(c for c in (config.column or "").split(",") if c.strip())
    return labelled_workload(task, paths[0], config.references, columns=columns, n=config.n, policy=manager.policy)


def _with_reference(dtypes: tuple[str, ...]) -> list[str]:
    """The dtypes to sweep: those asked for, with float32 first when a quantized precision is asked
    for without it (every quantized row says how far it is from float32 on the same inputs)."""
    from workbench.devices import dtype_name
    from workbench.quantize import is_quantized

    names = [dtype_name(d) for d in dtypes]
    if any(is_quantized(d) for d in names) and "float32" not in names:
        return ["float32", *dtypes]
    return list(dtypes)


def _prepare(manager: "PipelineManager", config: BenchConfig, task: str, model: str | None, device_name: str,
             dtype_name: str, sizes: list[int], env: dict[str, Any], control: SweepControl,
             labelled: "Labelled | None", report: Callable[[str], None]) -> _Combo:
    """Load one device × dtype, make its workload, measure its matmul peak, count its FLOPs, warm up
    (``control`` checked between these steps and kept as the combination's, for its runs)."""
    from workbench.devices import precision_name, resolve_device

    device = resolve_device(device_name)
    dname = precision_name(dtype_name, device)
    label = model or f"{OFFLINE_PREFIX}{task}"
    report(f"loading {label} on {device} in {dname}")
    loaded = manager.load(task, resolve_bench_model(model), revision=config.revision, device=device_name,
                          dtype=dname)
    pipe = loaded.pipe
    control.check()
    if labelled is not None:
        from workbench.tasks import get_task

        work = Workload("file", labelled.items, {**get_task(task).bench.params, **labelled.params},
                        labelled.description)
    else:
        mask = getattr(getattr(pipe, "tokenizer", None), "mask_token", None) or "[MASK]"
        work = make_workload(config.workload, task, n=config.n, seed=config.seed, path=config.path,
                             column=config.column, mask_token=mask, policy=manager.policy)
    params = {**work.params, **config.params}
    env.setdefault("workload", work.description)
    env.setdefault("params", {k: str(v) for k, v in params.items()})
    facts = {"model_path": loaded.source.path,
             "model_revision": loaded.source.revision or local_revision(loaded.source.path),
             "model_description": loaded.description, "parameters": loaded.parameters}
    env.setdefault("models", {})[label] = facts
    if len(env["models"]) == 1:  # the first model's facts stay at the top, as with one model
        env.update(facts)
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
                   {(r, bs): Measure() for bs in sizes for r in config.runners}, control, label, labelled)
    # warm-up: every runner once on a slice, at the smallest and largest batch size
    control.check()
    report(f"warming up on {device} in {dname}")
    from workbench.tasks import get_task

    if not get_task(task).bench.plain_batches:  # transformers' pipeline fails batched: say so, run nothing
        for (runner, bs), m in combo.measures.items():
            if runner == "plain" and bs > 1:
                m.status = PLAIN_CANNOT_BATCH
    warm = work.items[: min(len(work.items), 2 * max(sizes))]
    for runner in config.runners:
        for bs in {sizes[0], sizes[-1]}:
            if combo.measures[(runner, bs)].status != "ok":
                continue
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


def _rows(combos: list[_Combo], sizes: list[int],
          reference: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[tuple[str, str, str], list[Any]]]:
    """The table's rows for every measure with at least one run, and each combination's best
    outputs (for comparing dtypes). Outputs are compared with the unbatched plain pipeline in
    float32 when that ran, else with the first plain row — of the first model swept: ``reference``
    keeps it (``outputs``, and which ``model`` gave it) for the models after it."""
    if reference.get("outputs") is None:
        for combo in combos:
            m = combo.measures.get(("plain", sizes[0]))
            if combo.dtype == "float32" and sizes[0] == 1 and m is not None and m.outputs:
                reference.update(outputs=m.outputs, model=combo.model)
                break
    if reference.get("outputs") is None:  # float32's first row when it ran (a quantized row is compared with float32)
        ordered = sorted(combos, key=lambda c: c.dtype != "float32")
        firsts = [(c.model, m.outputs) for c in ordered for m in c.measures.values() if m.outputs is not None]
        if firsts:
            reference.update(model=firsts[0][0], outputs=firsts[0][1])
    rows, outputs = [], {}
    for combo in combos:
        measured = {k: m for k, m in combo.measures.items() if m.seconds or m.status != "ok"}
        for (runner, bs), m in measured.items():
            if runner == "plain" and m.status == "ok":
                m.padding_share = plain_padding(combo.costs, bs) if combo.tokens is not None else 0.0
            r = row(runner, bs, str(combo.device), combo.dtype, m, len(combo.items), combo.tokens,
                    combo.useful_flops, combo.peak, reference.get("outputs"))
            r["model"] = combo.model
            if m.quality is not None and r["status"] == "ok" and m.seconds:
                name, value = m.quality.headline
                r.update(quality_metric=name, quality=value,
                         metrics=", ".join(f"{k} {v:g}" for k, v in m.quality.values.items()))
            rows.append(r)
        ok = [m for m in measured.values() if m.status == "ok" and m.seconds and m.outputs]
        if ok:
            outputs[combo.key] = min(ok, key=lambda m: statistics.median(m.seconds)).outputs
    return rows, outputs


def _call(runner: str, combo: _Combo, items: list[Any], bs: int, stats_out: dict | None = None,
          count: InputCount | None = None) -> list[Any]:
    """One run of ``combo``'s pipeline on ``items``, watched by its control: ``pipe(items,
    batch_size=bs)`` (plain) or ``run_batch`` with the runner's options; ``count`` is told how many
    inputs are done as they finish."""
    pipe, params = combo.pipe, combo.params
    with watch(pipe, combo.control):
        if runner == "plain":
            with combo.control.counting_inputs(count):
                return list(pipe(items, batch_size=bs, **params))
        progress = None if count is None else (lambda done, total: count(done))
        out = run_batch(pipe, items, batch_size=bs, progress=progress, **combo.options, **params)
    if stats_out is not None:
        stats_out["stats"] = out.stats
    return out.results


def _measure(m: Measure, runner: str, combo: _Combo, bs: int, *, timed: bool, task: str,
             count: InputCount | None = None) -> None:
    """One run of a row: timed (seconds, forward latencies, the runner's stats), or untimed for its
    peak memory (``PeakMemory``) and its outputs; its inputs counted to ``count`` as they finish."""
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
            out = _call(runner, combo, combo.items, bs, info, count)
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
        if combo.labelled is not None:
            from workbench.bench.quality import score_run
            from workbench.tasks import get_task

            m.quality = score_run(get_task(task), combo.pipe, out, combo.labelled, embeddings=m.outputs)
        return
    m.seconds.append(seconds)
    if timer:
        m.latencies += timer.latencies
        m.forward_calls = len(timer.latencies)
    elif stats is not None:
        m.latencies += stats.batch_seconds
        m.forward_calls = stats.forward_passes
