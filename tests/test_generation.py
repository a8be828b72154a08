"""Streaming generation: the stream equals the plain greedy output, and Stop ends the generate call."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.generation import StreamUpdate, stream_generate

PROMPT = "Once upon a time"


@pytest.fixture(scope="module")
def gpt2(manager):
    return manager.get("text-generation", "offline:text-generation")


class _Slow:
    """A stopping criterion that never stops but makes each token take 20 ms, so a test can act mid-stream."""

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        time.sleep(0.02)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool)


def _generate_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "stream-generate"]


def test_stream_equals_greedy_pipeline_output(gpt2):
    updates = list(stream_generate(gpt2, PROMPT, stop_event=threading.Event(), max_new_tokens=24, do_sample=False))
    expected = gpt2(PROMPT, max_new_tokens=24, do_sample=False, return_full_text=False)[0]["generated_text"]
    final = updates[-1]
    assert isinstance(final, StreamUpdate) and final.done and not final.stopped
    assert final.text == expected
    assert 0 < final.new_tokens <= 24
    assert final.time_to_first_token_s is not None and final.time_to_first_token_s >= 0


def test_each_update_is_the_text_of_the_tokens_so_far(gpt2):
    updates = list(stream_generate(gpt2, PROMPT, stop_event=threading.Event(), max_new_tokens=6, do_sample=False,
                                   stopping_criteria=[_Slow()]))
    counts = [u.new_tokens for u in updates[:-1]]
    assert counts == sorted(set(counts)) and len(counts) >= 3  # 20 ms a token: the reader sees most of them
    for u in updates[:-1]:
        alone = gpt2(PROMPT, max_new_tokens=u.new_tokens, do_sample=False, return_full_text=False)
        assert u.text == alone[0]["generated_text"]


def test_stop_event_ends_generate_promptly(gpt2):
    stop = threading.Event()
    stream = stream_generate(gpt2, PROMPT, stop_event=stop, max_new_tokens=100, min_new_tokens=100,
                             do_sample=False, stopping_criteria=[_Slow()])
    first = next(stream)
    assert not first.done
    stop.set()
    t0 = time.perf_counter()
    rest = list(stream)
    assert time.perf_counter() - t0 < 5
    assert rest[-1].done and rest[-1].stopped
    assert rest[-1].new_tokens < 100
    assert not _generate_threads()


def test_closing_the_iterator_joins_the_worker(gpt2):
    stream = stream_generate(gpt2, PROMPT, stop_event=threading.Event(), max_new_tokens=100, min_new_tokens=100,
                             do_sample=False, stopping_criteria=[_Slow()])
    next(stream)
    t0 = time.perf_counter()
    stream.close()
    assert time.perf_counter() - t0 < 1
    assert not _generate_threads()


def test_errors_in_generate_are_raised(gpt2):
    with pytest.raises(Exception):
        list(stream_generate(gpt2, PROMPT, stop_event=threading.Event(), max_new_tokens=4, num_beams=0))
    assert not _generate_threads()


def test_more_new_tokens_than_the_model_has_room_for_are_lowered(gpt2):
    """The offline GPT-2 has 128 positions: the stream generates up to what the prompt leaves, with a
    note, where ``generate`` would fail after the last position."""
    prompt = len(gpt2.tokenizer(PROMPT, add_special_tokens=False)["input_ids"])
    room = 128 - prompt
    updates = list(stream_generate(gpt2, PROMPT, stop_event=threading.Event(), max_new_tokens=300,
                                   min_new_tokens=room, do_sample=False))
    assert updates[-1].done and updates[-1].new_tokens == room
    assert all(u.notes == (f"max new tokens lowered from 300 to {room}: the model takes at most 128 tokens and the "
                           f"prompt has {prompt}.",) for u in updates)
    fits = list(stream_generate(gpt2, PROMPT, stop_event=threading.Event(), max_new_tokens=4, do_sample=False))
    assert fits[-1].notes == ()
