"""Compare up to three configurations (model × revision × device × dtype) on one input.

No gradio here. ``compare`` runs the same input and parameters through each configuration via
the cached ``PipelineManager`` (so its bounds hold), records load and inference times and peak
memory per run, and measures how much the outputs agree, pair by pair, by the task's output kind:
the top label and the largest score difference (classification, QA), the cosine similarity of
embeddings, a token-level diff of generated text, the IoU of detection boxes.

>>> label_agreement([{"label": "POS", "score": 0.9}, {"label": "NEG", "score": 0.1}],
...                 [{"label": "POS", "score": 0.8}, {"label": "NEG", "score": 0.2}])
{'same_top_label': True, 'top_labels': ['POS', 'POS'], 'max_score_diff': 0.1}
>>> token_diff("the cat sat", "the dog sat")["token_match"]
0.667
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from workbench.errors import InputError, RunCancelled, WorkbenchError
from workbench.progress import RunControl
from workbench.tasks import get_task

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


@dataclass
class ConfigRun:
    """One configuration's run: its result, or the error that stopped it, and what it cost."""

    name: str
    config: Config
    result: RunResult | None = None
    error: str | None = None
    peak_mb: float | None = None
    weights_mb: float | None = None

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
# Agreement measures (plain values in, plain values out)


def scored_labels(output: Any) -> list[tuple[str, float]]:
    """``(label, score)`` pairs, best first, from any classification-like output (labels, fill-mask
    tokens, zero-shot ``{"labels", "scores"}``, QA/VQA answers)."""
    while isinstance(output, list) and len(output) == 1 and isinstance(output[0], list):
        output = output[0]
    if isinstance(output, dict) and "labels" in output and "scores" in output:
        pairs = list(zip(output["labels"], output["scores"]))
    else:
        items = output if isinstance(output, list) else [output]
        pairs = [(str(d.get("label", d.get("token_str", d.get("answer")))), d.get("score")) for d in items
                 if isinstance(d, dict)]
    scored = [(str(k), float("nan") if v is None else float(v)) for k, v in pairs]
    return sorted(scored, key=lambda p: math.inf if math.isnan(p[1]) else -p[1])  # unscored answers last


def label_agreement(a: Any, b: Any) -> dict[str, Any]:
    """Same top label, and the largest score difference over the labels both outputs scored."""
    la, lb = scored_labels(a), scored_labels(b)
    sa, sb = dict(la), dict(lb)
    shared = [k for k in sa if k in sb and not (math.isnan(sa[k]) or math.isnan(sb[k]))]
    diff = max((abs(sa[k] - sb[k]) for k in shared), default=None)
    return {"same_top_label": bool(la and lb and la[0][0] == lb[0][0]),
            "top_labels": [la[0][0] if la else None, lb[0][0] if lb else None],
            "max_score_diff": None if diff is None else round(diff, 6)}


def embedding_agreement(a: Any, b: Any) -> dict[str, Any]:
    """Cosine similarity of the embeddings row by row (one row per input sentence or image)."""
    def rows(x: Any) -> np.ndarray:
        x = x.get("embeddings", x) if isinstance(x, dict) else x
        arr = np.asarray(x, dtype=np.float64)
        return arr.reshape(-1, arr.shape[-1]) if arr.ndim > 1 else arr.reshape(1, -1)

    ra, rb = rows(a), rows(b)
    if ra.shape != rb.shape:
        return {"cosine_min": None, "cosine_mean": None,
                "note": f"not comparable: {ra.shape[-1]} vs {rb.shape[-1]} dimensions"}
    norms = np.linalg.norm(ra, axis=1) * np.linalg.norm(rb, axis=1)
    cos = np.einsum("ij,ij->i", ra, rb) / np.where(norms == 0, 1, norms)
    return {"cosine_min": round(float(cos.min()), 5), "cosine_mean": round(float(cos.mean()), 5)}


_TOKEN = re.compile(r"\w+|[^\w\s]")


def token_diff(a: str, b: str) -> dict[str, Any]:
    """A word-level diff of two texts: the share of tokens that match, where they first differ,
    and the diff as ``[(token, "-"|"+"|None)]`` (removed from ``a``, added in ``b``, common)."""
    ta, tb = _TOKEN.findall(a or ""), _TOKEN.findall(b or "")
    matcher = difflib.SequenceMatcher(a=ta, b=tb, autojunk=False)
    diff: list[tuple[str, str | None]] = []
    first = None
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            diff += [(t, None) for t in ta[i1:i2]]
            continue
        first = i1 if first is None else first
        diff += [(t, "-") for t in ta[i1:i2]] + [(t, "+") for t in tb[j1:j2]]
    return {"same_text": a == b, "token_match": round(matcher.ratio(), 3) if ta or tb else 1.0,
            "first_difference": first, "tokens": [len(ta), len(tb)], "diff": diff}


def generated_text(output: Any, prompt: str | None = None) -> str:
    """The text of a generative output (generated/summary/translation text, ASR ``text``,
    an answer), without the prompt when the output repeats it."""
    first = output[0] if isinstance(output, list) and output else output
    if isinstance(first, list) and first:
        first = first[0]
    text = ""
    if isinstance(first, dict):
        for key in ("generated_text", "summary_text", "translation_text", "text", "answer"):
            if isinstance(first.get(key), str):
                text = first[key]
                break
    elif isinstance(first, str):
        text = first
    return text[len(prompt):] if prompt and text.startswith(prompt) else text


def iou(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Intersection over union of two ``{xmin, ymin, xmax, ymax}`` boxes.

    >>> iou({"xmin": 0, "ymin": 0, "xmax": 2, "ymax": 2}, {"xmin": 1, "ymin": 0, "xmax": 3, "ymax": 2})
    0.3333333333333333
    """
    w = max(0.0, min(a["xmax"], b["xmax"]) - max(a["xmin"], b["xmin"]))
    h = max(0.0, min(a["ymax"], b["ymax"]) - max(a["ymin"], b["ymin"]))
    inter = w * h
    area = lambda r: max(0.0, r["xmax"] - r["xmin"]) * max(0.0, r["ymax"] - r["ymin"])  # noqa: E731
    union = area(a) + area(b) - inter
    return inter / union if union > 0 else float(a == b)


def box_agreement(a: Sequence[dict], b: Sequence[dict]) -> dict[str, Any]:
    """Boxes matched greedily (highest IoU first, same label only); the mean IoU over all boxes
    of both outputs counts an unmatched box as 0."""
    pairs = sorted(((iou(x["box"], y["box"]), i, j) for i, x in enumerate(a) for j, y in enumerate(b)
                    if x.get("label") == y.get("label")), reverse=True)
    used_a, used_b, matched = set(), set(), []
    for value, i, j in pairs:
        if i not in used_a and j not in used_b and value > 0:
            used_a.add(i)
            used_b.add(j)
            matched.append(value)
    total = max(len(a), len(b))
    return {"boxes": [len(a), len(b)], "matched": len(matched),
            "mean_iou": round(sum(matched) / total, 4) if total else 1.0}


def agreement(kind: str, a: RunResult, b: RunResult) -> dict[str, Any] | None:
    """The agreement measure for the task's output kind, or None where none applies."""
    if kind in ("labels", "video-labels", "vqa", "answer"):
        return label_agreement(a.output, b.output)
    if kind == "embeddings":
        return embedding_agreement(a.output, b.output)
    if kind == "text":
        prompt = a.inputs.get("text") if isinstance(a.inputs.get("text"), str) else None
        return token_diff(generated_text(a.output, prompt), generated_text(b.output, prompt))
    if kind == "boxes":
        return box_agreement(a.output or [], b.output or [])
    return None


# ---------------------------------------------------------------------------------------------
# Running


def check_configs(manager: PipelineManager, task: str, configs: Sequence[Config]) -> list[Any]:
    """The manager keys of ``configs``; raises a clear error for none, more than three, or more
    distinct models than the manager keeps loaded at once."""
    if not configs:
        raise InputError("Choose at least one configuration (a model) to compare.")
    if len(configs) > MAX_CONFIGS:
        raise InputError(f"Compare at most {MAX_CONFIGS} configurations at once; {len(configs)} were given.")
    keys = [manager.key(task, c.model, revision=c.revision, device=c.device, dtype=c.dtype) for c in configs]
    distinct = len(set(keys))
    if manager.max_models is not None and distinct > manager.max_models:
        raise WorkbenchError(
            f"Comparing {distinct} different configurations needs {distinct} pipelines loaded at once, but this "
            f"workbench keeps at most {manager.max_models} (WORKBENCH_MAX_MODELS / --max-models). Compare fewer "
            "configurations, or ask the operator to raise the bound.")
    return keys


def compare(manager: PipelineManager, task: str, inputs: Mapping[str, Any], params: Mapping[str, Any] | None,
            configs: Sequence[Config], *, control: RunControl | None = None) -> Comparison:
    """Run ``inputs`` with ``params`` through each configuration (in order, named A, B, C) and
    measure agreement pairwise. A configuration that fails is reported in its row; the others run.
    Bad inputs and too many configurations are refused before any model loads. Cancelling
    ``control`` stops the comparison (``RunCancelled``) within the run under way."""
    import torch

    from workbench.bench import PeakMemory
    from workbench.service import decode_inputs, run_task

    spec = get_task(task)
    keys = check_configs(manager, spec.name, configs)
    decode_inputs(spec, inputs, manager.policy)  # a bad input fails here, before any load
    runs = []
    for name, config, key in zip(NAMES, configs, keys):
        run = ConfigRun(name, config)
        try:
            with PeakMemory(torch.device(key.device)) as peak:
                run.result = run_task(manager, spec.name, inputs, params, model=config.model,
                                      revision=config.revision, device=config.device, dtype=config.dtype,
                                      control=control)
            run.peak_mb = peak.peak_mb
            loaded = next((e for e in manager.loaded() if e.key == key), None)
            run.weights_mb = loaded.bytes / 2**20 if loaded else None
        except RunCancelled:
            raise
        except WorkbenchError as exc:
            run.error = str(exc)
        runs.append(run)
    comparison = Comparison(spec.name, runs)
    ok = [r for r in runs if r.result is not None]
    for i, x in enumerate(ok):
        for y in ok[i + 1:]:
            measure = agreement(spec.output, x.result, y.result)
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
