"""Extractive question answering, as the transformers 4 ``question-answering`` pipeline did it.

A context longer than ``max_seq_len`` tokens is cut into overlapping windows (``doc_stride`` tokens
shared by neighbours); each window is one forward pass, every window is scored, and the best spans
over all windows come back with character offsets into the original context.

>>> qa = PipelineManager().get("question-answering")                                  # doctest: +SKIP
>>> qa(question="Where does Mary live?", context="Mary lives in London.")            # doctest: +SKIP
{'score': 0.0123, 'start': 14, 'end': 20, 'answer': 'London'}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import AutoModelForQuestionAnswering

from workbench.adapters.base import Adapter, Features
from workbench.errors import InputError, ModelTaskMismatchError
from workbench.inputs import require_text

_NULL = {"score": 0.0, "start": 0, "end": 0, "answer": ""}


class QuestionAnsweringAdapter(Adapter):
    """``AutoModelForQuestionAnswering`` + fast tokenizer -> ``{"score", "start", "end", "answer"}``."""

    task = "question-answering"
    auto_classes = (AutoModelForQuestionAnswering,)

    def check_model(self) -> None:
        if not getattr(self.tokenizer, "is_fast", False):
            raise ModelTaskMismatchError(
                f"Question answering needs a fast (tokenizers-backed) tokenizer for character offsets; "
                f"`{self.name}` has a {type(self.tokenizer).__name__}.")

    # -- inputs -----------------------------------------------------------------------------

    def normalize_inputs(self, *args: Any, **kwargs: Any) -> tuple[list[Any], bool, dict[str, Any]]:
        """Accepts ``(question=, context=)`` (strings or lists), ``("question", "context")``, a
        ``{"question", "context"}`` dict, or a list of such dicts."""
        question, context = kwargs.pop("question", None), kwargs.pop("context", None)
        if len(args) == 2 and question is None and context is None:
            question, context = args
            args = ()
        if args:
            if len(args) != 1 or question is not None or context is not None:
                raise TypeError("call with question= and context=, "
                                "or with one {'question', 'context'} dict or a list of them")
            inputs = args[0]
            single = isinstance(inputs, dict)
            items = [inputs] if single else list(inputs)
            for item in items:
                if not isinstance(item, dict) or not {"question", "context"} <= set(item):
                    raise InputError("Each question-answering input needs a 'question' and a 'context'.")
            return [{"question": i["question"], "context": i["context"]} for i in items], single, kwargs
        if question is None or context is None:
            raise InputError("Question answering needs both a question and a context.")
        single = isinstance(question, str) and isinstance(context, str)
        questions = [question] if isinstance(question, str) else list(question)
        contexts = [context] if isinstance(context, str) else list(context)
        if len(questions) == 1 and len(contexts) > 1:
            questions = questions * len(contexts)
        if len(contexts) == 1 and len(questions) > 1:
            contexts = contexts * len(questions)
        if len(questions) != len(contexts):
            raise InputError(f"Got {len(questions)} questions but {len(contexts)} contexts; "
                             "give one context per question.")
        return [{"question": q, "context": c} for q, c in zip(questions, contexts)], single, kwargs

    # -- stages -----------------------------------------------------------------------------

    def sanitize_parameters(self, *, max_seq_len: int | None = None, doc_stride: int | None = None,
                            top_k: int = 1, max_answer_len: int = 15, handle_impossible_answer: bool = False,
                            align_to_words: bool = True) -> tuple[dict, dict, dict]:
        if top_k < 1:
            raise InputError(f"top_k must be at least 1, got {top_k}.")
        if max_answer_len < 1:
            raise InputError(f"max_answer_len must be at least 1, got {max_answer_len}.")
        pre = {"max_seq_len": max_seq_len, "doc_stride": doc_stride}
        post = {"top_k": top_k, "max_answer_len": max_answer_len,
                "handle_impossible_answer": handle_impossible_answer, "align_to_words": align_to_words}
        return pre, {}, post

    def model_max_length(self) -> int:
        """The longest window the model takes (tokenizer limit, else the config's positions)."""
        limit = self.tokenizer.model_max_length
        positions = getattr(self.config, "max_position_embeddings", None)
        if not limit or limit > 1_000_000:
            limit = positions or 512
        return int(limit)

    def preprocess(self, item: dict[str, str], *, max_seq_len: int | None = None,
                   doc_stride: int | None = None) -> list[Features]:
        question = require_text(item["question"], "question")
        context = require_text(item["context"], "context")
        tok = self.tokenizer
        max_seq_len = min(max_seq_len or 384, self.model_max_length())
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        question_first = tok.padding_side == "right"
        q_len = len(tok(question, add_special_tokens=False)["input_ids"])
        room = max_seq_len - q_len - tok.num_special_tokens_to_add(pair=True)
        if room < 1:
            raise InputError(f"The question is {q_len} tokens long, which leaves no room for the context in "
                             f"windows of max_seq_len {max_seq_len}; shorten the question or raise max_seq_len.")
        if doc_stride >= room:
            raise InputError(f"doc_stride ({doc_stride}) must be smaller than the context part of each window "
                             f"({room} tokens = max_seq_len {max_seq_len} - question and special tokens); "
                             "lower doc_stride or raise max_seq_len.")
        enc = tok(question if question_first else context, context if question_first else question,
                  truncation="only_second" if question_first else "only_first", max_length=max_seq_len,
                  stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True, padding=False)
        ctx_index = 1 if question_first else 0
        names = [n for n in tok.model_input_names if n in enc]
        passes = []
        for w in range(len(enc["input_ids"])):
            ids = enc["input_ids"][w]
            sequence_ids = enc.sequence_ids(w)
            p_mask = np.array([s != ctx_index for s in sequence_ids], dtype=bool)
            cls_index = ids.index(tok.cls_token_id) if tok.cls_token_id in ids else None
            features: Features = {n: torch.tensor(enc[n][w]) for n in names}
            features.update(p_mask=p_mask, cls_index=cls_index, offsets=[tuple(o) for o in enc["offset_mapping"][w]],
                            word_ids=enc.word_ids(w), context=context)
            passes.append(features)
        return passes

    def _forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self.model(**batch)
        return {"start_logits": out.start_logits, "end_logits": out.end_logits}

    def postprocess(self, passes: list[Features], *, top_k: int = 1, max_answer_len: int = 15,
                    handle_impossible_answer: bool = False, align_to_words: bool = True) -> Any:
        best: dict[tuple[int, int], float] = {}
        min_null_score = 1_000_000.0
        for p in passes:
            spans, null_score = window_spans(p, top_k, max_answer_len, align_to_words)
            min_null_score = min(min_null_score, null_score)
            for key, score in spans.items():
                best[key] = max(score, best.get(key, -1.0))
        context = passes[0]["context"]
        answers = [{"score": s, "start": a, "end": b, "answer": context[a:b]} for (a, b), s in best.items()]
        if handle_impossible_answer:
            answers.append({**_NULL, "score": min_null_score})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k] or [dict(_NULL)]
        return answers[0] if top_k == 1 else answers


def window_spans(p: Features, top_k: int, max_answer_len: int, align_to_words: bool
                 ) -> tuple[dict[tuple[int, int], float], float]:
    """The ``top_k`` best distinct character spans of one window, and its null (CLS) score.

    Scores are ``P(start) * P(end)`` with both softmaxes taken over the window's context tokens
    and its CLS token, as the v4 pipeline did; spans run over context tokens only, with
    ``start <= end < start + max_answer_len``.
    """
    undesired = p["p_mask"].copy()
    if p["cls_index"] is not None:
        undesired[p["cls_index"]] = False
    n = len(undesired)
    start = _softmax(np.where(undesired, -10000.0, p["start_logits"][:n].numpy()))
    end = _softmax(np.where(undesired, -10000.0, p["end_logits"][:n].numpy()))
    cls = p["cls_index"]
    null_score = float(start[cls] * end[cls]) if cls is not None else 0.0  # no [CLS]: no null answer
    valid = ~p["p_mask"]
    ok = np.triu(np.tril(np.ones((n, n), dtype=bool), max_answer_len - 1)) & valid[:, None] & valid[None, :]
    starts, ends = np.nonzero(ok)
    flat = start[starts] * end[ends]
    words = _word_chars(p) if align_to_words else {}
    spans: dict[tuple[int, int], float] = {}
    for i in np.argsort(-flat, kind="stable"):
        s, e = int(starts[i]), int(ends[i])
        a, b = p["offsets"][s][0], p["offsets"][e][1]
        ws, we = p["word_ids"][s], p["word_ids"][e]
        if ws in words and we in words:  # widen to whole words, as the v4 pipeline did
            a, b = words[ws][0], words[we][1]
        key = (a, b)
        if key not in spans:
            spans[key] = float(flat[i])
            if len(spans) == top_k:
                break
    return spans, null_score


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def _word_chars(p: Features) -> dict[int, tuple[int, int]]:
    """Word id -> (first char, last char) over the window's context tokens."""
    out: dict[int, tuple[int, int]] = {}
    for i, (w, (a, b)) in enumerate(zip(p["word_ids"], p["offsets"])):
        if w is None or p["p_mask"][i]:
            continue
        lo, hi = out.get(w, (a, b))
        out[w] = (min(lo, a), max(hi, b))
    return out
