"""A task tab's preset examples as a ``gr.Examples`` row per example.

A preset example holds service values (``workbench.presets``): a table is a dict of columns, a
labels parameter a list, a choice a Python value. ``example_row`` turns one into the values its
widgets take when the example is clicked (a table becomes the dataframe widget's
``{"headers", "data"}``: given a dict of columns, ``gr.Dataframe`` shows an empty grid), and
``build_examples`` creates the ``gr.Examples`` under a tab.
"""

from __future__ import annotations

import os
from typing import Any

import gradio as gr

from components.inputs import InputWidgets
from components.params import ParamWidgets, to_ui
from workbench.presets import Example, load_presets


def table_value(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A table as a dict of columns -> the ``gr.Dataframe`` value ``{"headers", "data"}`` (rows).

    >>> table_value({"City": ["Paris", "Berlin"], "Country": ["France", "Germany"]})
    {'headers': ['City', 'Country'], 'data': [['Paris', 'France'], ['Berlin', 'Germany']]}
    """
    headers = [str(h) for h in columns]
    return {"headers": headers, "data": [list(row) for row in zip(*columns.values())]}


def example_input(key: str, value: Any) -> Any:
    """One preset input value -> its widget's value."""
    if key == "table" and isinstance(value, dict):
        return table_value(value)
    if isinstance(value, (dict, list)):  # a JSON input (decision's questions): its text
        import json

        return json.dumps(value, indent=1, ensure_ascii=False)
    return value


def example_row(inputs: InputWidgets, params: ParamWidgets, example: Example) -> list[Any]:
    """The widget values of ``example``, in ``example_components`` order."""
    row = [example_input(k, example.inputs.get(k)) for k in inputs.example_keys]
    row += [to_ui(p, example.params.get(p.name, p.default)) for p in params.params]
    return row


def example_components(inputs: InputWidgets, params: ParamWidgets) -> list[gr.components.Component]:
    """The widgets an example fills: the main widget of each input, then every parameter."""
    return [inputs.component(k) for k in inputs.example_keys] + params.components


def example_label(example: Example) -> str:
    """A short button label: the example's text, else its file names; and its parameters.

    >>> example_label(Example({"audio": "/x/tone.wav"}, {"return_timestamps": True}))
    'tone.wav (return_timestamps=True)'
    """
    media = ("image", "audio", "video")  # and their seconds (keypoint matching's image_2)
    texts = [v for k, v in example.inputs.items() if isinstance(v, str) and k.split("_")[0] not in media]
    files = [os.path.basename(v) for k, v in example.inputs.items()
             if isinstance(v, str) and k.split("_")[0] in media]
    label = texts[0] if texts else ", ".join(files) or "example"
    label = label if len(label) <= 60 else label[:59] + "…"
    extra = ", ".join(f"{k}={v}" for k, v in example.params.items())
    return f"{label} ({extra})" if extra and not texts else label


def build_examples(inputs: InputWidgets, params: ParamWidgets) -> gr.Examples | None:
    """The tab's ``gr.Examples`` from ``presets/<task>.json`` (``None`` when it has none)."""
    examples = load_presets(inputs.spec.name).examples
    if not examples:
        return None
    return gr.Examples(examples=[example_row(inputs, params, e) for e in examples],
                       inputs=example_components(inputs, params), label="Examples (from presets)",
                       example_labels=[example_label(e) for e in examples], examples_per_page=6)
