"""The steps of the GPU check (``benchmarks/gpu.sh``), one process each, so that a step that
fails, hangs or runs out of memory ends alone and the next one still runs.

    python benchmarks/gpu/steps.py all --work DIR [--dry-run]  # every step, each in its budget
    python benchmarks/gpu/steps.py run NAME --work DIR [--budget S] [--dry-run]   # one step
    python benchmarks/gpu/steps.py list                        # name and time budget of each step

``all`` runs each step in a fresh interpreter on the GPU: a forked child would inherit whatever
CUDA state the parent's imports left (a CUDA driver initialised before a fork does not work in
the child), and there the imports take a few seconds. The dry run, which never touches CUDA,
imports torch and transformers once and forks a child per step instead (fresh interpreters spent
5-10 s each on those imports on a loaded 2-core machine), except the ZeroGPU step, which always
starts fresh because ``spaces`` must be imported before torch. A step that outlives its budget is
killed; its record keeps what it had measured.

Each step writes ``DIR/NAME.json`` as it goes (``record.Step``) and measures what this build
offers (``probe``): a precision, runner, bench column or model it lacks is recorded as "not
available in this build: ..." and the rest is measured. Nothing here imports gradio.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root: `workbench`

import probe  # noqa: E402  (this folder is sys.path[0])
from record import Step, first_line  # noqa: E402

#: name, what it measures, its time budget in seconds (the sum, plus installing the carried wheels
#: and the summary, stays under 8 minutes).
STEPS: tuple[tuple[str, str, int], ...] = (
    ("1-environment", "Environment: GPU, driver, versions; matmul peak fp16/bf16; device-to-device copy", 40),
    ("2a-minilm", "MiniLM feature extraction: plain vs runner, dtypes x batch sizes", 105),
    ("2b-distilbert", "random:distilbert-base classification: plain vs runner, dtypes x batch sizes", 70),
    ("2c-oom-backoff", "OOM back-off on purpose: a batch that does not fit", 25),
    ("3a-generation-135m", "Generation, random:smollm2-135m: plain vs runner vs continuous", 70),
    ("3b-generation-0.5b", "Generation, a ~0.5B random model: plain vs runner vs continuous", 70),
    ("4-manager-bound", "PipelineManager per-GPU byte bound: loading past it evicts, a model over it is refused", 25),
    ("5-zerogpu", "ZeroGPU run path: the @spaces.GPU-decorated run_task, or the plain path", 25),
)


def _rows(table: Any, **extra: Any) -> list[dict[str, Any]]:
    import json

    return [{**extra, **r} for r in json.loads(table.to_json(orient="records"))]


def _needs_gpu(step: Step, plan: probe.Plan) -> bool:
    """False (and recorded) when this is a GPU run on a machine without one."""
    if plan.dry_run:
        return True
    why = probe.cuda_unavailable()
    if why:
        step.unavailable("CUDA GPU", why)
        return False
    return True


# -- 1 ---------------------------------------------------------------------------------------------


def environment(step: Step, plan: probe.Plan) -> None:
    import platform

    import torch

    from workbench.bench.machine import cpu_name
    from workbench.kernels import matmul_peaks

    step.fact("python", platform.python_version())
    step.fact("python_executable", sys.executable)
    step.fact("versions", probe.versions("torch", "transformers", "tokenizers", "safetensors", "huggingface-hub",
                                         "numpy", "pandas", "sentence-transformers", "spaces", "pydantic"))
    step.fact("cuda", torch.version.cuda)
    step.fact("cpu", cpu_name())
    step.fact("cpu_count", __import__("os").cpu_count())
    step.fact("commit", probe.commit())
    step.fact("minilm", probe.minilm()[1])
    where = "the CPU (dry run)" if plan.dry_run else "cuda:0"
    if not plan.dry_run:
        why = probe.cuda_unavailable()
        if not step.check("a CUDA GPU is visible to torch", why is None, why or ""):
            step.headline(f"no GPU: {why}")
            return
        props = torch.cuda.get_device_properties(0)
        step.fact("gpu", torch.cuda.get_device_name(0))
        step.fact("gpu_count", torch.cuda.device_count())
        step.fact("gpu_memory_gib", round(props.total_memory / 2**30, 1))
        step.fact("gpu_capability", f"{props.major}.{props.minor}")
        step.fact("gpu_multiprocessors", props.multi_processor_count)
        step.fact("driver", probe.driver())
    facts = step.data["facts"]
    vers = facts["versions"]
    step.headline(f"{facts.get('gpu', 'no GPU (dry run on the CPU)')} · driver {facts.get('driver')} · torch "
                  f"{vers['torch']} (CUDA {facts['cuda']}) · transformers {vers['transformers']} · Python "
                  f"{facts['python']} · commit {facts['commit']}")
    device = torch.device(plan.device)
    if device.type == "cuda":  # clocks up from idle before anything is timed
        a = torch.randn(8192, 8192, device=device, dtype=torch.bfloat16)
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            a @ a
            torch.cuda.synchronize()
        del a
    peaks = {}
    for name in ("float16", "bfloat16"):
        dtype = getattr(torch, name)
        try:
            by_kernel = matmul_peaks(device, dtype, size=plan.matmul_size, seconds=plan.matmul_seconds)
        except Exception as exc:  # a CPU without the dtype's kernels
            step.partial(f"matmul peak {name}: {first_line(exc)}")
            continue
        best = max(by_kernel, key=by_kernel.get)
        peaks[name] = by_kernel[best] / 1e12
        step.rows([{"measure": "matmul peak", "dtype": name, "tflops": float(f"{peaks[name]:.4g}"), "kernel": best,
                    "by_kernel_tflops": {k: float(f"{v / 1e12:.4g}") for k, v in by_kernel.items()},
                    "device": where}])
    gbps = _copy_bandwidth(device, plan.copy_bytes)
    step.rows([{"measure": "device-to-device copy" if device.type == "cuda" else "host memory copy",
                "bytes": plan.copy_bytes, "gb_per_s_read_plus_write": round(gbps, 1), "device": where}])
    step.check("matmul peaks measured in float16 and bfloat16", len(peaks) == 2, ", ".join(peaks))
    step.headline("matmul peak " + ", ".join(f"{k} {_num(v)} TFLOP/s" for k, v in peaks.items()) +
                  f"; copy {gbps:,.1f} GB/s (bytes read + written, {plan.copy_bytes / 2**20:g} MiB) on {where}")
    step.short(f"{facts.get('gpu', 'CPU (dry run)')}, driver {facts.get('driver')}, torch {vers['torch']}, "
               f"transformers {vers['transformers']}; " + ", ".join(f"{k} {_num(v)}" for k, v in peaks.items()) +
               f" TFLOP/s; copy {gbps:,.0f} GB/s")


def _num(value: float) -> str:
    """3 significant digits below 100, thousands separated above: 0.0123, 4.56, 789.1, 1,234."""
    return f"{value:,.1f}" if value >= 100 else f"{value:.3g}"


def _copy_bandwidth(device: Any, nbytes: int) -> float:
    """GB/s of ``dst.copy_(src)`` on ``device``, counting bytes read and written: the best of 10."""
    import torch

    from workbench.bench.measure import sync

    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    for _ in range(3):
        dst.copy_(src)
    sync(device)
    best = float("inf")
    for _ in range(10):
        start = time.perf_counter()
        dst.copy_(src)
        sync(device)
        best = min(best, time.perf_counter() - start)
    return 2 * nbytes / best / 1e9


# -- 2 ---------------------------------------------------------------------------------------------


def _bench(step: Step, manager: Any, config: Any, label: str) -> list[Any]:
    """``run_benchmark`` of ``config``, stopped at the step's deadline (the rows so far kept). If the
    sweep over several dtypes fails, each dtype is measured on its own, so one that this machine
    cannot run does not take the others with it."""
    from workbench.bench import BenchCancelled, run_benchmark

    stop = step.stop_event()

    def one(cfg: Any) -> list[Any]:
        try:
            return [run_benchmark(manager, cfg, stop_event=stop)]
        except BenchCancelled as exc:
            step.partial(f"{label} {', '.join(cfg.dtypes)}: stopped at the step's time budget; the rows measured "
                         "so far are kept")
            return [exc.partial] if exc.partial is not None else []

    try:
        return one(config)
    except Exception as exc:
        if len(config.dtypes) == 1:
            raise
        step.note(f"{label}: the sweep over {', '.join(config.dtypes)} failed ({first_line(exc)}); measuring each "
                  "dtype on its own")
    results = []
    for dtype in config.dtypes:
        manager.clear()
        if stop.is_set():
            step.partial(f"{label} {dtype}: not measured, the step's time budget is spent")
            continue
        try:
            results += one(replace(config, dtypes=(dtype,)))
        except Exception as exc:
            step.check(f"{label} runs in {dtype}", False, first_line(exc))
    return results


def _best(rows: list[dict[str, Any]], runner: str, dtype: str, key: str = "items_per_s") -> dict[str, Any] | None:
    ok = [r for r in rows if r["runner"] == runner and r["dtype"] == dtype and r["status"] == "ok" and r.get(key)]
    return max(ok, key=lambda r: r[key]) if ok else None


def _dtypes(step: Step, plan: probe.Plan, label: str) -> list[str]:
    usable = []
    for name in probe.DTYPES:
        why = probe.dtype_unavailable(name, plan.device)
        if why:
            step.unavailable(f"{label} in {name}", why)
        else:
            usable.append(name)
    return usable


def encoders(step: Step, plan: probe.Plan, which: str) -> None:
    from workbench.bench import BenchConfig
    from workbench.manager import PipelineManager
    from workbench.offline import offline_model_path

    if not _needs_gpu(step, plan):
        return
    if which == "minilm":
        task, label = "feature-extraction", "MiniLM"
        if plan.dry_run:
            model, how = offline_model_path(task, prefer_real=False), "the tiny offline BERT stands in for MiniLM"
        else:
            model, how = probe.minilm()
            if model is None:
                step.unavailable("all-MiniLM-L6-v2", how)
                return
        n = plan.minilm_n
    else:
        task, label = "text-classification", "distilbert-base"
        model = "offline:text-classification" if plan.dry_run else "random:distilbert-base"
        how = "the tiny offline classifier stands in for distilbert-base" if plan.dry_run else (
            "DistilBertConfig() defaults, seeded random weights, MiniLM's vocabulary")
        if not plan.dry_run and probe.minilm()[0] is None:
            step.unavailable("random:distilbert-base", "it needs MiniLM's vocabulary, which is " + probe.minilm()[1])
            return
        n = plan.classifier_n
    step.fact("model", f"{model} ({how})")
    dtypes = _dtypes(step, plan, label)
    config = BenchConfig(task, model=model, batch_sizes=plan.encoder_batch_sizes, devices=(plan.device,),
                         dtypes=tuple(dtypes), workload="natural", n=n, repeats=plan.repeats)
    step.fact("sweep", {"n": n, "workload": "natural", "batch_sizes": list(plan.encoder_batch_sizes),
                        "dtypes": dtypes, "repeats": plan.repeats})
    manager = PipelineManager(max_models=len(dtypes) + 1)
    rows: list[dict[str, Any]] = []
    speedups: dict[str, tuple[dict[str, Any], float]] = {}
    for result in _bench(step, manager, config, label):
        rows += _rows(result.table, model=label)
        step.fact("recommendation", result.recommendation)
        env = result.environment
        step.fact("bench_environment", {k: env.get(k) for k in ("model_description", "parameters", "workload",
                                                                 "matmul_peak_gflops", "runner_kernels", "gpus")})
    step.rows(rows)
    for dtype in dtypes:
        ours, plain = _best(rows, "runner", dtype), _best(rows, "plain", dtype)
        if ours and plain:
            speedups[dtype] = (ours, ours["items_per_s"] / plain["items_per_s"])
            step.headline(f"{label} {dtype}: runner {ours['items_per_s']:,.1f} items/s at batch {ours['batch_size']} "
                          f"({ours['items_per_s'] / plain['items_per_s']:.2f}x plain's best, "
                          f"{plain['items_per_s']:,.1f} at batch {plain['batch_size']}), MFU {ours['mfu']}, "
                          f"max |diff| {ours['max_abs_diff']}")
    step.check(f"{label}: every row measured is ok", rows and all(r["status"] == "ok" for r in rows),
               ", ".join(sorted({f"{r['dtype']}/{r['runner']}/{r['batch_size']}: {r['status']}" for r in rows
                                 if r["status"] != "ok"})))
    if speedups:
        dtype, (ours, gain) = max(speedups.items(), key=lambda kv: kv[1][0]["items_per_s"])
        step.short(f"best {dtype}: runner {ours['items_per_s']:,.0f} items/s at batch {ours['batch_size']} "
                   f"({gain:.2f}x plain's best); measured in {', '.join(speedups)}")


def oom_backoff(step: Step, plan: probe.Plan) -> None:
    """One run of the runner with a batch that does not fit: on a GPU, under a memory cap of what
    is in use plus ``plan.oom_headroom_bytes`` (``torch.cuda.set_per_process_memory_fraction``), a
    real CUDA out-of-memory; in a dry run, a forward pre-hook that raises torch's OutOfMemoryError
    above a quarter of the batch. The results must equal a run that fits."""
    import torch

    from workbench.manager import PipelineManager
    from workbench.offline.random_models import resolve_bench_model
    from workbench.runner import run_batch
    from workbench.workloads import corpus_sentences

    if not _needs_gpu(step, plan):
        return
    if not plan.dry_run and probe.minilm()[0] is None:
        step.unavailable("random:distilbert-base", "it needs MiniLM's vocabulary, which is " + probe.minilm()[1])
        return
    model = "offline:text-classification" if plan.dry_run else "random:distilbert-base"
    pipe = PipelineManager().load("text-classification", resolve_bench_model(model), device=plan.device,
                                  dtype="float32").pipe
    sentences = corpus_sentences()
    texts = [" ".join(sentences[(i + k) % len(sentences)] for k in range(30)) for i in range(plan.oom_rows)]
    fits = run_batch(pipe, texts, batch_size=8, truncation=True)
    limit = max(1, plan.oom_rows // 4)
    device = torch.device(plan.device)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        cap = torch.cuda.memory_reserved() + plan.oom_headroom_bytes
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap / total))
        how = (f"a real CUDA out-of-memory: memory capped at {cap / 2**30:.2f} GiB (in use + "
               f"{plan.oom_headroom_bytes / 2**30:g} GiB)")
        hook = None
    else:
        def hook_fn(module: Any, args: Any, kwargs: Any) -> None:
            rows = next(v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor)).shape[0]
            if rows > limit:
                raise torch.OutOfMemoryError(f"out of memory (simulated): a batch of {rows} rows, more than {limit}")

        hook = pipe.model.register_forward_pre_hook(hook_fn, with_kwargs=True)
        how = f"simulated on the CPU: the model's forward raises torch.OutOfMemoryError above {limit} rows"
    step.fact("how", how)
    try:
        start = time.perf_counter()
        out = run_batch(pipe, texts, batch_size=plan.oom_rows, max_tokens=None, pass_overhead=None, truncation=True)
        seconds = time.perf_counter() - start
    finally:
        if hook is not None:
            hook.remove()
        if device.type == "cuda":
            torch.cuda.set_per_process_memory_fraction(1.0)
    stats = out.stats
    same = [a["label"] for a in out.results] == [b["label"] for b in fits.results]
    diff = max(abs(a["score"] - b["score"]) for a, b in zip(out.results, fits.results))
    step.rows([{"model": model, "texts": len(texts), "batch_size": plan.oom_rows, "oom_backoffs": stats.oom_backoffs,
                "final_batch_size": stats.final_batch_size, "largest_batch_run": max(stats.batch_rows),
                "same_labels": same, "max_abs_score_diff": diff, "seconds": round(seconds, 3)}])
    step.check("the batch did not fit and the runner backed off", stats.oom_backoffs >= 1,
               f"{stats.oom_backoffs} back-off(s), batch {plan.oom_rows} -> {stats.final_batch_size}")
    step.check("results equal a run that fits", same and diff < 1e-4,
               f"same labels {same}, max |score diff| {diff:.2g}")
    step.headline(f"batch {plan.oom_rows} of {len(texts)} long texts -> {stats.oom_backoffs} back-off(s), kept batch "
                  f"{stats.final_batch_size}; same labels: {same} ({how})")
    step.short(f"batch {plan.oom_rows} -> {stats.final_batch_size} after {stats.oom_backoffs} back-off(s), same labels "
               f"{same} ({'real CUDA OOM' if device.type == 'cuda' else 'simulated OOM'})")


# -- 3 ---------------------------------------------------------------------------------------------


def generation(step: Step, plan: probe.Plan, which: str) -> None:
    import statistics
    import threading

    from workbench.bench import BenchConfig
    from workbench.generation import stream_generate
    from workbench.manager import PipelineManager
    from workbench.offline.random_models import resolve_bench_model
    from workbench.tasks import get_task
    from workbench.workloads import make_workload

    if not _needs_gpu(step, plan):
        return
    if plan.dry_run:
        model = "offline:chat" if which == "135m" else "offline:text-generation"
        step.note(f"dry run: {model} stands in for the {'random:smollm2-135m' if which == '135m' else '~0.5B'} model")
    else:
        model = probe.SMALL_LM if which == "135m" else probe.half_billion_lm()
        why = probe.random_model_unavailable(model) if model else (
            f"not available in this build: none of {', '.join(probe.HALF_BILLION_LMS)} is a random model here")
        if why:
            step.unavailable(model or "a ~0.5B random model", why)
            return
    offered = probe.bench_runners()
    runners = tuple(r for r in (*probe.RUNNERS, *offered) if r in offered)
    runners = tuple(dict.fromkeys(runners))
    for r in probe.RUNNERS:
        if r not in offered:
            step.unavailable(f"runner `{r}`", f"not available in this build: the bench offers {', '.join(offered)}")
    latency = probe.latency_columns()
    if not latency:
        step.unavailable("TTFT / ITL in the bench's rows", "not available in this build: the bench has no such "
                         "columns; measured below for one stream at a time (workbench.generation.stream_generate)")
    spec = get_task("text-generation")
    params = {**(spec.bench.params if spec.bench else {}), **plan.gen_params}
    config = BenchConfig("text-generation", model=model, batch_sizes=plan.gen_batch_sizes, devices=(plan.device,),
                         dtypes=(plan.gen_dtype,), workload=plan.gen_workload, n=plan.gen_n, repeats=plan.repeats,
                         runners=runners, params=dict(plan.gen_params))
    step.fact("sweep", {"model": model, "n": plan.gen_n, "workload": plan.gen_workload, "dtype": plan.gen_dtype,
                        "batch_sizes": list(plan.gen_batch_sizes), "runners": list(runners), "params": params})
    manager = PipelineManager(max_models=2)
    start = time.perf_counter()
    path = resolve_bench_model(model)
    step.fact("build_or_find_s", round(time.perf_counter() - start, 1))
    label = model.removeprefix("random:").removeprefix("offline:")
    rows = []
    shorts = []
    for result in _bench(step, manager, config, label):
        rows += _rows(result.table, model=label)
        step.fact("bench_environment", {k: result.environment.get(k) for k in ("model_description", "parameters",
                                                                               "workload", "params", "gpus")})
    step.rows(rows)
    for runner in runners:
        best = _best(rows, runner, plan.gen_dtype)
        if best:
            extra = "".join(f", {c} {best[c]}" for c in latency if best.get(c) is not None)
            step.headline(f"{label} {runner}: {best['items_per_s']:,.2f} requests/s at batch {best['batch_size']} "
                          f"(bench tokens/s {best['tokens_per_s']:,.0f}){extra}")
            shorts.append(f"{runner} {best['items_per_s']:,.1f} req/s (batch {best['batch_size']})")
    step.short(f"{label}: " + ", ".join(shorts))
    # one stream at a time: time to first token and the gaps between tokens
    if step.left() < 5:
        step.partial("one-stream TTFT/ITL: not measured, the step's time budget is spent")
        return
    pipe = manager.load("text-generation", path, device=plan.device, dtype=plan.gen_dtype).pipe
    prompts = make_workload(plan.gen_workload, "text-generation", n=plan.stream_prompts, seed=1).items
    ttfts, gaps, rates = [], [], []
    for prompt in prompts:
        updates = list(stream_generate(pipe, prompt, stop_event=threading.Event(), **params))
        first = next((u for u in updates if u.new_tokens), None)
        if first is None:
            continue
        ttfts.append(first.time_to_first_token_s)
        seen = [u for u in updates if u.new_tokens and not u.done]
        gaps += [(b.elapsed_s - a.elapsed_s) / (b.new_tokens - a.new_tokens) for a, b in zip(seen, seen[1:])
                 if b.new_tokens > a.new_tokens]
        if updates[-1].tokens_per_s:
            rates.append(updates[-1].tokens_per_s)
    if ttfts:
        q = statistics.quantiles(gaps, n=20) if len(gaps) >= 2 else [gaps[0]] * 19 if gaps else [float("nan")] * 19
        stream = {"model": label, "runner": "stream (1 in flight)", "batch_size": 1, "dtype": plan.gen_dtype,
                  "status": "ok", "prompts": len(ttfts), "ttft_ms": round(1e3 * statistics.median(ttfts), 2),
                  "itl_p50_ms": round(1e3 * statistics.median(gaps), 2) if gaps else None,
                  "itl_p95_ms": round(1e3 * q[18], 2) if gaps else None,
                  "new_tokens_per_s": round(statistics.median(rates), 1) if rates else None}
        step.rows([stream])
        step.headline(f"{label} one stream: TTFT {stream['ttft_ms']} ms, ITL p50 {stream['itl_p50_ms']} ms / p95 "
                      f"{stream['itl_p95_ms']} ms, {stream['new_tokens_per_s']} new tokens/s")
        step.short(f"{label}: " + ", ".join(shorts) + f"; one stream TTFT {stream['ttft_ms']} ms, ITL "
                   f"{stream['itl_p50_ms']} ms")
    step.check(f"{label}: every row measured is ok", rows and all(r["status"] == "ok" for r in rows),
               ", ".join(sorted({f"{r['runner']}/{r['batch_size']}: {r['status']}" for r in rows
                                 if r["status"] != "ok"})))


# -- 4 ---------------------------------------------------------------------------------------------


def manager_bound(step: Step, plan: probe.Plan) -> None:
    """A bound per device between the larger model and both together: loading the second evicts
    the first (its memory is freed), and the second in float32 (twice its bfloat16 bytes, over the
    bound) is refused before anything is allocated."""
    import torch

    from workbench.errors import OutOfMemoryError
    from workbench.manager import PipelineManager
    from workbench.offline import offline_model_path
    from workbench.offline.random_models import resolve_bench_model

    if not _needs_gpu(step, plan):
        return
    if plan.dry_run:
        a = ("feature-extraction", offline_model_path("feature-extraction", prefer_real=False))
        b = ("text-classification", "offline:text-classification")
    else:
        folder, how = probe.minilm()
        if folder is None:
            step.unavailable("MiniLM and random:distilbert-base", how)
            return
        a = ("feature-extraction", folder)
        b = ("text-classification", resolve_bench_model("random:distilbert-base"))
    dtype = "bfloat16"
    device = str(PipelineManager().key(a[0], a[1], device=plan.device, dtype=dtype).device)
    cuda = device.startswith("cuda")

    def allocated() -> int | None:
        return torch.cuda.memory_allocated() if cuda else None

    sizes = {}
    probe_manager = PipelineManager()
    for task, model in (a, b):
        sizes[task] = probe_manager.load(task, model, device=plan.device, dtype=dtype).bytes
    probe_manager.clear()
    bound = sizes[b[0]] + sizes[a[0]] // 2  # holds either one, not both; b in float32 (2x) is over it
    manager = PipelineManager(max_models=8, device_bytes={device: bound})
    base = allocated()
    first = manager.load(*a, device=plan.device, dtype=dtype)
    after_a = allocated()
    second = manager.load(*b, device=plan.device, dtype=dtype)
    del first
    import gc

    gc.collect()
    after_b = allocated()
    loaded = [e.key.task for e in manager.loaded()]
    step.check("loading past the bound evicts the least recently used model", loaded == [b[0]],
               f"loaded after the second load: {loaded}")
    if cuda:
        step.check("the evicted model's GPU memory is freed", after_b - base <= second.bytes * 1.1 + (8 << 20),
                   f"allocated above the start: {(after_a - base) / 2**20:.1f} MiB with A, "
                   f"{(after_b - base) / 2**20:.1f} MiB after B evicted A (B holds {second.bytes / 2**20:.1f} MiB)")
    try:
        manager.load(b[0], b[1], device=plan.device, dtype="float32")
        refused = None
    except OutOfMemoryError as exc:
        refused = str(exc)
    after_refusal = allocated()
    step.check("a model over the bound is refused", refused is not None, refused or "it loaded")
    if cuda:
        step.check("nothing was allocated for the refused model", after_refusal == after_b,
                   f"{after_b} -> {after_refusal} bytes")
    step.check("the loaded model stays after the refusal", [e.key.task for e in manager.loaded()] == [b[0]])
    step.rows([{"device": device, "bound_mib": round(bound / 2**20, 1), "a": f"{a[0]} {dtype}",
                "a_mib": round(sizes[a[0]] / 2**20, 1), "b": f"{b[0]} {dtype}", "b_mib": round(sizes[b[0]] / 2**20, 1),
                "allocated_mib": [None if x is None else round(x / 2**20, 1)
                                  for x in (base, after_a, after_b, after_refusal)],
                "refused": refused}])
    step.headline(f"bound {bound / 2**20:.1f} MiB on {device}: {a[0]} ({sizes[a[0]] / 2**20:.1f} MiB) then {b[0]} "
                  f"({sizes[b[0]] / 2**20:.1f} MiB) -> the first evicted; {b[0]} in float32 refused: {refused}")
    step.short(f"bound {bound / 2**20:.1f} MiB on {device}: evicted {'yes' if loaded == [b[0]] else 'NO'}, over-bound "
               f"model refused {'yes' if refused else 'NO'}")


# -- 5 ---------------------------------------------------------------------------------------------


def zerogpu(step: Step, plan: probe.Plan) -> None:
    """``workbench.zerogpu.gpu(run_task)`` — what the app's Run buttons call — run on the GPU: with
    the real ``spaces`` package's decorator where it imports, else the plain path; says which."""
    import os

    import workbench.zerogpu as zg  # the first import of this process to reach torch: `spaces` must come first

    if zg._spaces is not None:
        version = probe.versions("spaces")["spaces"]
        on_space = os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")
        path = (f"spaces {version}: the real spaces.GPU decorator" +
                ("" if on_space else " (off a ZeroGPU Space, SPACES_ZERO_GPU unset: it returns the function as it is)"))
    else:
        try:
            import spaces  # noqa: F401
            why = "imported now but not by workbench.zerogpu"
        except Exception as exc:
            why = first_line(exc)
        path = f"the plain path: `spaces` does not import here ({why})"
    step.fact("path", path)
    if not _needs_gpu(step, plan):
        return
    from workbench.manager import PipelineManager
    from workbench.service import run_task

    decorated = zg.gpu(run_task, duration=60)
    step.fact("decorator_wrapped", decorated is not run_task)
    model = "offline:text-classification" if plan.dry_run else None
    if model is None:
        from workbench.offline.random_models import resolve_bench_model

        if probe.minilm()[0] is None:
            model = "offline:text-classification"
            step.note("random:distilbert-base needs MiniLM's vocabulary: the tiny offline classifier runs instead")
        else:
            model = resolve_bench_model("random:distilbert-base")
    result = decorated(PipelineManager(), "text-classification", {"text": "The GPU run path works."}, model=model,
                       device=plan.device)
    device = str(getattr(result, "device", ""))
    step.rows([{"path": path, "device": device, "output": result.output, "timings": result.timings}])
    step.check(f"run_task ran on {plan.device}", device.startswith(plan.device), f"it ran on {device}")
    step.check("gradio was not imported", "gradio" not in sys.modules)
    step.headline(f"{path}; ran on {device}, output {result.output}")
    step.short(f"{'spaces.GPU' if zg._spaces is not None else 'plain path'}, ran on {device}")


RUN: dict[str, Callable[[Step, probe.Plan], None]] = {
    "1-environment": environment,
    "2a-minilm": lambda s, p: encoders(s, p, "minilm"),
    "2b-distilbert": lambda s, p: encoders(s, p, "distilbert"),
    "2c-oom-backoff": oom_backoff,
    "3a-generation-135m": lambda s, p: generation(s, p, "135m"),
    "3b-generation-0.5b": lambda s, p: generation(s, p, "0.5b"),
    "4-manager-bound": manager_bound,
    "5-zerogpu": zerogpu,
}


#: Steps run in a fresh interpreter rather than a fork: ``spaces`` must be imported before torch.
FRESH = ("5-zerogpu",)
#: A child's exit code when it was killed at its budget (as ``timeout`` reports it).
TIMED_OUT = 124


def run_one(name: str, work: Path, budget: float, dry_run: bool) -> int:
    """Run step ``name`` here and record it in ``work/<name>.json``; 0 when it finished (whatever it
    found), 1 when an error ended it."""
    title = dict((n, t) for n, t, _ in STEPS)[name]
    step = Step(name, title, work, budget)
    plan = probe.plan(dry_run)
    print(f"--- {name}: {title} (budget {budget:g} s{', dry run' if dry_run else ''})", flush=True)
    try:
        probe.minilm()  # sets $WORKBENCH_MINILM_DIR when MiniLM comes from the HF cache or benchmarks/carry
        RUN[name](step, plan)
    except BaseException as exc:  # recorded; the next step still runs
        status = step.finish(exc)
        import traceback

        traceback.print_exc()
        print(f"--- {name}: {status} after {step.data['seconds']} s: {first_line(exc)}", flush=True)
        return 1
    status = step.finish()
    print(f"--- {name}: {status} after {step.data['seconds']} s", flush=True)
    return 0


def _fork(name: str, work: Path, budget: float, dry_run: bool) -> int:
    import multiprocessing

    def target() -> None:
        sys.exit(run_one(name, work, budget, dry_run))

    child = multiprocessing.get_context("fork").Process(target=target, name=name)
    child.start()
    child.join(budget)
    if child.is_alive():
        child.terminate()
        child.join(5)
        if child.is_alive():
            child.kill()
            child.join()
        return TIMED_OUT
    return child.exitcode if child.exitcode is not None else 1


def _fresh(name: str, work: Path, budget: float, dry_run: bool) -> int:
    import subprocess

    cmd = [sys.executable, __file__, "run", name, "--work", str(work), "--budget", f"{budget:g}"]
    try:
        return subprocess.run(cmd + (["--dry-run"] if dry_run else []), timeout=budget,
                              stdin=subprocess.DEVNULL).returncode
    except subprocess.TimeoutExpired:
        return TIMED_OUT


def run_all(work: Path, dry_run: bool) -> None:
    """Every step in order, each in its own process and budget; ``work/rc.txt`` gets their exit codes."""
    fork = dry_run
    if fork:  # imported once for every forked step (a CPU-only run: no CUDA state to inherit)
        import torch  # noqa: F401
        from transformers import pipeline  # noqa: F401

        import workbench.bench.sweep  # noqa: F401
        import workbench.manager  # noqa: F401

    for name, _, budget in STEPS:
        start = time.monotonic()
        rc = (_fork if fork and name not in FRESH else _fresh)(name, work, budget, dry_run)
        with (work / "rc.txt").open("a") as f:
            f.write(f"{name} {rc}\n")
        _progress(f"step {name}: exit {rc} after {time.monotonic() - start:.0f} s (budget {budget} s)")


def _progress(line: str) -> None:
    """``line`` to the log (stdout) and to file descriptor 3 where ``gpu.sh`` opened it (the terminal)."""
    import os

    print(line, flush=True)
    try:
        os.write(3, (line + "\n").encode())
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("all", "run", "list"))
    parser.add_argument("name", nargs="?", choices=[n for n, _, _ in STEPS])
    parser.add_argument("--work", type=Path)
    parser.add_argument("--budget", type=float, default=None, help="seconds (default: the step's own budget)")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "list":
        for name, _, budget in STEPS:
            print(name, budget)
        return 0
    if args.work is None:
        parser.error(f"{args.command} needs --work")
    args.work.mkdir(parents=True, exist_ok=True)
    if args.command == "all":
        run_all(args.work, args.dry_run)
        return 0
    if args.name is None:
        parser.error("run needs a step NAME")
    if args.name in FRESH:
        import workbench.zerogpu  # noqa: F401  (before anything imports torch)
    budget = args.budget if args.budget is not None else dict((n, b) for n, _, b in STEPS)[args.name]
    return run_one(args.name, args.work, budget, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
