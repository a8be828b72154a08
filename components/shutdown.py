"""Graceful shutdown on SIGTERM (a Space restarting, ``docker stop``, systemd): stop taking jobs,
let the ones in flight finish, then close the server.

``drain_on_sigterm(demo)`` (call after ``demo.queue(...)`` and before ``launch()``, from the main
thread) installs a SIGTERM handler. On the signal, a new job is refused with a busy message
(``SHUTDOWN_MESSAGE``: the same HTTP 503 as a full queue, so browsers say "busy, try again" and
``gradio_client`` raises ``QueueError``); jobs already queued or running finish, for at most
``grace_s`` seconds; then ``demo.close()`` ends ``launch()`` and the process exits normally (status 0). Jobs
still running at the deadline are cut off: their clients see the connection end, and the process
exits at once with status ``EXIT_CUT_OFF``.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from typing import Any

import gradio as gr

from components.runs import Workers

log = logging.getLogger(__name__)

EXIT_CUT_OFF = 3  # the exit status when jobs were still running at the deadline (0 when all finished)
SHUTDOWN_MESSAGE = "The server is shutting down (restarting or being updated): retry in a minute."


def jobs_in_flight(queue: Any, workers: Workers | None = None) -> int:
    """Events waiting in Gradio's ``queue`` plus those running now — or, when more, the runs' worker
    threads still going (a run whose browser went away stops at its next check, after its handler)."""
    waiting = sum(len(q.queue) for q in queue.event_queue_per_concurrency_id.values())
    running = sum(len(job) for job in queue.active_jobs if job)
    return waiting + max(running, workers.count() if workers is not None else 0)


def drain_on_sigterm(demo: gr.Blocks, *, grace_s: float = 25.0, workers: Workers | None = None) -> threading.Event:
    """Install the SIGTERM handler described in the module docstring; returns the event that is set
    when the signal arrives (for tests and logs)."""
    queue = demo._queue
    push = queue.push
    draining = threading.Event()

    async def push_unless_draining(body: Any, request: Any, username: Any) -> tuple[bool, Any, str]:
        if draining.is_set():
            return False, SHUTDOWN_MESSAGE, "queue_full"
        return await push(body, request, username)

    queue.push = push_unless_draining

    def drain() -> None:
        deadline = time.monotonic() + grace_s
        while jobs_in_flight(queue, workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = jobs_in_flight(queue, workers)
        if left:  # a job's thread is still inside torch: leave now (closing first races interpreter exit)
            log.warning("shutdown: %d job(s) still in flight after %.0f s; exiting anyway", left, grace_s)
            logging.shutdown()
            os._exit(EXIT_CUT_OFF)
        log.info("shutdown: every job in flight finished; closing the server")
        demo.close()

    def on_sigterm(signum: int, frame: Any) -> None:
        if draining.is_set():
            return
        draining.set()
        log.info("SIGTERM: taking no new jobs; waiting up to %.0f s for %d in flight", grace_s,
                 jobs_in_flight(queue, workers))
        threading.Thread(target=drain, name="workbench-drain", daemon=True).start()

    signal.signal(signal.SIGTERM, on_sigterm)
    return draining
