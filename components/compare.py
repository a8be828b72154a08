"""The Compare accordion of a task tab: up to three configurations side by side.

``render_compare(tab, context)`` adds, under a built ``TaskTab``, three rows of model × revision ×
device × dtype (a row with no model is left out), a Compare button that runs the tab's current
inputs and parameters through each (``workbench.compare``), the outputs side by side with their
timings and peak memory, the agreement between them, and the API endpoint
``/{api_name}_compare``. The endpoint is there from the start, on hidden components; the
accordion's widgets are built for a session when it first opens it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterator

import gradio as gr

from components.api_docs import STRING, document, document_compare
from components.info import timings_markdown
from components.lazy import interactive, when_opened
from components.pool import ComponentPool
from components.renderers import Renderer, renderer_for
from components.runs import Owner, Sessions, Working, drive
from workbench.errors import RunCancelled
from workbench.progress import RunControl

if TYPE_CHECKING:
    from components.context import TabContext
    from components.task_tab import TaskTab
    from workbench.compare import Comparison

NAMES = "ABC"
FIELDS = ("model", "revision", "device", "dtype")
RUN_COLUMNS = ["config", "model", "revision", "device", "dtype", "load_s", "inference_s", "peak_mb", "weights_mb", "score",
               "status"]


def _md(text: str) -> str:
    """Escape Markdown's emphasis characters in a token."""
    return "".join("\\" + c if c in "\\`*_~[]<>#|" else c for c in text)


def diff_markdown(diff: list[tuple[str, str | None]], limit: int = 120) -> str:
    """A token diff as Markdown: removed tokens struck through, added ones in bold.

    >>> diff_markdown([("the", None), ("cat", "-"), ("dog", "+")])
    'the ~~cat~~ **dog**'
    """
    parts = []
    for token, op in diff[:limit]:
        parts.append(f"~~{_md(token)}~~" if op == "-" else f"**{_md(token)}**" if op == "+" else _md(token))
    return " ".join(parts) + (" …" if len(diff) > limit else "")


def shared_warnings(results: list[Any]) -> list[str]:
    """The warnings every one of several run results has (the same stand-in in three precisions:
    "… is a random-weight stand-in …"), in the first one's order: said once above the columns,
    not in each of them. None for a single result (its column says it).

    >>> from types import SimpleNamespace as R
    >>> shared_warnings([R(warnings=["stand-in", "a"]), R(warnings=["b", "stand-in"])])
    ['stand-in']
    >>> shared_warnings([R(warnings=["stand-in"])])
    []
    """
    if len(results) < 2:
        return []
    return [w for w in results[0].warnings if all(w in r.warnings for r in results[1:])]


def agreement_markdown(comparison: Comparison, warnings: list[str] | tuple[str, ...] = ()) -> str:
    """The agreement rows as a short Markdown report, plus the comparison's notes and the
    ``warnings`` that hold for every configuration."""
    lines = []
    for row in comparison.agreement:
        pair = row["pair"]
        if "same_top_label" in row:
            diff = row["max_score_diff"]
            lines.append(f"- **{pair}**: top label {'the same' if row['same_top_label'] else 'differs'} "
                         f"({' / '.join(map(str, row['top_labels']))}); largest score difference "
                         f"{'n/a' if diff is None else f'{diff:.4g}'}")
        elif "cosine_mean" in row:
            lines.append(f"- **{pair}**: " + (row["note"] if row.get("note") else
                         f"cosine similarity of embeddings mean {row['cosine_mean']:.5f}, min {row['cosine_min']:.5f}"))
        elif "token_match" in row:
            same = "identical text" if row["same_text"] else (
                f"{row['token_match']:.0%} of tokens match, first difference at token {row['first_difference']}")
            lines.append(f"- **{pair}**: {same}")
            if not row["same_text"]:
                lines.append(f"  - {diff_markdown(row['diff'])}")
        elif "mean_iou" in row and row["mean_iou"] is None:
            lines.append(f"- **{pair}**: neither found a box above the threshold (lower it to compare boxes)")
        elif "mean_iou" in row:
            lines.append(f"- **{pair}**: boxes {row['boxes'][0]} vs {row['boxes'][1]}, {row['matched']} matched, "
                         f"mean IoU {row['mean_iou']:.3f}")
    scored = [r for r in comparison.runs if r.score]
    if scored:
        lines.append("\n**Against the reference:** " + "; ".join(
            f"{r.name} " + ", ".join(f"{k} {v:g}" for k, v in r.score.items()) for r in scored))
    lines += [f"> {n}" for n in comparison.notes]
    lines += [f"> ⚠ {w}" for w in warnings]
    return "### Agreement\n" + ("\n".join(lines) if lines else "Run at least two configurations to compare them.")


@dataclass
class CompareWidgets:
    """The Compare accordion's widgets; ``config_keys[i]`` names ``config_components[i]``."""

    tab: TaskTab
    config_keys: list[str]
    config_components: list[gr.components.Component]
    button: gr.Button | None  # None: the endpoint's hidden widgets (``render_compare``)
    summary: gr.Markdown
    runs: gr.Dataframe
    raw: gr.JSON
    renderers: list[Renderer]
    infos: list[gr.Markdown]
    errors: Sessions = field(default_factory=Sessions)  # each session's last failure, for error_outputs

    @property
    def keys(self) -> list[str]:
        return [*self.tab.inputs.keys, *self.tab.params.keys, *self.config_keys]

    def error_outputs(self, session: str = "") -> list[Any]:
        """Widget values after a failed comparison: the reason in the summary (it stays there until
        the next comparison, unlike the toast), everything else emptied."""
        message = self.errors.pop_error(session) or "The comparison failed before it started."
        return [f"**Error:** {message}", *[None] * (len(self.out_components) - 1)]

    @property
    def in_components(self) -> list[gr.components.Component]:
        return [*self.tab.inputs.components, *self.tab.params.components, *self.config_components]

    @property
    def out_components(self) -> list[gr.components.Component]:
        columns = [c for r, info in zip(self.renderers, self.infos) for c in (*r.components, info)]
        return [self.summary, self.runs, self.raw, *columns]

    def run(self, named: dict[str, Any], session: str = "", client: str = "") -> Iterator[list[Any]]:
        """Compare from widget values keyed as ``keys``, in a worker thread (``components.runs.drive``:
        the browser going away cancels it, and it counts against the tab's limits until it stops);
        yields the summary line's progress, then the outputs. User errors become ``gr.Error``."""
        from components.events import gr_error
        from workbench.compare import Config, compare

        configs = []
        for name in NAMES:
            model = (named.get(f"model_{name.lower()}") or "").strip()
            if model:
                configs.append(Config(model, (named.get(f"revision_{name.lower()}") or "").strip() or None,
                                      named.get(f"device_{name.lower()}") or "auto",
                                      named.get(f"dtype_{name.lower()}") or "auto"))
        control, comparison = RunControl(), None
        owner = Owner(session, client, self.tab.spec.name, self.tab.concurrency_limit)
        reference = named.get("reference")

        def produce() -> Iterator[Comparison]:
            yield compare(self.tab.manager, self.tab.spec.name, inputs, params, configs, control=control,
                          reference=reference)

        skip = [gr.skip()] * (len(self.out_components) - 1)
        try:
            inputs, params = self.tab.inputs.to_service(named), self.tab.params.to_service(named)
            for event in drive(produce, control, name=f"compare-{self.tab.spec.name}", workers=self.tab.workers,
                               owner=owner):
                if isinstance(event, Working):
                    yield [f"⏳ {control.describe()} · {control.elapsed():.0f} s", *skip]
                else:
                    comparison = event.value
        except RunCancelled:
            yield ["**Cancelled.**", *skip]
            return
        except Exception as exc:
            error = gr_error(exc, self.tab.manager.policy)
            self.errors.failed(session, error.message)
            raise error from exc
        table = [[row[c] for c in RUN_COLUMNS] for row in (r.row() for r in comparison.runs)]
        shared = shared_warnings([r.result for r in comparison.runs if r.result is not None])
        out: list[Any] = [agreement_markdown(comparison, shared), {"headers": RUN_COLUMNS, "data": table},
                          comparison.json()]
        for i, renderer in enumerate(self.renderers):
            run = comparison.runs[i] if i < len(comparison.runs) else None
            if run is not None and run.result is not None:
                own = replace(run.result, warnings=[w for w in run.result.warnings if w not in shared])
                info = f"**{run.name}** · peak memory +{run.peak_mb:.0f} MB · " + timings_markdown(own)
                out += [*renderer.values(run.result), info]
            else:
                info = f"**{run.name}**: ⚠ {run.error}" if run is not None else "*(not used)*"
                out += [None] * len(renderer.components) + [info]
        yield out


#: The Compare accordion's title.
TITLE = "Compare: up to three configurations side by side"


def render_compare(tab: TaskTab, context: TabContext, pool: ComponentPool | None = None) -> CompareWidgets:
    """Compare under ``tab``: the endpoint ``/{api_name}_compare`` on hidden components
    (``compare_endpoint``) and the accordion whose widgets a session builds when it first opens it
    (``compare_accordion``). Without ``pool``, the hidden components are rendered here; with one,
    the caller renders it (``ComponentPool.render``). Returns the endpoint's widgets."""
    own = pool is None
    pool = ComponentPool() if own else pool  # not `or`: an empty pool is falsy
    api = compare_endpoint(tab, context, pool)
    if own:
        with gr.Column(visible=False):
            pool.render()
    compare_accordion(tab, context, serve=api, lazy=True)
    return api


def compare_endpoint(tab: TaskTab, context: TabContext, pool: ComponentPool) -> CompareWidgets:
    """The endpoint ``/{api_name}_compare`` on hidden components: ``pool``'s twins, shared with the
    other tasks' wherever identical (the device and dtype menus, the summary, the runs table…).
    Returns its widgets (hidden; ``button`` None), whose ``run`` serves every session's Compare."""
    with pool.detached():
        built = build_compare(tab, context)
    for renderer in built.renderers:
        renderer.components = [pool.twin(c) for c in renderer.components]
    api = CompareWidgets(tab, built.config_keys, [pool.twin(c) for c in built.config_components], None,
                         pool.twin(built.summary), pool.twin(built.runs), pool.twin(built.raw), built.renderers,
                         [pool.twin(i) for i in built.infos])
    wire_compare(api, context)
    return api


def compare_accordion(tab: TaskTab, context: TabContext, *, serve: CompareWidgets, lazy: bool = False) -> None:
    """The Compare accordion (id ``{task}-compare``) under ``tab``'s widgets, wired privately to
    ``serve`` (the endpoint's ``run``). ``lazy``: its widgets are built for a session the first
    time it opens it (``components.lazy.when_opened``)."""
    with gr.Accordion(TITLE, open=False, elem_id=f"{tab.spec.name}-compare") as accordion:
        def build() -> None:
            widgets = build_compare(tab, context)
            interactive(widgets.config_components)
            wire_compare(widgets, context, serve=serve)

        if lazy:
            when_opened([accordion], build)
        else:
            build()


def build_compare(tab: TaskTab, context: TabContext) -> CompareWidgets:
    """The Compare accordion's content (ids ``{task}-compare-…``), documented for the API, not wired."""
    spec, task = tab.spec, tab.spec.name
    model_choices = tab.picker.model.choices
    default = tab.picker.model.value
    keys, components = [], []
    gr.Markdown("Runs the input and parameters above through each configuration (leave a model empty to "
                "skip that row): outputs side by side with load and inference times and peak memory, and how "
                "much they agree.")
    for name in NAMES:
        low = name.lower()
        with gr.Row():
            # A float32, B bfloat16, C int8 where this machine runs it: one model's cost of each precision
            values = {"a": default, "b": default, "c": default if "int8" in context.dtypes else ""}.get(low, "")
            widgets = [
                gr.Dropdown(choices=model_choices, value=values, allow_custom_value=True, filterable=True,
                            label=f"{name}: model", scale=4, elem_id=f"{task}-compare-model-{low}"),
                gr.Textbox(value="", label="revision", placeholder="main", scale=1,
                           elem_id=f"{task}-compare-revision-{low}"),
                gr.Dropdown(choices=context.devices, value=context.devices[0], label="device", scale=1,
                            elem_id=f"{task}-compare-device-{low}"),
                gr.Dropdown(choices=context.dtypes, value=_default_dtype(context.dtypes, low),
                            allow_custom_value=True, label="dtype", scale=1,
                            elem_id=f"{task}-compare-dtype-{low}"),
            ]
        keys += [f"{f}_{low}" for f in FIELDS]
        components += widgets
    if spec.metric is not None and spec.metric != "similarity":
        reference = gr.Textbox(label="Reference (optional): the right answer for this input", interactive=True,
                               placeholder=_REFERENCE_HINT.get(spec.metric, "the right answer"),
                               elem_id=f"{task}-compare-reference")
        document(reference, f"The right answer for this input ({_REFERENCE_HINT.get(spec.metric)}): each "
                 f"configuration is scored against it by the task's metric ({spec.metric}); empty: no score.",
                 schema=STRING)
        keys.append("reference")
        components.append(reference)
    button = gr.Button("Compare", variant="primary", elem_id=f"{task}-compare-run")
    summary = gr.Markdown(elem_id=f"{task}-compare-summary")
    runs = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, label="Runs", wrap=True,
                        elem_classes=["wb-narrow-table"], elem_id=f"{task}-compare-runs")
    renderers, infos = [], []
    with gr.Row(equal_height=False):
        for name in NAMES:
            with gr.Column(min_width=200):
                renderer = renderer_for(spec, id_prefix=f"{task}-compare-{name.lower()}")
                renderer.build()
                renderers.append(renderer)
                infos.append(gr.Markdown(elem_id=f"{task}-compare-info-{name.lower()}"))
    with gr.Accordion("Raw comparison (JSON)", open=False):
        raw = gr.JSON(elem_id=f"{task}-compare-json")
    widgets = CompareWidgets(tab, keys, components, button, summary, runs, raw, renderers, infos)
    document_compare([k for k in keys if k != "reference"], [c for k, c in zip(keys, components) if k != "reference"],
                     summary=summary, runs=runs, raw=raw, renderers=renderers, infos=infos)
    return widgets


def wire_compare(widgets: CompareWidgets, context: TabContext, *, serve: CompareWidgets | None = None) -> None:
    """Compare's run: with no button (the hidden widgets), the endpoint ``/{api_name}_compare`` with
    no trigger; with one, a private event on it calling ``serve.run`` (a session's own widgets)."""
    from components.events import PROGRESS, client_id, named_signature, session_id

    handler, spec = serve or widgets, widgets.tab.spec

    def run(request: gr.Request, progress: gr.Progress = PROGRESS, **values: Any) -> Iterator[list[Any]]:
        yield from handler.run(values, session_id(request), client_id(request, handler.tab.manager.policy))

    def show_error(request: gr.Request) -> list[Any]:
        return handler.error_outputs(session_id(request))

    options = dict(inputs_kwargs=dict(zip(widgets.keys, widgets.in_components)), outputs=widgets.out_components,
                   concurrency_limit=context.concurrency_limit, concurrency_id=spec.name)
    fn = named_signature(run, widgets.keys, request=True)
    if widgets.button is None:
        gr.on([], fn, api_name=f"{spec.api_name}_compare",
              api_description=f"{spec.title}: one input through up to three configurations, with agreement.",
              **options)
        return
    event = widgets.button.click(fn, api_visibility="private", **options)
    event.failure(show_error, inputs=None, outputs=widgets.out_components, api_visibility="private", queue=False)


#: What a reference looks like, by metric (the Compare field's placeholder and API description).
_REFERENCE_HINT = {"classification": "a label, e.g. POSITIVE", "entities": "TYPE: words; e.g. PER: Mary; LOC: London",
                   "squad": "the answer; several separated by |", "asr": "the transcript",
                   "translation": "the translation (or caption)", "summary": "a reference summary"}


def _default_dtype(dtypes: list[str], row: str) -> str:
    """Row A in float32, row B in bfloat16 and row C in int8 where offered (the same model in three
    precisions: the agreement shows what each costs on the user's own input)."""
    wanted = {"a": "float32", "b": "bfloat16", "c": "int8"}.get(row)
    return wanted if wanted in dtypes else dtypes[0]

