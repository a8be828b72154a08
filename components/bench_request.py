"""One Run of the Benchmark tab as a value: the widgets' values by name, checked once, and the
``BenchConfig`` they make (the task tab's pattern: a request with keyword fields, not 14
positional arguments).

>>> r = BenchRequest.from_widgets({"task": "text-classification", "devices": ["cpu"], "dtypes": ["float32"],
...                                "batch_sizes": "8, 1", "n": 16.0, "repeats": 1.0, "max_tokens": 0})
>>> r.config().batch_sizes, r.config().max_tokens, r.config().n
((1, 8), None, 16)
>>> g = BenchRequest.from_widgets({"task": "text-generation", "devices": ["cpu"], "dtypes": ["float32"],
...                                "batch_sizes": "4", "runners": ["plain", "continuous"], "max_new_tokens": 16.0,
...                                "output_lengths": "fixed"})
>>> g.config().runners, g.config().max_new_tokens, g.config().output_lengths
(('plain', 'continuous'), 16, 'fixed')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from workbench.errors import InputError

if TYPE_CHECKING:
    from workbench.bench.config import BenchConfig

#: The Run event's inputs by name: the widgets' keys, and the keywords of the ``/benchmark`` endpoint.
KEYS = ("task", "model", "workload", "devices", "dtypes", "batch_sizes", "n", "repeats", "max_tokens", "upload",
        "column", "models", "references", "sample", "quality_tolerance", "runners", "max_new_tokens", "output_lengths")
#: How the requests' output lengths are drawn (``BenchConfig.output_lengths``), as the CLI's ``--output-lengths``.
OUTPUT_LENGTHS = ("long-tail", "fixed")


@dataclass(frozen=True)
class BenchRequest:
    """What one Run asks for. ``batch_sizes`` stays as typed: ``BenchConfig`` parses it, once.
    ``runners`` are those ticked that the task has (empty: the task's own); ``max_new_tokens`` and
    ``output_lengths`` shape a generation sweep's requests (``BenchConfig``)."""

    task: str
    model: str | None
    workload: str
    devices: tuple[str, ...]
    dtypes: tuple[str, ...]
    batch_sizes: str
    n: int
    repeats: int
    max_tokens: int | None
    files: tuple[str, ...]
    column: str | None
    references: str | None = None
    quality_tolerance: float = 1.0
    runners: tuple[str, ...] = ()
    max_new_tokens: int | None = None
    output_lengths: str = "long-tail"

    @classmethod
    def from_widgets(cls, values: Mapping[str, Any]) -> BenchRequest:
        """From the widgets' values keyed as ``KEYS``; what the sweep cannot use is an ``InputError``."""
        # each device and dtype once: a list repeating one would only repeat the same rows
        devices = tuple(dict.fromkeys(str(d) for d in values.get("devices") or ()))
        dtypes = tuple(dict.fromkeys(str(t) for t in values.get("dtypes") or ()))
        if not devices or not dtypes:
            raise InputError("Pick at least one device and one dtype.")
        workload = values.get("workload") or "natural"
        files = tuple(str(getattr(f, "name", f)) for f in values.get("upload") or ())
        references = (values.get("references") or "").strip() or None
        column = (values.get("column") or "").strip() or None
        if not values.get("task"):
            raise InputError("Pick a task.")
        if values.get("sample"):  # the task's shipped labelled sample, instead of an upload
            from workbench.bench.quality import sample_for

            sample = sample_for(values["task"], references)
            if sample is None:
                raise InputError(f"There is no labelled sample for {values['task']}; upload your own data with a "
                                 "reference column.")
            files, references, workload, column = (sample[0],), references or sample[1], "file", None
        if references and not files:
            raise InputError(f"References need labelled data: upload a CSV/JSONL file with the column `{references}`, "
                             "or tick the labelled sample.")
        if references:
            workload = "file"
        if workload == "file" and not files:
            raise InputError("The `file` workload needs your data: upload a CSV/JSONL/text file or some image/audio "
                             "files.")
        budget = values.get("max_tokens")
        extra = values.get("models") or ()
        models = [m.strip() for m in ([values.get("model") or ""] + [str(x) for x in
                                      ([extra] if isinstance(extra, str) else extra)]) if m and m.strip()]
        tolerance = values.get("quality_tolerance")
        lengths = values.get("output_lengths") or "long-tail"
        if lengths not in OUTPUT_LENGTHS:
            raise InputError(f"Output lengths {lengths!r}: choose {' or '.join(OUTPUT_LENGTHS)}.")
        new_tokens = values.get("max_new_tokens")
        if new_tokens is not None and new_tokens == new_tokens and int(new_tokens) < 1:
            raise InputError(f"The mean of the new tokens must be at least 1; got {new_tokens:g}.")
        return cls(task=values["task"], model=",".join(dict.fromkeys(models)) or None, workload=workload,
                   devices=devices, dtypes=dtypes, batch_sizes=str(values.get("batch_sizes") or ""),
                   n=int(values.get("n") or 128), repeats=int(values.get("repeats") or 1),
                   max_tokens=int(budget) if budget else None, files=files, column=column, references=references,
                   quality_tolerance=float(tolerance) if tolerance is not None and tolerance == tolerance else 1.0,
                   runners=_runners(values["task"], values.get("runners")),
                   max_new_tokens=int(new_tokens) if new_tokens and new_tokens == new_tokens else None,
                   output_lengths=lengths)

    def config(self) -> BenchConfig:
        """The sweep's ``BenchConfig`` (bad batch sizes raise ``ValueError`` naming the fix)."""
        from workbench.bench.config import BenchConfig

        return BenchConfig(task=self.task, model=self.model, batch_sizes=self.batch_sizes, devices=self.devices,
                           dtypes=self.dtypes, workload=self.workload, n=self.n, repeats=self.repeats,
                           max_tokens=self.max_tokens, path=list(self.files) if self.workload == "file" else None,
                           column=self.column, references=self.references, quality_tolerance=self.quality_tolerance,
                           runners=self.runners, max_new_tokens=self.max_new_tokens,
                           output_lengths=self.output_lengths)


def _runners(task: str, ticked: Any) -> tuple[str, ...]:
    """The runners ticked that ``task`` has, in the sweep's order; ``None`` (not given): the task's
    own. Continuous batching is for text generation only, so another task's sweep leaves it out
    (its widget is hidden there); nothing left to run is an ``InputError``.

    >>> _runners("text-classification", ["plain", "runner", "continuous"]), _runners("text-generation", None)
    (('plain', 'runner'), ())
    """
    from workbench.bench.config import RUNNERS, default_runners

    if ticked is None:
        return ()
    ticked = [ticked] if isinstance(ticked, str) else list(ticked)
    unknown = [r for r in ticked if r not in RUNNERS]
    if unknown:
        raise InputError(f"Unknown runner(s) {', '.join(map(str, unknown))}; choose from {', '.join(RUNNERS)}.")
    own = default_runners(task)
    chosen = tuple(r for r in own if r in ticked)
    if not chosen:
        raise InputError(f"Tick at least one runner {task} has: {', '.join(own)}.")
    return chosen
