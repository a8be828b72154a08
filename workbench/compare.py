"""Compare up to three configurations (model × revision × device × dtype) on one input.

No gradio here. ``compare`` runs the same input and parameters through each configuration via
the cached ``PipelineManager`` (so its bounds hold), records load and inference times and peak
memory per run, and measures how much the outputs agree, pair by pair, by the task's output kind:
the top label and the largest score difference (classification, QA), the cosine similarity of
embeddings, a token-level diff of generated text, the IoU of detection boxes.

The measures themselves belong to the output kinds (``workbench.output_kinds``).

    comparison = compare(PipelineManager(), "text-classification", {"text": "I love it"}, {},
                         [Config("offline:text-classification", dtype="float32"),
                          Config("offline:text-classification", dtype="bfloat16")])
    comparison.agreement[0]["same_top_label"]
    # -> True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from workbench.errors import InputError, RunCancelled, WorkbenchError
from workbench.load_request import LoadRequest
from workbench.progress import RunControl
from workbench.tasks import TaskSpec, get_task

if TYPE_CHECKING:
    from workbench.manager import PipelineManager
    from workbench.results import RunResult

MAX_CONFIGS = 3
NAMES = "ABC"


@dataclass(frozen=True)
class Config:
    """One configuration to compare; an empty ``model`` means the task's offline model."""

    model: str | None = None
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"

    def request(self, task: str) -> LoadRequest:
        """This configuration's load request for ``task``."""
        return LoadRequest(task, self.model, self.revision, self.device, self.dtype)


@dataclass
class ConfigRun:
    """One configuration's run: its result, or the error that stopped it, and what it cost."""

    name: str
    config: Config
    result: RunResult | None = None
    error: str | None = None
    peak_mb: float | None = None
    weights_mb: float | None = None
    score: dict[str, float] | None = None  # against the reference, when one was given

    def row(self) -> dict[str, Any]:
        """A JSON-able summary row for tables and the API."""
        r = self.result
        return {"config": self.name, "model": r.model if r else (self.config.model or ""),
                "revision": self.config.revision or "", "device": r.device if r else self.config.device,
                "dtype": r.dtype if r else self.config.dtype,
                "load_s": round(r.timings.get("load_s", 0.0), 3) if r else None,
                "inference_s": round(r.timings.get("inference_s", 0.0), 4) if r else None,
                "peak_mb": None if self.peak_mb is None else round(self.peak_mb, 1),
                "weights_mb": None if self.weights_mb is None else round(self.weights_mb, 2),
                "score": ", ".join(f"{k} {v:g}" for k, v in self.score.items()) if self.score else "",
                "status": "ok" if r else f"error: {self.error}"}


@dataclass
class Comparison:
    """What ``compare`` found: the runs in order, pairwise agreement rows, and notes."""

    task: str
    runs: list[ConfigRun]
    agreement: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        return {"task": self.task, "runs": [r.row() for r in self.runs],
                "outputs": {r.name: r.result.json() if r.result else None for r in self.runs},
                "agreement": self.agreement, "notes": self.notes}


# ---------------------------------------------------------------------------------------------
# Agreement


def agreement(spec: TaskSpec, a: RunResult, b: RunResult) -> dict[str, Any] | None:
    """How much two runs' outputs agree, by the task's output kind (``workbench.output_kinds``);
    generated text is compared without the prompt it repeats."""
    prompt = a.inputs.get("text") if isinstance(a.inputs.get("text"), str) else None
    return spec.output_kind.agreement(a.output, b.output, prompt=prompt)


# ---------------------------------------------------------------------------------------------
# Running


def _score_runs(spec: TaskSpec, runs: list[ConfigRun], reference: str, decoded: Mapping[str, Any],
                id2labels: Mapping[str, Any]) -> None:
    """Each run's output scored against ``reference`` by the task's metric (a label matched to the
    names its own model gives them: ``id2labels`` by configuration)."""
    from workbench.metrics import model_matcher, score

    for run in runs:
        if run.result is None:
            continue
        match = model_matcher(spec, id2labels.get(run.name))
        prediction = spec.output_kind.prediction(run.result.output)
        references = [match(reference) or reference] if match else [reference]
        text = decoded.get(spec.inputs[0]) if isinstance(decoded.get(spec.inputs[0]), str) else None
        run.score = score(spec.metric, [prediction], references, texts=[text]).values


def check_configs(manager: PipelineManager, task: str, configs: Sequence[Config]) -> list[Any]:
    """The manager keys of ``configs``; raises a clear error for none, more than three, or more
    distinct models than the manager keeps loaded at once."""
    if not configs:
        raise InputError("Choose at least one configuration (a model) to compare.")
    if len(configs) > MAX_CONFIGS:
        raise InputError(f"Compare at most {MAX_CONFIGS} configurations at once; {len(configs)} were given.")
    keys = [c.request(task).key() for c in configs]
    distinct = len(set(keys))
    if manager.max_models is not None and distinct > manager.max_models:
        raise WorkbenchError(
            f"Comparing {distinct} different configurations needs {distinct} pipelines loaded at once, but this "
            f"workbench keeps at most {manager.max_models} (WORKBENCH_MAX_MODELS / --max-models). Compare fewer "
            "configurations, or ask the operator to raise the bound.")
    return keys


def compare(manager: PipelineManager, task: str, inputs: Mapping[str, Any], params: Mapping[str, Any] | None,
            configs: Sequence[Config], *, control: RunControl | None = None,
            reference: str | None = None) -> Comparison:
    """Run ``inputs`` with ``params`` through each configuration (in order, named A, B, C) and
    measure agreement pairwise. A configuration that fails is reported in its row; the others run.
    Bad inputs and too many configurations are refused before any model loads. Cancelling
    ``control`` stops the comparison (``RunCancelled``) within the run under way. With a
    ``reference`` (the right answer for this input), each configuration is also scored against it
    by the task's metric (``workbench.metrics``)."""
    import torch

    from workbench.bench import PeakMemory
    from workbench.progress import running
    from workbench.service import decode_inputs, run

    spec = get_task(task)
    keys = check_configs(manager, spec.name, configs)
    reference = (reference or "").strip() or None
    if reference is not None:
        from workbench.metrics import check_references

        if spec.metric is None or spec.metric == "similarity":
            raise InputError(f"{spec.name} has no metric against a single reference; leave the reference empty.")
        check_references(spec.metric, [reference], "the reference")
    with running(control):  # decoded (and a URL fetched) once for every configuration; a bad input fails here
        decoded = decode_inputs(spec, inputs, manager.policy)
    runs, id2labels = [], {}
    for name, config, key in zip(NAMES, configs, keys):
        config_run = ConfigRun(name, config)
        try:
            with PeakMemory(torch.device(key.device)) as peak:
                *_, config_run.result = run(manager, spec.name, inputs, params, request=key, control=control,
                                      decoded=decoded)
            config_run.peak_mb = peak.peak_mb
            loaded = next((e for e in manager.loaded() if e.key == key), None)
            model_config = getattr(getattr(loaded.pipe, "model", None), "config", None) if loaded else None
            id2labels[name] = getattr(model_config, "id2label", None)
            config_run.weights_mb = loaded.bytes / 2**20 if loaded else None
        except RunCancelled:
            raise
        except WorkbenchError as exc:
            config_run.error = str(exc)
        runs.append(config_run)
    if reference is not None:
        _score_runs(spec, runs, reference, decoded, id2labels)
    comparison = Comparison(spec.name, runs)
    ok = [r for r in runs if r.result is not None]
    for i, x in enumerate(ok):
        for y in ok[i + 1:]:
            measure = agreement(spec, x.result, y.result)
            if measure is not None:
                comparison.agreement.append({"pair": f"{x.name} vs {y.name}", **measure})
    if len(ok) > 1 and not comparison.agreement:
        comparison.notes.append(f"No agreement measure for {spec.output} outputs: compare them side by side.")
    loaded_now = {e.key for e in manager.loaded()}
    gone = [r.name for r, k in zip(runs, keys) if r.result is not None and k not in loaded_now]
    if gone:
        comparison.notes.append(
            f"Configuration(s) {', '.join(gone)} were unloaded to stay within the manager's memory bound "
            "(WORKBENCH_MAX_BYTES): the models do not fit together, so each comparison loads them again.")
    return comparison
