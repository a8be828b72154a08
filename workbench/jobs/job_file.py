"""A dataset job: what to run over which data, as one JSON-able value.

``JobSpec`` is what ``python -m workbench run`` runs, what ``--config JOB.json`` holds, and what the
Benchmark tab exports (``job_from_benchmark``). ``command()`` gives the exact command line.

>>> job = JobSpec(task="text-classification", input="reviews.csv", output="out.parquet", columns=("review",))
>>> job.command()
'python -m workbench run --task text-classification --input reviews.csv --output out.parquet --column review'
>>> JobSpec.from_dict(job.to_dict()) == job
True
"""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Mapping

from workbench.tasks import TASKS, get_task

if TYPE_CHECKING:
    from workbench.bench import BenchResult

ENGINES = ("local", "ray")
#: ``--batch-size auto``: the runner's cap on rows per batch; within it (and the token budget) the
#: runner cuts each length-sorted window where batches cost least, and halves it on out-of-memory.
AUTO_BATCH_SIZE = {"cpu": 32, "accelerator": 64}
#: How a job batches its rows (``continuous``: transformers' continuous batching, decoder-only text generation).
JOB_RUNNERS = ("plain", "runner", "continuous")
#: Placeholders of an exported job: the benchmark does not know the user's dataset.
EXPORT_INPUT, EXPORT_OUTPUT = "YOUR_DATA.csv", "predictions.parquet"
#: The former name of ``JobSpec.references`` (and of ``BenchConfig.references`` in a bench.json), still read.
DEPRECATED_LABELS = "labels"


@dataclass(frozen=True)
class JobSpec:
    """One job. ``columns`` maps the task's inputs to the data's columns: ``("review",)`` for a
    one-input task, ``("question=q", "context=passage")`` or ``("q", "passage")`` (in the task's
    input order) for several; empty picks them by name. ``batch_size`` is a number or ``"auto"``;
    ``max_tokens`` the runner's budget of padded positions per batch (None: no cap). ``shard_rows``
    rows are read, run and written at a time (a window of the runner, one Parquet shard); with
    ``engine="ray"`` a block is at most that many rows, ``concurrency`` actors each hold one
    pipeline and ``num_gpus`` GPUs. ``references`` names a column of references: each output row
    says whether it is right, and the summary gives the task's metric (``workbench.metrics``). A
    job file may still name it ``labels``, its former name (``from_dict``)."""

    task: str
    input: str | None = None
    output: str | None = None
    model: str | None = None
    revision: str | None = None
    columns: tuple[str, ...] = ()
    format: str = "auto"
    split: str | None = None
    device: str = "cpu"
    dtype: str = "float32"
    batch_size: int | Literal["auto"] = "auto"
    max_tokens: int | None = 8192
    kernels: str = "auto"
    params: Mapping[str, Any] = field(default_factory=dict)
    engine: str = "local"
    shard_rows: int = 1024
    concurrency: int = 1
    num_gpus: float = 0.0
    references: str | None = None  # a column of references: each row's correctness and the summary's metric
    runner: str = "runner"  # plain, runner (length-sorted batches) or continuous (text generation)

    def __post_init__(self) -> None:
        object.__setattr__(self, "task", get_task(self.task).name)
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "params", dict(self.params))
        if self.engine not in ENGINES:
            raise ValueError(f"unknown engine {self.engine!r}; choose {' or '.join(ENGINES)}")
        if self.batch_size != "auto" and (not isinstance(self.batch_size, int) or self.batch_size < 1):
            raise ValueError(f"batch_size is a positive whole number or 'auto', got {self.batch_size!r}")
        if self.max_tokens is not None and self.max_tokens < 1:
            raise ValueError(f"max_tokens is a positive number of token positions (or none), got {self.max_tokens}")
        if self.runner not in JOB_RUNNERS:
            raise ValueError(f"unknown runner {self.runner!r}; choose {', '.join(JOB_RUNNERS)}")
        if self.shard_rows < 1 or self.concurrency < 1 or self.num_gpus < 0:
            raise ValueError("shard_rows and concurrency must be at least 1 and num_gpus at least 0; got "
                             f"{self.shard_rows}, {self.concurrency}, {self.num_gpus}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JobSpec) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    # -- (de)serialising ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["columns"], out["params"] = list(self.columns), dict(self.params)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "JobSpec":
        """A job from a dict (a job file's contents); unknown keys fail with the list of known ones.
        The former name of ``references``, ``labels`` (job files written before the rename), is
        read as it.

        >>> JobSpec.from_dict({"task": "text-classification", "labels": "gold"}).references
        'gold'
        """
        data = dict(data)
        if DEPRECATED_LABELS in data:
            old = data.pop(DEPRECATED_LABELS)
            if data.get("references") not in (None, old):
                raise ValueError(f"the job names two reference columns: `references` {data['references']!r} and "
                                 f"`labels` {old!r} (its former name); keep `references` only")
            data["references"] = data.get("references") or old
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown job field(s) {sorted(unknown)}; a job file may hold {sorted(known)}")
        if "task" not in data:
            raise ValueError("the job has no `task`; add e.g. \"task\": \"text-classification\"")
        return cls(**{k: tuple(v) if k == "columns" else v for k, v in data.items()})

    def save(self, path: str | Path) -> Path:
        """Write the job as JSON to ``path``."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "JobSpec":
        """Read a job file written by ``save`` (or by hand, or exported by the Benchmark tab)."""
        p = Path(path)
        if not p.is_file():
            raise FileNotFoundError(f"job file `{path}` does not exist")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"job file `{path}` is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"job file `{path}` must hold a JSON object of job fields")
        return cls.from_dict(data)

    def updated(self, **changes: Any) -> "JobSpec":
        """A copy with ``changes`` (None values ignored: "not given on the command line")."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def command(self, *, config: str | None = None) -> str:
        """The command line that runs this job: every field that differs from its default (with
        ``config``: ``--config FILE`` plus the input and output)."""
        if config is not None:
            parts = ["python", "-m", "workbench", "run", "--config", config]
            parts += ["--input", self.input or EXPORT_INPUT, "--output", self.output or EXPORT_OUTPUT]
            return shlex.join(parts)
        default = JobSpec(task=self.task)
        parts = ["python", "-m", "workbench", "run", "--task", self.task]
        for name in ("input", "output", "model", "revision", "format", "split", "device", "dtype", "batch_size",
                     "max_tokens", "kernels", "engine", "shard_rows", "concurrency", "num_gpus", "references",
                     "runner"):
            value = getattr(self, name)
            if value != getattr(default, name):
                flag = "--" + name.replace("_", "-")
                parts += [flag, "0" if name == "max_tokens" and value is None else str(value)]
        for column in self.columns:
            parts += ["--column", column]
        for key, value in self.params.items():
            parts += ["--param", f"{key}={json.dumps(value)}"]
        return shlex.join(parts)

    # -- what the engines use -----------------------------------------------------------------

    def checked(self) -> "JobSpec":
        """The job, after checking it can run (input and output given, task batchable)."""
        spec = get_task(self.task)
        if not spec.batchable:
            raise ValueError(f"{spec.name} runs one input at a time in the workbench (not batchable), so it cannot "
                             "run as a dataset job; batchable tasks: see `python -m workbench run --help`")
        if self.runner == "continuous" and not (spec.generative and spec.pipeline_task == "text-generation"):
            raise ValueError(f"the continuous runner (transformers' continuous batching) runs decoder-only text "
                             f"generation; run {spec.name} with --runner runner or plain")
        if not self.input:
            raise ValueError("give --input PATH: a CSV/JSONL/Parquet/text file, a folder of images or audio, or a "
                             "dataset saved with `datasets`")
        if not self.output:
            raise ValueError("give --output OUT.parquet: where the results go")
        if self.references:
            labelled_metric(self.task)  # a task without a per-row metric fails before anything loads
        return self

    def resolved_batch_size(self) -> int:
        """``batch_size``, with ``auto`` by device (``AUTO_BATCH_SIZE``)."""
        if self.batch_size != "auto":
            return int(self.batch_size)
        return AUTO_BATCH_SIZE["cpu" if self.device == "cpu" else "accelerator"]

    def column_map(self, available: list[str]) -> dict[str, str]:
        """Which data column feeds each of the task's inputs.

        >>> JobSpec("question-answering", columns=("q", "passage")).column_map(["q", "passage"])
        {'question': 'q', 'context': 'passage'}
        >>> JobSpec("text-classification").column_map(["id", "text"])
        {'text': 'text'}
        """
        names = get_task(self.task).inputs
        given = list(self.columns)
        if len(given) == 1 and "," in given[0]:
            given = [c.strip() for c in given[0].split(",") if c.strip()]
        if any("=" in c for c in given):
            pairs = dict(c.split("=", 1) for c in given)
            unknown = set(pairs) - set(names)
            if unknown:
                raise ValueError(f"{self.task} takes the inputs {', '.join(names)}; got {', '.join(sorted(unknown))}")
            mapping = {k.strip(): v.strip() for k, v in pairs.items()}
        elif given:
            if len(given) > len(names):
                raise ValueError(f"{self.task} takes {len(names)} input(s) ({', '.join(names)}); got {len(given)} "
                                 f"columns: {', '.join(given)}")
            mapping = dict(zip(names, given))
        else:
            mapping = {}
        for name in names:
            if name not in mapping:
                guess = _guess_column(name, available)
                if guess is None:
                    raise ValueError(f"which column holds the {name}? The data has {', '.join(available)}; "
                                     f"give --column {name}=COLUMN")
                mapping[name] = guess
        missing = [c for c in mapping.values() if c not in available]
        if self.references and self.references not in available:
            missing.append(self.references)
        if missing:
            raise ValueError(f"the data has no column {', '.join(missing)}; its columns: {', '.join(available)}")
        if self.references and self.references in mapping.values():
            raise ValueError(f"`{self.references}` is both an input column and the references (--references); give "
                             "the input with --column")
        return {name: mapping[name] for name in names}


def _guess_column(name: str, available: list[str]) -> str | None:
    """The column named like the input (``text``, ``image``…), else a folder's ``path`` for media, else
    the only column (of one-column data)."""
    synonyms = {"text": ("text", "sentence", "content"), "image": ("image", "path"), "audio": ("audio", "path"),
                "video": ("video", "path"),
                "question": ("question", "query"), "context": ("context", "passage")}
    for candidate in synonyms.get(name, (name,)):
        if candidate in available:
            return candidate
    return available[0] if len(available) == 1 else None


def job_from_benchmark(result: "BenchResult | Mapping[str, Any] | str | Path", *, input: str | None = None,
                       output: str | None = None) -> JobSpec:
    """The job that runs a benchmark's recommended configuration (model, device, dtype, batch size:
    its ``recommended`` — the fastest within the quality tolerance when quality was weighed —, else
    its fastest row; token budget, kernels and parameters of its config) over a dataset. A sweep
    with references carries its reference column to the job (``references``) where the task has a
    per-row metric. ``result`` is a ``BenchResult``, its ``to_json()`` dict, or the path of its
    ``bench.json``. Raises ``ValueError`` when no row of the benchmark finished."""
    if isinstance(result, (str, Path)):
        data = json.loads(Path(result).read_text(encoding="utf-8"))
    elif isinstance(result, Mapping):
        data = result
    else:
        data = result.to_json()
    rows = [r for r in data.get("rows", []) if r.get("status") == "ok" and r.get("items_per_s") is not None]
    if not rows:
        raise ValueError("no benchmark row finished, so there is no configuration to export; run it again")
    generated = [r for r in rows if r.get("output_tokens_per_s") is not None]  # generation: the most tokens/s
    best = data.get("recommended") or (max(generated, key=lambda r: r["output_tokens_per_s"]) if generated
                                       else max(rows, key=lambda r: r["items_per_s"]))
    config = data["config"]
    params = dict(config.get("params") or {})
    if generated:  # the benchmark's mean output length (its requests' own lengths were drawn for it)
        params.setdefault("max_new_tokens", config.get("max_new_tokens") or 64)
    model = best.get("model") or config.get("model")
    references = config.get("references") or config.get(DEPRECATED_LABELS)  # a bench.json before the rename
    if references:
        try:
            labelled_metric(config["task"])
        except ValueError:  # similarity pairs: a benchmark's metric, not a job's
            references = None
    return JobSpec(task=config["task"], input=input, output=output, model=model, references=references,
                   revision=config.get("revision"), columns=(config["column"],) if config.get("column") else (),
                   device=str(best["device"]), dtype=str(best["dtype"]), batch_size=int(best["batch_size"]),
                   max_tokens=config.get("max_tokens"), kernels=config.get("kernels", "auto"),
                   params=params, runner=str(best.get("runner") or "runner"))


def labelled_metric(task: str) -> str:
    """The metric a job with references scores ``task`` by; ``ValueError`` for a task without one."""
    from workbench.metrics import HEADLINE

    metric = get_task(task).metric
    if metric is None or metric == "similarity":
        with_metric = ", ".join(sorted(n for n, s in TASKS.items() if s.metric and s.metric != "similarity"))
        why = ""
        if metric == "similarity":  # a score over the whole set: the benchmark's, not a job's row by row
            why = (" (its references are scored over the whole table: Spearman over the pairs, or recall@k ranking "
                   "each query against every document, while a job works row by row; measure them with "
                   f"`python -m workbench bench --task {task} --file FILE --references COLUMN`, and run the job "
                   "without --references for the embeddings)")
        raise ValueError(f"{task} has no per-row metric for a job's references (--references){why}; tasks that "
                         f"have one: {with_metric}")
    assert metric in HEADLINE
    return metric
