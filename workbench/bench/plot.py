"""Plots of a benchmark: a PNG for the files (``save_plot``) and the long-form frame the UI's
charts draw (``plot_frame``; ``components.bench_plots``). Both draw a runner in the same colour
in every chart of every run (``RUNNER_COLOURS``) and the other dimensions of a line — model,
dtype, device: its ``variant`` — as its line style, each legend saying which is which."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from workbench.bench.report import BenchResult

#: Each runner's colour, whichever runners a sweep has (Vega's Tableau 10: blue, orange, green).
RUNNER_COLOURS = {"plain": "#4c78a8", "runner": "#f58518", "continuous": "#54a24b"}
#: Line styles of the variants (model · dtype · device) in the PNG, in order (the UI's: its dash scale).
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 3)))


def quality_frame(table: "pd.DataFrame", *, tolerance: float = 1.0) -> "pd.DataFrame":
    """One row per model × device × precision at its fastest batch size, for the quality-against-
    throughput scatter: ``quality`` (the metric, or agreement with the reference run), ``pareto``
    (on the front), ``chosen`` (the recommendation) and a ``label``.

    >>> import pandas as pd
    >>> t = pd.DataFrame([{"model": "m", "runner": "runner", "batch_size": 8, "device": "cpu", "dtype": d,
    ...                    "status": "ok", "items_per_s": s, "quality": q, "quality_metric": "accuracy"}
    ...                   for d, s, q in (("float32", 10.0, 90.0), ("int8", 30.0, 89.5))])
    >>> quality_frame(t)[["dtype", "pareto", "chosen"]].values.tolist()
    [['float32', True, False], ['int8', True, True]]
    """
    import pandas as pd

    from workbench.bench.quality import best_points, choose, higher_is_better, pareto

    points = [p for p in best_points(table) if p.get("quality") is not None]
    columns = ["model", "device", "dtype", "runner", "batch_size", "items_per_s", "quality", "quality_name",
               "pareto", "chosen", "label"]
    if not points:
        return pd.DataFrame(columns=columns)
    higher = higher_is_better(points[0]["quality_name"])
    front = {id(p) for p in pareto(points, higher_is_better=higher)}
    chosen = choose(points, tolerance=tolerance, higher_is_better=higher)
    several = len({p.get("model") for p in points}) > 1
    rows = [{**{k: p.get(k) for k in columns[:8]}, "pareto": id(p) in front, "chosen": p is chosen,
             "label": (f"{p['model']} · " if several else "") + f"{p['dtype']} · {p['device']}"} for p in points]
    return pd.DataFrame(rows, columns=columns).sort_values("items_per_s").reset_index(drop=True)


def save_quality_plot(result: BenchResult, path: str | Path) -> bool:
    """A PNG of quality against throughput (the Pareto front joined, the recommendation circled);
    ``False`` (nothing written) when the sweep does not weigh quality (one model, no references)."""
    import matplotlib

    from workbench.bench.quality import weighs_quality

    if not weighs_quality(result.table):
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = quality_frame(result.table, tolerance=result.config.quality_tolerance)
    if frame.empty:
        return False
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, g in frame.groupby("label", sort=False):
        ax.scatter(g.items_per_s, g.quality, s=50, label=label, zorder=3)
    front = frame[frame.pareto].sort_values("items_per_s")
    ax.plot(front.items_per_s, front.quality, color="0.4", linestyle=":", zorder=2, label="Pareto front")
    pick = frame[frame.chosen]
    ax.scatter(pick.items_per_s, pick.quality, s=220, facecolors="none", edgecolors="crimson", linewidths=2,
               zorder=4, label="recommended")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("throughput at the best batch size (items / s)")
    ax.set_ylabel(str(frame.quality_name.iloc[0]))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    env = result.environment
    fig.suptitle(f"{env.get('task')} · {env.get('references') or 'agreement with the reference run'}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def save_plot(result: BenchResult, path: str | Path) -> None:
    """A 2×2 PNG: throughput, latency p50, peak memory and padding share against batch size (text
    generation: output tokens/s, TTFT p95, end-to-end p95 and peak memory)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    table = result.table[result.table.status == "ok"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    panels = [("items_per_s", "items / s"), ("latency_p50_ms", "forward latency p50 (ms)"),
              ("peak_mem_mb", "peak memory (MB)"), ("padding_share", "padding share")]
    generation = "output_tokens_per_s" in table and table["output_tokens_per_s"].notna().any()
    if generation:  # text generation: what LLM users read, against requests in flight
        panels = [("output_tokens_per_s", "output tokens / s"), ("ttft_p95_ms", "TTFT p95 (ms)"),
                  ("e2e_p95_ms", "end-to-end latency p95 (ms)"), ("peak_mem_mb", "peak memory (MB)")]
    frame = plot_frame(table)
    variants = list(dict.fromkeys(frame["variant"]))
    for ax, (col, label) in zip(axes.flat, panels):
        for (runner, variant), g in frame.groupby(["runner", "variant"], sort=False):
            style = LINE_STYLES[variants.index(variant) % len(LINE_STYLES)]
            ax.plot(g.batch_size, g[col], marker="o", color=RUNNER_COLOURS.get(runner), linestyle=style,
                    label=f"{runner} · {variant}")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("requests in flight (batch size)" if generation else "batch size")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=8)
    env = result.environment
    fig.suptitle(f"{env.get('task')} · {env.get('model')} · {env.get('workload', '')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_frame(table: "pd.DataFrame") -> "pd.DataFrame":
    """The ok rows in long form for the charts: one ``series`` per runner · dtype · device (model
    first when several were swept); ``variant`` is the series less its runner.

    >>> import pandas as pd
    >>> t = pd.DataFrame([{"runner": "plain", "dtype": "float32", "device": "cpu", "status": "ok", "batch_size": 8,
    ...                    "items_per_s": 10.0}])
    >>> plot_frame(t)[["series", "variant"]].values.tolist()
    [['plain · float32 · cpu', 'float32 · cpu']]
    """
    ok = table[table["status"] == "ok"].copy()
    model = ok["model"] + " · " if "model" in ok and ok["model"].nunique() > 1 else ""
    ok["variant"] = model + ok["dtype"] + " · " + ok["device"]
    ok["series"] = model + ok["runner"] + " · " + ok["dtype"] + " · " + ok["device"]
    return ok.sort_values(["series", "batch_size"]).reset_index(drop=True)
