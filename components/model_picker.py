"""The model, revision, device and dtype controls of a task tab.

The model dropdown lists the task's built-in offline model, its presets (marked when cached
locally) and any other cached model that fits the task; any Hub id or local folder can be typed.
Device and dtype list only what this machine has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from components.api_docs import STRING, document
from workbench.offline import OFFLINE_PREFIX, REAL_MODEL, real_weights
from workbench.presets import load_presets
from workbench.tasks import TaskSpec


@dataclass
class ModelWidgets:
    model: gr.Dropdown
    revision: gr.Textbox
    device: gr.Dropdown
    dtype: gr.Dropdown

    keys = ("model", "revision", "device", "dtype")

    @property
    def components(self) -> list[gr.components.Component]:
        return [self.model, self.revision, self.device, self.dtype]


class PrecisionDropdown(gr.Dropdown):
    """The dtype menu: ``gr.Dropdown`` (same browser widget) offering only what this machine runs,
    whose ``preprocess`` refuses any other value — an API call asking for ``int4`` on a CPU — with
    the workbench's own message ("`int4` (4-bit weights) needs a CUDA GPU; on cpu choose `int8`…")
    instead of Gradio's "not in the list of choices"."""

    is_template = True  # the browser side is gr.Dropdown's

    def preprocess(self, payload: Any) -> Any:
        choices = [value for _, value in self.choices]
        if isinstance(payload, str) and payload not in choices:
            raise gr.Error(unavailable_precision(payload, choices), print_exception=False)
        return super().preprocess(payload)


def unavailable_precision(name: str, choices: list[str]) -> str:
    """Why ``name`` is not among this machine's precision ``choices``, and what to pick instead."""
    from workbench.devices import precision_name, resolve_device
    from workbench.errors import WorkbenchError

    try:
        precision_name(name, resolve_device("auto"))
    except WorkbenchError as exc:
        return str(exc)
    return f"`{name}` is not offered here; choose one of {', '.join(choices)}."


def model_choices(spec: TaskSpec, *, cached: set[str] | None = None, offline_tasks: set[str] | None = None,
                  local: list[Any] | None = None, online: bool = True) -> list[tuple[str, str]]:
    """(label, value) pairs for the model dropdown: offline model, presets, other cached models.
    ``online=False`` (the Hub cannot be reached) says so on each preset that is not cached.

    >>> from workbench.tasks import get_task
    >>> model_choices(get_task("fill-mask"), online=False)[1][0].endswith("[on the Hub: cannot load now, offline]")
    True
    """
    cached = cached or set()
    hub = "from the Hub" if online else "on the Hub: cannot load now, offline"
    out: list[tuple[str, str]] = []
    if offline_tasks is None or spec.name in offline_tasks:
        note = (f"real {REAL_MODEL} weights" if real_weights(spec.name)
                else "tiny, random weights, for trying things out")
        out.append((f"{OFFLINE_PREFIX}{spec.name} — built-in offline model ({note})", f"{OFFLINE_PREFIX}{spec.name}"))
    seen = set()
    for m in load_presets(spec.name).models:
        where = "cached" if m.id in cached else hub
        out.append((f"{m.id} — {m.note} [{where}]" if m.note else f"{m.id} [{where}]", m.id))
        seen.add(m.id)
    for m in local or []:
        if m.repo_id not in seen:
            out.append((f"{m.repo_id} [cached]", m.repo_id))
            seen.add(m.repo_id)
    return out


def default_model(spec: TaskSpec, choices: list[tuple[str, str]], *, online: bool) -> str:
    """Online: the first preset (a real model); offline: the built-in model, else the first choice."""
    values = [v for _, v in choices]
    presets = [m.id for m in load_presets(spec.name).models]
    if online and presets:
        return presets[0]
    offline = f"{OFFLINE_PREFIX}{spec.name}"
    return offline if offline in values else (values[0] if values else offline)


def preset_revision(spec: TaskSpec, model: str | None) -> str:
    """The pinned revision of a preset model ('' for others): filled in when the preset is picked."""
    for m in load_presets(spec.name).models:
        if m.id == model:
            return m.revision or ""
    return ""


def build_model_picker(spec: TaskSpec, *, choices: list[tuple[str, str]], value: str, devices: list[str],
                       dtypes: list[str], id_prefix: str | None = None, local_paths: bool = True,
                       device: str | None = None, dtype: str | None = None) -> ModelWidgets:
    """Create the controls (ids ``{task}-model``, ``{task}-revision``, ``{task}-device``, ``{task}-dtype``;
    ``id_prefix`` replaces ``{task}`` for a second picker of the same task, e.g. Chat's). ``device`` and
    ``dtype`` are the menus' first values (default: the first of ``devices``, ``dtypes``).

    ``local_paths=False`` (a public host) says the box takes Hub ids only; the choices should then
    hold no cached or local models either (see ``model_choices``)."""
    task = id_prefix or spec.name
    info = "a preset, a cached model, any Hub id, or a local folder" if local_paths else \
        "a preset, the built-in offline model, or a Hub id"
    with gr.Row():
        model = document(
            gr.Dropdown(choices=choices, value=value, allow_custom_value=True, filterable=True, scale=4,
                        label="Model", info=info, elem_id=f"{task}-model", elem_classes=["wb-model"]),
            "The model: a Hub id (`org/name`), a local folder, or `offline:<task>` for the built-in offline "
            "model; empty: the task's default.", schema=STRING)
        revision = document(
            gr.Textbox(value=preset_revision(spec, value), label="Revision", placeholder="main",
                       info="branch, tag or commit", scale=1, elem_id=f"{task}-revision"),
            "The model's branch, tag or commit on the Hub; empty: main.", schema=STRING)
    with gr.Row():
        # Not filterable: only the listed choices can be picked (typing "float16" must not select bfloat16).
        device = document(gr.Dropdown(choices=devices, value=device or devices[0], label="Device", filterable=False,
                                      elem_id=f"{task}-device"),
                          "Where to run: `auto` picks the fastest device this machine has.")
        dtype = document(PrecisionDropdown(choices=dtypes, value=dtype or dtypes[0], label="dtype", filterable=False,
                                           elem_id=f"{task}-dtype"),
                         "The weights' precision: `auto` picks the device's usual one; `int8` (int8 weights, "
                         "dynamic int8 activations; CPU or CUDA) and `int4` (4-bit weights; CUDA) quantize the "
                         "linear layers with torchao.")
    model.input(lambda m: preset_revision(spec, m), inputs=model, outputs=revision, api_visibility="private",
                queue=False)
    device.input(_dtypes_for, inputs=[device, dtype], outputs=dtype, api_visibility="private", queue=False)
    return ModelWidgets(model, revision, device, dtype)


def _dtypes_for(device: str, current: str) -> Any:
    from workbench.devices import available_dtypes
    from workbench.errors import WorkbenchError

    try:
        choices = available_dtypes(device)
    except WorkbenchError:
        return gr.skip()
    return gr.Dropdown(choices=choices, value=current if current in choices else "auto")
