"""How a widget reads in the API docs (``gradio_client.Client.view_api()``, the "Use via API" page).

Gradio types an endpoint's parameters and outputs from each component's ``api_info()``: a
dropdown becomes a ``Literal`` of its choices, a slider a ``float``, and nothing carries a
description. ``document(component, description, schema=...)`` gives one component the JSON
schema and the description a client should see, without changing what the widget does in the UI.

>>> import gradio as gr
>>> box = document(gr.Dropdown(["a", "b"], allow_custom_value=True), "any model id", schema=STRING)
>>> box.api_info_as_input(), box.api_info_as_output()
({'type': 'string', 'additional_description': 'any model id'}, {'type': 'string', 'description': 'any model id'})
"""

from __future__ import annotations

from typing import Any, TypeVar

import gradio as gr

C = TypeVar("C", bound=gr.components.Component)

STRING: dict[str, Any] = {"type": "string"}
INTEGER: dict[str, Any] = {"type": "integer"}
NUMBER: dict[str, Any] = {"type": "number"}
BOOLEAN: dict[str, Any] = {"type": "boolean"}
OPTIONAL_INTEGER: dict[str, Any] = {"anyOf": [{"type": "integer"}, {"type": "null"}]}
OPTIONAL_NUMBER: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "null"}]}
OPTIONAL_STRING: dict[str, Any] = {"anyOf": [{"type": "string"}, {"type": "null"}]}


def document(component: C, description: str, *, schema: dict[str, Any] | None = None,
             label: str | None = None) -> C:
    """Set ``component``'s description in the API docs and, if given, its JSON ``schema``
    (instead of the one Gradio derives, e.g. a free ``string`` for a dropdown that takes any
    value) and the ``label`` that names it where it has none (else the API says ``value_31``).
    Returns the component, so it can wrap the constructor call."""
    derive = component.api_info
    if label is not None and not getattr(component, "label", None):
        component.label = label

    def api_info() -> dict[str, Any]:
        info = dict(schema) if schema is not None else dict(derive())
        info.pop("additional_description", None)
        info.pop("description", None)
        return info

    # Gradio reads a parameter's description from "additional_description", an output's from
    # "description"; each is said once (the app's config carries all three infos of every component)
    component.api_info = api_info  # type: ignore[method-assign]
    component.api_info_as_input = lambda: {**api_info(), "additional_description": description}  # type: ignore
    component.api_info_as_output = lambda: {**api_info(), "description": description}  # type: ignore
    return component


def document_endpoint(dependency: Any, parameters: dict[str, str], returns: dict[str, str]) -> None:
    """Describe a ``gr.api(...)`` endpoint's parameters (in order, by name) and outputs (by the
    label each should carry; Gradio labels them "1st", "2nd"… with no description)."""
    from gradio.context import get_blocks_context

    blocks = get_blocks_context().blocks
    for ids, texts in ((dependency["inputs"], parameters), (dependency["outputs"], returns)):
        for block_id, (name, text) in zip(ids, texts.items()):
            component = blocks[block_id]
            component.label = name
            document(component, text)


BENCHMARK_API = (
    "Benchmark plain pipeline batching (`pipe(items, batch_size=N)`) against the workbench's batch runner on the "
    "same inputs, for every device × dtype × batch size. Returns a status line (how long it took, or what a Cancel "
    "kept), a summary (Markdown), four plots (throughput, latency, peak memory, padding share against batch size; a "
    "generation sweep draws output tokens/s and TTFT p95 against requests in flight instead), the table of results, "
    "and the CSV and JSON files.")


def document_benchmark(**components: Any) -> None:
    """Describe the Benchmark tab's widgets (by their API parameter or output name) in the API docs."""
    texts = {
        "task": ("The task to benchmark (one that can run in batches).", None),
        "model": ("The model: a Hub id, a local folder, or `offline:<task>`.", STRING),
        "workload": ("The inputs: `natural` (long-tailed lengths), `long-tail` (1 in 64 is 100× longer), "
                     "`uniform`, or `file` (the uploaded files).", None),
        "devices": ("The devices to measure on.", None),
        "dtypes": ("The dtypes to measure (two: the summary says which is faster and how close).", None),
        "batch_sizes": ("Batch sizes, comma-separated, e.g. `1,8,32`.", STRING),
        "n": ("How many inputs each measurement runs (8–2048).", INTEGER),
        "repeats": ("Timed repeats per row; the median is reported (1–5).", INTEGER),
        "max_tokens": ("The runner's token budget per batch (rows × longest row); 0 for none.", OPTIONAL_INTEGER),
        "upload": ("Optional: your own data for the `file` workload (CSV, JSONL, text, or image/audio files).", None),
        "column": ("Optional: the column of a CSV/JSONL upload to use (default: the first text column).",
                   OPTIONAL_STRING),
        "models": ("Optional: more models to sweep after the first (Hub ids, local folders, `offline:<task>`); the "
                   "summary then weighs quality against speed.", None),
        "references": ("Optional: the column of the uploaded table that holds each input's reference; every row "
                       "is then scored by the task's metric (accuracy and macro-F1, entity F1, SQuAD EM/F1, WER/CER, "
                       "BLEU/chrF, Spearman, recall@k). Named `labels` before.", OPTIONAL_STRING),
        "sample": ("Benchmark on the task's shipped labelled sample (presets/labelled) instead of an upload; with "
                   "`references`, the sample with that reference column (feature extraction: `score` for similarity "
                   "pairs, `relevant` for retrieval).", None),
        "quality_tolerance": ("How many points below the best quality the recommended configuration may score.",
                              None),
        "quality_plot": ("Quality against throughput, one point per model × precision at its best batch size, the "
                         "Pareto front and the recommended point marked (a Vega-Lite chart; hidden without quality).",
                         None),
        "status": ("How long the run took; or, when it was cancelled, which results are shown (Markdown).", None),
        "summary": ("The best setting, how it compares with plain batching's best, and with references or several "
                    "models the fastest configuration within the quality tolerance (Markdown).", None),
        "table": ("Every measured row: runner, batch size, device, dtype, throughput, latency, memory…", None),
        "downloads": ("The results as CSV, and as JSON with the machine's environment.", None),
        "job_command": ("The command line that runs the recommended configuration over a whole dataset.", None),
        "job_file": ("The job file (JSON) that command reads.", None),
    }
    for name, component in components.items():
        if name == "plots":
            for plot in component:
                document(plot, f"{plot.label} against batch size, one line per runner, device and dtype "
                               "(a Vega-Lite chart).")
            continue
        if name == "generation_plots":
            for plot in component:
                document(plot, f"Generation sweeps only: {plot.label} against requests in flight, one line per "
                               "runner (plain, runner, continuous batching; a Vega-Lite chart, hidden otherwise).")
            continue
        description, schema = texts[name]
        document(component, description, schema=schema, label=name.replace("_", " ").capitalize())


def document_compare(keys: list[str], components: list[Any], *, summary: Any, runs: Any, raw: Any,
                     renderers: list[Any], infos: list[Any]) -> None:
    """Describe the Compare accordion's own widgets (``model_a``, ``device_b``…, its outputs)."""
    fields = {"model": ("Configuration {row}'s model: a Hub id, a local folder or `offline:<task>`; empty: "
                        "skip this configuration.", STRING),
              "revision": ("Configuration {row}'s model revision; empty: main.", STRING),
              "device": ("Configuration {row}'s device.", None),
              "dtype": ("Configuration {row}'s dtype.", None)}
    for key, component in zip(keys, components):
        field, row = key.rsplit("_", 1)
        text, schema = fields[field]
        document(component, text.format(row=row.upper()), schema=schema)
    document(summary, "How much the configurations' outputs agree (Markdown).", label="Agreement")
    document(runs, "One row per configuration: model, device, dtype, load and inference seconds, peak memory, "
                   "and its score against the reference when one was given.")
    document(raw, "The whole comparison as JSON.", label="Raw comparison")
    for row, (renderer, info) in enumerate(zip(renderers, infos)):
        renderer.document()
        for component in renderer.components:
            component.label = f"{component.label} ({'ABC'[row]})"
        document(info, f"Configuration {'ABC'[row]}'s model, device, timings and peak memory (Markdown).",
                 label=f"Run info ({'ABC'[row]})")
