"""Dataset jobs: run one task's pipeline over a whole dataset, locally or on Ray Data.

- ``spec.py``: ``JobSpec``, the job as a JSON-able value (``--config JOB.json``), its command line,
  and ``job_from_benchmark`` (the Benchmark tab's "Export as job");
- ``readers.py``: CSV, JSONL, Parquet, text lines, a folder of images/audio, `datasets` — in
  numbered chunks of rows;
- ``rows.py``: ``Predictor``, a chunk of rows through the batch runner, bad rows recorded;
- ``local.py``: the local engine (Parquet shards as it goes, ``resume``);
- ``ray_engine.py``: the same job on Ray Data (``map_batches`` with one pipeline per actor).

    from workbench.jobs import JobSpec, run_job
    run_job(JobSpec("feature-extraction", input="docs.jsonl", output="emb.parquet"))
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.jobs.job_file import JobSpec, job_from_benchmark

if TYPE_CHECKING:
    from workbench.jobs.local import JobSummary
    from workbench.manager import PipelineManager

__all__ = ["JobSpec", "job_from_benchmark", "run_job"]


def run_job(job: JobSpec, *, resume: bool = False, progress: bool = True,
            manager: "PipelineManager | None" = None, **ray_init: Any) -> "JobSummary":
    """Run ``job`` on its engine (``job.engine``) and return its summary."""
    if job.engine == "ray":
        from workbench.jobs.ray_engine import run_ray

        return run_ray(job, progress=progress, **ray_init)
    from workbench.jobs.local import run_local

    return run_local(job, manager=manager, resume=resume, progress=progress)
