"""The benchmark's result: the table (one row per runner × batch size × device × dtype, its
columns owned here), the speed-up over plain batching, the recommendation, and the files.

>>> round(plain_padding([2, 8, 4, 4], 2), 3)
0.25
"""

from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.bench.comparison import agreement, agreement_columns, compare, cosines
from workbench.bench.config import BenchConfig

if TYPE_CHECKING:
    import pandas as pd

    from workbench.metrics import Score

COLUMNS = ["model", "runner", "batch_size", "device", "dtype", "status", "items_per_s", "tokens_per_s", "speedup",
           "latency_p50_ms", "latency_p95_ms", "peak_mem_mb", "padding_share", "mfu", "forward_calls",
           "final_batch_size", "oom_backoffs", "max_abs_diff", "same_labels", "cosine_mean", "cosine_min",
           "token_match", "quality_metric", "quality", "metrics", "seconds", "runs",
           # generation rows (workbench.bench.generation; definitions in workbench.gen_metrics;
           # output_tokens: the tokens its requests generated)
           "output_tokens_per_s", "output_tokens", "requests_per_s", "ttft_p50_ms", "ttft_p95_ms", "itl_p50_ms",
           "itl_p95_ms", "e2e_p50_ms", "e2e_p95_ms", "same_tokens", "first_diff"]
#: The columns of the quality measured against references (empty without them).
QUALITY_COLUMNS = ("quality_metric", "quality", "metrics")
#: The columns the Benchmark tab shows and the CLI prints (the raw timings left out).
SHOWN_COLUMNS = [c for c in COLUMNS if c not in ("seconds", "runs")]
#: ``SHOWN_COLUMNS`` of generation rows: what LLM users read first, without the item rows' columns.
GENERATION_SHOWN_COLUMNS = ["model", "runner", "batch_size", "device", "dtype", "status", "output_tokens_per_s",
                            "output_tokens", "requests_per_s", "ttft_p50_ms", "ttft_p95_ms", "itl_p50_ms",
                            "itl_p95_ms", "e2e_p50_ms", "e2e_p95_ms", "peak_mem_mb", "mfu", "forward_calls",
                            "same_tokens", "first_diff", "tokens_per_s"]
#: The columns of ``BenchResult.to_markdown``.
MARKDOWN_COLUMNS = ["model", "runner", "batch_size", "dtype", "status", "items_per_s", "tokens_per_s", "speedup",
                    "latency_p50_ms", "latency_p95_ms", "peak_mem_mb", "padding_share", "mfu", "forward_calls", "max_abs_diff",
                    "same_labels", "cosine_mean", "cosine_min", "token_match", "quality_metric", "quality"]
#: The columns of ``to_markdown`` for generation rows.
GENERATION_MARKDOWN_COLUMNS = ["model", "runner", "batch_size", "dtype", "status", "output_tokens_per_s",
                               "output_tokens", "requests_per_s", "ttft_p50_ms", "ttft_p95_ms", "itl_p50_ms",
                               "itl_p95_ms", "e2e_p50_ms", "e2e_p95_ms", "peak_mem_mb", "mfu", "forward_calls",
                               "same_tokens", "first_diff"]
#: Below these a quantized precision's outputs are too far from float32's to recommend it unasked:
#: mean cosine of the embeddings, share of the same labels (or texts), mean share of matching words.
ACCEPTABLE = {"cosine": 0.99, "same top label": 0.95, "token_match": 0.9}


@dataclass
class Measure:
    """What one row (runner × batch size of a device × dtype) measured so far."""

    seconds: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    peak_mb: float = 0.0
    status: str = "ok"
    forward_calls: int = 0
    final_batch_size: int | None = None
    oom_backoffs: int = 0
    padding_share: float = 0.0
    outputs: list[Any] | None = None
    quality: "Score | None" = None  # the untimed run's outputs scored against the references


@dataclass
class BenchResult:
    """The table (one row per runner × batch size × device × dtype), the environment, and a
    one-line recommendation."""

    table: "pd.DataFrame"
    environment: dict[str, Any]
    recommendation: str
    config: BenchConfig
    requests: "pd.DataFrame | None" = None  # generation rows: one row per request of each row's median run

    @property
    def recommended(self) -> dict[str, Any] | None:
        """The configuration the recommendation names (model, device, dtype, runner, batch size):
        the fastest within the tolerance of the best quality when quality is weighed, else the
        fastest finished row; ``None`` when nothing finished."""
        ok = self.table[(self.table["status"] == "ok") & self.table["items_per_s"].notna()]
        if ok.empty:
            return None
        from workbench.bench.quality import decision, weighs_quality

        if weighs_quality(self.table):
            _, chosen = decision(self.table, tolerance=self.config.quality_tolerance)
            if chosen is not None:
                return chosen
        generated = "output_tokens_per_s" in ok and ok["output_tokens_per_s"].notna().any()
        best = ok.loc[ok["output_tokens_per_s"].astype(float).idxmax() if generated else ok["items_per_s"].idxmax()]
        return {k: best[k].item() if hasattr(best[k], "item") else best[k]
                for k in ("model", "device", "dtype", "runner", "batch_size", "items_per_s")}

    def to_json(self) -> dict[str, Any]:
        rows = json.loads(self.table.to_json(orient="records"))
        return {"environment": self.environment, "config": asdict(self.config), "recommendation": self.recommendation,
                "recommended": self.recommended, "rows": rows}

    def _columns(self, names: list[str]) -> list[str]:
        """``names`` the table has, less the model column of a one-model sweep and the quality
        columns of a sweep without references."""
        t = self.table
        optional = {"model": t["model"].nunique() > 1,
                    **{c: bool(t[c].notna().any()) for c in QUALITY_COLUMNS if c in t.columns}}
        return [c for c in names if c in t.columns and optional.get(c, True)]

    @property
    def generates(self) -> bool:
        """Whether the rows are generation rows (output tokens/s, TTFT…: ``workbench.bench.generation``)."""
        return "output_tokens_per_s" in self.table and bool(self.table["output_tokens_per_s"].notna().any())

    def shown_table(self) -> "pd.DataFrame":
        """The table with the ``SHOWN_COLUMNS`` (generation rows: ``GENERATION_SHOWN_COLUMNS``), for
        the UI and the CLI."""
        return self.table[self._columns(GENERATION_SHOWN_COLUMNS if self.generates else SHOWN_COLUMNS)]

    def to_markdown(self) -> str:
        """The main columns as a Markdown table, then the recommendation and the environment."""
        env = self.environment
        shown = self.table[self._columns(GENERATION_MARKDOWN_COLUMNS if self.generates else MARKDOWN_COLUMNS)]
        facts = [f"{k}: {env[k]}" for k in ("task", "model", "model_revision", "workload", "output_lengths", "cpu",
                                            "torch", "transformers", "matmul_peak_gflops", "runner_kernels", "commit",
                                            "date", "load_average", "load_average_end")
                 if env.get(k) is not None]
        return "\n\n".join([shown.to_markdown(index=False), self.recommendation, " · ".join(map(str, facts))]) + "\n"

    def save(self, out_dir: str | Path, *, plot: bool = True) -> dict[str, Path]:
        """Write ``bench.csv``, ``bench.json``, ``bench.md`` and (with ``plot``) ``bench.png``
        into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"csv": out / "bench.csv", "json": out / "bench.json", "md": out / "bench.md"}
        self.table.to_csv(paths["csv"], index=False)
        if self.requests is not None and not self.requests.empty:
            paths["requests"] = out / "bench_requests.csv"
            self.requests.to_csv(paths["requests"], index=False)
        paths["json"].write_text(json.dumps(self.to_json(), indent=1, default=str))
        paths["md"].write_text(self.to_markdown())
        if plot:
            paths["png"] = out / "bench.png"
            from workbench.bench.plot import save_plot

            save_plot(self, paths["png"])
            from workbench.bench.plot import save_quality_plot

            if save_quality_plot(self, out / "quality.png"):
                paths["quality_png"] = out / "quality.png"
        return paths


def plain_padding(costs: list[int], batch_size: int) -> float:
    """The padding share of plain batching: consecutive passes in input order, each batch padded
    to its longest.

    >>> round(plain_padding([2, 8, 4, 4], 2), 3)
    0.25
    """
    real = sum(costs)
    padded = sum(len(costs[i:i + batch_size]) * max(costs[i:i + batch_size]) for i in range(0, len(costs), batch_size))
    return 1.0 - real / padded if padded else 0.0


def row(runner: str, bs: int, device: str, dtype: str, m: Measure, n: int, tokens: int | None,
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
        row.update(max_abs_diff=float(f"{diff:.3g}"), same_labels=round(same, 4), **agreement_columns(reference, m.outputs))
    return row


def add_speedup(table: "pd.DataFrame") -> "pd.DataFrame":
    """``speedup``: items/s over the best plain row of the same model, device and dtype."""
    table = table.copy()
    for _, group in table.groupby(["model", "device", "dtype"], dropna=False):
        plain = group[(group.runner == "plain") & (group.status == "ok")]["items_per_s"].max()
        if plain and plain == plain:
            idx = group.index
            table.loc[idx, "speedup"] = (table.loc[idx, "items_per_s"] / plain).round(2)
    return table


def recommend(table: "pd.DataFrame", outputs: dict[tuple[str, str, str], list[Any]], *,
              tolerance: float = 1.0) -> str:
    """One or two sentences per model: the best setting, how it compares with plain batching, and —
    when two dtypes ran — how much faster the faster one is and how close its outputs are; then,
    with references or several models, the fastest configuration within ``tolerance`` points of
    the best quality (``workbench.bench.quality.decision``)."""
    ok = table[(table["status"] == "ok") & table["items_per_s"].notna()]
    if ok.empty:
        return "No run finished; see the status column."
    models = list(dict.fromkeys(ok["model"]))
    parts = []
    for model in models:
        mine = {(d, t): v for (m, d, t), v in outputs.items() if m == model}
        text = _recommend_model(ok[ok["model"] == model], mine)
        parts.append(f"{model}: {text}" if len(models) > 1 else text)
    from workbench.bench.quality import decision, weighs_quality

    if weighs_quality(table):
        said, _ = decision(table, tolerance=tolerance)
        if said:
            parts.insert(0, said)
    return "\n\n".join(parts)  # a paragraph each: the decision, then each model


def _recommend_model(ok: "pd.DataFrame", outputs: dict[tuple[str, str], list[Any]]) -> str:
    """``recommend`` for one model's finished rows."""

    def top(rows: "pd.DataFrame") -> dict[str, Any]:
        return rows.loc[rows["items_per_s"].idxmax()].to_dict()

    from workbench.quantize import is_quantized

    verdicts = {d: _quantized_verdict(d, ok, outputs) for d in dict.fromkeys(ok["dtype"]) if is_quantized(d)}
    best = top(ok)
    passed_over = ""
    if is_quantized(best["dtype"]) and not verdicts[best["dtype"]][1]:
        fine = ok[~ok["dtype"].isin([d for d, (_, good) in verdicts.items() if not good])]
        if not fine.empty:
            passed_over = f" ({best['dtype']} runs faster, but its outputs are too far from float32's to pick unasked.)"
            best = top(fine)
    who = "our runner" if best["runner"] == "runner" else "plain pipeline batching"
    parts = [f"Best: {who}, batch size {int(best['batch_size'])}, {best['dtype']} on {best['device']} — "
             f"{best['items_per_s']:.1f} items/s.{passed_over}"]
    same = ok[(ok["device"] == best["device"]) & (ok["dtype"] == best["dtype"])]
    plain, ours = same[same["runner"] == "plain"], same[same["runner"] == "runner"]
    if not plain.empty and not ours.empty:
        p, o = top(plain), top(ours)
        parts.append(f"Our runner is {o['items_per_s'] / p['items_per_s']:.1f}× plain batching's best "
                     f"(batch {int(p['batch_size'])}) in {best['dtype']}.")
    dtypes = [d for d in dict.fromkeys(ok["dtype"]) if not is_quantized(d)]
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
    parts += [text for text, _ in verdicts.values()]
    return " ".join(parts)


def _quantized_verdict(dtype: str, ok: "pd.DataFrame", outputs: dict[tuple[str, str], list[Any]]) -> tuple[str, bool]:
    """A quantized precision in words — its speed against each float dtype's best row and how far its
    outputs are from float32's — and whether that agreement is good enough to recommend it
    (``ACCEPTABLE``): e.g. "int8: 1.9× bfloat16, 2.4× float32, mean cosine 0.998 to float32 (min 0.990)"."""
    def top(rows: "pd.DataFrame") -> dict[str, Any]:
        return rows.loc[rows["items_per_s"].idxmax()].to_dict()

    mine = top(ok[ok["dtype"] == dtype])
    speeds = []
    for other in ("bfloat16", "float16", "float32"):
        rows = ok[(ok["dtype"] == other) & (ok["device"] == mine["device"])]
        if not rows.empty:
            speeds.append(f"{mine['items_per_s'] / top(rows)['items_per_s']:.1f}× {other}")
    text = f"{dtype}: " + (", ".join(speeds) if speeds else f"{mine['items_per_s']:.1f} items/s")
    reference = outputs.get((mine["device"], "float32")) or next(
        (v for (dev, d), v in outputs.items() if d == "float32"), None)
    got = outputs.get((mine["device"], dtype))
    if reference is None or got is None:
        return text + " (no float32 run to compare its outputs with)", True
    name, value = agreement(reference, got)
    cos = cosines(reference, got)
    if cos is not None:
        text += f", mean cosine {value:.3f} to float32 (min {cos.min():.3f})"
    else:
        text += f", {name} as float32 for {value:.0%} of inputs"
        columns = agreement_columns(reference, got)
        if "token_match" in columns:
            name, value = "token_match", columns["token_match"]
            text += f", {value:.0%} of generated words the same"
    good = value >= ACCEPTABLE.get(name, 0.0)
    if not good:
        text += " — too far from float32 to use without checking on your own inputs"
    return text + ".", good
