"""One task's tab as an app of its own: ``demo_for``, the drop-in for ``gr.Interface.from_pipeline``.

``gr.Interface.from_pipeline(pipe)`` fails on every call with transformers 5. ``demo_for(pipe)``
builds the workbench's tab of ``pipe``'s task instead — its inputs, parameters, output rendering,
preset examples, Compare and named API endpoint (and MCP tool) — and serves ``pipe`` itself (adopted
by a ``PipelineManager``: ``PipelineManager.adopt``). ``demo_for(task, model)`` does the same for a
model the manager loads. A pipeline of a task the registry lacks gets a plain page: its input passed
to the pipeline as it is, its output as JSON, and a note saying so.

    from transformers import pipeline
    from workbench import demo_for
    demo_for(pipeline("text-classification", model="distilbert/distilbert-base-uncased-finetuned-sst-2-english")).launch()
    demo_for("image-classification", "google/vit-base-patch16-224").launch()
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import gradio as gr

from components.api_docs import STRING, document
from components.context import make_context
from components.events import gr_error
from components.fair_queue import limit_jobs
from components.mcp import describe_tools
from components.task_tab import build_task_tab
from workbench.errors import InputError
from workbench.tasks import TASKS, get_task, spec_of_pipeline

if TYPE_CHECKING:
    from workbench.manager import PipelineManager

#: The endpoint (and MCP tool) of a pipeline the registry has no task for.
FALLBACK_API = "predict"


def demo_for(pipeline: Any, model: str | None = None, *, manager: PipelineManager | None = None,
             concurrency_limit: int = 2) -> gr.Blocks:
    """A ``gr.Blocks`` app with the workbench's tab for ``pipeline``, ready to ``launch()``.

    ``pipeline`` is a pipeline object (a ``transformers.Pipeline`` or a workbench adapter), served as
    it is under ``model`` (default: its model's ``name_or_path``) on its own device and dtype; or a
    task name (``"sentiment-analysis"`` works too), with ``model`` the model to load (default: the
    task's default). ``manager`` loads and keeps the models (default: a new ``PipelineManager``; its
    ``policy`` sets the hosted limits). ``concurrency_limit``: runs at the same time.
    """
    from workbench.manager import PipelineManager

    manager = manager or PipelineManager()
    device = dtype = None
    if isinstance(pipeline, str):
        spec = get_task(pipeline)
    else:
        spec = spec_of_pipeline(pipeline)
        if spec is None:
            return _fallback_demo(pipeline, manager, concurrency_limit)
        loaded = manager.adopt(pipeline, task=spec.name, model=model)
        model, device, dtype = loaded.key.model, loaded.key.device, loaded.key.dtype
    policy = manager.policy
    context = make_context(concurrency_limit=concurrency_limit, list_local=policy.allow_local_paths,
                           tasks=[spec.name])
    with gr.Blocks(title=f"{spec.title} · Pipeline Workbench") as demo:
        build_task_tab(spec, manager, context, model=model, device=device, dtype=dtype)
    _finish(demo, manager, context.workers)
    return demo


def _finish(demo: gr.Blocks, manager: PipelineManager, workers: Any = None) -> None:
    """The queue and its hosted bounds, as the app sets them; every endpoint an MCP tool."""
    policy = manager.policy
    demo.queue(max_size=policy.queue_max_size)
    limit_jobs(demo, policy, workers)
    describe_tools(demo)


def fallback_note(pipe: Any) -> str:
    """What the plain page of an unknown pipeline says about itself (Markdown).

    >>> class Mine: task = "my-task"
    >>> "`Mine` (task `my-task`) is not a task of the workbench" in fallback_note(Mine())
    True
    """
    task = getattr(pipe, "task", "") or "unknown"
    return (f"**Note:** `{type(pipe).__name__}` (task `{task}`) is not a task of the workbench, so this page has "
            "no tab for it: the input below goes to the pipeline as it is (a text, or an uploaded file's path), "
            "with the keyword arguments you give, and its output is shown as plain JSON. Tasks with a tab: "
            f"{', '.join(sorted(TASKS))}.")


def _fallback_demo(pipe: Any, manager: PipelineManager, concurrency_limit: int) -> gr.Blocks:
    """The plain page of a pipeline the registry has no task for (see ``fallback_note``)."""
    from workbench.results import to_jsonable
    from workbench.uploads import has_scheme

    policy = manager.policy
    name = type(pipe).__name__
    with gr.Blocks(title=f"{name} · Pipeline Workbench") as demo:
        gr.Markdown(f"### {name}", elem_id="fallback-title")
        gr.Markdown(fallback_note(pipe), elem_id="fallback-note")
        with gr.Row(equal_height=False):
            with gr.Column():
                text = document(gr.Textbox(label="Input", lines=3, elem_id="fallback-input"),
                                "The pipeline's input, as text (used when no file is given).", schema=STRING)
                upload = document(gr.File(label="…or a file (its path is the input)", elem_id="fallback-file"),
                                  "A file for the pipeline (`handle_file(path)`); its path is the input.")
                kwargs = document(gr.Textbox(label="Keyword arguments (JSON object)", value="{}", max_lines=4,
                                             elem_id="fallback-kwargs"),
                                  "Keyword arguments for the call, as a JSON object (`{}`: none).", schema=STRING)
                run = gr.Button("Run", variant="primary", elem_id="fallback-run")
            with gr.Column():
                output = document(gr.JSON(label="Output", elem_id="fallback-output"),
                                  "The pipeline's output as JSON (images and large arrays summarised).")

        def predict(text: str | None, upload: str | None, kwargs: str | None) -> Any:
            try:
                value = upload or (text or "")
                if not value.strip() and not upload:
                    raise InputError("Give an input: a text, or a file.")
                if not upload and not policy.allow_local_paths and (has_scheme(value) or os.path.exists(value)):
                    raise InputError("The input must be a text or an uploaded file: this public workbench passes "
                                     "no paths or URLs to a pipeline it has no tab for.")
                try:
                    options = json.loads(kwargs or "{}")
                except json.JSONDecodeError as exc:
                    raise InputError(f"The keyword arguments are not JSON: {exc}.") from None
                if not isinstance(options, dict):
                    raise InputError("The keyword arguments must be a JSON object, e.g. {\"top_k\": 2}.")
                return to_jsonable(pipe(value, **options))
            except Exception as exc:
                raise gr_error(exc, policy) from exc

        run.click(predict, inputs=[text, upload, kwargs], outputs=output, api_name=FALLBACK_API,
                  api_description=f"Run the {name} pipeline (no workbench tab: input as it is, output as JSON).",
                  concurrency_limit=1)  # a pipeline of unknown kind: one call at a time
    _finish(demo, manager)
    return demo

