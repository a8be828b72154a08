"""What every event handler of the UI shares: which browser session an event comes from, a
keyword signature so an API endpoint's parameters are named like its widgets, and one mapping
from an exception to what the user sees."""

from __future__ import annotations

import inspect
import logging
from typing import Any, Callable

import gradio as gr

from workbench.errors import WorkbenchError
from workbench.hosting import HostingPolicy
from workbench.messages import redact, unexpected

log = logging.getLogger(__name__)

PROGRESS = gr.Progress()  # Gradio fills a parameter defaulting to this with the event's progress tracker


def session_id(request: gr.Request | None) -> str:
    """The session of ``request`` ('' when there is none: a direct call from Python or a test).

    >>> session_id(None)
    ''
    """
    return getattr(request, "session_hash", None) or ""


def client_id(request: Any, policy: HostingPolicy | None = None) -> str:
    """The address a request comes from ('' when there is none): behind a proxy the policy trusts
    (a Space's), the last address of ``X-Forwarded-For`` — the one that proxy added —, else the
    connection's own. Works on a ``gr.Request`` and on the raw request Gradio's queue sees.

    >>> from types import SimpleNamespace as NS
    >>> r = NS(headers={"x-forwarded-for": "6.6.6.6, 10.0.0.7"}, client=NS(host="10.0.0.1"))
    >>> client_id(r), client_id(r, HostingPolicy(trusted_proxy=True)), client_id(None)
    ('10.0.0.1', '10.0.0.7', '')
    """
    if request is None:
        return ""
    if policy is not None and policy.trusted_proxy:
        forwarded = (getattr(request, "headers", None) or {}).get("x-forwarded-for", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip()
    client = getattr(request, "client", None)
    return str(getattr(client, "host", "") or "")


def named_signature(fn: Callable, keys: list[str], *, request: bool) -> Callable:
    """Give ``fn(**values)`` a signature naming each widget (default ``None``), so the API lists
    them by name (``text``, ``top_k``, ``model``…) and a client may leave out any of them."""
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter("request", positional, annotation=gr.Request)] if request else []
    params.append(inspect.Parameter("progress", positional, default=PROGRESS))
    params += [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=None) for k in keys]
    fn.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return fn


def error_message(exc: BaseException, policy: HostingPolicy | None = None, *,
                  user_errors: tuple[type[BaseException], ...] = (WorkbenchError,)) -> str:
    """What the user reads for a failed event: the user's to fix (``user_errors``) as it is, anything
    else named as unexpected; on a public host (``policy``) without the server's paths.

    >>> error_message(KeyError("no such column"), user_errors=(KeyError,))
    'no such column'
    """
    if isinstance(exc, user_errors):
        text = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else str(exc)  # KeyError quotes its message
    else:
        text = unexpected(exc)
    return redact(text, policy)


def gr_error(exc: BaseException, policy: HostingPolicy | None = None, *,
             user_errors: tuple[type[BaseException], ...] = (WorkbenchError,)) -> gr.Error:
    """``exc`` as a ``gr.Error`` with ``error_message``'s text: the user's own errors with no
    traceback in the log, anything else logged with its traceback.

    >>> gr_error(KeyError("no such column"), user_errors=(KeyError,)).message
    'no such column'
    """
    if isinstance(exc, user_errors):
        return gr.Error(error_message(exc, policy, user_errors=user_errors), print_exception=False)
    log.error("unexpected error in a handler", exc_info=exc)
    return gr.Error(error_message(exc, policy, user_errors=user_errors))
