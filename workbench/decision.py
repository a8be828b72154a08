"""Decision (transformers 5.25's ``decision`` pipeline): typed questions about a state, each answered
with a probability per option from one forward pass per question — by a decision model, or by any
chat model from the next-token logits of the option labels (``Yes``/``No``, ``A``, ``B``…).

A request is ``{"state": ..., "questions": {name: question}}``, a question one of
``{"type": "choice", "instructions": ..., "criteria": {option: description}}``,
``{"type": "score", "instructions": ..., "criteria": [lowest level, ..., highest]}`` or
``{"type": "noul", "instructions": ...}`` (yes/no). The answers are keyed by question name:
``{"type": "choice", "choice", "confidence", "probabilities": {option: p}}``, ``{"type": "score",
"score", "legend", "confidence", "probabilities"}``, ``{"type": "noul", "noul": p(true)}``.

>>> a = {"tone": {"type": "choice", "choice": "calm", "confidence": 0.2, "probabilities": {"calm": 0.6, "angry": 0.4}},
...      "spam": {"type": "noul", "noul": 0.3}}
>>> DECISION.top(a)
{'tone': 'calm', 'spam': False}
>>> answer_rows(a)
[['tone', 'choice', 'calm', 0.2], ['spam', 'noul', 'no (p(yes) = 0.3)', None]]
>>> option_rows(a)[-2:]
[['spam', 'yes', 0.3], ['spam', 'no', 0.7]]
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from workbench.calls import Call, Decoded
from workbench.output_kinds import OutputKind

#: The example request of the tab and the benchmark's questions (any state text fits them).
QUESTIONS: dict[str, Any] = {
    "refund": {"type": "noul", "instructions": "Does the customer ask for a refund?"},
    "tone": {"type": "choice", "instructions": "What is the tone of the message?",
             "criteria": {"calm": "Polite and patient", "angry": "Upset or threatening", "neutral": None}},
    "urgency": {"type": "score", "instructions": "How urgent is it?",
                "criteria": ["Can wait", "This week", "Today"]},
}


def _num(x: Any) -> float:
    return float(f"{float(x):.4g}")


def answer_value(answer: Mapping[str, Any]) -> Any:
    """What an answer decides: the option chosen, the score's level (rounded), or yes/no."""
    kind = answer.get("type")
    if kind == "choice":
        return answer["choice"]
    if kind == "score":
        return round(float(answer["score"]), 2)
    if kind == "noul":
        return float(answer["noul"]) >= 0.5
    return answer


def answer_rows(answers: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    """One row per question: name, type, answer in words, confidence (none for yes/no)."""
    rows = []
    for name, a in (answers or {}).items():
        kind = a.get("type")
        if kind == "noul":
            p = float(a["noul"])
            shown = f"{'yes' if p >= 0.5 else 'no'} (p(yes) = {_num(p)})"
        elif kind == "score":
            legend = a.get("legend") or {}
            level = legend.get(str(round(float(a["score"])))) if legend else None
            shown = f"{_num(a['score'])}" + (f" (≈ {level})" if level else "")
        else:
            shown = str(a.get("choice"))
        confidence = a.get("confidence")
        rows.append([name, kind, shown, None if confidence is None else _num(confidence)])
    return rows


def option_rows(answers: Mapping[str, Mapping[str, Any]]) -> list[list[Any]]:
    """One row per option of every question: question, option (a score's level with its legend), probability."""
    rows = []
    for name, a in (answers or {}).items():
        if a.get("type") == "noul":
            p = float(a["noul"])
            rows += [[name, "yes", _num(p)], [name, "no", _num(1 - p)]]
            continue
        legend = a.get("legend") or {}
        for option, p in (a.get("probabilities") or {}).items():
            label = f"{option}: {legend[option]}" if legend.get(option) else str(option)
            rows.append([name, label, _num(p)])
    return rows


class DecisionCall(Call):
    """``pipe({"state": state, "questions": questions})``."""

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        return pipe({"state": x["state"], "questions": x["questions"]}, **kw)

    def snippet(self, inputs: Sequence[str], exprs: Mapping[str, str], kwargs: Mapping[str, Any]) -> list[str]:
        return [f'result = pipe({{"state": {exprs["state"]}, "questions": {exprs["questions"]}}})']

    def backend(self, pipe: Any, params: dict[str, Any]) -> Any:
        from workbench.task_backends import DecisionBackend

        return DecisionBackend(pipe, params)


class Decision(OutputKind):
    """Answers by question: two outputs agree on the answers they decide and on the probabilities."""

    def agreement(self, a: Any, b: Any, *, prompt: str | None = None) -> dict[str, Any]:
        a, b = a or {}, b or {}
        shared = [q for q in a if q in b]
        same = [q for q in shared if answer_value(a[q]) == answer_value(b[q])]
        pa = {(r[0], r[1]): r[2] for r in option_rows(a)}
        pb = {(r[0], r[1]): r[2] for r in option_rows(b)}
        diff = max((abs(pa[k] - pb[k]) for k in pa if k in pb), default=None)
        return {"questions": [len(a), len(b)], "same_answers": round(len(same) / len(shared), 4) if shared else None,
                "max_probability_diff": None if diff is None else round(diff, 6)}

    def top(self, output: Any) -> Any:
        return {name: answer_value(a) for name, a in (output or {}).items()}


DECISION = Decision("decision", (
    "One row per question: its type, the answer and the confidence.",
    "The probability of every option of every question.",
))
DECISION_CALL = DecisionCall()
