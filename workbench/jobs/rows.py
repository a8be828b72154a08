"""Running a job's pipeline over one chunk of rows: the part both engines share.

``Predictor(job)`` loads the job's pipeline once (a Ray actor holds one) and maps a DataFrame of
input rows to a DataFrame of ``OUTPUT_COLUMNS``: each row's ``id``, its result and its error.
Rows are decoded first (an empty text, a corrupt image or an unreadable audio file becomes that
row's error), the good ones run through the batch runner (``run_batch``: sorted by length, cut
into the cheapest batches); if the batch fails, each row runs alone so only the bad ones fail.

Results are JSON text in ``output``; embedding tasks put the vector in ``embedding`` (float32)
instead. ``error`` is None for a row that ran.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.calls import sampling_rate
from workbench.jobs.readers import ROW_ID
from workbench.jobs.job_file import JobSpec, labelled_metric
from workbench.tasks import get_task

if TYPE_CHECKING:
    from workbench.manager import PipelineManager


def is_embedding(task: str) -> bool:
    return get_task(task).output == "embeddings"


#: The columns a job with references (``--references``) adds: what the metric scores of each output, the
#: row's reference, whether the model has the reference's label, and whether the output is right.
LABELLED = (pa.field("prediction", pa.string()), pa.field("reference", pa.string()),
            pa.field("reference_known", pa.bool_()), pa.field("correct", pa.bool_()))


def output_schema(task: str, labelled: bool = False) -> pa.Schema:
    """The output's columns: ``id``, ``output`` (JSON) or ``embedding`` (float32 list), ``error``;
    with references (``labelled``), ``LABELLED`` too (and the input ``text`` for entity metrics)."""
    value = pa.field("embedding", pa.list_(pa.float32())) if is_embedding(task) else pa.field("output", pa.string())
    fields = [pa.field("id", pa.int64()), value, pa.field("error", pa.string())]
    if labelled:
        fields += list(LABELLED)
        if get_task(task).metric == "entities":
            fields.append(pa.field("text", pa.string()))
    return pa.schema(fields)


def call_params(job: JobSpec) -> dict[str, Any]:
    """The keywords every call gets: the task's batch-run keywords (``spec.bench.params``:
    truncation…), the registry's defaults and the job's ``params`` (registry parameters are coerced; others pass as given)."""
    spec = get_task(job.task)
    names = {p.name for p in spec.params}
    known = {k: v for k, v in job.params.items() if k in names}
    extra = {k: v for k, v in job.params.items() if k not in names}
    return {**spec.bench.params, **spec.call_kwargs(known), **spec.post_kwargs(known), **extra}


class Predictor:
    """The job's pipeline and how to run it over a chunk: ``predictor(frame) -> DataFrame``.

    A callable class so Ray Data's ``map_batches`` can keep one per actor; the local engine calls
    it on each shard. ``manager`` shares an existing ``PipelineManager`` (tests, the app)."""

    def __init__(self, job: JobSpec, manager: "PipelineManager | None" = None) -> None:
        from workbench.manager import PipelineManager

        self.job, self.spec = job, get_task(job.task)
        manager = manager or PipelineManager(max_models=1)
        self.loaded = manager.load(job.task, job.model, revision=job.revision, device=job.device, dtype=job.dtype)
        self.pipe = self.loaded.pipe
        self.policy = manager.policy  # the operator's own jobs: local paths and any URL, unless told otherwise
        self.rate = sampling_rate(self.pipe)
        self.params = call_params(job)
        self.mapping: dict[str, str] | None = None
        self.schema = output_schema(job.task, labelled=bool(job.references))
        self.metric = labelled_metric(job.task) if job.references else None
        if self.metric is not None:
            from workbench.metrics import label_matcher, model_id2label, model_matcher

            # the model's labels, or (zero-shot, fill-mask) the references' own
            self.match = model_matcher(self.spec, model_id2label(self.pipe)) or label_matcher(None)

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        if self.mapping is None:
            self.mapping = self.job.column_map([c for c in frame.columns if c != ROW_ID])
        items: list[Any] = []
        errors: list[str | None] = []
        for row in frame.itertuples(index=False):
            values = dict(zip(frame.columns, row))
            try:
                items.append(self._decode(values))
                errors.append(None)
            except Exception as exc:  # a bad row is recorded, never fatal
                items.append(None)
                errors.append(_message(exc))
        good = [i for i, e in enumerate(errors) if e is None]
        results: list[Any] = [None] * len(frame)
        for i, (result, error) in zip(good, self._run([items[i] for i in good])):
            results[i], errors[i] = result, error
        out = self._frame(frame[ROW_ID].to_numpy(dtype=np.int64), results, errors)
        return self._scored(out, frame, results, errors) if self.metric is not None else out

    def _scored(self, out: pd.DataFrame, frame: pd.DataFrame, results: list[Any],
                errors: list[str | None]) -> pd.DataFrame:
        """``LABELLED``'s columns for each row: what the metric scores, the reference, and whether it is right."""
        column = self.job.references
        if column not in frame.columns:
            raise ValueError(f"the input has no reference column `{column}`; its columns: "
                             f"{', '.join(c for c in frame.columns if c != ROW_ID)}")
        kind = self.spec.output_kind
        refs = [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in frame[column]]
        preds = [None if e is not None else kind.prediction(r) for r, e in zip(results, errors)]
        text_column = self.mapping.get(self.spec.inputs[0]) if self.mapping else None  # type: ignore[union-attr]
        texts = [str(v) for v in frame[text_column]] if text_column in frame.columns else [None] * len(frame)
        out["prediction"] = [None if p is None else (p if isinstance(p, str) else json.dumps(_jsonable(p)))
                             for p in preds]
        # a label as the model names it, so the summary compares names (a reference it lacks stays as given)
        out["reference"] = [r if r is None or self.metric != "classification" else self.match(r) or r for r in refs]
        out["reference_known"] = [r is not None and (self.metric != "classification" or self.match(r) is not None)
                                  for r in refs]
        out["correct"] = [self._correct(p, r, t) for p, r, t in zip(preds, refs, texts)]
        if "text" in self.schema.names:
            out["text"] = texts
        return out

    def _correct(self, predicted: Any, reference: str | None, text: str | None) -> bool:
        from workbench.errors import InputError
        from workbench.metrics import correct

        if predicted is None or reference is None:
            return False
        try:
            return bool(correct(self.metric, predicted, reference, self.match, text))  # type: ignore[arg-type]
        except (InputError, ValueError):  # a malformed reference: that row is not right
            return False

    # -- steps --------------------------------------------------------------------------------

    def _decode(self, values: dict[str, Any]) -> Any:
        """One row's pipeline input: decoded media, checked text; a dict for multi-input tasks."""
        decoded = {}
        for name, column in self.mapping.items():  # type: ignore[union-attr]
            value = values.get(column)
            if column == "path" and name != "video" and values.get("bytes") is not None \
                    and not os.path.isfile(str(value)):
                value = values["bytes"]  # Ray's read_binary_files of remote storage (s3://…)
            stored_as = None
            if isinstance(value, dict) and ("bytes" in value or "path" in value) and "array" not in value:
                stored_as = os.path.basename(value.get("path") or "") or None
                value = value.get("bytes") or value.get("path")  # media as datasets/Parquet store them
            decoded[name] = self.spec.input_kind(name).item(value, self.policy, what=name, rate=self.rate,
                                                            stored_as=stored_as)
        return decoded[self.spec.inputs[0]] if len(self.spec.inputs) == 1 else decoded

    def _run(self, items: list[Any]) -> list[tuple[Any, str | None]]:
        """Results for ``items``, all at once through the runner; if that fails, one by one."""
        if not items:
            return []
        try:
            return [(r, None) for r in self._batch(items)]
        except Exception:
            pass
        out: list[tuple[Any, str | None]] = []
        for item in items:
            try:
                out.append((self._batch([item])[0], None))
            except Exception as exc:
                out.append((None, _message(exc)))
        return out

    def _batch(self, items: list[Any]) -> list[Any]:
        from workbench.runner import run_batch

        job = self.job
        if job.runner == "continuous":  # transformers' continuous batching: batch size = requests in flight
            from workbench.continuous import run_continuous

            return run_continuous(self.pipe, items, max_in_flight=job.resolved_batch_size(), max_tokens=job.max_tokens,
                                  **self.params).results
        if job.runner == "plain":
            return list(self.pipe(items, batch_size=job.resolved_batch_size(), **self.params))
        return run_batch(self.pipe, items, batch_size=job.resolved_batch_size(), max_tokens=job.max_tokens,
                         kernels=job.kernels, window=max(len(items), 1), **self.params).results

    def _frame(self, ids: np.ndarray, results: list[Any], errors: list[str | None]) -> pd.DataFrame:
        if is_embedding(self.spec.name):
            values = [None if r is None else np.asarray(r, dtype=np.float32).reshape(-1) for r in results]
            name = "embedding"
        else:
            values = [None if e is not None else json.dumps(_jsonable(r)) for r, e in zip(results, errors)]
            name = "output"
        return pd.DataFrame({"id": ids, name: values, "error": errors})


def _jsonable(value: Any) -> Any:
    from workbench.results import to_jsonable

    return to_jsonable(value, max_items=1 << 20)


def _message(exc: BaseException) -> str:
    from workbench.messages import with_type

    return with_type(exc)

