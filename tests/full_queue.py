"""A hosted app's queue filled by other users, for tests of what still works then (and what is
refused): ``fill_queue(url, size)`` submits slow summaries from three client addresses, one at a
time, and returns their jobs once ``size`` wait in the queue.

One at a time: submitted at once, they could all reach the queue before any started, and the
share a client may hold (half the queue) would refuse so many that it never filled."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

#: A summary that takes seconds even on a fast machine (8 beams, 1024 new tokens, ~5 s on a Zen 3 core; the
#: tiny model never ends early): long enough that no job ends between the queue being seen full and the
#: next call arriving (at 4 beams × 128 tokens, 0.6 s, one did in a full-suite run).
SLOW = {"text": "The stock market fell today, but prices rose last week.", "num_beams": 8, "max_new_tokens": 1024,
        "model": "offline:summarization"}
#: Job states before the server has taken or refused a submission.
_SUBMITTING = {"STARTING", "JOINING_QUEUE"}


def queue_size(url: str) -> int:
    """How many jobs wait in the app's queue (Gradio's own count)."""
    with urllib.request.urlopen(url + "gradio_api/queue/status", timeout=30) as r:
        return json.load(r)["queue_size"]


def fill_queue(url: str, size: int, *, timeout: float = 120.0) -> list[Any]:
    """Submit slow summaries from three addresses in turn (a Space's proxy adds the last
    X-Forwarded-For: no one address may hold half the queue), each once the one before is taken
    or refused, until ``size`` wait; returns every job (cancel them after)."""
    from gradio_client import Client

    clients = [Client(url, verbose=False, headers={"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(1, 4)]
    jobs: list[Any] = []
    deadline = time.monotonic() + timeout
    while queue_size(url) < size:
        assert time.monotonic() < deadline and len(jobs) < 30, "the queue did not fill"
        job = clients[len(jobs) % 3].submit(**SLOW, api_name="/summarization")
        jobs.append(job)
        while not job.done() and job.status().code.name in _SUBMITTING:
            assert time.monotonic() < deadline, "a submission was neither taken nor refused"
            time.sleep(0.05)
    return jobs
