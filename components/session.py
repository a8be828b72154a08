"""Which browser session an event comes from: the key for per-session state (a stream's Stop, a
benchmark's Cancel)."""

from __future__ import annotations

import gradio as gr


def session_id(request: gr.Request | None) -> str:
    """The session of ``request`` ('' when there is none: a direct call from Python or a test).

    >>> session_id(None)
    ''
    """
    return getattr(request, "session_hash", None) or ""
