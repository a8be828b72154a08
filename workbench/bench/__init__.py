"""Benchmark: plain pipeline batching against our runner, on the same inputs, in the same process.

For each device × dtype × batch size, ``run_benchmark`` times ``pipe(items, batch_size=N)``
(plain) and ``run_batch(pipe, items, batch_size=N)`` (runner), interleaved, after a warm-up and
one untimed run per row that measures its peak memory, and reports per row: items/s and tokens/s
(medians over repeats), forward-call latency p50/p95, peak memory (process RSS on CPU,
``torch.cuda.max_memory_allocated`` on GPU), padding share, status, model FLOP utilisation
(useful FLOPs — real tokens only, counted with torch's FlopCounterMode — per second, over the
matmul FLOP/s measured on the same device and dtype in the same run), and how far the outputs are
from the unbatched plain pipeline's (max abs difference, same labels).

The package, one concern per module: ``config`` (what to measure), ``measure`` (peak memory,
forward latency, FLOPs), ``comparison`` (outputs against a reference run's), ``sweep``
(``run_benchmark``), ``generation`` (text generation's rows: output tokens/s, TTFT, ITL),
``quality`` (metrics on labelled data, the Pareto front), ``report`` (the table, speed-up,
recommendation, files), ``machine`` (the environment: versions, machine, commit) and ``plot``. The matmul peak is ``workbench.kernels.matmul_peaks``; the full-size random
models are ``workbench.offline.random_models``.

    from workbench.manager import PipelineManager
    result = run_benchmark(PipelineManager(), BenchConfig("text-classification", n=64))
    result.table[["runner", "batch_size", "items_per_s"]]
    result.save("out/")
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module that defines it. Imported on first use, so that reading the columns or
#: the config (``workbench.bench.config``, ``.report``) does not import torch.
_EXPORTS = {
    "agreement": "workbench.bench.comparison", "compare": "workbench.bench.comparison",
    "digest": "workbench.bench.comparison",
    "RUNNERS": "workbench.bench.config", "BenchCancelled": "workbench.bench.config",
    "BenchConfig": "workbench.bench.config", "BenchProgress": "workbench.bench.config",
    "batch_sizes": "workbench.bench.config",
    "cpu_name": "workbench.bench.machine", "environment": "workbench.bench.machine",
    "git_commit": "workbench.bench.machine",
    "ForwardTimer": "workbench.bench.measure", "PeakMemory": "workbench.bench.measure",
    "flop_model": "workbench.bench.measure",
    "plot_frame": "workbench.bench.plot", "save_plot": "workbench.bench.plot",
    "quality_frame": "workbench.bench.plot", "save_quality_plot": "workbench.bench.plot",
    "Labelled": "workbench.bench.quality", "labelled_workload": "workbench.bench.quality",
    "COLUMNS": "workbench.bench.report", "MARKDOWN_COLUMNS": "workbench.bench.report",
    "SHOWN_COLUMNS": "workbench.bench.report", "BenchResult": "workbench.bench.report",
    "add_speedup": "workbench.bench.report", "plain_padding": "workbench.bench.report",
    "recommend": "workbench.bench.report",
    "run_benchmark": "workbench.bench.sweep",
    "matmul_peak": "workbench.kernels", "matmul_peaks": "workbench.kernels",
    "RANDOM_MODELS": "workbench.offline.random_models", "resolve_bench_model": "workbench.offline.random_models",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'workbench.bench' has no attribute {name!r}; it has {', '.join(__all__)}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
