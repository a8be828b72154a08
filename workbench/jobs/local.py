"""The local engine: stream the input through the batch runner, shard by shard, resumable.

``run_local(job)`` reads ``job.shard_rows`` rows at a time, runs them (``Predictor``: the runner's
length-sorted batches, bad rows recorded), and writes each chunk at once as a Parquet shard
``OUT.parquet.parts/part-<first>-<end>.parquet`` (written to a temporary name, then renamed, so a
shard is either whole or absent). A killed job continues with ``resume=True`` from the end of its
last shard: nothing is lost or run twice. When every row has run, the shards are joined in order
into ``OUT.parquet`` (one row per input row, ``id`` 0…n-1) and the parts folder is removed.

    from workbench.jobs import JobSpec
    run_local(JobSpec("text-classification", input="reviews.csv", output="out.parquet"))
    # -> JobSummary(rows=1000, ok=998, failed=2, ...)
"""

from __future__ import annotations

import collections
import json
import os
import re
import shutil
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from workbench.jobs.readers import ROW_ID, open_source
from workbench.jobs.rows import Predictor
from workbench.jobs.job_file import JobSpec

if TYPE_CHECKING:
    from workbench.manager import PipelineManager

SHARD = re.compile(r"part-(\d{12})-(\d{12})\.parquet$")
#: Job fields that change the results: a resumed job must match the shards' job in all of them.
RESULT_FIELDS = ("task", "model", "revision", "input", "format", "split", "columns", "dtype", "params")


@dataclass
class JobSummary:
    """What a job did. ``errors`` counts the failed rows by message (the most common first)."""

    output: str
    engine: str
    rows: int
    ok: int
    failed: int
    seconds: float
    resumed_at: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    metric: dict[str, Any] | None = None  # with references: {"metric", the values, "n", "notes"}

    @property
    def items_per_s(self) -> float:
        run = self.rows - self.resumed_at
        return run / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "items_per_s": round(self.items_per_s, 2)}

    def text(self) -> str:
        """A few lines for the terminal."""
        lines = [f"{self.rows} rows → {self.output}: {self.ok} ok, {self.failed} failed, "
                 f"{self.seconds:.1f} s ({self.items_per_s:.1f} rows/s, {self.engine} engine)"
                 + (f", resumed at row {self.resumed_at}" if self.resumed_at else "")]
        lines += [f"  {count} × {message}" for message, count in list(self.errors.items())[:5]]
        if self.metric:
            values = ", ".join(f"{k} {v:g}" for k, v in self.metric["values"].items())
            lines.append(f"{self.metric['metric']} on {self.metric['n']} labelled rows: {values}")
            lines += [f"  {note}" for note in self.metric["notes"]]
        return "\n".join(lines)


def parts_dir(output: str | Path) -> Path:
    """Where the shards of ``output`` are written while the job runs."""
    out = Path(output)
    return out.with_name(out.name + ".parts")


def run_local(job: JobSpec, *, manager: "PipelineManager | None" = None, resume: bool = False,
              progress: bool = True) -> JobSummary:
    """Run ``job`` here, writing ``job.output``; see the module docstring."""
    job = job.checked()
    out, parts = Path(job.output), parts_dir(job.output)  # type: ignore[arg-type]
    if parts.exists() and not resume:
        raise ValueError(f"`{parts}` holds the shards of an unfinished run: add --resume to continue it, or delete "
                         "the folder to start over")
    if resume and not parts.exists() and out.exists():
        print(f"`{out}` is complete already; nothing to resume", file=sys.stderr)
        return summarize(out, job.engine, 0.0, task=job.task)
    source = open_source(job.input, job.format, split=job.split)  # type: ignore[arg-type]
    job.column_map(source.columns)  # a wrong column fails before the model loads
    check_job_references(job, source)
    parts.mkdir(parents=True, exist_ok=True)
    start = _check_parts(parts, job)
    predictor = Predictor(job, manager)
    schema = predictor.schema
    bar = _bar(source.total, start, job, progress)
    began = time.perf_counter()
    try:
        for frame in source.frames(job.shard_rows, skip=start):
            result = predictor(frame)
            first, end = int(frame[ROW_ID].iloc[0]), int(frame[ROW_ID].iloc[-1]) + 1
            _write_shard(parts, first, end, pa.Table.from_pandas(result, schema=schema, preserve_index=False))
            if bar is not None:
                bar.update(end - first)
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - began
    _join(parts, out, schema)
    return summarize(out, job.engine, seconds, resumed_at=start, task=job.task)


def check_job_references(job: JobSpec, source: Any) -> None:
    """The first rows' references checked by the task's metric before the model loads (a malformed
    one later in the data makes only its own row unscored)."""
    if not job.references:
        return
    from workbench.jobs.job_file import labelled_metric
    from workbench.metrics import check_references

    first = next(iter(source.frames(min(job.shard_rows, 1000))), None)
    if first is not None:
        check_references(labelled_metric(job.task), first[job.references].tolist(), job.references)


def _bar(total: int | None, start: int, job: JobSpec, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=start, unit="rows", desc=f"{job.task} · {job.model or 'offline'}",
                file=sys.stderr, dynamic_ncols=True, smoothing=0.1)


def _check_parts(parts: Path, job: JobSpec) -> int:
    """The first row not yet written (0 for a new job), after checking the shards belong to ``job``."""
    manifest = parts / "job.json"
    wanted = {k: v for k, v in job.to_dict().items() if k in RESULT_FIELDS}
    if manifest.exists():
        written = json.loads(manifest.read_text(encoding="utf-8"))
        differ = [k for k in RESULT_FIELDS if written.get(k) != wanted.get(k)]
        if differ:
            raise ValueError(f"the shards in `{parts}` were written by a different job ({', '.join(differ)} "
                             "differ); resume with the same settings, or delete the folder to start over")
    else:
        manifest.write_text(json.dumps(wanted, indent=1), encoding="utf-8")
    for stale in parts.glob("*.tmp"):  # a shard being written when the job was killed
        stale.unlink()
    end = 0
    for first, last, path in _shards(parts):
        if first != end:
            raise ValueError(f"shard `{path.name}` starts at row {first} but the shards before it end at row {end}; "
                             f"the folder `{parts}` is damaged: delete it to start over")
        end = last
    return end


def _shards(parts: Path) -> list[tuple[int, int, Path]]:
    found = []
    for path in parts.iterdir():
        m = SHARD.match(path.name)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), path))
    return sorted(found)


def _write_shard(parts: Path, first: int, end: int, table: pa.Table) -> None:
    final = parts / f"part-{first:012d}-{end:012d}.parquet"
    tmp = final.with_name(final.name + ".tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, final)


def _join(parts: Path, out: Path, schema: pa.Schema) -> None:
    """Join the shards in order into ``out`` (one shard in memory at a time) and remove ``parts``."""
    tmp = out.with_name(out.name + ".tmp")
    expected = 0
    with pq.ParquetWriter(tmp, schema) as writer:
        for first, end, path in _shards(parts):
            table = pq.read_table(path, schema=schema)
            ids = table.column("id").to_pylist()
            if first != expected or ids != list(range(first, end)):
                raise ValueError(f"shard `{path.name}` does not hold rows {expected}…{end - 1} in order; delete "
                                 f"`{parts}` and run the job again")
            writer.write_table(table)
            expected = end
    os.replace(tmp, out)
    shutil.rmtree(parts)


def summarize(out: str | Path, engine: str, seconds: float, *, resumed_at: int = 0,
              task: str | None = None) -> JobSummary:
    """Count the rows, failures and error messages of a finished output (a file or Ray's folder);
    with references, score the rows that ran by the task's metric (``job_metric``)."""
    errors = pq.read_table(out, columns=["error"]).column("error").to_pylist()
    counts = collections.Counter(e for e in errors if e is not None)
    return JobSummary(str(out), engine, len(errors), len(errors) - sum(counts.values()), sum(counts.values()),
                      seconds, resumed_at, dict(counts.most_common()), job_metric(out, task) if task else None)


def job_metric(out: str | Path, task: str) -> dict[str, Any] | None:
    """The task's metric over a labelled output's rows that ran (``None`` without references):
    read from the output itself (``prediction``, ``reference``), so the local and Ray engines agree."""
    names = pq.read_schema(out).names if Path(out).is_file() else pq.ParquetDataset(out).schema.names
    if "reference" not in names:
        return None
    from workbench.jobs.job_file import labelled_metric
    from workbench.metrics import score

    table = pq.read_table(out, columns=[c for c in ("prediction", "reference", "reference_known", "error", "text")
                                        if c in names]).to_pydict()
    rows = [i for i, (e, r) in enumerate(zip(table["error"], table["reference"])) if e is None and r is not None]
    metric = labelled_metric(task)
    if not rows:
        return None
    preds = [table["prediction"][i] for i in rows]
    refs = [table["reference"][i] for i in rows]
    unknown = [i for i in rows if not table["reference_known"][i]]
    result = score(metric, preds, refs, texts=[table["text"][i] for i in rows] if "text" in table else None)
    notes = list(result.notes)
    if unknown:
        notes.append(f"{len(unknown)} reference(s) name labels this model does not have; they count as wrong.")
    return {"metric": result.metric, "values": result.values, "n": result.n, "notes": notes}
