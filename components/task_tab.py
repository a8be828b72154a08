"""The one generic task tab: inputs, parameters, model controls, Run, native output, raw JSON,
timings and the equivalent code — all derived from the task's ``TaskSpec``.

``build_task_tab(spec, manager, context)`` creates the widgets in the current Blocks context and
wires Run as the named API endpoint ``/{spec.api_name}``. Text generation streams, with Stop.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

import gradio as gr

from components.events import PROGRESS, gr_error, named_signature, session_id
from components.examples import build_examples
from components.inputs import InputWidgets, build_inputs
from components.model_picker import ModelWidgets, build_model_picker, default_model, model_choices
from components.outputs import Renderer, renderer_for
from components.params import ParamWidgets, build_params
from workbench.tasks import TaskSpec
from workbench.zerogpu import gpu  # a GPU for each run on a ZeroGPU Space; a no-op elsewhere

if TYPE_CHECKING:
    from workbench.manager import PipelineManager
    from workbench.service import RunResult


@dataclass(frozen=True)
class TabContext:
    """What every tab shares, computed once by the app: machine and model availability."""

    devices: list[str]
    dtypes: list[str]
    online: bool
    offline_tasks: frozenset[str]
    cached: frozenset[str] = frozenset()  # repo ids in the local HF cache
    local_models: dict[str, list[Any]] = field(default_factory=dict)  # task -> CachedModel list
    concurrency_limit: int = 2


def timings_markdown(result: RunResult) -> str:
    """The info line under an output: model, device/dtype, timings, notes."""
    t = result.timings
    parts = [f"**{result.model}** on `{result.device}` · `{result.dtype}`",
             f"load {t.get('load_s', 0):.2f} s" + (" (already loaded)" if not t.get("load_s") else "")]
    if "inputs_s" in t:
        parts.append(f"inputs {t['inputs_s']:.2f} s")
    if "inference_s" in t:
        parts.append(f"preprocess + inference {t['inference_s']:.3f} s")
    if "time_to_first_token_s" in t:
        parts.append(f"first token {t['time_to_first_token_s']:.3f} s")
    if "tokens_per_s" in t:
        parts.append(f"{t['tokens_per_s']:.1f} tokens/s")
    if "new_tokens" in t:
        parts.append(f"{int(t['new_tokens'])} new tokens")
    if not result.done:
        parts.append("generating…")
    elif result.stopped:
        parts.append("**stopped**")
    lines = [" · ".join(parts), *result.notes]
    lines += [f"> ⚠ {w}" for w in result.warnings]
    return "\n\n".join(lines)


@dataclass
class TaskTab:
    """A built task tab: its widgets and the callbacks behind Run (callable directly in tests)."""

    spec: TaskSpec
    manager: PipelineManager
    inputs: InputWidgets
    params: ParamWidgets
    picker: ModelWidgets
    renderer: Renderer
    raw_json: gr.JSON
    info: gr.Markdown
    code: gr.Code
    run_button: gr.Button
    stop_button: gr.Button | None = None
    _stops: dict[str, threading.Event] = field(default_factory=dict)  # session -> its stream's stop event
    _last: dict[str, RunResult] = field(default_factory=dict)  # session -> its stream's latest result
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def keys(self) -> list[str]:
        return [*self.inputs.keys, *self.params.keys, *self.picker.keys]

    @property
    def in_components(self) -> list[gr.components.Component]:
        return [*self.inputs.components, *self.params.components, *self.picker.components]

    @property
    def out_components(self) -> list[gr.components.Component]:
        return [*self.renderer.components, self.raw_json, self.info, self.code]

    def _request(self, named: dict[str, Any]) -> tuple[dict, dict, dict]:
        # model and revision go as typed: the manager's key is the one place they are normalised
        options = {k: named.get(k) for k in self.picker.keys}
        options["device"] = options["device"] or "auto"
        options["dtype"] = options["dtype"] or "auto"
        return self.inputs.to_service(named), self.params.to_service(named), options

    def outputs(self, result: RunResult) -> list[Any]:
        """Widget values for a result, in ``out_components`` order."""
        return [*self.renderer.values(result), result.json(), timings_markdown(result), result.code]

    def _announce_load(self, options: dict[str, Any], progress: Callable[..., Any] | None) -> None:
        """Tell the user a model is being loaded (first use) through Gradio's progress indicator."""
        if progress is None:
            return
        try:
            key = self.manager.key(self.spec.name, options["model"], revision=options["revision"],
                                   device=options["device"], dtype=options["dtype"])
        except Exception:  # a bad device/dtype: run_task reports it properly
            return
        if all(e.key != key for e in self.manager.loaded()):
            progress(0, desc=f"Loading {key.model} on {key.device} (first use)…")

    def run(self, named: dict[str, Any], progress: Callable[..., Any] | None = None) -> list[Any]:
        """Run once from widget values keyed as ``keys``; user errors become ``gr.Error``."""
        from workbench.service import run_task

        inputs, params, options = self._request(named)
        self._announce_load(options, progress)
        try:
            return self.outputs(run_task(self.manager, self.spec.name, inputs, params, **options))
        except Exception as exc:
            raise gr_error(exc) from exc

    def stream(self, named: dict[str, Any], session: str = "",
               progress: Callable[..., Any] | None = None) -> Iterator[list[Any]]:
        """Like ``run`` but yields outputs as text is generated; ``stop(session)`` ends it."""
        from workbench.service import stream_task

        inputs, params, options = self._request(named)
        self._announce_load(options, progress)
        event = threading.Event()
        with self._lock:
            self._stops[session] = event
        try:
            for result in stream_task(self.manager, self.spec.name, inputs, params, stop_event=event, **options):
                if event.is_set() and not result.done:
                    continue  # after Stop only the final update is shown
                with self._lock:
                    self._last[session] = result
                yield self.outputs(result)
        except Exception as exc:
            raise gr_error(exc) from exc
        finally:
            with self._lock:
                if self._stops.get(session) is event:
                    del self._stops[session]
                    self._last.pop(session, None)

    def stop(self, session: str = "") -> str | None:
        """Stop the stream running for ``session`` (the generate call ends after the current token);
        returns the info line of its latest update, marked stopped (``None`` when nothing ran)."""
        from dataclasses import replace

        with self._lock:
            event = self._stops.get(session)
            last = self._last.get(session)
        if event is not None:
            event.set()
        return timings_markdown(replace(last, done=True, stopped=True)) if last is not None else None


def _wire(tab: TaskTab, concurrency_limit: int) -> None:
    # Keyword inputs: the API endpoint's parameters are named like the widgets (text, top_k, model…).
    common = dict(inputs_kwargs=dict(zip(tab.keys, tab.in_components)), outputs=tab.out_components,
                  api_name=tab.spec.api_name, api_description=f"{tab.spec.title}: {tab.spec.description}",
                  concurrency_limit=concurrency_limit, concurrency_id=tab.spec.name)
    if tab.stop_button is not None:
        def stream(request: gr.Request, progress: gr.Progress = PROGRESS, **values: Any) -> Iterator[list[Any]]:
            yield from tab.stream(values, session_id(request), progress)

        def stop(request: gr.Request) -> Any:
            info = tab.stop(session_id(request))
            return gr.skip() if info is None else info

        tab.run_button.click(gpu(named_signature(stream, tab.keys, request=True)), **common)
        # Stop sets the stream's event: generate ends after the current token and the stream sends
        # its last update, marked stopped. No `cancels=[event]`: a cancelled stream's outputs are
        # wiped and flagged "Error" by Gradio, so the text generated so far would be lost.
        tab.stop_button.click(stop, inputs=None, outputs=tab.info, queue=False, api_name=f"{tab.spec.api_name}_stop")
    else:
        def run(progress: gr.Progress = PROGRESS, **values: Any) -> list[Any]:
            return tab.run(values, progress)

        tab.run_button.click(gpu(named_signature(run, tab.keys, request=False)), **common)


def build_task_tab(spec: TaskSpec, manager: PipelineManager, context: TabContext) -> TaskTab:
    """Create one task's tab content (call inside a ``gr.Tab``)."""
    task = spec.name
    gr.Markdown(f"### {spec.title}\n{spec.description}", elem_id=f"{task}-description")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            inputs = build_inputs(spec, max_image_pixels=manager.policy.max_image_pixels)
            required = build_params(spec, only="required")
            with gr.Accordion("Parameters", open=True, visible=any(not p.required for p in spec.params)):
                optional = build_params(spec, only="optional")
            params = ParamWidgets(spec, required.params + optional.params, required.components + optional.components,
                                  reserved=frozenset(inputs.keys) | frozenset(ModelWidgets.keys))
            choices = model_choices(spec, cached=set(context.cached), offline_tasks=set(context.offline_tasks),
                                    local=context.local_models.get(task, []))
            picker = build_model_picker(spec, choices=choices,
                                        value=default_model(spec, choices, online=context.online),
                                        devices=context.devices, dtypes=context.dtypes,
                                        local_paths=manager.policy.allow_local_paths)
            with gr.Row():
                run_button = gr.Button("Run", variant="primary", elem_id=f"{task}-run")
                stop_button = (gr.Button("Stop", variant="stop", elem_id=f"{task}-stop")
                               if spec.streams else None)
        with gr.Column(scale=1):
            renderer = renderer_for(spec)
            renderer.build()
            info = gr.Markdown(elem_id=f"{task}-info")
            with gr.Accordion("Raw output (JSON)", open=False):
                raw_json = gr.JSON(elem_id=f"{task}-json")
            with gr.Accordion("Code: the same call in Python", open=False):
                code = gr.Code(language="python", interactive=False, elem_id=f"{task}-code")
    tab = TaskTab(spec, manager, inputs, params, picker, renderer, raw_json, info, code, run_button, stop_button)
    build_examples(tab.inputs, tab.params)
    _wire(tab, context.concurrency_limit)
    from components.compare import render_compare  # here: it imports this module's helpers

    render_compare(tab, context)
    return tab


def group_tabs(groups: dict[str, list[TaskSpec]], manager: PipelineManager, context: TabContext,
               *, on_tab: Callable[[TaskTab], None] | None = None) -> dict[str, TaskTab]:
    """One top-level tab per group, one sub-tab per task; returns the built tabs by task name."""
    built: dict[str, TaskTab] = {}
    for group, specs in groups.items():
        with gr.Tab(group, elem_id=f"group-{group.split()[0].lower()}"):
            with gr.Tabs():
                for spec in specs:
                    with gr.Tab(spec.title, elem_id=f"tab-{spec.name}"):
                        if spec.chat:  # Completion and Chat sub-tabs
                            from components.chat import render_chat_modes

                            tab = render_chat_modes(spec, manager, context,
                                                    lambda spec=spec: build_task_tab(spec, manager, context))
                        else:
                            tab = build_task_tab(spec, manager, context)
                        built[spec.name] = tab
                        if on_tab:
                            on_tab(tab)
    return built
