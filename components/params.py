"""Widgets for a task's call parameters, one per ``Param`` by its kind.

``int``/``float`` with a default and bounds -> slider; without a default -> a text box left empty
for the model's own default (a number box would show, and send, 0); ``bool`` -> checkbox;
``choice`` -> dropdown of exactly its choices (with a "model default" entry when the default is
``None``); ``text``/``labels`` -> textbox. Each widget documents itself in the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from components.api_docs import BOOLEAN, INTEGER, NUMBER, STRING, document
from workbench.errors import InputError
from workbench.tasks import Param, TaskSpec

MODEL_DEFAULT = "(model default)"


def _choice_value(choice: Any) -> str:
    return str(choice)


def _range(p: Param) -> str:
    return f"{p.minimum:g}–{p.maximum:g}" if p.minimum is not None and p.maximum is not None else ""


def describe(p: Param) -> str:
    """The parameter's description in the API docs: what it is, its range and its default.

    >>> describe(Param("top_k", "int", 5, "top k", minimum=1, maximum=50))
    'top k (an integer, 1–50; default 5)'
    >>> describe(Param("temperature", "float", label="temperature", minimum=0.05, maximum=2))
    "temperature (a number, 0.05–2; empty or null: the model's default)"
    """
    kind = {"int": "an integer", "float": "a number", "bool": "true or false", "text": "text",
            "labels": "comma-separated labels"}.get(p.kind)
    if p.kind == "choice":
        kind = "one of " + ", ".join(map(_choice_value, p.choices))
    what = ", ".join(x for x in (kind, _range(p)) if x)
    if p.default is None:
        default = (f"{MODEL_DEFAULT!r} for the model's default" if p.kind == "choice"
                   else "required" if p.required else "empty or null: the model's default")
    else:
        default = f"default {p.default}"
    info = f": {p.info}" if p.info else ""
    return f"{p.label or p.name}{info} ({what}; {default})"


def number_schema(p: Param, *, optional: bool) -> dict[str, Any]:
    """The JSON schema of a number parameter with its bounds, so API and MCP clients see the range
    (``optional``: null too, the model's default).

    >>> number_schema(Param("top_k", "int", 5, minimum=1, maximum=50), optional=False)
    {'type': 'integer', 'minimum': 1, 'maximum': 50}
    >>> number_schema(Param("temperature", "float", minimum=0.05), optional=True)
    {'anyOf': [{'type': 'number', 'minimum': 0.05}, {'type': 'null'}]}
    """
    typed = dict(INTEGER if p.kind == "int" else NUMBER)
    typed.update({k: v for k, v in (("minimum", p.minimum), ("maximum", p.maximum)) if v is not None})
    return {"anyOf": [typed, {"type": "null"}]} if optional else typed


def build_param(task: str, p: Param) -> gr.components.Component:
    """The widget of one parameter (id ``{task}-param-{name}``)."""
    common = dict(label=p.label or p.name, info=p.info or None, elem_id=f"{task}-param-{p.name}")
    doc = describe(p)
    if p.kind in ("int", "float") and p.default is not None and p.minimum is not None and p.maximum is not None:
        return document(gr.Slider(minimum=p.minimum, maximum=p.maximum, value=p.default,
                                  step=p.step or (1 if p.kind == "int" else 0.01), **common),
                        doc, schema=number_schema(p, optional=False))
    if p.kind in ("int", "float"):
        # Empty = the model's default. A text box, because a number box shows (and sends) 0 when empty.
        span = _range(p)
        hint = f"model default{f' ({span})' if span else ''}"
        return document(gr.Textbox(value="", placeholder=hint, max_lines=1, **common), doc,
                        schema=number_schema(p, optional=True))
    if p.kind == "bool":
        return document(gr.Checkbox(value=bool(p.default), label=common["label"], info=common["info"],
                                    elem_id=common["elem_id"]), doc, schema=BOOLEAN)
    if p.kind == "choice":
        choices = [_choice_value(c) for c in p.choices]
        if p.default is None:
            choices = [MODEL_DEFAULT, *choices]
        # filterable=False: a typed value could silently pick another choice ("float16" -> "bfloat16")
        return document(gr.Dropdown(choices=choices, value=MODEL_DEFAULT if p.default is None
                                    else _choice_value(p.default), filterable=False, **common), doc)
    placeholder = "comma-separated, e.g. sports, politics, music" if p.kind == "labels" else None
    return document(gr.Textbox(value=p.default or "", placeholder=placeholder, **common), doc, schema=STRING)


def _number(p: Param, value: Any) -> int | float:
    """A number box's text (a decimal comma accepted) checked by the parameter itself (``Param.coerce``:
    the one validation every endpoint shares), its message saying that empty is allowed."""
    text = str(value).strip().replace(",", ".") if isinstance(value, str) else value
    try:
        return p.coerce(text)
    except InputError as exc:
        raise InputError(f"{str(exc).rstrip('.')} (or leave it empty for the model's default).") from None


def from_ui(p: Param, value: Any) -> Any:
    """A widget value -> the parameter value ``TaskSpec.call_kwargs`` expects (``None`` = not sent).
    Raises ``InputError`` for a number box holding something else than a number in range.

    >>> from_ui(Param("return_timestamps", "choice", choices=("word", True)), "True")
    True
    >>> from_ui(Param("subtask", "choice", choices=("semantic",)), MODEL_DEFAULT) is None
    True
    >>> from_ui(Param("temperature", "float"), " ") is None, from_ui(Param("top_k", "int", 5), 3.0)
    (True, 3)
    """
    if value is None or (isinstance(value, str) and not value.strip()) or value == MODEL_DEFAULT:
        return None
    if p.kind in ("int", "float"):
        return _number(p, value)
    if p.kind == "choice":
        for choice in p.choices:
            if _choice_value(choice) == str(value):
                return choice
        return value
    return value


def to_ui(p: Param, value: Any) -> Any:
    """A parameter value (from a preset example) -> the widget value."""
    if value is None:
        return MODEL_DEFAULT if p.kind == "choice" else ("" if p.kind in ("text", "labels", "int", "float") else None)
    if p.kind == "choice":
        return _choice_value(value)
    if p.kind == "labels" and isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if p.kind in ("int", "float") and p.default is None:
        return str(value)  # a text box
    return value


@dataclass
class ParamWidgets:
    """The parameter widgets of a task: ``params[i]`` is shown by ``components[i]``."""

    spec: TaskSpec
    params: list[Param] = field(default_factory=list)
    components: list[gr.components.Component] = field(default_factory=list)

    reserved: frozenset[str] = frozenset()  # names taken by the inputs and model controls

    @property
    def keys(self) -> list[str]:
        """Python identifiers (they name the API endpoint's parameters): the parameter's name, or
        ``param_<name>`` where an input already has that name."""
        return [f"param_{p.name}" if p.name in self.reserved else p.name for p in self.params]

    def to_service(self, values: dict[str, Any]) -> dict[str, Any]:
        """The ``params`` for ``run_task`` from widget values keyed as ``keys``."""
        out = {}
        for p, key in zip(self.params, self.keys):
            v = from_ui(p, values.get(key))
            if v is not None:
                out[p.name] = v
        return out


def build_params(spec: TaskSpec, *, only: str = "all") -> ParamWidgets:
    """Create widgets for ``spec.params``; ``only="required"``/``"optional"`` builds a subset."""
    w = ParamWidgets(spec)
    for p in spec.params:
        if only == "required" and not p.required or only == "optional" and p.required:
            continue
        w.params.append(p)
        w.components.append(build_param(spec.name, p))
    return w
