"""The Models tab: what is loaded (with unload per row and unload all), online/offline state,
and which preset models are available locally. Unloading is an operator control: on a public host
(``manager.policy.allow_operator_controls`` false) its buttons are hidden and its API endpoints
refuse with a message.

Call ``build_models_tab(manager)`` inside a ``gr.Tab``; the ``ModelsTab`` it returns has the
``refresh`` callback and its ``outputs``, which the app also runs when a page loads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import gradio as gr

from workbench.presets import load_presets
from workbench.tasks import TASKS

if TYPE_CHECKING:
    from workbench.manager import LoadKey, PipelineManager

LOADED_COLUMNS = ["task", "model", "revision", "source", "device", "dtype", "precision", "attention", "parameters",
                  "memory_mb", "load_s", "random_weights"]


def key_label(key: LoadKey) -> str:
    """A readable, unique label of a loaded pipeline: ``task · model @rev · device · dtype``."""
    rev = f" @{key.revision}" if key.revision else ""
    return f"{key.task} · {key.model}{rev} · {key.device} · {key.dtype}"


def count_label(n: Any) -> Any:
    """A parameter count as people read it (anything else as it is).

    >>> count_label(22713216), count_label(4_385_920), count_label(1_234_567_890), count_label(950), count_label(None)
    ('22.7 M', '4.39 M', '1.23 B', '950', None)
    """
    if not isinstance(n, (int, float)) or isinstance(n, bool):
        return n
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:g}"


def loaded_table(manager: PipelineManager) -> Any:
    import pandas as pd

    rows = [e.summary() for e in manager.loaded()]
    rows = [{**row, "parameters": count_label(row.get("parameters"))} for row in rows]  # 22.7 M, not 22713216
    return pd.DataFrame(rows, columns=LOADED_COLUMNS)


def presets_table(cached: Callable[[str, str | None], bool]) -> Any:
    """Every preset model with whether it loads offline (in the local HF cache)."""
    import pandas as pd

    rows = []
    for task in TASKS:
        for m in load_presets(task).models:
            rows.append({"task": task, "model": m.id, "model type": m.model_type, "revision": m.revision or "",
                         "available offline": "yes" if cached(m.id, m.revision) else "no", "note": m.note})
    return pd.DataFrame(rows, columns=["task", "model", "model type", "revision", "available offline", "note"])


OPERATOR_ONLY = ("Unloading models is an operator control, turned off on this public host: other people's "
                 "models would be unloaded too. Loaded models are unloaded least-recently-used first when "
                 "room is needed. Run the workbench on your own machine to unload by hand.")


def status_markdown(online: bool, n_loaded: int) -> str:
    state = "**Online**: the Hugging Face Hub can be reached" if online else \
        "**Offline**: the Hugging Face Hub cannot be reached; only cached and built-in models load"
    return f"{state} · {n_loaded} pipeline(s) loaded"


def unload_all_question(n: int) -> str:
    """What Unload all asks before it unloads ``n`` pipelines.

    >>> unload_all_question(2)
    '**Unload all 2 loaded pipelines?** Their memory is freed; the next run of each loads it again.'
    """
    if n == 1:
        return "**Unload the 1 loaded pipeline?** Its memory is freed; the next run that needs it loads it again."
    return f"**Unload all {n} loaded pipelines?** Their memory is freed; the next run of each loads it again."


@dataclass
class ModelsTab:
    refresh: Callable[[], list[Any]]
    outputs: list[gr.components.Component]


def build_models_tab(manager: PipelineManager) -> ModelsTab:
    """Create the Models tab content."""
    from workbench.hub import hub_reachable
    from workbench.models import cached_snapshot

    operator = manager.policy.allow_operator_controls
    status = gr.Markdown(label="Status", elem_id="models-status")
    loaded = gr.Dataframe(value=loaded_table(manager), interactive=False, elem_id="models-loaded",
                          label="Loaded pipelines" + (" (select a row to unload it)" if operator else ""))
    with gr.Row():
        which = gr.Dropdown(choices=[], label="Pipeline to unload", scale=3, allow_custom_value=True,
                            visible=operator, elem_id="models-which")
        unload = gr.Button("Unload", variant="secondary", visible=operator, elem_id="models-unload")
        unload_all = gr.Button("Unload all", variant="stop", visible=operator, elem_id="models-unload-all")
        refresh_button = gr.Button("Refresh", elem_id="models-refresh")
    with gr.Row(visible=False, elem_id="models-confirm") as confirm_row:  # Unload all asks first
        question = gr.Markdown(elem_id="models-confirm-question")
        confirm = gr.Button("Yes, unload all", variant="stop", scale=0, elem_id="models-unload-all-confirm")
        keep = gr.Button("Keep them", scale=0, elem_id="models-unload-all-keep")
    message = gr.Markdown(label="Message", elem_id="models-message")
    gr.Markdown("#### Preset models")
    presets = gr.Dataframe(label="Presets, and whether each is in the local cache", interactive=False,
                           elem_id="models-presets", wrap=True, elem_classes=["wb-narrow-table"],
                           # shares of the table's width: every column shows on a phone, the long ones wrap
                           column_widths=["16%", "24%", "12%", "10%", "10%", "28%"])

    def refresh() -> list[Any]:
        entries = manager.loaded()
        choices = [key_label(e.key) for e in entries]
        return [status_markdown(hub_reachable(), len(entries)), loaded_table(manager),
                gr.Dropdown(choices=choices, value=choices[-1] if choices else None),
                presets_table(lambda repo, rev: cached_snapshot(repo, rev) is not None)]

    def select_row(evt: gr.SelectData) -> Any:
        entries = manager.loaded()
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return key_label(entries[row].key) if 0 <= row < len(entries) else gr.skip()

    def refuse_unless_operator() -> None:
        if not manager.policy.allow_operator_controls:
            raise gr.Error(OPERATOR_ONLY, print_exception=False)

    def do_unload(pipeline: str | None) -> list[Any]:
        refuse_unless_operator()
        for e in manager.loaded():
            if key_label(e.key) == pipeline:
                manager.unload(e.key)
                return [f"Unloaded {pipeline}.", *refresh()]
        return ["Nothing selected, or it was already unloaded.", *refresh()]

    def ask_unload_all() -> list[Any]:
        refuse_unless_operator()
        n = len(manager.loaded())
        if not n:
            return [gr.Row(visible=False), "", "Nothing is loaded."]
        return [gr.Row(visible=True), unload_all_question(n), ""]

    def do_unload_all() -> list[Any]:
        refuse_unless_operator()
        n = manager.clear()
        return [f"Unloaded {n} pipeline(s).", *refresh()]

    outputs = [status, loaded, which, presets]
    _document(which=which, message=message, status=status, loaded=loaded, presets=presets)
    quick = dict(api_visibility="private", concurrency_limit=None)
    refresh_button.click(refresh, outputs=outputs, **quick)
    loaded.select(select_row, outputs=which, **quick)
    unload.click(do_unload, inputs=which, outputs=[message, *outputs], api_name="unload_model", concurrency_limit=None,
                 api_description="Unload one loaded pipeline, freeing its memory (refused on a public host). Returns "
                                 "a message and the Models tab's refreshed status and tables.")
    # in the tab, Unload all asks first (what is loaded goes for everyone); an API client's call is its own decision
    unload_all.click(ask_unload_all, outputs=[confirm_row, question, message], queue=False, **quick)
    keep.click(lambda: gr.Row(visible=False), outputs=confirm_row, queue=False, **quick)
    confirm.click(lambda: gr.Row(visible=False), outputs=confirm_row, queue=False, **quick)
    confirm.click(do_unload_all, outputs=[message, *outputs], api_name="unload_all_models", concurrency_limit=None,
                  api_description="Unload every loaded pipeline (refused on a public host). Returns a message and "
                                  "the Models tab's refreshed status and tables.")
    return ModelsTab(refresh, outputs)


def _document(**components: gr.components.Component) -> None:
    """How the Models tab's widgets read in the API docs."""
    from components.api_docs import OPTIONAL_STRING, document

    document(components["which"], "The pipeline to unload, as the Models tab lists it: `task · model · device · dtype` "
                                  "(see the `loaded` table).", schema=OPTIONAL_STRING)
    document(components["message"], "What was unloaded.")
    document(components["status"], "Whether the Hub is reachable and how many pipelines are loaded.")
    document(components["loaded"], "The loaded pipelines: task, model, device, dtype asked for, the precision the "
                                   "parameters really have (e.g. `int8 in 36 of 37 linear layers, float32 elsewhere`), the "
                                   "attention implementation, weights' size (quantized weights at their real size).")
    document(components["presets"], "The preset models of every task and whether each is in the local cache.")
