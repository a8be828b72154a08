"""The one generic task tab: inputs, parameters, model controls, Run, native output, raw JSON,
timings and the equivalent code — all derived from the task's ``TaskSpec``.

``build_task_tab(spec, manager, context)`` creates the widgets in the current Blocks context and
wires Run as the named API endpoint ``/{spec.api_name}``. Text generation streams, with Stop.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

import gradio as gr

from components.api_docs import STRING, document
from components.chat import render_chat_modes
from components.compare import compare_accordion, compare_endpoint, render_compare
from components.context import TabContext
from components.events import PROGRESS, client_id, error_message, gr_error, named_signature, session_id
from components.examples import build_examples
from components.lazy import interactive, when_opened
from components.info import CANCELLING, cancelled_markdown, progress_markdown, timings_markdown
from components.inputs import InputWidgets, build_inputs
from components.mcp import not_a_tool
from components.model_picker import ModelWidgets, build_model_picker, default_model, model_choices
from components.params import ParamWidgets, build_params
from components.pool import ComponentPool
from components.renderers import Renderer, renderer_for
from components.runs import Owner, Sessions, Workers, Working, drive
from workbench.errors import RunCancelled
from workbench.memory import trim_heap
from workbench.progress import RunControl
from workbench.tasks import TaskSpec
from workbench.zerogpu import gpu  # a GPU for each run on a ZeroGPU Space; a no-op elsewhere

if TYPE_CHECKING:
    from workbench.manager import PipelineManager
    from workbench.results import RunResult

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
    run_button: gr.Button | None  # None: the endpoint's hidden widgets (``render_task_tab``)
    stop_button: gr.Button | None  # "Stop" (keeps the text so far) for streams, "Cancel" for the others
    streams: bool = False
    sessions: Sessions = field(default_factory=Sessions)
    workers: Workers | None = None
    concurrency_limit: int | None = None

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
        return [*self.renderer.values(result), result.json(),
                timings_markdown(result, self.renderer.notes(result)), result.code]

    def status_outputs(self, info: str, *, clear: bool) -> list[Any]:
        """Widget values that only set the info line (``clear``: and empty the output widgets)."""
        empty = None if clear else gr.skip()
        return [*[empty] * len(self.renderer.components), empty, info, gr.skip()]

    def run(self, named: dict[str, Any], session: str = "",
            progress: Callable[..., Any] | None = None, client: str = "") -> Iterator[list[Any]]:
        """Run from widget values keyed as ``keys``, in a worker thread. Yields the info line's
        progress while it works, then the outputs (a stream: as text comes). ``stop(session)`` or
        closing this iterator (a closed browser tab) stops the work; user errors become ``gr.Error``
        and are kept for ``error_outputs``."""
        from workbench.service import stream_task

        control = RunControl()
        self.sessions.start(session, control)
        try:
            inputs, params, options = self._request(named)
            produce = functools.partial(stream_task, self.manager, self.spec.name, inputs, params,
                                        control=control, **options)
            owner = Owner(session, client, self.spec.name, self.concurrency_limit)
            for event in drive(produce, control, name=f"run-{self.spec.name}", workers=self.workers, owner=owner):
                if isinstance(event, Working):
                    if progress is not None:
                        progress(event.control.fraction(), desc=event.control.describe())
                    yield self.status_outputs(progress_markdown(event.control), clear=False)
                elif control.cancelled and not event.value.done:
                    continue  # after Stop only the final update is shown
                else:
                    self.sessions.update(session, control, event.value)
                    yield self.outputs(event.value)
        except RunCancelled as exc:
            yield self.status_outputs(cancelled_markdown(exc, "Nothing was output."), clear=True)
        except Exception as exc:
            self.sessions.failed(session, error_message(exc, self.manager.policy))
            raise gr_error(exc, self.manager.policy) from exc
        finally:
            self.sessions.end(session, control)
            trim_heap()  # a large request's memory goes back to the system, not kept at its peak

    def stream(self, named: dict[str, Any], session: str = "",
               progress: Callable[..., Any] | None = None) -> Iterator[list[Any]]:
        """``run`` (kept for callers of the streaming tab)."""
        return self.run(named, session, progress)

    def stop(self, session: str = "") -> str | None:
        """Stop the run of ``session``: a stream ends after the current token and keeps its text
        (returns the info line of its latest update, marked stopped); other runs are cancelled at
        their next chunk, batch or layer. ``None`` when nothing ran."""
        from dataclasses import replace

        running, latest = self.sessions.cancel(session)
        if not running:
            return None
        if latest is not None and self.streams:
            return timings_markdown(replace(latest, done=True, stopped=True))
        return CANCELLING

    def error_outputs(self, session: str = "") -> list[Any]:
        """Widget values after a failed run: outputs emptied, the error's message in the info line
        (it stays there until the next run, unlike the toast)."""
        message = self.sessions.pop_error(session) or "The run failed before it started (see the message above)."
        return self.status_outputs(f"**Error:** {message}", clear=True)


def _wire(tab: TaskTab, concurrency_limit: int, *, serve: TaskTab | None = None) -> None:
    """Run, Stop/Cancel, and the error shown in the output area. ``tab`` with buttons and no
    ``serve``: Run is the named API endpoint ``/{api_name}`` (a tab built at once). Without buttons
    (the hidden widgets of ``render_task_tab``): the endpoint with no trigger. With ``serve``: a
    session's own widgets, wired privately to ``serve``'s callbacks (its runs, Stop and errors)."""
    handler, spec = serve or tab, tab.spec

    # Keyword inputs: the API endpoint's parameters are named like the widgets (text, top_k, model…).
    def run(request: gr.Request, progress: gr.Progress = PROGRESS, **values: Any) -> Iterator[list[Any]]:
        yield from handler.run(values, session_id(request), progress, client_id(request, handler.manager.policy))

    def stop(request: gr.Request) -> Any:
        info = handler.stop(session_id(request))
        return gr.skip() if info is None else info

    streamed = " Streams the text as it is generated." if tab.streams else ""
    options = dict(inputs_kwargs=dict(zip(tab.keys, tab.in_components)), outputs=tab.out_components,
                   concurrency_limit=concurrency_limit, concurrency_id=spec.name)
    endpoint = dict(api_name=spec.api_name,
                    api_description=f"{spec.title}: {spec.description}{streamed} Returns the rendered output, the raw "
                                    "output as JSON, a line with the model, device and timings, and the same call in "
                                    "Python. Cancel a job with `job.cancel()`.")
    # an MCP client has no browser session to stop: an API endpoint, not an MCP tool
    stop_endpoint = dict(api_name=f"{spec.api_name}_stop",
                         api_description=f"Stop this session's {spec.title.lower()} run: generation ends after the "
                                         "current token and the run returns the text so far. Returns the run's info "
                                         "line, marked stopped.")
    fn = gpu(named_signature(run, tab.keys, request=True))
    if tab.run_button is None:
        gr.on([], fn, **endpoint, **options)
        if tab.streams:
            gr.on([], not_a_tool(stop), inputs=None, outputs=tab.info, queue=False, **stop_endpoint)
        return
    private = dict(api_visibility="private")

    def show_error(request: gr.Request) -> list[Any]:
        return handler.error_outputs(session_id(request))

    for component in tab.in_components:
        if isinstance(component, gr.Audio) and "microphone" in (component.sources or []):
            _hold_run_while_recording(component, tab.run_button)

    hide_stop = _show_stop_while_running(tab.run_button, tab.stop_button)  # before Run's own listener
    event = tab.run_button.click(fn, **(private if serve else endpoint), **options)
    # The toast fades: the message stays in the output area until the next run.
    event.failure(show_error, inputs=None, outputs=tab.out_components, api_visibility="private", queue=False)
    hide_stop(event)

    # Stop/Cancel sets the run's cancel event: a stream sends its last update marked stopped, other
    # runs end at their next chunk, batch or layer, saying so. No `cancels=[event]`: a cancelled
    # event's outputs are wiped and flagged "Error" by Gradio.
    if tab.streams:
        tab.stop_button.click(not_a_tool(stop), inputs=None, outputs=tab.info, queue=False,
                              **(private if serve else stop_endpoint))
    else:  # API clients cancel with job.cancel()
        def announce(request: gr.Request) -> Any:
            return CANCELLING if handler.sessions.running(session_id(request)) else gr.skip()

        def cancel(request: gr.Request) -> None:
            handler.stop(session_id(request))

        # "cancelling…" is on the page before the run is told to stop: told first, the run could end
        # and say "Cancelled." before that reached the page, and be overwritten by it.
        tab.stop_button.click(announce, inputs=None, outputs=tab.info, queue=False, api_visibility="private").then(
            cancel, inputs=None, outputs=None, queue=False, api_visibility="private")


def _show_stop_while_running(run_button: gr.Button, stop_button: gr.Button) -> Callable[[Any], None]:
    """Stop/Cancel appears when Run is pressed and goes when the run ends, however it ends: there
    is nothing to cancel before, or after. Call it before wiring Run's own event (the browser starts
    a button's listeners in the order they were added, each after the one before has answered), then
    the function it returns with that event."""
    options = dict(outputs=stop_button, queue=False, show_progress="hidden", api_visibility="private")
    run_button.click(lambda: gr.Button(visible=True), **options)

    def hide_after(run: Any) -> None:
        run.then(lambda: gr.Button(visible=False), **options)

    return hide_after


def _hold_run_while_recording(audio: gr.Audio, run_button: gr.Button) -> None:
    """Run is disabled from Record until the recording is the input: the browser encodes and uploads
    it after Stop, and Gradio fires ``stop_recording`` only once that is done, so a Run pressed in
    between would send no audio ("No audio given" next to a visible waveform)."""
    def hold() -> gr.Button:
        return gr.Button(interactive=False)

    def release() -> gr.Button:
        return gr.Button(interactive=True)

    options = dict(inputs=None, outputs=run_button, queue=False, show_progress="hidden", api_visibility="private")
    audio.start_recording(hold, **options)
    audio.stop_recording(release, **options)
    audio.clear(release, **options)


def _with(choices: list[str], value: str | None) -> list[str]:
    """``choices`` with ``value`` added when it is not among them (a given pipeline's own device)."""
    return choices if value is None or value in choices else [*choices, value]


def build_task_tab(spec: TaskSpec, manager: PipelineManager, context: TabContext, *, model: str | None = None,
                   device: str | None = None, dtype: str | None = None, pool: ComponentPool | None = None) -> TaskTab:
    """Create one task's tab content at once (call inside a ``gr.Tab``): its widgets, examples,
    the endpoint ``/{api_name}`` on its Run button, and Compare; ``model``, ``device`` and ``dtype``
    preset its model controls (default: the task's default model, ``auto``); ``pool``: where its
    Compare endpoint's hidden components go (``render_compare``)."""
    _description(spec)
    tab = _build_widgets(spec, manager, context, model=model, device=device, dtype=dtype)
    build_examples(tab.inputs, tab.params, tab.run_button)
    _wire(tab, context.concurrency_limit)
    render_compare(tab, context, pool)
    return tab


def render_task_tab(spec: TaskSpec, manager: PipelineManager, context: TabContext, pool: ComponentPool,
                    *, opened_by: list[gr.Tab]) -> TaskTab:
    """One task's tab content built for a session when it first opens it (call inside a ``gr.Tab``).

    The endpoints ``/{api_name}`` (and ``_stop``, ``_compare``) are there from the start, on hidden
    components (``pool``'s twins, shared with the other tasks' wherever identical: the device and
    dtype menus, the info line…): the API is the same as ``build_task_tab``'s. The widgets, their
    examples and Compare are built the first time a session opens one of ``opened_by`` (the task's
    own tab, and its group's tab when it is the group's first: ``components.lazy.when_opened``),
    and wired privately to the same callbacks. Returns the endpoint's ``TaskTab`` (hidden widgets;
    no buttons), whose ``run`` serves every session."""
    _description(spec)
    with pool.detached():
        built = _build_widgets(spec, manager, context)
    api = _twins(built, pool)
    _wire(api, context.concurrency_limit)
    compare = compare_endpoint(api, context, pool)

    def build() -> None:
        tab = _build_widgets(spec, manager, context)
        interactive(tab.in_components, tab.out_components)
        build_examples(tab.inputs, tab.params, tab.run_button)
        _wire(tab, context.concurrency_limit, serve=api)
        compare_accordion(tab, context, serve=compare)

    when_opened(opened_by, build)
    return api


def _description(spec: TaskSpec) -> None:
    gr.Markdown(f"### {spec.title}\n{spec.description}", elem_id=f"{spec.name}-description")


def _twins(built: TaskTab, pool: ComponentPool) -> TaskTab:
    """``built`` (widgets built ``pool.detached()``) with each widget replaced by its twin in
    ``pool``, and no buttons: the endpoint's hidden widgets."""
    from dataclasses import replace

    built.renderer.components = [pool.twin(c) for c in built.renderer.components]
    return replace(built, inputs=replace(built.inputs, components=[pool.twin(c) for c in built.inputs.components]),
                   params=replace(built.params, components=[pool.twin(c) for c in built.params.components]),
                   picker=ModelWidgets(*[pool.twin(c) for c in built.picker.components]),
                   raw_json=pool.twin(built.raw_json), info=pool.twin(built.info), code=pool.twin(built.code),
                   run_button=None, stop_button=None)


def _build_widgets(spec: TaskSpec, manager: PipelineManager, context: TabContext, *, model: str | None = None,
                   device: str | None = None, dtype: str | None = None) -> TaskTab:
    """The tab's widgets (ids ``{task}-…``), documented for the API, not wired."""
    task = spec.name
    with gr.Row(equal_height=False):
        with gr.Column(scale=1):
            inputs = build_inputs(spec, policy=manager.policy)
            required = build_params(spec, only="required")
            with gr.Accordion("Parameters", open=True, visible=any(not p.required for p in spec.params)):
                optional = build_params(spec, only="optional")
            params = ParamWidgets(spec, required.params + optional.params, required.components + optional.components,
                                  reserved=frozenset(inputs.keys) | frozenset(ModelWidgets.keys))
            choices = model_choices(spec, cached=set(context.cached), offline_tasks=set(context.offline_tasks),
                                    local=context.local_models.get(task, []), online=context.online)
            if model and model not in [v for _, v in choices]:
                choices = [(model, model), *choices]
            picker = build_model_picker(spec, choices=choices,
                                        value=model or default_model(spec, choices, online=context.online),
                                        devices=_with(context.devices, device), dtypes=_with(context.dtypes, dtype),
                                        local_paths=manager.policy.allow_local_paths, device=device, dtype=dtype)
            streams = spec.streams
            with gr.Row():
                run_button = gr.Button("Run", variant="primary", elem_id=f"{task}-run")
                # shown only while a run goes (``_show_stop_while_running``)
                stop_button = gr.Button("Stop" if streams else "Cancel", variant="stop", visible=False,
                                        elem_id=f"{task}-stop")
        with gr.Column(scale=1):
            renderer = renderer_for(spec)
            renderer.build()
            renderer.document()
            info = document(gr.Markdown(label="Run info", elem_id=f"{task}-info"),
                            "The model, device and dtype, the timings, and notes (Markdown).")
            with gr.Accordion("Raw output (JSON)", open=False):
                raw_json = document(gr.JSON(label="Raw output", elem_id=f"{task}-json"),
                                    "The pipeline's output as JSON (images and large arrays summarised).")
            with gr.Accordion("Code: the same call in Python", open=False):
                code = document(gr.Code(language="python", interactive=False, label="Python code",
                                        elem_id=f"{task}-code"),
                                "The same call in Python with transformers.", schema=STRING)
    return TaskTab(spec, manager, inputs, params, picker, renderer, raw_json, info, code, run_button, stop_button,
                   streams=streams, workers=context.workers, concurrency_limit=context.concurrency_limit)


def group_tabs(groups: dict[str, list[TaskSpec]], manager: PipelineManager, context: TabContext,
               *, on_tab: Callable[[TaskTab], None] | None = None,
               pool: ComponentPool | None = None, lazy: bool = True) -> dict[str, TaskTab]:
    """One top-level tab per group, one sub-tab per task; returns the tabs by task name. ``lazy``:
    each task's widgets are built for a session when it first opens the tab (``render_task_tab``;
    the returned ``TaskTab`` holds the endpoint's hidden widgets), except the first group's first
    task (on screen when the page opens) and chat tasks; else all at once (``build_task_tab``). The
    hidden components behind the endpoints go to ``pool``, one of each kind for all the tabs
    (without one, rendered after the tabs in a hidden column: the caller's context must take one)."""
    own = pool is None
    pool = ComponentPool() if own else pool  # not `or`: an empty pool is falsy
    built: dict[str, TaskTab] = {}
    for g, (group, specs) in enumerate(groups.items()):
        with gr.Tab(group, elem_id=f"group-{group.split()[0].lower()}") as group_item:
            with gr.Tabs(overflow_behavior="wrap"):  # no task hidden behind "…"
                for i, spec in enumerate(specs):
                    with gr.Tab(spec.title, elem_id=f"tab-{spec.name}") as item:
                        if spec.chat:  # Completion and Chat sub-tabs
                            tab = render_chat_modes(spec, manager, context,
                                                    lambda spec=spec: build_task_tab(spec, manager, context, pool=pool),
                                                    lazy=lazy)
                        elif not lazy or g == i == 0:  # the tab on screen when the page opens: at once
                            tab = build_task_tab(spec, manager, context, pool=pool)
                        else:  # a group's first task shows when its group is selected
                            tab = render_task_tab(spec, manager, context, pool,
                                                  opened_by=[item, group_item] if i == 0 else [item])
                        built[spec.name] = tab
                        if on_tab:
                            on_tab(tab)
    if own:
        with gr.Column(visible=False):
            pool.render()
    return built
