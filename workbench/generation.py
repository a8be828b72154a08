"""Streaming text generation that a Stop button can really stop.

``generate`` runs in a worker thread and hands each new token to a collector; a stopping criterion
checks a ``threading.Event`` after every token, so setting the event (or closing the iterator)
ends the ``generate`` call itself, and the thread is joined before the iterator returns.

    import threading
    from transformers import pipeline
    pipe = pipeline("text-generation", offline_model_path("text-generation"))
    for update in stream_generate(pipe, "Hello", stop_event=threading.Event(), max_new_tokens=8):
        print(update.text, update.tokens_per_s)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

from workbench.gen_metrics import RequestTiming

#: The longest the reading side sleeps between checks for new tokens (it is woken on each one).
_POLL_S = 0.1


@dataclass(frozen=True)
class StreamUpdate:
    """The state of a generation after one more piece of text (plain values only)."""

    text: str  # the generated text so far, without the prompt
    new_tokens: int  # tokens generated so far
    elapsed_s: float  # since generate was started
    time_to_first_token_s: float | None  # ``timing.ttft_s`` (``workbench.gen_metrics``, as the Benchmark's)
    tokens_per_s: float | None  # ``timing.tokens_per_s``: tokens per second of decoding, after the first token
    done: bool = False
    stopped: bool = False  # ended because the stop event was set, not by length or EOS
    notes: tuple[str, ...] = ()  # what the stream changed and the user should know (max new tokens lowered)
    timing: RequestTiming | None = None  # the clock readings both numbers come from

    def timings(self) -> dict[str, float]:
        """This update's part of a result's ``timings``: ``inference_s``, ``new_tokens`` and, once
        known, ``time_to_first_token_s`` and ``tokens_per_s``."""
        timings: dict[str, float] = {"inference_s": self.elapsed_s, "new_tokens": self.new_tokens}
        if self.time_to_first_token_s is not None:
            timings["time_to_first_token_s"] = self.time_to_first_token_s
        if self.tokens_per_s is not None:
            timings["tokens_per_s"] = self.tokens_per_s
        return timings


def position_limit(model: Any) -> int | None:
    """The most tokens (prompt + generated) ``model`` takes: its absolute position embeddings'
    count (``max_position_embeddings``, GPT-2's ``n_positions``); ``None`` when it has no such limit."""
    config = getattr(model, "config", None)
    text_config = getattr(config, "get_text_config", None)
    config = text_config() if callable(text_config) else config
    for name in ("max_position_embeddings", "n_positions"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def fit_new_tokens(limit: int | None, prompt_tokens: int, gen_kwargs: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Lower ``max_new_tokens`` (or ``max_length``) in ``gen_kwargs`` so that the prompt plus the new
    tokens fit in ``limit`` positions; returns the kwargs and a note for the user when lowered.
    Raises ``InputError`` when the prompt alone fills the model.

    >>> fit_new_tokens(128, 8, {"max_new_tokens": 200})
    ({'max_new_tokens': 120}, 'max new tokens lowered from 200 to 120: the model takes at most 128 tokens and the prompt has 8.')
    >>> fit_new_tokens(128, 8, {"max_new_tokens": 20})
    ({'max_new_tokens': 20}, None)
    """
    from workbench.errors import InputError

    if limit is None:
        return gen_kwargs, None
    if prompt_tokens >= limit:
        raise InputError(f"The prompt has {prompt_tokens} tokens but the model takes at most {limit} tokens in all: "
                         "shorten the prompt.")
    room = limit - prompt_tokens
    out = dict(gen_kwargs)
    asked = out.get("max_new_tokens")
    if asked is None and out.get("max_length") is not None:
        if out["max_length"] <= limit:
            return out, None
        out["max_length"] = limit
        return out, f"max length lowered from {gen_kwargs['max_length']} to {limit}: the model takes at most {limit} tokens."
    if asked is None or asked <= room:
        return out, None
    out["max_new_tokens"] = room
    return out, (f"max new tokens lowered from {asked} to {room}: the model takes at most {limit} tokens and the "
                 f"prompt has {prompt_tokens}.")


class _Stop:
    """A ``StoppingCriteria``: true for every sequence once either event is set."""

    def __init__(self, *events: threading.Event) -> None:
        self.events = events

    def __call__(self, input_ids, scores, **kwargs) -> Any:
        import torch

        hit = any(e.is_set() for e in self.events)
        return torch.full((input_ids.shape[0],), hit, dtype=torch.bool, device=input_ids.device)


class _Collector:
    """A ``generate`` streamer that only collects new token ids (the reading side decodes them).

    Decoding everything generated so far, rather than printing word by word as
    ``TextIteratorStreamer`` does, gives an update per token even for text without spaces, and
    the text so far is always exactly what a non-streamed call would return at that length.
    """

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.first_token_at: float | None = None
        self.last_token_at: float | None = None
        self.done = False
        self.changed = threading.Condition()
        self._prompt_seen = False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:  # generate's first put() is the prompt
            self._prompt_seen = True
            return
        ids = value.reshape(-1).tolist() if hasattr(value, "reshape") else [int(value)]
        with self.changed:
            now = time.perf_counter()
            if self.first_token_at is None:
                self.first_token_at = now
            self.last_token_at = now
            self.ids.extend(ids)
            self.changed.notify_all()

    def end(self) -> None:
        with self.changed:
            self.done = True
            self.changed.notify_all()


def stream_generate(pipe: Any, prompt: str, *, stop_event: threading.Event,
                    **gen_kwargs: Any) -> Iterator[StreamUpdate]:
    """Generate a continuation of ``prompt`` with ``pipe`` (a text-generation pipeline), yielding
    the text so far as tokens come (one update per token, or per batch of tokens when the reader
    is slower than the model), and a last update with ``done=True``.

    ``gen_kwargs`` are what the pipeline call would take (``max_new_tokens``, ``do_sample``…): the
    pipeline's own generation defaults are applied the same way, so a greedy stream ends with the
    same text as ``pipe(prompt, return_full_text=False, **gen_kwargs)``. More new tokens than the
    model's positions leave room for are lowered to fit (``fit_new_tokens``), said in every
    update's ``notes``; a prompt that alone fills the model raises ``InputError``. Setting ``stop_event``
    ends generation after the current token; closing the iterator early does the same. Either way
    the worker thread has ended when this generator returns.
    """
    from transformers import StoppingCriteriaList

    tokenizer, model = pipe.tokenizer, pipe.model
    if hasattr(pipe, "_prepare_generate_kwargs"):  # the pipeline's defaults (max_new_tokens, pad id…)
        gen_kwargs = pipe._prepare_generate_kwargs(dict(gen_kwargs))
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    gen_kwargs, note = fit_new_tokens(position_limit(model), int(encoded["input_ids"].shape[-1]), gen_kwargs)
    notes = (note,) if note else ()
    closed = threading.Event()
    collector = _Collector()
    stopping = StoppingCriteriaList([_Stop(stop_event, closed)])
    if "stopping_criteria" in gen_kwargs:
        stopping.extend(gen_kwargs.pop("stopping_criteria"))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            model.generate(**encoded, streamer=collector, stopping_criteria=stopping, **gen_kwargs)
        except BaseException as exc:  # re-raised on the reading side
            errors.append(exc)
        finally:
            collector.end()

    start = time.perf_counter()
    worker = threading.Thread(target=work, name="stream-generate", daemon=True)
    worker.start()

    def update(ids: list[int], last: float | None, done: bool = False) -> StreamUpdate:
        now = time.perf_counter()
        timing = RequestTiming(start, collector.first_token_at, last, len(ids))
        text = tokenizer.decode(ids, skip_special_tokens=True)
        return StreamUpdate(text, len(ids), now - start, timing.ttft_s, timing.tokens_per_s, done,
                            stopped=done and stop_event.is_set(), notes=notes, timing=timing)

    seen = 0
    try:
        while True:
            with collector.changed:  # wake on new tokens or the end; several tokens may come at once
                collector.changed.wait_for(lambda: len(collector.ids) != seen or collector.done, timeout=_POLL_S)
                ids, done, last = list(collector.ids), collector.done, collector.last_token_at
            if done:
                break
            if len(ids) != seen:
                seen = len(ids)
                yield update(ids, last)
        worker.join()
        if errors:
            raise errors[0]
        yield update(ids, last, done=True)
    finally:
        closed.set()
        worker.join()
