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
forward latency, FLOPs), ``compare`` (outputs against a reference), ``sweep`` (``run_benchmark``),
``report`` (the table, speed-up, recommendation, files), ``environment`` (versions, machine,
commit) and ``plot``. The matmul peak is ``workbench.kernels.matmul_peaks``; the full-size random
models are ``workbench.offline.random_models``.

>>> from workbench.manager import PipelineManager                                     # doctest: +SKIP
>>> result = run_benchmark(PipelineManager(), BenchConfig("text-classification", n=64))  # doctest: +SKIP
>>> result.table[["runner", "batch_size", "items_per_s"]]                             # doctest: +SKIP
>>> result.save("out/")                                                               # doctest: +SKIP
"""

from __future__ import annotations

from workbench.bench.compare import agreement, compare, digest
from workbench.bench.config import RUNNERS, BenchCancelled, BenchConfig, BenchProgress
from workbench.bench.environment import cpu_name, environment, git_commit
from workbench.bench.measure import ForwardTimer, PeakMemory, flop_model
from workbench.bench.plot import plot_frame, save_plot
from workbench.bench.report import COLUMNS, MARKDOWN_COLUMNS, BenchResult, add_speedup, plain_padding, recommend
from workbench.bench.sweep import run_benchmark
from workbench.kernels import matmul_peak, matmul_peaks
from workbench.offline.random_models import RANDOM_MODELS, resolve_bench_model

__all__ = [
    "COLUMNS", "MARKDOWN_COLUMNS", "RANDOM_MODELS", "RUNNERS", "BenchCancelled", "BenchConfig", "BenchProgress",
    "BenchResult", "ForwardTimer", "PeakMemory", "add_speedup", "agreement", "compare", "cpu_name", "digest",
    "environment", "flop_model", "git_commit", "matmul_peak", "matmul_peaks", "plain_padding", "plot_frame",
    "recommend", "resolve_bench_model", "run_benchmark", "save_plot",
]
