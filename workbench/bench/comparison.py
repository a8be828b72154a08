"""Comparing a run's outputs with a reference run's: the largest numeric difference, the share
of same labels, and — across dtypes — the agreement (cosine or same top label).

>>> compare([{"label": "a", "score": 0.5}], [{"label": "a", "score": 0.25}])
(0.25, 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np


def digest(task: str, output: Any, length: int | None = None) -> Any:
    """A compact, comparable form of one result (the task's ``spec.call.digest``): e.g. feature
    arrays trimmed to real tokens (the plain pipeline pads them to its batch's longest)."""
    from workbench.tasks import get_task

    return get_task(task).call.digest(output, length)


def compare(reference: list[Any], other: list[Any]) -> tuple[float, float]:
    """``(max abs difference of numbers, share of items whose labels/texts are the same)``."""
    worst, same = 0.0, 0
    for ref, out in zip(reference, other):
        d, eq = _diff(ref, out)
        worst = max(worst, d)
        same += eq
    return worst, same / max(1, len(reference))


def _diff(a: Any, b: Any) -> tuple[float, bool]:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if x.shape != y.shape:
            return float("inf"), False
        return float(np.abs(x - y).max(initial=0.0)), True
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return float("inf"), False
        parts = [_diff(a[k], b[k]) for k in a]
        return max((p[0] for p in parts), default=0.0), all(p[1] for p in parts)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return float("inf"), False
        parts = [_diff(x, y) for x, y in zip(a, b)]
        return max((p[0] for p in parts), default=0.0), all(p[1] for p in parts)
    if isinstance(a, (int, float, np.floating)) and isinstance(b, (int, float, np.floating)) \
            and not isinstance(a, bool):
        return abs(float(a) - float(b)), True
    if hasattr(a, "size") and hasattr(a, "mode"):  # PIL images: compare pixels
        return _diff(np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32))
    return 0.0, a == b


def cosines(reference: list[Any], other: list[Any]) -> np.ndarray | None:
    """Per item, the cosine similarity of the (mean-pooled over tokens) embeddings; None when the
    outputs are not embeddings, or not of the same width (another model's)."""
    if not reference or not isinstance(reference[0], np.ndarray):
        return None
    if any(np.asarray(b).shape[-1:] != a.shape[-1:] for a, b in zip(reference, other)):
        return None
    out = []
    for a, b in zip(reference, other):
        u, v = a.reshape(-1, a.shape[-1]).mean(0), np.asarray(b).reshape(-1, a.shape[-1]).mean(0)
        out.append(float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-12)))
    return np.asarray(out)


def _text(result: Any) -> str | None:
    from workbench.output_kinds import generated_text

    first = result[0] if isinstance(result, list) and result else result
    if isinstance(first, list) and first:
        first = first[0]
    if not isinstance(first, dict) or not any(isinstance(first.get(k), str) for k in (
            "generated_text", "summary_text", "translation_text", "text")):
        return None
    return generated_text(result)


def agreement_columns(reference: list[Any], other: list[Any]) -> dict[str, float]:
    """The agreement columns of a benchmark row against the reference outputs: ``cosine_mean`` and
    ``cosine_min`` for embeddings, ``token_match`` (the mean share of matching words,
    ``workbench.compare.token_diff``) for generated text; empty for other outputs."""
    cos = cosines(reference, other)
    if cos is not None and len(cos):
        return {"cosine_mean": round(float(cos.mean()), 5), "cosine_min": round(float(cos.min()), 5)}
    texts = [(_text(a), _text(b)) for a, b in zip(reference, other)]
    if texts and all(a is not None and b is not None for a, b in texts):
        from workbench.output_kinds import token_diff

        return {"token_match": round(float(np.mean([token_diff(a, b)["token_match"] for a, b in texts])), 4)}
    return {}


def agreement(reference: list[Any], other: list[Any]) -> tuple[str, float]:
    """How close a run in another dtype is: mean cosine of (pooled) embeddings, or the share of
    items with the same top label. Returns ``(name, value)``."""
    if reference and isinstance(reference[0], np.ndarray):
        cos = []
        for a, b in zip(reference, other):
            u, v = a.reshape(-1, a.shape[-1]).mean(0), b.reshape(-1, b.shape[-1]).mean(0)
            cos.append(float(u @ v / max(np.linalg.norm(u) * np.linalg.norm(v), 1e-12)))
        return "cosine", float(np.mean(cos))
    tops = [(_top(a), _top(b)) for a, b in zip(reference, other)]
    return "same top label", float(np.mean([x == y for x, y in tops])) if tops else 1.0


def _top(result: Any) -> Any:
    while isinstance(result, list) and result:
        result = result[0]
    if isinstance(result, dict):
        for key in ("label", "answer", "entity_group", "entity", "token_str", "generated_text", "text"):
            if key in result:
                return result[key]
    return result
