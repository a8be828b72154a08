"""A task tab's preset examples as a ``gr.Examples`` row per example.

A preset example holds service values (``workbench.presets``): a table is a dict of columns, a
labels parameter a list, a choice a Python value. ``example_row`` turns one into the values its
widgets take when the example is clicked (a table becomes the dataframe widget's
``{"headers", "data"}``: given a dict of columns, ``gr.Dataframe`` shows an empty grid), and
``build_examples`` creates the ``gr.Examples`` under a tab.
"""

from __future__ import annotations

import json
import os
from typing import Any

import gradio as gr

from components.inputs import InputWidgets
from components.params import ParamWidgets, to_ui
from workbench.presets import Example, load_presets


#: Input kinds whose examples show as thumbnails (Gradio's own example cells for their widgets).
PICTURES = ("image", "images", "video")
#: Input kinds whose examples' files also get a player under the examples (Gradio's example cell for a
#: sound is its file name).
SOUNDS = ("audio",)


def table_value(columns: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """A table as a dict of columns -> the ``gr.Dataframe`` value ``{"headers", "data"}`` (rows).

    >>> table_value({"City": ["Paris", "Berlin"], "Country": ["France", "Germany"]})
    {'headers': ['City', 'Country'], 'data': [['Paris', 'France'], ['Berlin', 'Germany']]}
    """
    headers = [str(h) for h in columns]
    return {"headers": headers, "data": [list(row) for row in zip(*columns.values())]}


def example_input(key: str, value: Any, kind: str = "") -> Any:
    """One preset input value (of input ``key``, of kind ``kind``) -> its widget's value."""
    if key == "table" and isinstance(value, dict):
        return table_value(value)
    if kind == "images":  # a gallery: the files as they are
        return value
    if isinstance(value, (dict, list)):  # a JSON input (decision's questions): its text
        import json

        return json.dumps(value, indent=1, ensure_ascii=False)
    return value


def example_row(inputs: InputWidgets, params: ParamWidgets, example: Example) -> list[Any]:
    """The widget values of ``example``, in ``example_components`` order."""
    spec = inputs.spec
    row = [example_input(k, example.inputs.get(k), spec.input_kind(k).name if k in spec.inputs else "")
           for k in inputs.example_keys]
    row += [to_ui(p, example.params.get(p.name, p.default)) for p in params.params]
    return row


def example_components(inputs: InputWidgets, params: ParamWidgets) -> list[gr.components.Component]:
    """The widgets an example fills: the main widget of each input, then every parameter."""
    return [inputs.component(k) for k in inputs.example_keys] + params.components


def example_label(example: Example, labels: dict[str, str] | None = None) -> str:
    """A short button label: the example's text, else its file names; and its parameters, named by
    their widgets' ``labels`` (a parameter's name where it has none).

    >>> example_label(Example({"audio": "/x/tone.wav"}, {"return_timestamps": True}))
    'tone.wav (return_timestamps=True)'
    >>> example_label(Example({"image": "/x/cat.png"}, {"points_per_crop": 4}), {"points_per_crop": "points per side"})
    'cat.png (points per side=4)'
    """
    labels = labels or {}
    media = ("image", "audio", "video")  # and their seconds (keypoint matching's image_2)
    texts = [v for k, v in example.inputs.items() if isinstance(v, str) and k.split("_")[0] not in media]
    files = [os.path.basename(v) for k, v in example.inputs.items()
             if isinstance(v, str) and k.split("_")[0] in media]
    label = texts[0] if texts else ", ".join(files) or "example"
    label = label if len(label) <= 60 else label[:59] + "…"
    extra = ", ".join(f"{labels.get(k, k)}={v}" for k, v in example.params.items())
    return f"{label} ({extra})" if extra and not texts else label


def example_players(inputs: InputWidgets, examples: tuple[Example, ...]) -> list[gr.Audio]:
    """A player for each distinct sound file of ``examples`` (none for a tab without sound inputs),
    so a user hears an example before running it."""
    spec = inputs.spec
    keys = [k for k in inputs.example_keys if k in spec.inputs and spec.input_kind(k).name in SOUNDS]
    files = list(dict.fromkeys(e.inputs[k] for e in examples for k in keys if isinstance(e.inputs.get(k), str)))
    if not files:
        return []
    with gr.Row(elem_classes=["example-players"]):
        return [gr.Audio(path, label=f"Listen: {os.path.basename(path)}", interactive=False, editable=False,
                         buttons=[], elem_id=f"{spec.name}-example-player-{i}") for i, path in enumerate(files)]


def build_examples(inputs: InputWidgets, params: ParamWidgets,
                   run_button: gr.Button | None = None) -> gr.Examples | None:
    """The tab's ``gr.Examples`` from ``presets/<task>.json`` (``None`` when it has none).

    Gradio fills an example's widgets by a round trip to the server, which a busy host takes a
    second over, and a Run pressed in between ran the old values ("The text is empty"). So a click
    here also types the example's texts into their boxes in the browser at once and, given
    ``run_button``, holds Run until Gradio's own fill (parameters, files) has landed."""
    examples = load_presets(inputs.spec.name).examples
    if not examples:
        return None
    rows = [example_row(inputs, params, e) for e in examples]
    components = example_components(inputs, params)
    labels = {p.name: p.label or p.name for p in params.params}
    # pictures show as thumbnails in a table (a column per widget, headed by its label); texts, sounds
    # and documents as buttons named by their text or file
    pictures = any(inputs.spec.input_kind(k).name in PICTURES for k in inputs.example_keys if k in inputs.spec.inputs)
    gallery = gr.Examples(examples=rows, inputs=components, label="Examples (from presets)",
                          example_labels=None if pictures else [example_label(e, labels) for e in examples],
                          examples_per_page=6, api_visibility="private")  # filling the page is no API endpoint
    example_players(inputs, examples)
    if run_button is None:
        return gallery
    texts = [i for i, c in enumerate(components) if isinstance(c, gr.Textbox) and c.elem_id]
    typed = json.dumps([{components[i].elem_id: row[i] for i in texts if isinstance(row[i], str)} for row in rows])
    # On `select`, which Gradio dispatches apart from `click`: a second listener of `click` runs only
    # once Gradio's fill has answered. The texts are typed through the boxes' own `input` events (this
    # event's outputs would also wait for the fill), which update Gradio's values.
    gallery.dataset.select(None, inputs=gallery.dataset, outputs=run_button, api_visibility="private", js=f"""(i) => {{
        for (const [id, text] of Object.entries(({typed})[i] || {{}})) {{
          const box = document.querySelector(`#${{id}} textarea, #${{id}} input`);
          if (box) {{ box.value = text; box.dispatchEvent(new Event("input", {{bubbles: true}})); }}
        }}
        return {{__type__: "update", interactive: false}};
    }}""")
    gallery.load_input_event.then(lambda: gr.Button(interactive=True), outputs=run_button, queue=False,
                                  show_progress="hidden", api_visibility="private")
    return gallery
