"""Hidden components behind API endpoints that have no widgets on the page: ``ComponentPool``.

Gradio types an endpoint's parameters and outputs from components: their class, label, initial
value (the parameter's default), API info (type and description) and example. An endpoint with no
trigger (``gr.on(triggers=[], ...)``, as ``gr.api`` makes) can keep all of that on *hidden*
components while the visible widgets are built later (``gr.render``). Most of those components are
the same from one task to the next — the device and dtype menus, the revision box, the raw JSON,
the info line, the code view, Compare's rows —, so the pool keeps one of each: ``twin(component)``
returns the component already taken that is identical to ``component`` (same class, constructor
arguments, properties and API info, apart from where and whether it is shown), or takes
``component`` itself as the first of its kind. A twin keeps only what the API reads: a dropdown
that takes any value keeps its first choice (the API's example value), not the model menu's whole
list (``api_only``). ``render()`` puts the twins in the current Blocks context (a hidden one).

Widgets to take twins of are built with ``pool.detached()``: in a throwaway ``gr.Blocks``, so
that they and the events their builders wire belong to no app until ``twin`` adopts them.

>>> import gradio as gr
>>> pool = ComponentPool()
>>> with gr.Blocks() as demo:
...     with gr.Column(visible=False):
...         with pool.detached():
...             a, b = gr.Textbox(label="Revision", elem_id="x-revision"), gr.Textbox(label="Revision", scale=2)
...             c = gr.Textbox(label="Text")
...         shared = [pool.twin(w) for w in (a, b, c)]
...         pool.render()
>>> shared[0] is shared[1] is a, shared[2] is c, a.elem_id, len(pool), a._id in demo.blocks
(True, True, None, 2, True)
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterator, TypeVar

import gradio as gr

C = TypeVar("C", bound=gr.components.Component)

#: Properties that only place or show a component: twins may differ in them.
PLACEMENT = frozenset({"elem_id", "elem_classes", "visible", "key", "preserved_by_key", "scale", "min_width",
                       "render", "container"})


def twin_key(component: gr.components.Component) -> str:
    """What makes two components interchangeable behind an endpoint: their class, constructor
    arguments and properties (placement aside: ``PLACEMENT``), and API info as input and output."""
    def placed(props: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in props.items() if k not in PLACEMENT}

    cls = type(component)
    return json.dumps([f"{cls.__module__}.{cls.__qualname__}", placed(component.constructor_args),
                       placed(component.get_config()), component.api_info_as_input(),
                       component.api_info_as_output()], sort_keys=True, default=repr)


def api_only(component: C) -> C:
    """Drop from ``component`` what no API client reads: of a single-value dropdown that takes any
    value and whose API info does not list its choices (``components.api_docs.document``: a model
    box typed as a string), every choice but the first — Gradio shows it as the parameter's example,
    and never checks a value against the choices. Returns the component.

    >>> from components.api_docs import STRING, document
    >>> models = document(gr.Dropdown([("A model", "a"), "b"], allow_custom_value=True), "A model.", schema=STRING)
    >>> api_only(models).choices, api_only(gr.Dropdown(["a", "b"], allow_custom_value=True)).choices
    ([('a', 'a')], [('a', 'a'), ('b', 'b')])
    """
    if isinstance(component, gr.Dropdown) and component.allow_custom_value and not component.multiselect \
            and component.type == "value":
        choices, api = component.choices, (component.api_info_as_input(), component.api_info_as_output())
        component.choices = [(value, value) for _, value in choices[:1]]  # its name is never shown
        if (component.api_info_as_input(), component.api_info_as_output()) != api:
            component.choices = choices  # the API lists them
    return component


class ComponentPool:
    """Hidden components shared by endpoints (see the module docstring)."""

    def __init__(self) -> None:
        self._twins: dict[str, gr.components.Component] = {}
        self._scratch: gr.Blocks | None = None

    def __len__(self) -> int:
        return len(self._twins)

    @contextmanager
    def detached(self) -> Iterator[None]:
        """Build widgets, and the events their builders wire, in a throwaway ``gr.Blocks`` (made the
        current one meanwhile; not ``with gr.Blocks()``, which inside an app adds its children to
        the app, and on leaving builds a web app)."""
        from gradio.context import Context, LocalContext

        if LocalContext.renderable.get(None) is not None:
            raise RuntimeError("ComponentPool.detached() is for building an app, not inside gr.render.")
        saved = Context.root_block, Context.block
        self._scratch = self._scratch or gr.Blocks()
        Context.root_block = Context.block = self._scratch
        try:
            yield
        finally:
            Context.root_block, Context.block = saved
            self._scratch.children.clear()  # nothing of it is kept but the twins rendered elsewhere
            self._scratch.default_config.blocks.clear()
            self._scratch.default_config.fns.clear()

    def twin(self, component: C) -> C:
        """The component identical to ``component`` (``twin_key``, after ``api_only``): the one
        already taken, or ``component`` itself, its id and classes dropped (events may name it
        before ``render``)."""
        key = twin_key(api_only(component))
        twin = self._twins.get(key)
        if twin is None:
            component.elem_id, component.elem_classes = None, []
            twin = self._twins[key] = component
        return twin  # type: ignore[return-value]

    def render(self) -> None:
        """Render the twins not rendered yet in the current Blocks context (make it a hidden one)."""
        from gradio.context import get_blocks_context

        blocks = get_blocks_context().blocks
        for twin in self._twins.values():
            if twin._id not in blocks:
                twin.render()
