"""Plots of a benchmark: a PNG for the files (``save_plot``) and the long-form frame the UI's
charts draw (``plot_frame``; ``components.bench_plots``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from workbench.bench.report import BenchResult


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
    for ax, (col, label) in zip(axes.flat, panels):
        for (runner, device, dtype), g in table.groupby(["runner", "device", "dtype"]):
            g = g.sort_values("batch_size")
            ax.plot(g.batch_size, g[col], marker="o", linestyle={"runner": "-", "continuous": ":"}.get(runner, "--"),
                    label=f"{runner} · {device} · {dtype}")
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
    """The ok rows in long form for the UI's charts: one ``series`` per runner · dtype · device.

    >>> import pandas as pd
    >>> t = pd.DataFrame([{"runner": "plain", "dtype": "float32", "device": "cpu", "status": "ok", "batch_size": 8,
    ...                    "items_per_s": 10.0}])
    >>> plot_frame(t)["series"].tolist()
    ['plain · float32 · cpu']
    """
    ok = table[table["status"] == "ok"].copy()
    ok["series"] = ok["runner"] + " · " + ok["dtype"] + " · " + ok["device"]
    return ok.sort_values(["series", "batch_size"]).reset_index(drop=True)
