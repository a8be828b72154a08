"""Quality on the user's own labelled data: each task's standard metric, from the field's libraries.

A metric compares a run's outputs with references — one per input — and returns plain numbers in
0–100 (percent) or, for errors and correlations, as their libraries give them. Which metric a task
uses is its spec's ``metric`` (``METRICS``); what a prediction is (the top label, the generated text,
the answer, the entities) comes from the task's output kind (``workbench.output_kinds``).

- ``classification``: accuracy and macro-F1 (scikit-learn); references match the model's labels
  case-insensitively, or by id through ``id2label``; a reference the model cannot produce counts as
  wrong and is reported (``Score.notes``).
- ``entities``: entity-level precision, recall and F1 (seqeval's definition: an entity counts when
  its type and its words both match), references as ``"TYPE: words; TYPE: words"`` or a list of
  ``{"entity_group"|"type", "word"|"text"}``.
- ``squad``: SQuAD exact match and F1 (torchmetrics), several acceptable answers separated by ``|``.
- ``asr``: word and character error rates (jiwer), lower is better.
- ``translation``: BLEU and chrF (sacrebleu); ``summary`` adds ROUGE-L (rouge-score).
- ``similarity``: Spearman correlation (scipy) of the cosine of each text pair's embeddings with a
  gold similarity score.
- ``retrieval``: recall@1, @5 and @10 and the mean reciprocal rank (torchmetrics), each query's
  documents ranked by a score (the benchmark's: the cosine of the embeddings), references naming the
  relevant documents' ids separated by ``|``. The headline is recall@5: recall@1 cannot reach 100 for
  a query with several relevant documents, and recall@10 is a large share of a corpus of tens of
  documents; five is a first page of results. An id no document has counts as missed and is
  reported (``Score.notes``).
- object detection (mAP@0.5) is not supported yet: boxes need a reference format of their own.

>>> score("classification", ["POSITIVE", "negative", "NEGATIVE"], ["positive", "NEGATIVE", "neutral"],
...       labels=["NEGATIVE", "POSITIVE"]).values
{'accuracy': 66.67, 'macro_f1': 55.56}
>>> score("asr", ["the cat sat"], ["the cat sat down"]).values
{'wer': 0.25, 'cer': 0.3125}
>>> score("retrieval", [[0.9, 0.1, 0.5]], ["c"], ids=["a", "b", "c"]).values
{'recall@1': 0.0, 'recall@5': 100.0, 'recall@10': 100.0, 'mrr': 50.0}
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from workbench.errors import InputError

#: Metric name -> (what it reports, which value is the headline, whether higher is better).
HEADLINE: Mapping[str, tuple[str, bool]] = {
    "classification": ("accuracy", True), "entities": ("f1", True), "squad": ("f1", True),
    "asr": ("wer", False), "translation": ("chrf", True), "summary": ("rougeL", True),
    "similarity": ("spearman", True), "retrieval": ("recall@5", True),
}

#: The cut-offs retrieval reports recall at (``recall@k``).
RECALL_AT = (1, 5, 10)


@dataclass(frozen=True)
class Score:
    """One metric's values on a run (``values``: name -> number), what it was (``metric``), its
    headline value, and notes for the user (references the model cannot produce…)."""

    metric: str
    values: dict[str, float]
    n: int
    notes: tuple[str, ...] = field(default=())

    @property
    def headline(self) -> tuple[str, float]:
        name, _ = HEADLINE[self.metric]
        return name, self.values[name]

    @property
    def higher_is_better(self) -> bool:
        return HEADLINE[self.metric][1]


def _round(x: float) -> float:
    return round(float(x), 4 if abs(float(x)) < 1.5 else 2)


# ---------------------------------------------------------------------------------------------
# label names


def label_matcher(labels: Sequence[str] | None, id2label: Mapping[Any, str] | None = None) -> Callable[[Any], str | None]:
    """A function that maps a reference (a label name in any case, or an id) to the model's own
    label name, or ``None`` when the model has no such label.

    >>> match = label_matcher(["NEGATIVE", "POSITIVE"], {0: "NEGATIVE", 1: "POSITIVE"})
    >>> match("positive"), match(0), match("1"), match("neutral")
    ('POSITIVE', 'NEGATIVE', 'POSITIVE', None)
    """
    by_name = {str(n).strip().lower(): str(n) for n in labels or ()}
    by_id = {str(k).strip(): str(v) for k, v in (id2label or {}).items()}
    open_set = not by_name and not by_id  # zero-shot: the candidate labels are the references' own

    def match(reference: Any) -> str | None:
        text = str(reference).strip()
        if open_set:
            return text
        return by_name.get(text.lower()) or by_id.get(text)

    return match


def model_matcher(spec: Any, id2label: Mapping[Any, str] | None) -> Callable[[Any], str | None] | None:
    """How references map to one model's label names, for ``spec``'s task (a ``TaskSpec``): through
    its ``id2label`` for a classifier with fixed labels (``label_matcher``); ``None`` — references as
    given — where the labels are the caller's (zero-shot's candidates, fill-mask's tokens) or the
    metric does not score labels."""
    open_set = any(p.name == "candidate_labels" for p in spec.params) or spec.name == "fill-mask"
    if spec.metric != "classification" or open_set or not id2label:
        return None
    return label_matcher(list(id2label.values()), id2label)


def model_id2label(pipe: Any) -> Mapping[Any, str] | None:
    """A pipeline's ``model.config.id2label``, if it has one."""
    return getattr(getattr(getattr(pipe, "model", None), "config", None), "id2label", None)


# ---------------------------------------------------------------------------------------------
# the metrics


def _classification(predicted: Sequence[Any], references: Sequence[Any], *, labels: Sequence[str] | None = None,
                    id2label: Mapping[Any, str] | None = None, **_: Any) -> Score:
    from sklearn.metrics import accuracy_score, f1_score

    match = label_matcher(labels, id2label)
    mapped = [match(r) for r in references]
    unknown = sorted({str(r) for r, m in zip(references, mapped) if m is None})
    gold = [m if m is not None else f"\u0000{r}" for r, m in zip(references, mapped)]  # never equal to a prediction
    pred = [str(p) if p is not None else "" for p in predicted]
    pred = [match(p) or p for p in pred]
    notes = ()
    if unknown:
        count = sum(m is None for m in mapped)
        notes = (f"{count} reference(s) name labels this model does not have ({', '.join(unknown[:8])}"
                 f"{', …' if len(unknown) > 8 else ''}); they count as wrong.",)
    values = {"accuracy": _round(100 * accuracy_score(gold, pred)),
              "macro_f1": _round(100 * f1_score(gold, pred, average="macro", labels=sorted(set(gold)),
                                                zero_division=0))}
    return Score("classification", values, len(gold), notes)


def parse_entities(reference: Any) -> list[tuple[str, str]]:
    """A reference's entities as ``(type, words)``: ``"PER: John Smith; LOC: Paris"``, a JSON list,
    or a list of ``{"entity_group"|"type"|"entity", "word"|"text"}``.

    >>> parse_entities("PER: John Smith; LOC: Paris")
    [('PER', 'John Smith'), ('LOC', 'Paris')]
    """
    if isinstance(reference, str) and reference.strip().startswith("["):
        reference = json.loads(reference)
    if isinstance(reference, str):
        out = []
        for part in filter(None, (p.strip() for p in reference.split(";"))):
            kind, sep, words = part.partition(":")
            if not sep:
                raise InputError(f"An entity reference is `TYPE: words; TYPE: words`; `{part}` has no type.")
            out.append((kind.strip().upper(), words.strip()))
        return out
    out = []
    for e in reference or []:
        if isinstance(e, (list, tuple)) and len(e) == 2:  # already (type, words)
            out.append((str(e[0]).upper(), str(e[1]).strip()))
        else:
            out.append((str(e.get("entity_group") or e.get("type") or e.get("entity")).upper().removeprefix("B-")
                        .removeprefix("I-"), str(e.get("word") or e.get("text")).strip()))
    return out


_WORD = re.compile(r"\w+|[^\w\s]")


def _tags(text: str, entities: Sequence[tuple[str, str]]) -> list[str]:
    """BIO tags over the text's words for entities given by their words (first unused occurrence)."""
    words = _WORD.findall(text)
    tags = ["O"] * len(words)
    for kind, span in entities:
        target = _WORD.findall(span)
        for i in range(len(words) - len(target) + 1):
            if target and [w.lower() for w in words[i:i + len(target)]] == [t.lower() for t in target] \
                    and all(t == "O" for t in tags[i:i + len(target)]):
                tags[i:i + len(target)] = [f"B-{kind}"] + [f"I-{kind}"] * (len(target) - 1)
                break
    return tags


def _entities(predicted: Sequence[Any], references: Sequence[Any], *, texts: Sequence[str] | None = None,
              **_: Any) -> Score:
    from seqeval.metrics import f1_score, precision_score, recall_score

    if texts is None:
        raise ValueError("entity metrics need the input texts")
    gold = [_tags(t, parse_entities(r)) for t, r in zip(texts, references)]
    pred = [_tags(t, parse_entities(p)) for t, p in zip(texts, predicted)]
    values = {"precision": _round(100 * precision_score(gold, pred, zero_division=0)),
              "recall": _round(100 * recall_score(gold, pred, zero_division=0)),
              "f1": _round(100 * f1_score(gold, pred, zero_division=0))}
    return Score("entities", values, len(gold))


def _squad(predicted: Sequence[Any], references: Sequence[Any], **_: Any) -> Score:
    from torchmetrics.functional.text import squad

    preds = [{"prediction_text": str(p or ""), "id": str(i)} for i, p in enumerate(predicted)]
    target = [{"answers": {"answer_start": [0] * len(a), "text": a}, "id": str(i)}
              for i, a in enumerate([str(r).split("|") for r in references])]
    got = squad(preds, target)
    return Score("squad", {"exact_match": _round(got["exact_match"]), "f1": _round(got["f1"])}, len(preds))


def _asr(predicted: Sequence[Any], references: Sequence[Any], **_: Any) -> Score:
    import jiwer

    pred, gold = [str(p or "").strip() for p in predicted], [str(r).strip() for r in references]
    return Score("asr", {"wer": _round(jiwer.wer(gold, pred)), "cer": _round(jiwer.cer(gold, pred))}, len(gold))


def _translation(predicted: Sequence[Any], references: Sequence[Any], **_: Any) -> Score:
    import sacrebleu

    pred, gold = [str(p or "") for p in predicted], [str(r) for r in references]
    values = {"bleu": _round(sacrebleu.corpus_bleu(pred, [gold]).score),
              "chrf": _round(sacrebleu.corpus_chrf(pred, [gold]).score)}
    return Score("translation", values, len(gold))


def _summary(predicted: Sequence[Any], references: Sequence[Any], **_: Any) -> Score:
    from rouge_score import rouge_scorer

    base = _translation(predicted, references)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [scorer.score(str(r), str(p or ""))["rougeL"].fmeasure for p, r in zip(predicted, references)]
    return Score("summary", {**base.values, "rougeL": _round(100 * sum(rouge) / max(1, len(rouge)))}, len(rouge))


def _similarity(predicted: Sequence[Any], references: Sequence[Any], **_: Any) -> Score:
    """``predicted``: the cosine of each pair's embeddings; ``references``: gold similarity scores."""
    from scipy.stats import spearmanr

    gold = [float(r) for r in references]
    rho = spearmanr(list(map(float, predicted)), gold).statistic
    return Score("similarity", {"spearman": _round(0.0 if math.isnan(rho) else 100 * rho)}, len(gold))


def relevant_ids(reference: Any) -> list[str]:
    """The document ids a retrieval reference names, ``|``-separated, in order, each once.

    >>> relevant_ids(" d3 | d7|d3 ")
    ['d3', 'd7']
    """
    return list(dict.fromkeys(p.strip() for p in str(reference or "").split("|") if p.strip()))


def _retrieval(predicted: Sequence[Any], references: Sequence[Any], *, ids: Sequence[str], **_: Any) -> Score:
    """``predicted``: per query, a score for each document of ``ids`` (higher: closer; the benchmark's
    cosines); ``references``: the relevant ids of each query (``relevant_ids``)."""
    import torch
    from torchmetrics.retrieval import RetrievalMRR, RetrievalRecall

    ids = [str(i) for i in ids]
    if not ids:
        raise InputError("There are no documents to rank: retrieval needs the rows without a reference.")
    known = set(ids)
    preds, target, indexes, unknown = [], [], [], []
    for query, (scores, reference) in enumerate(zip(predicted, references)):
        relevant = relevant_ids(reference)
        if len(scores) != len(ids):
            raise ValueError(f"query {query + 1} has {len(scores)} scores for {len(ids)} documents")
        missing = [r for r in relevant if r not in known]
        unknown += missing
        ranked = torch.as_tensor(scores, dtype=torch.float64)
        # torchmetrics counts a document as retrieved only when its score is above 0: scores are
        # shifted to 1 and above (the ranking is the same), and a relevant id no document has is
        # added at 0 — in the query's relevant count, never retrieved
        preds += [ranked - ranked.min() + 1, torch.zeros(len(missing), dtype=torch.float64)]
        target += [torch.tensor([i in relevant for i in ids] + [True] * len(missing))]
        indexes += [torch.full((len(ids) + len(missing),), query)]
    p, t, q = torch.cat(preds), torch.cat(target), torch.cat(indexes)
    # a cut-off beyond the corpus ranks every document (and never the absent ones, whatever the version)
    values = {f"recall@{k}": _round(100 * RetrievalRecall(top_k=min(k, len(ids)))(p, t, indexes=q).item())
              for k in RECALL_AT}
    values["mrr"] = _round(100 * RetrievalMRR()(p, t, indexes=q).item())
    notes = ()
    if unknown:
        names = sorted(set(unknown))
        notes = (f"{len(unknown)} relevant id(s) named by the references belong to no document ({', '.join(names[:8])}"
                 f"{', …' if len(names) > 8 else ''}); they count as missed.",)
    return Score("retrieval", values, len(references), notes)


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = re.compile(r"[^\w\s]")


def normalized(text: Any) -> str:
    """A text as SQuAD compares answers: lower case, no punctuation, no articles, single spaces.

    >>> normalized("The  Eiffel Tower!")
    'eiffel tower'
    """
    return " ".join(_ARTICLES.sub(" ", _PUNCT.sub(" ", str(text or "").lower())).split())


def correct(metric: str, predicted: Any, reference: Any, match: Callable[[Any], str | None] | None = None,
            text: str | None = None) -> bool:
    """Whether one output is right, for a per-row column: the same label (``match``: the model's
    label names, ``label_matcher``), the same entities, or the same text once ``normalized`` (any
    of ``|``-separated answers for ``squad``).

    >>> correct("squad", "the Eiffel tower", "Eiffel Tower|tour Eiffel"), correct("asr", "hello", "Hello!")
    (True, True)
    """
    if metric == "classification":
        match = match or label_matcher(None)
        return match(reference) is not None and match(reference) == (match(predicted) or str(predicted))
    if metric == "entities":
        return sorted(parse_entities(predicted)) == sorted(parse_entities(reference))
    if metric in ("similarity", "retrieval"):
        return False  # a correlation over pairs, a ranking over the corpus: no per-row right or wrong
    answers = str(reference).split("|") if metric == "squad" else [reference]
    return normalized(predicted) in {normalized(a) for a in answers}


METRICS: Mapping[str, Callable[..., Score]] = {
    "classification": _classification, "entities": _entities, "squad": _squad, "asr": _asr,
    "translation": _translation, "summary": _summary, "similarity": _similarity, "retrieval": _retrieval,
}


def check_references(metric: str, references: Sequence[Any], column: str = "references") -> None:
    """Refuse references that cannot be scored by ``metric`` — before any model loads — with what
    is wrong and what is accepted: none at all, empty ones, entity lists that do not parse,
    similarity scores that are not numbers.

    >>> check_references("similarity", ["0.5", "high"], "score")
    Traceback (most recent call last):
    ...
    workbench.errors.InputError: Reference 2 in `score` is `high`; similarity references are numbers (e.g. 0 to 5).
    """
    if not references:
        raise InputError(f"`{column}` holds no references.")
    for i, value in enumerate(references, 1):
        if value is None or (isinstance(value, float) and value != value) or not str(value).strip():
            raise InputError(f"Reference {i} in `{column}` is empty; every labelled row needs one.")
        if metric == "entities":
            try:
                parse_entities(value)
            except (InputError, ValueError) as exc:
                raise InputError(f"Reference {i} in `{column}`: {exc}") from None
        elif metric == "similarity":
            try:
                float(value)
            except (TypeError, ValueError):
                raise InputError(f"Reference {i} in `{column}` is `{value}`; similarity references are numbers "
                                 "(e.g. 0 to 5).") from None


def score(metric: str, predicted: Sequence[Any], references: Sequence[Any], **context: Any) -> Score:
    """``metric`` (a ``METRICS`` name) of ``predicted`` against ``references`` (one each, in order);
    ``context`` gives what the metric needs: ``labels``/``id2label`` (classification), ``texts``
    (entities), ``ids`` (retrieval: the documents that each query's scores rank)."""
    if metric not in METRICS:
        raise KeyError(f"unknown metric {metric!r}; known: {', '.join(METRICS)}")
    if len(predicted) != len(references):
        raise InputError(f"{len(predicted)} outputs but {len(references)} references: give one reference per input.")
    if not references:
        raise InputError("There are no references to score against.")
    return METRICS[metric](list(predicted), list(references), **context)
