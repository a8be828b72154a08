"""What one step of the GPU check measured, written as it goes (``<work>/<step>.json``), so that a
step killed at its time budget still leaves what it had measured; and the step's clock.

Imports nothing heavy (no torch): the ZeroGPU step must import ``spaces`` before torch.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

#: Seconds a step keeps back from its budget: it stops measuring then, and has this long to write.
MARGIN_S = 8.0


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


class Step:
    """The record of one step: facts (plain values), headline lines for the summary, table rows,
    checks (what must hold: ok or not, and why), what was not available (and why), notes.

    ``status`` at the end: ``failed`` (an error ended it, or every check failed and nothing was
    measured), ``not available`` (nothing could be measured: all of it is missing in this build or
    on this machine), ``partial`` (a check failed, or part of it was cut short or failed), else
    ``ok``."""

    def __init__(self, name: str, title: str, work: Path, budget_s: float) -> None:
        self.path = Path(work) / f"{name}.json"
        self.started = time.monotonic()
        self.deadline = self.started + max(1.0, budget_s - MARGIN_S)
        self._partial = False
        self.data: dict[str, Any] = {
            "step": name, "title": title, "status": "running", "budget_s": budget_s, "seconds": 0.0,
            "short": "", "headline": [], "facts": {}, "rows": [], "checks": [], "unavailable": [], "notes": [],
            "error": None}
        self.save()

    # -- the clock ---------------------------------------------------------------------------

    def left(self) -> float:
        """Seconds left before the step must stop measuring."""
        return self.deadline - time.monotonic()

    def stop_event(self) -> threading.Event:
        """An event set when the step's time is up (for ``run_benchmark``'s ``stop_event``)."""
        event = threading.Event()
        timer = threading.Timer(max(0.0, self.left()), event.set)
        timer.daemon = True
        timer.start()
        return event

    # -- what it found -----------------------------------------------------------------------

    def fact(self, key: str, value: Any) -> None:
        self.data["facts"][key] = value
        self.save()

    def headline(self, text: str) -> None:
        self.data["headline"].append(text)
        self.save()

    def short(self, text: str) -> None:
        """The step's result in one line, for the summary table."""
        self.data["short"] = text
        self.save()

    def note(self, text: str) -> None:
        self.data["notes"].append(text)
        self.save()

    def partial(self, why: str) -> None:
        """Part of the step was cut short or failed: said in a note, and the status is ``partial``."""
        self._partial = True
        self.note(why)

    def unavailable(self, what: str, why: str) -> None:
        self.data["unavailable"].append({"what": what, "why": why})
        self.save()

    def check(self, what: str, ok: bool, detail: str = "") -> bool:
        self.data["checks"].append({"what": what, "ok": bool(ok), "detail": detail})
        self.save()
        return bool(ok)

    def rows(self, rows: list[dict[str, Any]]) -> None:
        self.data["rows"].extend(rows)
        self.save()

    def finish(self, error: BaseException | None = None) -> str:
        if error is not None:
            self.data["error"] = first_line(error)
            self.data["traceback"] = traceback.format_exception(error)[-6:]
            status = "failed"
        elif not self.data["rows"] and not self.data["checks"] and self.data["unavailable"]:
            status = "not available"
        elif not self.data["rows"] and self.data["checks"] and not any(c["ok"] for c in self.data["checks"]):
            status = "failed"  # nothing measured, everything it tried failed
        elif self._partial or not all(c["ok"] for c in self.data["checks"]):
            status = "partial"
        else:
            status = "ok"
        self.data["status"] = status
        self.data["gradio_imported"] = "gradio" in sys.modules
        self.save()
        return status

    def save(self) -> None:
        self.data["seconds"] = round(time.monotonic() - self.started, 1)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.path)
