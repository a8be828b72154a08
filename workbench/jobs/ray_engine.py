"""The Ray engine: the same job on Ray Data, from one machine to a cluster.

``run_ray(job)`` builds ``ray.data.read_*(input)`` (numbered rows: zipped with ``ray.data.range``)
→ ``map_batches(PipelineActor, compute=ActorPoolStrategy(min_size=1, max_size=job.concurrency),
num_gpus=job.num_gpus, batch_size=job.shard_rows)`` → ``write_parquet(job.output)``. The actor pool
grows to ``concurrency`` as the cluster's CPUs/GPUs allow: a pool of fixed size that takes every
CPU leaves none to the reads and writes, and the job waits forever (2 actors on 2 CPUs did). Each
actor holds one pipeline (``Predictor``, the local engine's code: each block sorted by length and
cut into the cheapest batches by the runner, bad rows recorded), so the output has the local
engine's schema and results. Ray schedules the reads, the actors and the writes; there is no scheduling code here.

Rows are numbered by zipping the input with ``ray.data.range`` under ``preserve_order`` (Ray
2.60 warns that ``zip`` is deprecated from 2.64: ``requirements-ray.txt`` pins below it).

The output is a folder of Parquet files (one per block, in input order); ``id`` numbers the rows.
Ray retries failed tasks itself: ``--resume`` is the local engine's. Needs ``ray[data]``
(``requirements-ray.txt``).

    run_ray(JobSpec("feature-extraction", input="docs.jsonl", output="emb/", engine="ray"))
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from workbench.jobs.local import JobSummary, summarize
from workbench.jobs.readers import ROW_ID, detect_format, hf_dataset, media_files, open_source
from workbench.jobs.rows import Predictor
from workbench.jobs.job_file import JobSpec

REPO_ROOT = Path(__file__).resolve().parents[2]


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ValueError("--engine ray needs Ray Data: pip install -r requirements-ray.txt "
                         "(or run without --engine ray)") from None
    return ray


class PipelineActor:
    """One pipeline per Ray actor: a block of rows (pandas) in, its results (Arrow, the job's
    output schema) out."""

    def __init__(self, job: dict[str, Any]) -> None:
        self.job = JobSpec.from_dict(job)
        self.predictor = Predictor(self.job)
        self.schema = self.predictor.schema

    def __call__(self, batch: pd.DataFrame) -> pa.Table:
        return pa.Table.from_pandas(self.predictor(batch), schema=self.schema, preserve_index=False)


def read_dataset(job: JobSpec) -> Any:
    """The job's input as a Ray Dataset with its rows numbered in ``ROW_ID``, in input order."""
    ray = _ray()
    path = Path(job.input).expanduser()  # type: ignore[arg-type]
    if not path.exists():
        raise FileNotFoundError(f"input `{job.input}` does not exist")
    fmt = detect_format(path) if job.format == "auto" else job.format
    if fmt in ("csv", "tsv"):
        from pyarrow import csv

        ds = ray.data.read_csv(str(path), parse_options=csv.ParseOptions(delimiter="\t" if fmt == "tsv" else ","))
    elif fmt in ("jsonl", "json"):
        ds = ray.data.read_json(str(path), lines=fmt == "jsonl")
    elif fmt == "parquet":
        ds = ray.data.read_parquet(str(path))
    elif fmt == "text":
        ds = ray.data.read_text(str(path), drop_empty_lines=False)
    elif fmt == "files":
        ds = ray.data.read_binary_files([str(f) for f in media_files(path)], include_paths=True)
    elif fmt in ("disk", "datasets"):
        # The dataset's own (memory-mapped) Arrow table, as one node reads it: not from_huggingface,
        # which first asks the Hub for a copy of a dataset by its name (network, and aiohttp).
        ds = ray.data.from_arrow(hf_dataset(path, fmt, job.split, streaming=False).with_format("arrow")[:])
    else:
        raise ValueError(f"unknown input format {fmt!r}")
    numbers = ray.data.range(ds.count()).rename_columns({"id": ROW_ID})
    with warnings.catch_warnings():  # zip is exact under preserve_order, which run_ray sets
        warnings.simplefilter("ignore", DeprecationWarning)
        return ds.zip(numbers)


def start_ray(**init: Any) -> Any:
    """``ray.init(**init)`` with this repository on the workers' ``PYTHONPATH`` (a local Ray, or
    the cluster at ``RAY_ADDRESS``); returns Ray's context."""
    ray = _ray()
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return ray.init(runtime_env={"env_vars": env}, **init)


def run_ray(job: JobSpec, *, progress: bool = True, **init: Any) -> JobSummary:
    """Run ``job`` on Ray Data: on the cluster ``ray.init`` finds (``RAY_ADDRESS``, or the one
    ``ray job submit`` runs in), else on a local Ray started with ``init`` (e.g. ``num_cpus=2``)."""
    ray = _ray()
    job = job.checked()
    out = Path(job.output)  # type: ignore[arg-type]
    if out.is_file():
        raise ValueError(f"`{out}` is a file; the Ray engine writes a folder of Parquet files: choose another --output")
    if not ray.is_initialized():
        start_ray(**init)
    from ray.data import DataContext

    context = DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = progress
    began = time.perf_counter()
    # A wrong column fails before Ray reads anything (the columns as the local reader sees them).
    job.column_map(open_source(job.input, job.format, split=job.split).columns)  # type: ignore[arg-type]
    ds = read_dataset(job)
    pool = ray.data.ActorPoolStrategy(min_size=1, max_size=job.concurrency)  # grows as resources allow
    results = ds.map_batches(PipelineActor, fn_constructor_kwargs={"job": job.to_dict()}, batch_format="pandas",
                             batch_size=job.shard_rows, compute=pool, num_gpus=job.num_gpus or None)
    results.write_parquet(str(out), mode="overwrite")
    return summarize(out, "ray", time.perf_counter() - began, task=job.task)
