"""Widgets a session builds when it first opens the tab or accordion that holds them.

``when_opened(openers, build)`` calls ``build`` in a ``gr.render`` the first time one of
``openers`` — a ``gr.Tab`` (``select``) or a ``gr.Accordion`` (``expand``) — is opened in a
browser session. Until then neither the app's config (the first page) nor the session's state
holds those widgets: the page's weight, and a session's memory, follow the app's component count
(issues 26 and 27). The opening is seen in the browser alone (a ``js`` function sets a hidden
checkbox, whose ``.change`` fires once: the first time) and the render runs off the queue, so a
tab opens at once, even while the queue is full of other users' runs. The render's event is
private (only the page calls it). Endpoints behind those widgets must exist from the start, on
hidden components (``components.pool``); the widgets ``build`` makes are wired privately.

Gradio infers whether a widget takes input from the events at the app's start, not for widgets a
render builds: ``interactive(inputs, outputs)`` says it.
"""

from __future__ import annotations

from typing import Callable, Iterable

import gradio as gr


def when_opened(openers: Iterable[gr.Tab | gr.Accordion], build: Callable[[], None]) -> None:
    """Call ``build`` (in a ``gr.render``) the first time a session opens one of ``openers``."""
    # set in the browser, where the value lives (nothing waits in the queue): .change fires once,
    # the first time. Not a gr.State: its value lives on the server, and one set by a js function
    # fires .change twice (two renders: what was typed in between is lost); one set by an unqueued
    # server event never does (Gradio 6.31).
    opened = gr.Checkbox(False, visible=False)
    for opener in openers:
        event = opener.expand if isinstance(opener, gr.Accordion) else opener.select
        event(None, js="() => true", outputs=opened, api_visibility="private")

    @gr.render(triggers=[opened.change], queue=False)
    def widgets() -> None:
        build()
    _private_render()


def _private_render() -> None:
    """Make the last ``gr.render``'s event private: Gradio leaves it undocumented, i.e. callable by
    API clients by name; only the page calls it."""
    from gradio.context import get_blocks_context

    config = get_blocks_context()
    for fn in config.fns.values():
        if fn.renderable is config.renderables[-1]:
            fn.api_visibility = "private"


def interactive(inputs: Iterable[gr.components.Component], outputs: Iterable[gr.components.Component] = ()) -> None:
    """Mark ``inputs`` as taking input and ``outputs`` as showing output, where their constructor
    left it to Gradio's inference (which does not run for widgets a ``gr.render`` builds: it would
    show inputs disabled). An explicit ``interactive=`` stays."""
    for components, value in ((inputs, True), (outputs, False)):
        for component in components:
            if component.interactive is None:
                component.interactive = value
