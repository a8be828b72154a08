"""Output kinds: what one shape of output means, in one object per kind.

A task names its output kind (``spec.output``: ``labels``, ``text``, ``embeddings``, ``boxes``…);
the kind owns what every part of the workbench needs from such an output: what its widgets hold for
an API client (``descriptions``), its labels with scores (``labels``), its text (``text``), the
compact answer a benchmark compares across configurations (``top``), and how much two outputs agree
(``agreement``: Compare's rows, the Benchmark's accuracy cost). The widgets that draw each kind are
``components/renderers.py`` (no gradio here); the task-specific metrics against references build on
these too.

>>> KINDS["labels"].agreement([{"label": "POS", "score": 0.9}, {"label": "NEG", "score": 0.1}],
...                           [{"label": "POS", "score": 0.8}, {"label": "NEG", "score": 0.2}])
{'same_top_label': True, 'top_labels': ['POS', 'POS'], 'max_score_diff': 0.1}
>>> KINDS["text"].agreement([{"generated_text": "the cat sat"}], [{"generated_text": "the dog sat"}])["token_match"]
0.667
>>> generated_text([{"generated_text": "Hello there"}], prompt="Hello")
' there'
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

# ---------------------------------------------------------------------------------------------
# Reading outputs (plain values in, plain values out)


def unwrap(output: Any) -> Any:
    """``[[...]]`` -> ``[...]``: some pipelines wrap a single input's results in a list.

    >>> unwrap([[{"label": "a"}]])
    [{'label': 'a'}]
    """
    while isinstance(output, list) and len(output) == 1 and isinstance(output[0], list):
        output = output[0]
    return output


def scored_labels(output: Any) -> list[tuple[str, float]]:
    """``(label, score)`` pairs, best first, from any classification-like output (labels, fill-mask
    tokens, zero-shot ``{"labels", "scores"}``, QA/VQA answers); an unscored answer scores NaN.

    >>> scored_labels({"labels": ["a", "b"], "scores": [0.2, 0.8]})
    [('b', 0.8), ('a', 0.2)]
    """
    output = unwrap(output)
    if isinstance(output, dict) and "labels" in output and "scores" in output:
        pairs = list(zip(output["labels"], output["scores"]))
    else:
        items = output if isinstance(output, list) else [output]
        pairs = [(d.get("label", d.get("token_str", d.get("answer"))), d.get("score")) for d in items
                 if isinstance(d, dict)]
    scored = [(str(k), float("nan") if v is None else float(v)) for k, v in pairs]
    return sorted(scored, key=lambda p: math.inf if math.isnan(p[1]) else -p[1])  # unscored answers last


TEXT_KEYS = ("generated_text", "summary_text", "translation_text", "text", "answer")


def generated_text(output: Any, prompt: str | None = None) -> str:
    """The text of a generative output (generated/summary/translation text, a transcript's ``text``,
    an answer; a chat answer: its last message's content), without the prompt when it repeats it."""
    first = unwrap(output)
    if isinstance(first, list):
        first = first[0] if first else None
    text = ""
    if isinstance(first, dict):
        for key in TEXT_KEYS:
            if key in first:
                value = first[key]
                if isinstance(value, list):  # chat format: the last message's content
                    value = value[-1].get("content", "") if value and isinstance(value[-1], dict) else value
                text = "" if value is None else str(value)
                break
    elif first is not None:
        text = str(first)
    return text[len(prompt):] if prompt and text.startswith(prompt) else text


#: What decoding puts where tokens do not make whole characters (``bytes.decode(errors="replace")``).
REPLACEMENT = "\ufffd"


def readable_text(text: str) -> tuple[str, int]:
    """``text`` without the "�" that decoding writes where generated tokens are pieces of a
    character (byte-level tokens that are not valid UTF-8 on their own: a random-weight model picks
    them freely, and ``max_new_tokens`` can cut a real model's character in half), and how many
    were left out.

    >>> readable_text("Once upon a time translate\ufffd\ufffd")
    ('Once upon a time translate', 2)
    >>> readable_text("café")
    ('café', 0)
    """
    return text.replace(REPLACEMENT, ""), text.count(REPLACEMENT)


def broken_bytes_note(count: int) -> str | None:
    """What the info line says about ``count`` "�" left out by ``readable_text`` (``None`` for none).

    >>> print(broken_bytes_note(2))  # doctest: +NORMALIZE_WHITESPACE
    Left out of the text: 2 "�" (generated tokens that are only parts of characters, not valid UTF-8
    on their own). The raw output keeps them.
    """
    if not count:
        return None
    what, own, them = ("a generated token that is only part of a character", "its", "it") if count == 1 else \
        ("generated tokens that are only parts of characters", "their", "them")
    return (f"Left out of the text: {count} \"{REPLACEMENT}\" ({what}, not valid UTF-8 on {own} own). "
            f"The raw output keeps {them}.")


def embedding_rows(output: Any) -> np.ndarray:
    """An embeddings output (``{"embeddings": ...}``, a list, an array) as ``[rows, hidden]`` float64."""
    x = output.get("embeddings", output) if isinstance(output, dict) else output
    if hasattr(x, "detach"):
        x = x.detach().float().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    return arr.reshape(-1, arr.shape[-1]) if arr.ndim > 1 else arr.reshape(1, -1)


def row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The cosine similarity of each row of ``a`` with the same row of ``b``.

    >>> row_cosines(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])).round(3).tolist()
    [0.707]
    """
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.einsum("ij,ij->i", a, b) / np.where(norms == 0, 1, norms)


# ---------------------------------------------------------------------------------------------
# Agreement between two outputs of one kind


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
    ra, rb = embedding_rows(a), embedding_rows(b)
    if ra.shape != rb.shape:
        return {"cosine_min": None, "cosine_mean": None,
                "note": f"not comparable: {ra.shape[-1]} vs {rb.shape[-1]} dimensions"}
    cos = row_cosines(ra, rb)
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
    of both outputs counts an unmatched box as 0 (``None`` when neither output has a box)."""
    a, b = unwrap(a) or [], unwrap(b) or []
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
            "mean_iou": round(sum(matched) / total, 4) if total else None}


# ---------------------------------------------------------------------------------------------
# The kinds


@dataclass(frozen=True)
class OutputKind:
    """One shape of output: ``descriptions`` say what each of its widgets holds (API docs)."""

    name: str
    descriptions: tuple[str, ...]

    def agreement(self, a: Any, b: Any, *, prompt: str | None = None) -> dict[str, Any] | None:
        """How much two outputs of this kind agree (``None``: no measure for this kind)."""
        return None

    def prediction(self, output: Any) -> Any:
        """What a metric scores of one output (``workbench.metrics``): the top label, the text, the
        answer, the entities; by default the compact answer ``top``."""
        return self.top(output)

    def top(self, output: Any) -> Any:
        """The compact answer a benchmark compares across runs (same label, same text…)."""
        output = unwrap(output)
        while isinstance(output, list) and output:
            output = output[0]
        if isinstance(output, dict):
            for key in ("label", "answer", "entity_group", "entity", "token_str", *TEXT_KEYS):
                if key in output:
                    return output[key]
        return output


@dataclass(frozen=True)
class Labels(OutputKind):
    """Scored labels (classification, fill-mask, zero-shot, QA and VQA answers)."""

    def agreement(self, a: Any, b: Any, *, prompt: str | None = None) -> dict[str, Any]:
        return label_agreement(a, b)

    def top(self, output: Any) -> Any:
        labels = scored_labels(output)
        return labels[0][0] if labels else None


@dataclass(frozen=True)
class Entities(OutputKind):
    """Token classification's entities: a metric scores the list itself (type and words)."""

    def prediction(self, output: Any) -> Any:
        return [{"entity_group": e.get("entity_group") or e.get("entity"), "word": e.get("word")}
                for e in unwrap(output) or [] if isinstance(e, dict)]


@dataclass(frozen=True)
class Text(OutputKind):
    def agreement(self, a: Any, b: Any, *, prompt: str | None = None) -> dict[str, Any]:
        return token_diff(generated_text(a, prompt), generated_text(b, prompt))

    def top(self, output: Any) -> Any:
        return generated_text(output)


@dataclass(frozen=True)
class Embeddings(OutputKind):
    def agreement(self, a: Any, b: Any, *, prompt: str | None = None) -> dict[str, Any]:
        return embedding_agreement(a, b)


@dataclass(frozen=True)
class Boxes(OutputKind):
    def agreement(self, a: Any, b: Any, *, prompt: str | None = None) -> dict[str, Any]:
        return box_agreement(a, b)


_LABELS = ("The labels with their scores (`confidences`), best first.",)
KINDS: dict[str, OutputKind] = {k.name: k for k in (
    Labels("labels", _LABELS),
    Labels("vqa", ("The answers with their scores, best first (a generated answer has no score).",)),
    Labels("answer", ("The context with the answer spans marked (`entity` holds the score).",)),
    Labels("video-labels", (*_LABELS, "The frames the model saw, each with its number and time.")),
    Entities("entities", ("The input text with the entities found (`entity`, `start`, `end`).",)),
    Text("text", ("The generated text (transcript, caption, summary, translation…).",)),
    Embeddings("embeddings", ("One embedding per input (a row per item, or per token without pooling).",
                              "The cosine similarity of every pair of inputs (empty with a single input).")),
    OutputKind("table-answer", ("The answer.", "The table, with the cells the answer used highlighted.")),
    OutputKind("audio", ("The generated audio.",)),
    Boxes("boxes", ("The image with the detected boxes and their labels.",)),
    OutputKind("masks", ("The image with the segment masks and their labels.",)),
    OutputKind("mask-generation", ("The image with the best masks.",)),
    OutputKind("depth", ("The depth map as an image.",)),
)}


def output_kind(name: str) -> OutputKind:
    """The registered output kind ``name``; ``KeyError`` listing the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown output kind {name!r}; known: {', '.join(sorted(KINDS))} (a new task may bring its "
                       "own: workbench.tasks.register(spec, output_kind=...))") from None


def register(kind: OutputKind) -> None:
    """Add a new output kind (a task registered with it uses it); a name already taken fails."""
    if kind.name in KINDS and KINDS[kind.name] is not kind:
        raise ValueError(f"output kind {kind.name!r} is already registered")
    KINDS[kind.name] = kind
