"""Fair use of Gradio's queue on a public host: a bound on the jobs one browser session may have
queued or running at once.

Gradio bounds the whole queue (``queue(max_size=...)``) but not one user's share of it: a single
client could fill it and starve everyone else. ``limit_jobs_per_session(demo, 3)`` refuses a
session's next job while it already has three waiting or running; the refusal is the same HTTP 503
Gradio sends for a full queue, so the browser says "This application is currently busy. Please try
again." and ``gradio_client`` raises ``QueueError("Queue is full! Please try again.")`` — a busy
message, never a hang. The response's ``detail`` carries our own message (``busy_message``).

A session is Gradio's ``session_hash``: one browser tab, or one ``gradio_client.Client``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import gradio as gr


def busy_message(limit: int) -> str:
    """What a session over its limit is told.

    >>> "retry" in busy_message(3)
    True
    """
    return (f"You already have {limit} job(s) queued or running on this shared server; wait for one to finish, "
            "then retry.")


def session_jobs(queue: Any, session_hash: str) -> int:
    """How many of ``session_hash``'s events are waiting in ``queue`` or running now."""
    waiting = sum(1 for q in queue.event_queue_per_concurrency_id.values() for e in q.queue
                  if e.session_hash == session_hash)
    running = sum(1 for job in queue.active_jobs if job for e in job if e.session_hash == session_hash)
    return waiting + running


def limit_jobs_per_session(demo: gr.Blocks, limit: int) -> None:
    """Refuse a session's new job while it has ``limit`` jobs queued or running (call after
    ``demo.queue(...)``; see the module docstring for what the user sees)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1 job per session, not {limit}.")
    queue = demo._queue
    push = queue.push
    lock: asyncio.Lock | None = None

    async def push_limited(body: Any, request: Any, username: Any) -> tuple[bool, Any, str]:
        nonlocal lock
        lock = lock or asyncio.Lock()  # made in the server's event loop, on the first job
        async with lock:  # count and enqueue as one step: a burst cannot slip past the count
            if body.session_hash and session_jobs(queue, body.session_hash) >= limit:
                return False, busy_message(limit), "queue_full"
            return await push(body, request, username)

    queue.push = push_limited
