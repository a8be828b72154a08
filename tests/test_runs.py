"""A run's worker thread counts until it has really stopped (``components.runs.Workers``): a browser
that goes away ends the handler at once, but not the work; the group's next run waits for it."""

from __future__ import annotations

import threading
import time

from components.runs import Owner, Result, Workers, Working, drive
from workbench.progress import RunControl


def _stubborn(release: threading.Event, started: threading.Event):
    """A run busy in a step that cannot check for Cancel (a PDF page in a library, a long decode)."""
    def produce():
        started.set()
        release.wait(10)
        yield "done"
    return produce


def test_a_closed_run_counts_until_its_worker_stops_and_the_next_waits_for_it():
    workers, release, started = Workers(), threading.Event(), threading.Event()
    owner = Owner(session="s1", client="10.0.0.1", group="asr", limit=1)
    first = drive(_stubborn(release, started), RunControl(), workers=workers, owner=owner, poll_s=0.05)
    assert isinstance(next(first), Working)
    assert started.wait(5)
    first.close()  # the browser went away: the handler returns, the worker is still in its step
    assert workers.count(session="s1") == workers.count(client="10.0.0.1") == workers.count(group="asr") == 1

    second_started = threading.Event()

    def quick():
        second_started.set()
        yield "second"

    control = RunControl()
    second = drive(quick, control, workers=workers, owner=Owner(session="s2", group="asr", limit=1), poll_s=0.05)
    assert isinstance(next(second), Working) and not second_started.is_set()
    assert control.describe() == "waiting for a cancelled run to stop"  # and the page says so
    release.set()  # the stubborn step ends; the first worker sees it was cancelled and stops
    events = list(second)
    assert second_started.is_set() and [e.value for e in events if isinstance(e, Result)] == ["second"]
    deadline = time.monotonic() + 5
    while workers.count() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert workers.count() == 0


def test_cancel_while_waiting_for_a_slot_ends_the_wait():
    from workbench.errors import RunCancelled

    workers, release, started = Workers(), threading.Event(), threading.Event()
    busy = drive(_stubborn(release, started), RunControl(), workers=workers, owner=Owner(group="g", limit=1),
                 poll_s=0.05)
    next(busy)
    assert started.wait(5)
    control = RunControl()
    waiting = drive(lambda: iter(["never"]), control, workers=workers, owner=Owner(group="g", limit=1), poll_s=0.05)
    next(waiting)
    control.cancel()
    try:
        list(waiting)
        raise AssertionError("the waiting run should have been cancelled")
    except RunCancelled:
        pass
    release.set()
    list(busy)
