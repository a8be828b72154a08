"""The Benchmark's generation rows: text generation measured as LLM users measure it.

For a decoder-only text-generation pipeline (``generation_bench``), ``run_generation_benchmark``
serves the same requests three ways, with greedy decoding and EOS ignored (every request generates
exactly the tokens it asks for):

- ``plain``: ``pipe(prompts, batch_size=N)`` — static batches in input order (left-padded), each
  running until its longest request is done;
- ``runner``: the workbench runner (``run_batch``: length-sorted batches of equal-length prompts);
- ``continuous``: transformers' continuous batching (``workbench.continuous``), at most N requests in
  flight and the token budget per step (``BenchConfig.max_tokens``).

Prompts are the workload's (``natural``: long-tailed lengths; ``chat``: the same texts as user
messages through the model's chat template; ``file``: yours), truncated to leave room for the new
tokens; each request's ``max_new_tokens`` is drawn from a seeded long-tailed distribution
(``output_lengths``: lognormal, σ 1, of the asked mean) or is the mean for all (``fixed``).

Every row reports output tokens/s, requests/s, TTFT / ITL / end-to-end p50 and p95 (defined in
``workbench.gen_metrics``, as the Chat mode's; all requests arrive when a run starts), peak memory,
MFU (2 FLOPs per linear-layer weight per prompt or generated token, over the measured matmul
peak; attention left out), and how its tokens compare with the first plain row's:
``same_tokens`` (share of requests with identical tokens) and ``first_diff`` (the earliest token
position where a request differs; empty when none does). The per-request timings are
``BenchResult.requests`` (``bench_requests.csv``).

Several models (``config.models``) are swept one after the other, each loaded through the manager
(a model's pipelines are let go before the next loads); every row names its ``model``, and its
tokens are compared with the first plain row of the same model (another model's tokens are
another model's). The recommendation names the model of the fastest row.

Why only decoder-only text generation: continuous batching's paged KV cache holds decoder
self-attention only — the sequence-to-sequence tasks (summarization, translation,
text2text-generation) need cross-attention over an encoder's outputs, and image-text-to-text is not
batchable here; those keep the items/s rows of the general sweep.
"""

from __future__ import annotations

import collections
import gc
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from workbench.bench.config import (GENERATION_RUNNERS, BenchCancelled, BenchConfig, BenchProgress, InputCount,
                                    InputsProgress, generation_bench)
from workbench.gen_metrics import RequestTiming, summarize

if TYPE_CHECKING:
    from workbench.bench.report import BenchResult
    from workbench.manager import PipelineManager

#: The mean of the requests' ``max_new_tokens`` when the config does not say.
DEFAULT_MEAN_NEW_TOKENS = 64
#: The longest a drawn output length may be, as a multiple of the mean (the tail is cut there).
TAIL_CAP = 8


def output_lengths(n: int, mean: int, seed: int = 0, *, kind: str = "long-tail", limit: int | None = None) -> list[int]:
    """``n`` requests' ``max_new_tokens``: lognormal (σ 1) with mean ``mean``, cut at ``TAIL_CAP``×
    the mean (and at ``limit``), at least 1 — or ``mean`` for all with ``kind="fixed"``. Seeded.

    >>> lengths = output_lengths(1000, 64, seed=0)
    >>> min(lengths) >= 1, max(lengths) <= 512, 50 < sum(lengths) / 1000 < 70
    (True, True, True)
    >>> output_lengths(3, 8, kind="fixed")
    [8, 8, 8]
    """
    cap = min(TAIL_CAP * mean, limit or TAIL_CAP * mean)
    if kind == "fixed":
        return [max(1, min(mean, cap))] * n
    if kind != "long-tail":
        raise ValueError(f"unknown output lengths {kind!r}; choose long-tail or fixed")
    rng = np.random.default_rng([seed, 64])
    sigma = 1.0
    drawn = rng.lognormal(np.log(mean) - sigma ** 2 / 2, sigma, size=n)
    return [int(v) for v in np.clip(np.round(drawn), 1, cap)]


class _Clock:
    """A ``generate`` streamer and stopping criterion in one, for the plain and runner rows: it
    recognises each request in a batch by its prompt tokens, stamps each of its tokens, and stops
    it once it has the tokens it asked for (so EOS never decides a length)."""

    def __init__(self, prompts: list[list[int]], budgets: list[int], pad_id: int | None,
                 on_finished: Callable[[int], None] | None = None) -> None:
        self.budgets, self.pad_id, self.on_finished = budgets, pad_id, on_finished
        self.finished = 0
        self.keys: dict[tuple[int, ...], collections.deque[int]] = collections.defaultdict(collections.deque)
        for i, ids in enumerate(prompts):
            self.keys[tuple(ids)].append(i)
        self.first: list[float | None] = [None] * len(prompts)
        self.last: list[float | None] = [None] * len(prompts)
        self.tokens: list[list[int]] = [[] for _ in prompts]
        self.rows: list[int] = []
        self._prompt_next = True
        self.start = time.perf_counter()

    def _request(self, row: list[int]) -> int:
        """The request whose prompt ``row`` is: as it is, or without its left (or right) padding."""
        candidates = [row]
        if self.pad_id is not None:
            left, right = 0, len(row)
            while left < len(row) and row[left] == self.pad_id:
                left += 1
                candidates.append(row[left:])
            while right > 0 and row[right - 1] == self.pad_id:
                right -= 1
                candidates.append(row[:right])
        for ids in candidates:
            if self.keys.get(tuple(ids)):
                return self.keys[tuple(ids)].popleft()
        raise RuntimeError("a generated batch holds a prompt this benchmark did not send")

    def put(self, value: Any) -> None:
        if self._prompt_next:  # the first put() of a generate call is its prompts
            self._prompt_next = False
            self.rows = [self._request(r) for r in value.tolist()]
            return
        now = time.perf_counter()
        for r, token in zip(self.rows, value.reshape(-1).tolist()):
            if len(self.tokens[r]) < self.budgets[r]:
                self.tokens[r].append(int(token))
                if self.first[r] is None:
                    self.first[r] = now
                self.last[r] = now
                if len(self.tokens[r]) == self.budgets[r]:
                    self.finished += 1
                    if self.on_finished is not None:
                        self.on_finished(self.finished)

    def end(self) -> None:
        self._prompt_next = True

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        import torch

        done = [len(self.tokens[r]) >= self.budgets[r] for r in self.rows]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    def timings(self) -> list[RequestTiming]:
        return [RequestTiming(self.start, f, last, len(t)) for f, last, t in zip(self.first, self.last, self.tokens)]


@dataclass
class _Run:
    seconds: float
    timings: list[RequestTiming]
    tokens: list[list[int]]
    steps: int


@dataclass
class _Row:
    runs: list[_Run] = field(default_factory=list)
    peak_mb: float = 0.0
    tokens: list[list[int]] | None = None
    status: str = "ok"

    def median(self) -> _Run | None:
        if not self.runs:
            return None
        mid = statistics.median_low([r.seconds for r in self.runs])
        return next(r for r in self.runs if r.seconds == mid)


@dataclass
class _Combo:
    model: str
    device: Any
    dtype: str
    pipe: Any
    items: list[Any]
    params: dict[str, Any]
    prompts: list[list[int]]
    features: list[dict[str, Any]]
    budgets: list[int]
    peak: float
    flops_per_token: float
    rows: dict[tuple[str, int], _Row]


def flops_per_token(model: Any) -> float:
    """2 FLOPs per weight of every linear layer (the LM head included): one token's matmuls."""
    import torch

    return 2.0 * sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))


def run_generation_benchmark(manager: "PipelineManager", config: BenchConfig, *, progress: BenchProgress | None = None,
                             stop_event: threading.Event | None = None,
                             on_row: Callable[["BenchResult"], None] | None = None,
                             on_inputs: InputsProgress | None = None) -> "BenchResult":
    """The generation sweep of ``config`` (see the module docstring), model after model. Every
    device × dtype of a model is loaded and warmed up (every runner once, on the first requests, 4
    tokens each); then each row runs ``repeats`` times, runners interleaved (their order reversed
    every other repeat). ``progress`` is told each step, ``on_inputs`` each finished request,
    ``on_row`` the partial result after each timed run (as ``run_benchmark``). A set ``stop_event``
    stops it at the next layer (plain, runner) or before the next decoding step (continuous) and
    raises ``BenchCancelled`` with the rows so far."""
    import pandas as pd

    from workbench.bench.config import input_counter
    from workbench.bench.machine import environment
    from workbench.bench.report import COLUMNS, BenchResult, add_speedup
    from workbench.errors import RunCancelled, WorkbenchError
    from workbench.progress import RunControl
    from workbench.tasks import get_task

    spec = get_task(config.task)
    if not generation_bench(spec):
        raise WorkbenchError(f"{spec.name} has no generation rows; they are for decoder-only text generation")
    unknown = set(config.runners) - set(GENERATION_RUNNERS)
    if unknown:
        raise ValueError(f"unknown runner(s) {sorted(unknown)}; choose from {', '.join(GENERATION_RUNNERS)}")
    models = config.models
    report = progress or (lambda fraction, what: None)
    sizes, runners = list(config.batch_sizes), list(config.runners)
    pairs = [(d, t) for d in config.devices for t in config.dtypes]
    per_model = max(1, len(pairs) * (config.repeats + 1) * len(sizes) * len(runners))
    steps = per_model * len(models)
    env = environment(manager, config)
    control = RunControl(stop_event)
    combos: list[_Combo] = []  # the model being measured
    done_rows: list[dict[str, Any]] = []  # the models measured before it
    done_requests: list[dict[str, Any]] = []

    def result() -> BenchResult:
        rows, requests = _rows(combos, sizes, runners)
        table = add_speedup(pd.DataFrame(done_rows + rows, columns=COLUMNS))
        return BenchResult(table, env, recommend_generation(table), config,
                           requests=pd.DataFrame(done_requests + requests))

    done = 0
    try:
        for model in models:
            for device_name, dtype_name in pairs:
                control.check()
                combos.append(_prepare(manager, config, spec.name, model, device_name, dtype_name, sizes, runners,
                                       env, control, lambda what: report(done / steps, what)))
                done += len(sizes) * len(runners)
            for rep in range(config.repeats):
                order = runners if rep % 2 == 0 else list(reversed(runners))
                for combo in combos:
                    for bs in sizes:
                        for runner in order:
                            control.check()
                            row = combo.rows[(runner, bs)]
                            who = f"{combo.model}: " if len(models) > 1 else ""
                            report(done / steps, f"{who}{combo.device} {combo.dtype}: {runner}, {bs} in flight, "
                                                 f"run {rep + 1}/{config.repeats}")
                            count = input_counter(on_inputs, done, steps, len(combo.items))
                            done += 1
                            if row.status == "ok":
                                _measure(row, runner, combo, bs, config, control, count)
                            if on_row is not None:
                                on_row(result())
            rows, requests = _rows(combos, sizes, runners)
            done_rows += rows
            done_requests += requests
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


def _prepare(manager: "PipelineManager", config: BenchConfig, task: str, model: str | None, device_name: str,
             dtype_name: str, sizes: list[int], runners: list[str], env: dict[str, Any], control: Any,
             report: Any) -> _Combo:
    """Load ``model`` on one device × dtype, make its requests (prompts through its tokenizer, each
    one's output length), measure the matmul peak, warm every runner up. The environment keeps
    each model's facts under ``models`` (the first model's also at the top, as with one model)."""
    from workbench.batching import split_parameters
    from workbench.bench.machine import local_revision
    from workbench.continuous import supports_continuous
    from workbench.devices import precision_name, resolve_device
    from workbench.errors import WorkbenchError
    from workbench.generation import position_limit
    from workbench.kernels import matmul_peaks
    from workbench.offline import OFFLINE_PREFIX
    from workbench.offline.random_models import resolve_bench_model
    from workbench.workloads import make_workload

    device = resolve_device(device_name)
    dname = precision_name(dtype_name, device)
    label = model or f"{OFFLINE_PREFIX}{task}"
    report(f"loading {label} on {device} in {dname}")
    loaded = manager.load(task, resolve_bench_model(model), revision=config.revision, device=device_name,
                          dtype=dname)
    pipe = loaded.pipe
    if "continuous" in runners and (why := supports_continuous(pipe)):
        raise WorkbenchError(f"The continuous runner cannot run {label}: {why}.")
    control.check()
    mean = int(config.max_new_tokens or config.params.get("max_new_tokens") or DEFAULT_MEAN_NEW_TOKENS)
    limit = position_limit(pipe.model)
    budgets = output_lengths(config.n, mean, config.seed, kind=config.output_lengths, limit=limit // 2 if limit else None)
    work = make_workload(config.workload, task, n=config.n, seed=config.seed, path=config.path, column=config.column,
                         policy=manager.policy)
    items = list(work.items)
    params: dict[str, Any] = {**work.params, **config.params}
    if items and isinstance(items[0], list):  # chat messages: through the model's chat template, as the Chat mode
        from workbench.chat import render_prompt

        items = [render_prompt(pipe, m, label) for m in items]
        params["add_special_tokens"] = False
    room = min(2048, (limit or 2048) - max(budgets))
    params.update(do_sample=False, max_new_tokens=max(budgets), eos_token_id=None,
                  tokenizer_encode_kwargs={"truncation": True, "max_length": room})
    pre, _, _ = split_parameters(pipe, params)
    features = [pipe.preprocess(item, **pre) for item in items]
    prompts = [f["input_ids"][0].tolist() for f in features]
    facts = {"model_path": loaded.source.path,
             "model_revision": loaded.source.revision or local_revision(loaded.source.path),
             "model_description": loaded.description, "parameters": loaded.parameters,
             "workload": f"{work.description}; prompts {min(map(len, prompts))}–{max(map(len, prompts))} tokens "
                         f"(mean {np.mean([len(p) for p in prompts]):.0f}, cut at {room})",
             "output_lengths": f"max_new_tokens per request {min(budgets)}–{max(budgets)}, mean "
                               f"{np.mean(budgets):.1f} ({config.output_lengths}, asked mean {mean}, seed "
                               f"{config.seed}); EOS ignored, greedy"}
    env.setdefault("models", {})[label] = facts
    if len(env["models"]) == 1:  # the first model's facts stay at the top, as with one model
        env.update(facts)
    env.setdefault("params", {k: str(v) for k, v in params.items()})
    where = f"{device}/{dname}"
    report(f"measuring matmul peak on {device} in {dname}")
    import torch

    peaks = matmul_peaks(device, getattr(torch, dname, torch.float32), check=control.check)
    env.setdefault("matmul_peak_gflops", {})[where] = round(max(peaks.values()) / 1e9, 1)
    env.setdefault("precision", {})[where] = loaded.precision
    combo = _Combo(label, device, dname, pipe, items, params, prompts, features, budgets, max(peaks.values()),
                   flops_per_token(pipe.model), {(r, bs): _Row() for bs in sizes for r in runners})
    control.check()
    report(f"warming up on {device} in {dname}")
    warm = min(len(items), max(sizes))
    for runner in runners:
        _call(runner, combo, max(sizes), control, config, limit_to=warm, most_tokens=4)
    return combo


def _call(runner: str, combo: _Combo, bs: int, control: Any, config: BenchConfig, *,
          limit_to: int | None = None, most_tokens: int | None = None, count: InputCount | None = None) -> _Run:
    """One run of every request (or the first ``limit_to``, of at most ``most_tokens`` each: the
    warm-up) with ``runner`` at ``bs`` in flight; ``count`` is told how many requests have finished
    as each one does."""
    from transformers import StoppingCriteriaList

    from workbench.continuous import run_continuous
    from workbench.progress import watch
    from workbench.runner import run_batch

    n = len(combo.items) if limit_to is None else limit_to
    items, prompts, budgets = combo.items[:n], combo.prompts[:n], combo.budgets[:n]
    if most_tokens is not None:
        budgets = [min(b, most_tokens) for b in budgets]
    if runner == "continuous":
        out = run_continuous(combo.pipe, items, max_in_flight=bs, max_tokens=config.max_tokens,
                             max_new_tokens=budgets, ignore_eos=True, stop_event=control.cancel_event,
                             preprocessed=combo.features[:n], on_finished=count,
                             **{k: v for k, v in combo.params.items() if k != "max_new_tokens"})
        return _Run(out.seconds, out.timings, out.tokens, out.steps)
    clock = _Clock(prompts, budgets, getattr(combo.pipe.tokenizer, "pad_token_id", None), count)
    params = {**combo.params, "max_new_tokens": max(budgets), "streamer": clock,
              "stopping_criteria": StoppingCriteriaList([clock])}
    calls = [0]
    hook = combo.pipe.model.register_forward_pre_hook(lambda *a: calls.__setitem__(0, calls[0] + 1))
    try:
        with watch(combo.pipe, control):
            clock.start = time.perf_counter()
            if runner == "plain":
                list(combo.pipe(items, batch_size=bs, **params))
            else:
                run_batch(combo.pipe, items, batch_size=bs, max_tokens=config.max_tokens, kernels=config.kernels,
                          **params)
            seconds = time.perf_counter() - clock.start
    finally:
        hook.remove()
    return _Run(seconds, clock.timings(), clock.tokens, calls[0])


def _measure(row: _Row, runner: str, combo: _Combo, bs: int, config: BenchConfig, control: Any,
             count: InputCount | None = None) -> None:
    """One timed run of a row, its peak memory measured around it (on Linux the kernel's peak-RSS
    mark, reset before the clock starts: free; generation is compute-bound, so unlike the item rows
    there is no separate untimed pass for it), the garbage collector off during the run."""
    from workbench.bench.measure import PeakMemory
    from workbench.memory import is_oom

    collecting = gc.isenabled()
    try:
        with PeakMemory(combo.device) as mem:
            gc.disable()
            run = _call(runner, combo, bs, control, config, count=count)
    except Exception as exc:
        if is_oom(exc):
            row.status = "oom"
            gc.collect()
            return
        raise
    finally:
        if collecting:
            gc.enable()
    row.runs.append(run)
    row.peak_mb = max(row.peak_mb, mem.peak_mb)
    if row.tokens is None:
        row.tokens = run.tokens


def compare_tokens(reference: list[list[int]], tokens: list[list[int]]) -> tuple[float, int | None]:
    """The share of requests whose tokens are identical to the reference's, and the earliest token
    position where a request's differ (None when none does).

    >>> compare_tokens([[1, 2, 3], [4, 5]], [[1, 2, 3], [4, 6]])
    (0.5, 1)
    """
    same, first = 0, None
    for a, b in zip(reference, tokens):
        if a == b:
            same += 1
            continue
        at = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        first = at if first is None else min(first, at)
    return same / max(1, len(reference)), first


def _reference(combos: list[_Combo], sizes: list[int], runners: list[str]) -> list[list[int]] | None:
    """The tokens a model's rows are compared with: its first combination's plain row at the
    smallest size (else the first runner's that ran)."""
    return next((c.rows[(r, sizes[0])].tokens for c in combos for r in ("plain", *runners)
                 if (r, sizes[0]) in c.rows and c.rows[(r, sizes[0])].tokens is not None), None)


def _rows(combos: list[_Combo], sizes: list[int], runners: list[str]) -> tuple[list[dict], list[dict]]:
    """The table's rows of every measured row (its median run) and the requests of those runs; each
    row's tokens compared with its own model's reference (``_reference``)."""
    references = {model: _reference([c for c in combos if c.model == model], sizes, runners)
                  for model in dict.fromkeys(c.model for c in combos)}
    rows, requests = [], []
    for combo in combos:
        reference = references[combo.model]
        prompt_tokens = sum(len(p) for p in combo.prompts)
        for (runner, bs), m in combo.rows.items():
            run = m.median()
            if run is None and m.status == "ok":
                continue
            row: dict[str, Any] = {"model": combo.model, "runner": runner, "batch_size": bs, "device": str(combo.device),
                                   "dtype": combo.dtype, "status": m.status, "runs": len(m.runs),
                                   "final_batch_size": bs, "oom_backoffs": 0}
            if run is not None:
                generated = sum(len(t) for t in run.tokens)
                metrics = summarize(run.timings, run.seconds)
                row.update(metrics, seconds=round(run.seconds, 4), output_tokens=generated,
                           items_per_s=metrics["requests_per_s"],
                           tokens_per_s=round((prompt_tokens + generated) / run.seconds, 1),
                           latency_p50_ms=metrics["e2e_p50_ms"], latency_p95_ms=metrics["e2e_p95_ms"],
                           peak_mem_mb=round(m.peak_mb, 1), forward_calls=run.steps,
                           mfu=round(combo.flops_per_token * (prompt_tokens + generated) / run.seconds / combo.peak, 4)
                           if combo.peak else None)
                if reference is not None:
                    share, first = compare_tokens(reference, run.tokens)
                    row.update(same_tokens=round(share, 4), first_diff=first)
                for i, (t, tokens) in enumerate(zip(run.timings, run.tokens)):
                    requests.append({"model": combo.model, "runner": runner, "batch_size": bs, "device": str(combo.device),
                                     "dtype": combo.dtype, "request": i, "prompt_tokens": len(combo.prompts[i]),
                                     "asked_tokens": combo.budgets[i], "tokens": len(tokens), "ttft_s": t.ttft_s,
                                     "itl_s": t.itl_s, "e2e_s": t.e2e_s})
            rows.append(row)
    return rows, requests


#: The runners in words.
RUNNER_NAMES = {"plain": "plain pipeline batching", "runner": "the workbench runner",
                "continuous": "continuous batching"}


def recommend_generation(table: Any) -> str:
    """The fastest row in words, against plain's best output tokens/s and its TTFT p95, e.g.
    "Best: continuous batching, 16 in flight, float32 on cpu — 12.0 output tokens/s: 3.1× plain's
    best (batch 8), TTFT p95 0.40 s (plain at 16: 2.00 s)." With several models: the fastest model
    first ("Best: offline:chat with continuous batching, …, 1.8× offline:text-generation's best"),
    then a paragraph per model, each compared with its own plain rows."""
    ok = table[(table["status"] == "ok") & table["output_tokens_per_s"].notna()]
    if ok.empty:
        return "No run finished; see the status column."
    models = list(dict.fromkeys(ok["model"]))
    if len(models) == 1:
        return "Best: " + _recommend_model(ok)
    tops = {m: _top(ok[ok["model"] == m]) for m in models}
    best = max(tops.values(), key=lambda r: r["output_tokens_per_s"])
    ratios = [f"{best['output_tokens_per_s'] / top['output_tokens_per_s']:.1f}× {m}'s best"
              for m, top in tops.items() if m != best["model"]]
    head = (f"Best: {best['model']} with {_setting(best)} — {best['output_tokens_per_s']:.1f} output tokens/s, "
            + ", ".join(ratios) + ".")
    return "\n\n".join([head, *(f"{m}: {_recommend_model(ok[ok['model'] == m])}" for m in models)])


def _top(rows: Any) -> dict[str, Any]:
    """The row with the most output tokens/s."""
    return rows.loc[rows["output_tokens_per_s"].astype(float).idxmax()].to_dict()


def _setting(row: dict[str, Any]) -> str:
    """"continuous batching, 16 in flight, float32 on cpu"."""
    return (f"{RUNNER_NAMES.get(row['runner'], row['runner'])}, {int(row['batch_size'])} in flight, {row['dtype']} on "
            f"{row['device']}")


def _recommend_model(ok: Any) -> str:
    """``recommend_generation`` for one model's finished rows, without its "Best: "."""
    best = _top(ok)
    text = f"{_setting(best)} — {best['output_tokens_per_s']:.1f} output tokens/s"
    plain = ok[(ok["runner"] == "plain") & (ok["device"] == best["device"]) & (ok["dtype"] == best["dtype"])]
    ttft = f"TTFT p95 {best['ttft_p95_ms'] / 1000:.2f} s"
    if best["runner"] != "plain" and not plain.empty:
        top = _top(plain)
        text += (f": {best['output_tokens_per_s'] / top['output_tokens_per_s']:.1f}× plain's best "
                 f"(batch {int(top['batch_size'])}), {ttft}")
        same = plain[plain["batch_size"] == best["batch_size"]]
        if not same.empty:
            text += f" (plain at {int(best['batch_size'])}: {same['ttft_p95_ms'].iloc[0] / 1000:.2f} s)"
    else:
        text += f", {ttft}"
    text += "."
    others = ok[ok["runner"] != best["runner"]]
    if not others.empty:
        parts = []
        for runner, group in others.groupby("runner", sort=False):
            top = _top(group)
            parts.append(f"{RUNNER_NAMES.get(runner, runner)} {top['output_tokens_per_s']:.1f} at "
                         f"{int(top['batch_size'])}")
        text += " Best of the others: " + ", ".join(parts) + "."
    return text
