"""Fair use of Gradio's queue on a public host: bounds on the jobs one browser session, and one
client, may have queued or running at once — counted until their work has really stopped.

Gradio bounds the whole queue (``queue(max_size=...)``) but not one user's share of it: a single
client could fill it and starve everyone else, and a new ``session_hash`` per request would make
a per-session bound worthless. ``limit_jobs(demo, policy, workers)`` refuses a job when its session
already has ``policy.max_jobs_per_session`` jobs waiting or running, when its client (its address:
behind a Space's proxy the forwarded one, ``components.events.client_id``) has
``policy.max_jobs_per_client`` over all its sessions, or when that client alone holds half of the
queue. A run whose browser went away still counts while its worker thread finishes
(``components.runs.Workers``). The refusal is the same HTTP 503 Gradio sends for a full queue, so
the browser says "This application is currently busy. Please try again." and ``gradio_client``
raises ``QueueError("Queue is full! Please try again.")`` — a busy message, never a hang. The
response's ``detail`` carries our own message (``busy_message``).

What is admitted waits in turns (``fair_order``): each endpoint's waiting jobs are served round-robin
by client, so a client's third job waits behind every other client's first and second — one
address with a queue of costly jobs no longer makes everyone behind it wait for all of them. And
what runs is shared by client (``take_in_turn``): at most ``policy.max_running_per_client`` of one
client's jobs run at once (a worker still finishing a cancelled run counts), so on a machine of two
cores one address's admitted jobs cannot hold every core while other users wait — its next job
starts when its last one has stopped, and any other client's waiting job goes first.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any, Callable, Sequence

import gradio as gr

from components.events import client_id
from components.runs import Workers
from workbench.hosting import HostingPolicy


def busy_message(limit: int, who: str = "You") -> str:
    """What a session or client over its limit is told.

    >>> "retry" in busy_message(3)
    True
    """
    return (f"{who} already have {limit} job(s) queued or running on this shared server; wait for one to finish, "
            "then retry.")


def fair_order(events: Sequence[Any], who: Callable[[Any], str]) -> list[Any]:
    """``events`` in turns by ``who`` (their client): every client's first waiting event, in the
    order they came, then every client's second, and so on.

    >>> fair_order(["a1", "a2", "a3", "b1", "c1", "b2"], lambda e: e[0])
    ['a1', 'b1', 'c1', 'a2', 'b2', 'a3']
    """
    turns: Counter[str] = Counter()
    ranked = []
    for i, event in enumerate(events):
        client = who(event)
        ranked.append((turns[client], i, event))
        turns[client] += 1
    return [event for _, _, event in sorted(ranked, key=lambda r: r[:2])]


def _events(queue: Any) -> tuple[list[Any], list[Any]]:
    waiting = [e for q in queue.event_queue_per_concurrency_id.values() for e in q.queue]
    running = [e for job in queue.active_jobs if job for e in job]
    return waiting, running


def session_jobs(queue: Any, session_hash: str, workers: Workers | None = None) -> int:
    """How many of ``session_hash``'s events are waiting in ``queue`` or running now (a run whose
    handler ended while its worker goes on counts as running)."""
    waiting, running = _events(queue)
    mine = sum(1 for e in running if e.session_hash == session_hash)
    live = workers.count(session=session_hash) if workers is not None else 0
    return sum(1 for e in waiting if e.session_hash == session_hash) + max(mine, live)


def client_jobs(queue: Any, client: str, policy: HostingPolicy, workers: Workers | None = None) -> tuple[int, int]:
    """How many events of ``client`` are waiting or running (as ``session_jobs``), and how many of
    them are waiting."""
    waiting, _ = _events(queue)
    queued = sum(1 for e in waiting if client_id(e.request, policy) == client)
    return queued + running_by_client(queue, policy, workers)[client], queued


def running_by_client(queue: Any, policy: HostingPolicy, workers: Workers | None = None) -> Counter[str]:
    """How many jobs each client has running: its events being processed, or its live workers
    (a run whose handler ended while its worker goes on) when there are more of those."""
    _, running = _events(queue)
    counts = Counter(client_id(e.request, policy) for e in running)
    return counts | workers.by_client() if workers is not None else counts  # | keeps the larger count


def take_in_turn(queue: Any, policy: HostingPolicy, workers: Workers | None = None) -> None:
    """Make ``queue`` start a client's waiting job only while that client has fewer than
    ``policy.max_running_per_client`` jobs running; the first job of another client behind it starts
    instead. Only work bounded by a concurrency limit waits (every endpoint that runs a model);
    events without one (the Models tab's refresh) start as before."""
    cap = policy.max_running_per_client
    if cap is None:
        return
    if cap < 1:
        raise ValueError(f"max_running_per_client must be at least 1, not {cap}.")

    def get_events() -> tuple[list[Any], bool, str] | None:  # gradio's Queue.get_events, by client
        running = running_by_client(queue, policy, workers)
        ids = list(queue.event_queue_per_concurrency_id)
        random.shuffle(ids)  # as gradio does: no endpoint always first
        for concurrency_id in ids:
            waiting = queue.event_queue_per_concurrency_id[concurrency_id]
            limit = waiting.concurrency_limit
            if not waiting.queue or (limit is not None and waiting.current_concurrency >= limit):
                continue
            for event in waiting.queue:
                client = client_id(event.request, policy)
                if limit is not None and client and running[client] >= cap:
                    continue  # its client's share is running: the next client's job goes first
                batch = event.fn.batch
                events = [event]
                if batch:
                    events += [e for e in waiting.queue if e is not event and e.fn == event.fn][:event.fn.max_batch_size - 1]
                for taken in events:
                    waiting.queue.remove(taken)
                return events, batch, concurrency_id
        return None

    queue.get_events = get_events


def limit_jobs(demo: gr.Blocks, policy: HostingPolicy, workers: Workers | None = None) -> None:
    """Refuse a job beyond its session's, its client's or its share of the queue, and run one
    client's jobs in turn (call after ``demo.queue(...)``; see the module docstring for what the
    user sees). Each part only where ``policy`` sets its limit: locally, nothing changes."""
    per_session, per_client = policy.max_jobs_per_session, policy.max_jobs_per_client
    for limit in (per_session, per_client):
        if limit is not None and limit < 1:
            raise ValueError(f"job limits must be at least 1, not {limit}.")
    queue = demo._queue
    take_in_turn(queue, policy, workers)
    if not (per_session or per_client):
        return
    push = queue.push
    lock: asyncio.Lock | None = None

    async def push_limited(body: Any, request: Any, username: Any) -> tuple[bool, Any, str]:
        nonlocal lock
        lock = lock or asyncio.Lock()  # made in the server's event loop, on the first job
        async with lock:  # count and enqueue as one step: a burst cannot slip past the count
            if per_session and body.session_hash and session_jobs(queue, body.session_hash, workers) >= per_session:
                return False, busy_message(per_session), "queue_full"
            client = client_id(request, policy)
            if client and (per_client or policy.queue_max_size):
                jobs, queued = client_jobs(queue, client, policy, workers)
                if per_client and jobs >= per_client:
                    return False, busy_message(per_client, "Your address's sessions"), "queue_full"
                if policy.queue_max_size and queued >= policy.queue_max_size // 2:  # room for others
                    return False, busy_message(queued, "Your address's sessions"), "queue_full"
            pushed = await push(body, request, username)
            if pushed[0]:  # the new job waits its turn among the clients waiting on its endpoint
                for waiting in queue.event_queue_per_concurrency_id.values():
                    if len(waiting.queue) > 1:
                        waiting.queue[:] = fair_order(waiting.queue, lambda e: client_id(e.request, policy))
            return pushed

    queue.push = push_limited


def limit_jobs_per_session(demo: gr.Blocks, limit: int, workers: Workers | None = None) -> None:
    """``limit_jobs`` with a per-session bound only."""
    limit_jobs(demo, HostingPolicy(max_jobs_per_session=limit), workers)
