"""Runs of a task tab as the browser sees them: in a worker thread, watched, cancellable.

``drive(produce, control)`` runs ``produce()`` (an iterator of results: one for most tasks, a
stream for text generation) in its own thread and yields what the event handler should show:
each result as it comes and, while the worker is busy, the run's progress every ``POLL_S``
seconds. Those regular yields are what lets Gradio close the handler when the browser tab goes
away: closing the generator cancels ``control``, and the worker stops at its next check
(``workbench.progress``). ``Sessions`` keeps each browser session's running control (for Cancel)
and its last error message (for the output area, after the toast has faded).
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from workbench.progress import RunControl

POLL_S = 0.25  # seconds between progress updates while a run is busy
MAX_SESSIONS = 256  # error messages kept for sessions that never ask for them (API clients)


@dataclass(frozen=True)
class Working:
    """The worker is still busy: ``control`` says where it is."""

    control: RunControl


@dataclass(frozen=True)
class Result:
    value: Any


@dataclass(frozen=True)
class Owner:
    """Whose work a worker does: the browser session and the client (its address), and which
    group of events it belongs to (Gradio's ``concurrency_id``) with that group's limit."""

    session: str = ""
    client: str = ""
    group: str = ""
    limit: int | None = None


class Workers:
    """Every worker thread doing a run, from its start until it has really stopped.

    Gradio counts an event as running until its handler returns; a handler that the browser
    closed returns at once while its worker thread goes on to the next cancel check. Counted here,
    that work still takes its group's slot (a new run of the group waits for it, ``hold``), still
    counts against its session's and its client's job limits (``components.fair_queue``) and keeps
    a shutdown waiting (``components.shutdown``).
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._live: dict[int, Owner] = {}

    def hold(self, owner: Owner, control: RunControl) -> Iterator[None]:
        """A context manager: wait for a slot of ``owner.group`` (fewer than ``owner.limit`` live
        workers; cancelled while waiting: ``RunCancelled``), then count this thread until the block ends."""
        import contextlib

        @contextlib.contextmanager
        def held() -> Iterator[None]:
            me = threading.get_ident()
            with self._lock:
                while owner.limit is not None and self.count(group=owner.group) >= owner.limit:
                    control.check()
                    control.stage = "waiting for a cancelled run to stop"
                    self._lock.wait(POLL_S)
                self._live[me] = owner
            try:
                yield
            finally:
                with self._lock:
                    self._live.pop(me, None)
                    self._lock.notify_all()

        return held()

    def by_client(self) -> "Counter[str]":
        """Live workers per client."""
        from collections import Counter

        with self._lock:
            return Counter(o.client for o in self._live.values() if o.client)

    def count(self, *, session: str | None = None, client: str | None = None, group: str | None = None) -> int:
        """Live workers of a session, a client or a group (all of them when nothing is named)."""
        with self._lock:
            return sum(1 for o in self._live.values()
                       if (session is None or o.session == session) and (client is None or o.client == client)
                       and (group is None or o.group == group))


def drive(produce: Callable[[], Iterable[Any]], control: RunControl, *, name: str = "run",
          poll_s: float = POLL_S, workers: Workers | None = None,
          owner: Owner = Owner()) -> Iterator[Working | Result]:
    """Run ``produce()`` in a daemon thread named ``name``; yield ``Result``s as it produces them and
    ``Working`` while it works; re-raise its exception here. Closing this iterator early (or an
    exception in the consumer) cancels ``control``, so the worker stops too. With ``workers``, the
    thread is counted for ``owner`` until it has really stopped, and waits for a slot of its group
    first (a cancelled run that has not stopped yet still holds one)."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
            if workers is None:
                for value in produce():
                    events.put(("result", value))
            else:
                with workers.hold(owner, control):
                    for value in produce():
                        events.put(("result", value))
        except BaseException as exc:  # handed to the consumer
            events.put(("error", exc))
        finally:
            events.put(("end", None))

    worker = threading.Thread(target=work, name=name, daemon=True)
    worker.start()
    try:
        while True:
            try:
                kind, value = events.get(timeout=poll_s)
            except queue.Empty:
                yield Working(control)
                continue
            if kind == "result":
                yield Result(value)
            elif kind == "error":
                raise value
            else:
                return
    finally:
        control.cancel()  # no-op after a normal end; stops the worker when the consumer went away


class Sessions:
    """Per browser session: the control of its running run, and its last error message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._controls: dict[str, RunControl] = {}
        self._latest: dict[str, Any] = {}
        self._errors: OrderedDict[str, str] = OrderedDict()

    def start(self, session: str, control: RunControl) -> None:
        with self._lock:
            self._controls[session] = control
            self._latest.pop(session, None)
            self._errors.pop(session, None)

    def update(self, session: str, control: RunControl, latest: Any) -> None:
        """Remember the latest result of ``session``'s run (a stream's text so far)."""
        with self._lock:
            if self._controls.get(session) is control:
                self._latest[session] = latest

    def end(self, session: str, control: RunControl) -> None:
        with self._lock:
            if self._controls.get(session) is control:
                del self._controls[session]
                self._latest.pop(session, None)

    def running(self, session: str) -> bool:
        """Whether ``session`` has a run going."""
        with self._lock:
            return session in self._controls

    def cancel(self, session: str) -> tuple[bool, Any]:
        """Cancel ``session``'s run; returns whether one was running, and its latest result."""
        with self._lock:
            control = self._controls.get(session)
            latest = self._latest.get(session)
        if control is not None:
            control.cancel()
        return control is not None, latest

    def failed(self, session: str, message: str) -> None:
        with self._lock:
            self._errors[session] = message
            self._errors.move_to_end(session)
            while len(self._errors) > MAX_SESSIONS:
                self._errors.popitem(last=False)

    def pop_error(self, session: str) -> str | None:
        with self._lock:
            return self._errors.pop(session, None)
