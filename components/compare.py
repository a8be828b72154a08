"""The Compare accordion of a task tab: up to three configurations side by side.

``render_compare(tab, context)`` adds, under a built ``TaskTab``, three rows of model × revision ×
device × dtype (a row with no model is left out), a Compare button that runs the tab's current
inputs and parameters through each (``workbench.compare``), the outputs side by side with their
timings and peak memory, the agreement between them, and the API endpoint
``/{api_name}_compare``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import gradio as gr

from components.api_docs import document_compare
from components.outputs import Renderer, renderer_for

if TYPE_CHECKING:
    from components.task_tab import TabContext, TaskTab
    from workbench.compare import Comparison

NAMES = "ABC"
FIELDS = ("model", "revision", "device", "dtype")
RUN_COLUMNS = ["config", "model", "revision", "device", "dtype", "load_s", "inference_s", "peak_mb", "weights_mb",
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


def agreement_markdown(comparison: Comparison) -> str:
    """The agreement rows as a short Markdown report, plus the comparison's notes."""
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
        elif "mean_iou" in row:
            lines.append(f"- **{pair}**: boxes {row['boxes'][0]} vs {row['boxes'][1]}, {row['matched']} matched, "
                         f"mean IoU {row['mean_iou']:.3f}")
    lines += [f"> {n}" for n in comparison.notes]
    return "### Agreement\n" + ("\n".join(lines) if lines else "Run at least two configurations to compare them.")


@dataclass
class CompareWidgets:
    """The Compare accordion's widgets; ``config_keys[i]`` names ``config_components[i]``."""

    tab: TaskTab
    config_keys: list[str]
    config_components: list[gr.components.Component]
    button: gr.Button
    summary: gr.Markdown
    runs: gr.Dataframe
    raw: gr.JSON
    renderers: list[Renderer]
    infos: list[gr.Markdown]

    @property
    def keys(self) -> list[str]:
        return [*self.tab.inputs.keys, *self.tab.params.keys, *self.config_keys]

    @property
    def in_components(self) -> list[gr.components.Component]:
        return [*self.tab.inputs.components, *self.tab.params.components, *self.config_components]

    @property
    def out_components(self) -> list[gr.components.Component]:
        columns = [c for r, info in zip(self.renderers, self.infos) for c in (*r.components, info)]
        return [self.summary, self.runs, self.raw, *columns]

    def run(self, named: dict[str, Any]) -> list[Any]:
        """Compare from widget values keyed as ``keys``; user errors become ``gr.Error``."""
        from components.events import gr_error
        from components.task_tab import timings_markdown
        from workbench.compare import Config, compare

        configs = []
        for name in NAMES:
            model = (named.get(f"model_{name.lower()}") or "").strip()
            if model:
                configs.append(Config(model, (named.get(f"revision_{name.lower()}") or "").strip() or None,
                                      named.get(f"device_{name.lower()}") or "auto",
                                      named.get(f"dtype_{name.lower()}") or "auto"))
        inputs, params = self.tab.inputs.to_service(named), self.tab.params.to_service(named)
        try:
            comparison = compare(self.tab.manager, self.tab.spec.name, inputs, params, configs)
        except Exception as exc:
            raise gr_error(exc, self.tab.manager.policy) from exc
        table = [[row[c] for c in RUN_COLUMNS] for row in (r.row() for r in comparison.runs)]
        out: list[Any] = [agreement_markdown(comparison), {"headers": RUN_COLUMNS, "data": table}, comparison.json()]
        for i, renderer in enumerate(self.renderers):
            run = comparison.runs[i] if i < len(comparison.runs) else None
            if run is not None and run.result is not None:
                info = f"**{run.name}** · peak memory +{run.peak_mb:.0f} MB · " + timings_markdown(run.result)
                out += [*renderer.values(run.result), info]
            else:
                info = f"**{run.name}**: ⚠ {run.error}" if run is not None else "*(not used)*"
                out += [None] * len(renderer.components) + [info]
        return out


def render_compare(tab: TaskTab, context: TabContext) -> CompareWidgets:
    """Add the Compare accordion under ``tab`` (ids ``{task}-compare-…``) and wire it."""
    from components.events import PROGRESS, named_signature

    spec, task = tab.spec, tab.spec.name
    model_choices = tab.picker.model.choices
    default = tab.picker.model.value
    keys, components = [], []
    with gr.Accordion("Compare: up to three configurations side by side", open=False, elem_id=f"{task}-compare"):
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
                                allow_custom_value=True, label="dtype", scale=1, elem_id=f"{task}-compare-dtype-{low}"),
                ]
            keys += [f"{f}_{low}" for f in FIELDS]
            components += widgets
        button = gr.Button("Compare", variant="primary", elem_id=f"{task}-compare-run")
        summary = gr.Markdown(elem_id=f"{task}-compare-summary")
        runs = gr.Dataframe(headers=RUN_COLUMNS, interactive=False, label="Runs", elem_id=f"{task}-compare-runs")
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
    document_compare(keys, components, summary=summary, runs=runs, raw=raw, renderers=renderers, infos=infos)

    def run(progress: gr.Progress = PROGRESS, **values: Any) -> list[Any]:
        return widgets.run(values)

    button.click(named_signature(run, widgets.keys, request=False),
                 inputs_kwargs=dict(zip(widgets.keys, widgets.in_components)), outputs=widgets.out_components,
                 api_name=f"{spec.api_name}_compare",
                 api_description=f"{spec.title}: one input through up to three configurations, with agreement.",
                 concurrency_limit=context.concurrency_limit, concurrency_id=task)
    return widgets


def _default_dtype(dtypes: list[str], row: str) -> str:
    """Row A in float32, row B in bfloat16 and row C in int8 where offered (the same model in three
    precisions: the agreement shows what each costs on the user's own input)."""
    wanted = {"a": "float32", "b": "bfloat16", "c": "int8"}.get(row)
    return wanted if wanted in dtypes else dtypes[0]

