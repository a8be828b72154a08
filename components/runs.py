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
class Progress:
    """The worker is still busy: ``control`` says where it is."""

    control: RunControl


@dataclass(frozen=True)
class Result:
    value: Any


def drive(produce: Callable[[], Iterable[Any]], control: RunControl, *, name: str = "run",
          poll_s: float = POLL_S) -> Iterator[Progress | Result]:
    """Run ``produce()`` in a daemon thread named ``name``; yield ``Result``s as it produces them and
    ``Progress`` while it works; re-raise its exception here. Closing this iterator early (or an
    exception in the consumer) cancels ``control``, so the worker stops too."""
    events: queue.Queue[tuple[str, Any]] = queue.Queue()

    def work() -> None:
        try:
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
                yield Progress(control)
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
