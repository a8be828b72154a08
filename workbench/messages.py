"""How an exception becomes words for a person: its first line, the "unexpected error" text, and —
on a public host — the same words without the server's paths.

Every layer that turns an exception into a message uses these (the manager, the service, chat,
jobs, the back-off, the UI's error mapping), so they read the same everywhere.

>>> first_line(ValueError("bad value\\n  at line 3"))
'bad value'
>>> first_line(KeyError())
'KeyError'
>>> with_type(OSError("disk full"))
'OSError: disk full'
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.hosting import HostingPolicy


def first_line(exc: BaseException) -> str:
    """The first non-empty line of ``exc``'s message (quotes a ``KeyError`` adds stripped), else its type's name."""
    text = str(exc).strip().strip("'\"").strip()
    return (text.splitlines() or [type(exc).__name__])[0].strip()


def with_type(exc: BaseException) -> str:
    """``"TypeName: first line"`` (the first line alone when the message is empty)."""
    line = first_line(exc)
    return line if line == type(exc).__name__ else f"{type(exc).__name__}: {line}"


def unexpected(exc: BaseException) -> str:
    """What the user reads for an error that is not theirs to fix (the traceback goes to the log).

    >>> unexpected(RuntimeError("boom"))
    'Unexpected error (RuntimeError): boom. The details are in the server log.'
    """
    return f"Unexpected error ({type(exc).__name__}): {first_line(exc)}. The details are in the server log."


def _server_places() -> list[tuple[str, str]]:
    """Folders whose paths say something about the server, longest first, with what to show instead."""
    from workbench.uploads import upload_dir

    places = {str(upload_dir()): "<upload>", tempfile.gettempdir(): "<tmp>", sys.prefix: "<python>",
              str(Path(__file__).resolve().parent.parent): "<app>", str(Path.home()): "~"}
    for env in ("HF_HOME", "HF_HUB_CACHE", "WORKBENCH_OFFLINE_DIR", "GRADIO_TEMP_DIR"):
        if os.environ.get(env):
            places[os.environ[env]] = f"<{env.lower()}>"
    out = []
    for path, label in places.items():
        for variant in {path, os.path.realpath(path)}:
            if len(variant) > 1:
                out.append((variant.rstrip("/"), label))
    return sorted(out, key=lambda p: -len(p[0]))


_ABSOLUTE = re.compile(r"(?<![\w.:/])/(?:[\w.@+-]+/)+[\w.@+-]*")


def redact(text: str, policy: HostingPolicy | None) -> str:
    """``text`` as a public host may show it: server folders replaced by placeholders and any other
    absolute path by its last part; unchanged when ``policy`` is local (the operator's own machine).

    >>> from workbench.hosting import HostingPolicy
    >>> redact("no file /srv/data/models/x.bin here", HostingPolicy.public())
    'no file …/x.bin here'
    >>> redact("no file /srv/data/x.bin", HostingPolicy.local())
    'no file /srv/data/x.bin'
    """
    if policy is None or not policy.hosted or not text:
        return text
    for path, label in _server_places():
        text = text.replace(path, label)
    return _ABSOLUTE.sub(lambda m: "…/" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)
