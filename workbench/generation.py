"""Streaming text generation that a Stop button can really stop.

``generate`` runs in a worker thread and feeds a ``TextIteratorStreamer``; a stopping criterion
checks a ``threading.Event`` after every token, so setting the event (or closing the iterator)
ends the ``generate`` call itself, and the thread is joined before the iterator returns.

>>> import threading
>>> from transformers import pipeline                                   # doctest: +SKIP
>>> pipe = pipeline("text-generation", offline_model_path("text-generation"))  # doctest: +SKIP
>>> for update in stream_generate(pipe, "Hello", stop_event=threading.Event(), max_new_tokens=8):  # doctest: +SKIP
...     print(update.text, update.tokens_per_s)
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Iterator

#: How long the reading side waits for the next piece of text before checking the worker again.
_POLL_S = 0.1


@dataclass(frozen=True)
class StreamUpdate:
    """The state of a generation after one more piece of text (plain values only)."""

    text: str  # the generated text so far, without the prompt
    new_tokens: int  # tokens generated so far
    elapsed_s: float  # since generate was started
    time_to_first_token_s: float | None
    tokens_per_s: float | None  # new tokens per second of decoding, after the first token
    done: bool = False
    stopped: bool = False  # ended because the stop event was set, not by length or EOS


class _Stop:
    """A ``StoppingCriteria``: true for every sequence once either event is set."""

    def __init__(self, *events: threading.Event) -> None:
        self.events = events

    def __call__(self, input_ids, scores, **kwargs) -> Any:
        import torch

        hit = any(e.is_set() for e in self.events)
        return torch.full((input_ids.shape[0],), hit, dtype=torch.bool, device=input_ids.device)


def _counting_streamer(tokenizer, timeout: float):
    """A ``TextIteratorStreamer`` that also counts new tokens and notes when the first one came."""
    from transformers import TextIteratorStreamer

    class CountingStreamer(TextIteratorStreamer):
        def __init__(self) -> None:
            super().__init__(tokenizer, skip_prompt=True, timeout=timeout, skip_special_tokens=True)
            self.new_tokens = 0
            self.first_token_at: float | None = None

        def put(self, value) -> None:
            if not self.next_tokens_are_prompt:  # the first put() is the prompt
                n = int(value.numel()) if hasattr(value, "numel") else 1
                if self.first_token_at is None and n:
                    self.first_token_at = time.perf_counter()
                self.new_tokens += n
            super().put(value)

    return CountingStreamer()


def stream_generate(pipe: Any, prompt: str, *, stop_event: threading.Event,
                    **gen_kwargs: Any) -> Iterator[StreamUpdate]:
    """Generate a continuation of ``prompt`` with ``pipe`` (a text-generation pipeline), yielding
    the text so far after each decoded piece, and a last update with ``done=True``.

    ``gen_kwargs`` are what the pipeline call would take (``max_new_tokens``, ``do_sample``…): the
    pipeline's own generation defaults are applied the same way, so a greedy stream ends with the
    same text as ``pipe(prompt, return_full_text=False, **gen_kwargs)``. Setting ``stop_event``
    ends generation after the current token; closing the iterator early does the same. Either way
    the worker thread has ended when this generator returns.
    """
    from transformers import StoppingCriteriaList

    tokenizer, model = pipe.tokenizer, pipe.model
    if hasattr(pipe, "_prepare_generate_kwargs"):  # the pipeline's defaults (max_new_tokens, pad id…)
        gen_kwargs = pipe._prepare_generate_kwargs(dict(gen_kwargs))
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(model.device)
    closed = threading.Event()
    streamer = _counting_streamer(tokenizer, timeout=_POLL_S)
    stopping = StoppingCriteriaList([_Stop(stop_event, closed)])
    if "stopping_criteria" in gen_kwargs:
        stopping.extend(gen_kwargs.pop("stopping_criteria"))
    errors: list[BaseException] = []

    def work() -> None:
        try:
            model.generate(**encoded, streamer=streamer, stopping_criteria=stopping, **gen_kwargs)
        except BaseException as exc:  # re-raised on the reading side
            errors.append(exc)
            streamer.end()

    start = time.perf_counter()
    worker = threading.Thread(target=work, name="stream-generate", daemon=True)
    worker.start()
    text = ""

    def update(done: bool = False) -> StreamUpdate:
        now = time.perf_counter()
        first = streamer.first_token_at
        ttft = None if first is None else first - start
        decoding = first is not None and streamer.new_tokens > 1 and now > first
        rate = (streamer.new_tokens - 1) / (now - first) if decoding else None
        return StreamUpdate(text, streamer.new_tokens, now - start, ttft, rate, done,
                            stopped=done and stop_event.is_set())

    try:
        while True:
            try:
                piece = next(streamer)
            except StopIteration:
                break
            except Exception as exc:  # queue.Empty after the poll interval: is the worker still going?
                if type(exc).__name__ != "Empty":
                    raise
                if not worker.is_alive() and streamer.text_queue.empty():
                    break
                continue
            if piece:
                text += piece
                yield update()
        worker.join()
        if errors:
            raise errors[0]
        yield update(done=True)
    finally:
        closed.set()
        worker.join()
