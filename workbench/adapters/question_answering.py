"""Extractive question answering, as the transformers 4.57 ``question-answering`` pipeline did it.

A context longer than ``max_seq_len`` tokens is cut into overlapping windows (``doc_stride`` tokens
shared by neighbours); each window is one forward pass. The answer rules are 4.57's
(``QuestionAnsweringPipeline.postprocess``), so the same model and keywords give the same answers:

- per window, start and end logits are soft-maxed over the context tokens and ``[CLS]``; the
  ``2 * top_k + 10`` best (start, end) pairs are kept (``top_k`` when ``align_to_words=False``);
- each pair is widened to whole words (``align_to_words=True``, the default);
- answers with the same text (case-insensitive) are merged across all windows by **adding** their
  scores, keeping the first one's start/end: a phrase that recurs can outrank one higher span;
- a single answer comes back as a dict, several as a list (also when ``top_k > 1``).

    qa = PipelineManager().get("question-answering")
    qa(question="Where does Mary live?", context="Mary lives in London.")
    # -> {'score': 0.0123, 'start': 14, 'end': 20, 'answer': 'London'}
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from transformers import AutoModelForQuestionAnswering

from workbench.adapters.base import Adapter, Features
from workbench.errors import InputError, ModelTaskMismatchError
from workbench.inputs import require_text

#: 4.57's default window length, clamped to the tokenizer's limit when the caller gives none.
DEFAULT_MAX_SEQ_LEN = 384


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
        ``{"question", "context"}`` dict, or a list of such dicts. Like 4.57, a list of one
        question gives one answer, not a list."""
        question, context = kwargs.pop("question", None), kwargs.pop("context", None)
        if len(args) == 2 and question is None and context is None:
            question, context = args
            args = ()
        if args:
            if len(args) != 1 or question is not None or context is not None:
                raise TypeError("call with question= and context=, "
                                "or with one {'question', 'context'} dict or a list of them")
            inputs = args[0]
            items = [inputs] if isinstance(inputs, dict) else list(inputs)
            for item in items:
                if not isinstance(item, dict) or not {"question", "context"} <= set(item):
                    raise InputError("Each question-answering input needs a 'question' and a 'context'.")
            return [{"question": i["question"], "context": i["context"]} for i in items], len(items) == 1, kwargs
        if question is None or context is None:
            raise InputError("Question answering needs both a question and a context.")
        questions = [question] if isinstance(question, str) else list(question)
        contexts = [context] if isinstance(context, str) else list(context)
        if len(questions) == 1 and len(contexts) > 1:
            questions = questions * len(contexts)
        if len(contexts) == 1 and len(questions) > 1:
            contexts = contexts * len(questions)
        if len(questions) != len(contexts):
            raise InputError(f"Got {len(questions)} questions but {len(contexts)} contexts; "
                             "give one context per question.")
        items = [{"question": q, "context": c} for q, c in zip(questions, contexts)]
        return items, len(items) == 1, kwargs

    # -- stages -----------------------------------------------------------------------------

    def sanitize_parameters(self, *, max_seq_len: int | None = None, doc_stride: int | None = None,
                            max_question_len: int = 64, padding: bool | str = "do_not_pad", top_k: int = 1,
                            max_answer_len: int = 15, handle_impossible_answer: bool = False,
                            align_to_words: bool = True) -> tuple[dict, dict, dict]:
        """``max_question_len`` is accepted as 4.57 did; like 4.57 with a fast tokenizer, it has no effect."""
        if top_k < 1:
            raise InputError(f"top_k must be at least 1, got {top_k}.")
        if max_answer_len < 1:
            raise InputError(f"max_answer_len must be at least 1, got {max_answer_len}.")
        pre = {"max_seq_len": max_seq_len, "doc_stride": doc_stride, "padding": padding}
        post = {"top_k": top_k, "max_answer_len": max_answer_len,
                "handle_impossible_answer": handle_impossible_answer, "align_to_words": align_to_words}
        return pre, {}, post

    def model_max_positions(self) -> int | None:
        """The longest window the model's position embeddings take (``None``: no fixed limit)."""
        positions = getattr(self.config, "max_position_embeddings", None)
        return int(positions) if positions else None

    def preprocess(self, item: dict[str, str], *, max_seq_len: int | None = None, doc_stride: int | None = None,
                   padding: bool | str = "do_not_pad") -> list[Features]:
        question = require_text(item["question"], "question")
        context = require_text(item["context"], "context")
        tok = self.tokenizer
        if max_seq_len is None:  # only our own default is clamped, never the caller's value
            max_seq_len = min(tok.model_max_length, DEFAULT_MAX_SEQ_LEN)
        if doc_stride is None:
            doc_stride = min(max_seq_len // 2, 128)
        self._check_windows(question, max_seq_len, doc_stride)
        question_first = tok.padding_side == "right"
        enc = tok(question if question_first else context, context if question_first else question,
                  padding=padding, truncation="only_second" if question_first else "only_first",
                  max_length=max_seq_len, stride=doc_stride, return_token_type_ids=True,
                  return_overflowing_tokens=True, return_offsets_mapping=True)
        ctx_index = 1 if question_first else 0
        names = [n for n in tok.model_input_names if n in enc]
        passes = []
        for w in range(len(enc["input_ids"])):
            ids = np.array(enc["input_ids"][w])
            # p_mask: True where a token cannot be in the answer; [CLS] stays allowed (null answer)
            p_mask = np.array([s != ctx_index for s in enc.sequence_ids(w)], dtype=bool)
            if tok.cls_token_id is not None:
                p_mask[ids == tok.cls_token_id] = False
            if "attention_mask" in enc:
                p_mask |= np.array(enc["attention_mask"][w]) == 0
            features: Features = {n: torch.tensor(enc[n][w]) for n in names}
            features.update(p_mask=p_mask, encoding=enc[w], context=context, context_index=ctx_index)
            passes.append(features)
        return passes

    def _check_windows(self, question: str, max_seq_len: int, doc_stride: int) -> None:
        """Clear messages for window settings that the tokenizer or the model would fail on."""
        tok = self.tokenizer
        if doc_stride > max_seq_len:
            raise InputError(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len}); "
                             "lower doc_stride or raise max_seq_len.")
        positions = self.model_max_positions()
        if positions is not None and max_seq_len > positions:
            raise InputError(f"max_seq_len ({max_seq_len}) is longer than model `{self.name}` takes "
                             f"({positions} positions); choose max_seq_len <= {positions}.")
        q_len = len(tok(question, add_special_tokens=False)["input_ids"])
        room = max_seq_len - q_len - tok.num_special_tokens_to_add(pair=True)
        if room < 1:
            raise InputError(f"The question is {q_len} tokens long, which leaves no room for the context in "
                             f"windows of max_seq_len {max_seq_len}; shorten the question or raise max_seq_len.")
        if doc_stride >= room:
            raise InputError(f"doc_stride ({doc_stride}) must be smaller than the context part of each window "
                             f"({room} tokens = max_seq_len {max_seq_len} - question and special tokens); "
                             "lower doc_stride or raise max_seq_len.")

    def _forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        out = self.model(**batch)
        return {"start_logits": out.start_logits, "end_logits": out.end_logits}

    def postprocess(self, passes: list[Features], *, top_k: int = 1, max_answer_len: int = 15,
                    handle_impossible_answer: bool = False, align_to_words: bool = True) -> Any:
        min_null_score = 1_000_000.0  # large and positive, as 4.57 started
        answers: list[dict[str, Any]] = []
        pre_top_k = top_k * 2 + 10 if align_to_words else top_k  # some candidates merge when aligned
        for p in passes:
            n = len(p["p_mask"])
            starts, ends, scores, min_null_score = select_starts_ends(
                p["start_logits"][:n].numpy(), p["end_logits"][:n].numpy(), p["p_mask"], min_null_score,
                pre_top_k, handle_impossible_answer, max_answer_len)
            context = p["context"]
            for s, e, score in zip(starts, ends, scores):
                a, b = char_span(p["encoding"], int(s), int(e), p["context_index"], align_to_words)
                text = context[a:b]
                same = next((x for x in answers if x["answer"].lower() == text.lower()), None)
                if same is not None:
                    same["score"] += score.item()
                else:
                    answers.append({"score": score.item(), "start": a, "end": b, "answer": text})
        if handle_impossible_answer:
            answers.append({"score": min_null_score, "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda x: x["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers


def select_starts_ends(start: np.ndarray, end: np.ndarray, p_mask: np.ndarray, min_null_score: float,
                       top_k: int, handle_impossible_answer: bool, max_answer_len: int
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """One window's best ``top_k`` (start, end) token pairs and scores, and the updated null score.

    4.57's ``select_starts_ends``: softmax over the allowed tokens (context and ``[CLS]``), the null
    score read at position 0, which is then excluded from spans.
    """
    allowed = ~p_mask
    start = np.where(allowed, start, -10000.0)[None]
    end = np.where(allowed, end, -10000.0)[None]
    start = np.exp(start - start.max(axis=-1, keepdims=True))
    start = start / start.sum()
    end = np.exp(end - end.max(axis=-1, keepdims=True))
    end = end / end.sum()
    if handle_impossible_answer:
        min_null_score = min(min_null_score, (start[0, 0] * end[0, 0]).item())
    start[0, 0] = end[0, 0] = 0.0
    starts, ends, scores = decode_spans(start, end, top_k, max_answer_len, allowed)
    return starts, ends, scores, min_null_score


def decode_spans(start: np.ndarray, end: np.ndarray, top_k: int, max_answer_len: int, allowed: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ``top_k`` best pairs with ``start <= end < start + max_answer_len`` over ``P(start) * P(end)``,
    then only those whose both ends are allowed tokens (4.57's ``decode_spans``, same tie order)."""
    outer = np.matmul(np.expand_dims(start, -1), np.expand_dims(end, 1))
    candidates = np.tril(np.triu(outer), max_answer_len - 1)
    scores_flat = candidates.flatten()
    if top_k == 1:
        idx_sort = [np.argmax(scores_flat)]
    elif len(scores_flat) < top_k:
        idx_sort = np.argsort(-scores_flat)
    else:
        idx = np.argpartition(-scores_flat, top_k)[0:top_k]
        idx_sort = idx[np.argsort(-scores_flat[idx])]
    starts, ends = np.unravel_index(idx_sort, candidates.shape)[1:]
    wanted = np.isin(starts, allowed.nonzero()) & np.isin(ends, allowed.nonzero())
    starts, ends = starts[wanted], ends[wanted]
    return starts, ends, candidates[0, starts, ends]


def char_span(encoding: Any, s: int, e: int, sequence_index: int, align_to_words: bool) -> tuple[int, int]:
    """Character offsets of tokens ``s..e`` in the context, widened to whole words when asked
    (tokens without a word, like ``[CLS]``, keep their own offsets, as in 4.57's ``get_indices``)."""
    if align_to_words:
        try:
            return (encoding.word_to_chars(encoding.token_to_word(s), sequence_index=sequence_index)[0],
                    encoding.word_to_chars(encoding.token_to_word(e), sequence_index=sequence_index)[1])
        except (TypeError, ValueError, IndexError):  # a token outside any word: keep token offsets
            pass
    return encoding.offsets[s][0], encoding.offsets[e][1]
