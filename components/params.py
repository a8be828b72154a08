"""Widgets for a task's call parameters, one per ``Param`` by its kind.

``int``/``float`` with a default and bounds -> slider; without a default -> an empty number box
(empty = the model's own default); ``bool`` -> checkbox; ``choice`` -> dropdown (with a "model
default" entry when the default is ``None``); ``text``/``labels`` -> textbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from workbench.tasks import Param, TaskSpec

MODEL_DEFAULT = "(model default)"


def _choice_value(choice: Any) -> str:
    return str(choice)


def build_param(task: str, p: Param) -> gr.components.Component:
    """The widget of one parameter (id ``{task}-param-{name}``)."""
    common = dict(label=p.label or p.name, info=p.info or None, elem_id=f"{task}-param-{p.name}")
    if p.kind in ("int", "float") and p.default is not None and p.minimum is not None and p.maximum is not None:
        return gr.Slider(minimum=p.minimum, maximum=p.maximum, value=p.default,
                         step=p.step or (1 if p.kind == "int" else 0.01), **common)
    if p.kind in ("int", "float"):
        # No default: 0 leaves it to the model. Browsers send an empty number box as 0, so the box
        # has no minimum (Gradio would refuse the 0); the range is given in words instead.
        span = f"{p.minimum:g}–{p.maximum:g}; " if p.minimum is not None and p.maximum is not None else ""
        hint = f"{span}0: the model's default"
        return gr.Number(value=p.default, precision=0 if p.kind == "int" else None, placeholder=hint,
                         **{**common, "info": f"{common['info']}; {hint}" if common["info"] else hint})
    if p.kind == "bool":
        return gr.Checkbox(value=bool(p.default), label=common["label"], info=common["info"], elem_id=common["elem_id"])
    if p.kind == "choice":
        choices = [_choice_value(c) for c in p.choices]
        if p.default is None:
            choices = [MODEL_DEFAULT, *choices]
        return gr.Dropdown(choices=choices, value=MODEL_DEFAULT if p.default is None else _choice_value(p.default),
                           **common)
    placeholder = "comma-separated, e.g. sports, politics, music" if p.kind == "labels" else None
    return gr.Textbox(value=p.default or "", placeholder=placeholder, **common)


def from_ui(p: Param, value: Any) -> Any:
    """A widget value -> the parameter value ``TaskSpec.call_kwargs`` expects (``None`` = not sent).

    >>> from_ui(Param("return_timestamps", "choice", choices=("word", True)), "True")
    True
    >>> from_ui(Param("subtask", "choice", choices=("semantic",)), MODEL_DEFAULT) is None
    True
    >>> from_ui(Param("temperature", "float"), 0) is None, from_ui(Param("top_k", "int", 5), 0)
    (True, 0)
    """
    if value is None or value == "" or value == MODEL_DEFAULT:
        return None
    if p.kind in ("int", "float") and p.default is None and value == 0:
        return None
    if p.kind == "choice":
        for choice in p.choices:
            if _choice_value(choice) == str(value):
                return choice
        return value
    return value


def to_ui(p: Param, value: Any) -> Any:
    """A parameter value (from a preset example) -> the widget value."""
    if value is None:
        return MODEL_DEFAULT if p.kind == "choice" else ("" if p.kind in ("text", "labels") else None)
    if p.kind == "choice":
        return _choice_value(value)
    if p.kind == "labels" and isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
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
