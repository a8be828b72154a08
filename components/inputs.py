"""Input widgets for a task, chosen by input name and modality (no per-task code).

``build_inputs(spec)`` creates the widgets inside the current Blocks context and returns an
``InputWidgets`` that knows how to turn their values into the ``inputs`` dict of
``workbench.service.run_task``: an image is the uploaded file *or* the URL typed next to it; a
document is an image or PDF plus a page number; a table is the edited dataframe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from components.checked_image import CheckedImage
from components.file_urls import fetch_urls_under
from workbench.hosting import HostingPolicy
from workbench.presets import load_presets
from workbench.tasks import TaskSpec

#: Lines of the text inputs, by input name (their labels are the task's: ``spec.input_label``).
TEXT_LINES: dict[str, int] = {"text": 4, "question": 1, "context": 6, "query": 1}
AUDIO_TYPES = [".wav", ".flac", ".mp3", ".ogg"]
#: A file input takes an upload (gradio_client: ``handle_file(path)``) or, from an API or MCP client, the
#: file's http(s) URL or its bytes as a ``data:`` URI (MCP).
FILE = "`handle_file(path)`, an http(s) URL, or a `data:` URI"
#: What each input means for an API client, by input name.
API_DESCRIPTIONS: dict[str, str] = {
    "image": f"The image file ({FILE}); or leave it empty and give `image_url`.",
    "image_url": "An http(s) URL of the image (used instead of `image` when given).",
    "page": "The PDF page to read, from 1.",
    "audio": f"The audio file ({FILE}): wav, flac, mp3 or ogg.",
    "video": f"The video clip ({FILE}): mp4, webm, mkv, mov or avi.",
    "table": "The table: {'headers': [...], 'data': [[...], ...]} (all cells as text).",
    "text": "The input text.",
    "question": "The question.",
    "context": "The text that contains the answer.",
    "query": "The question about the table.",
}


@dataclass
class InputWidgets:
    """The widgets of a task's inputs: ``keys[i]`` names ``components[i]``.

    ``example_keys`` are the keys that a preset example fills (the main widget of each input).
    """

    spec: TaskSpec
    keys: list[str] = field(default_factory=list)
    components: list[gr.components.Component] = field(default_factory=list)
    example_keys: list[str] = field(default_factory=list)

    def add(self, key: str, component: gr.components.Component, *, example: bool = False,
            description: str | None = None) -> None:
        """Add the widget of input ``key``, documented in the API by ``description`` (default: the
        input's entry in ``API_DESCRIPTIONS``)."""
        from components.api_docs import STRING, document

        text = isinstance(component, gr.Textbox)
        document(component, description or API_DESCRIPTIONS.get(key, key.replace("_", " ")),
                 schema=STRING if text else None)
        self.keys.append(key)
        self.components.append(component)
        if example:
            self.example_keys.append(key)

    def component(self, key: str) -> gr.components.Component:
        return self.components[self.keys.index(key)]

    def to_service(self, values: dict[str, Any]) -> dict[str, Any]:
        """The ``inputs`` for ``run_task`` from widget values keyed as ``keys``."""
        out: dict[str, Any] = {}
        for name in self.spec.inputs:
            value = values.get(name)
            url = values.get(f"{name}_url")
            if isinstance(url, str) and url.strip():
                value = url.strip()
            out[name] = value
        if values.get("page") not in (None, ""):
            out["page"] = int(values["page"])
        return out


def _first_example_table(spec: TaskSpec) -> Any:
    import pandas as pd

    for example in load_presets(spec.name).examples:
        if "table" in example.inputs:
            return pd.DataFrame(example.inputs["table"])
    from workbench.samples import sample_table

    return sample_table()


def _load_csv(path: str | None) -> Any:
    """CSV upload -> the dataframe widget's value (errors shown to the user)."""
    from workbench.errors import WorkbenchError
    from workbench.inputs import load_table

    if not path:
        return gr.skip()
    try:
        return load_table(path)
    except WorkbenchError as exc:
        raise gr.Error(str(exc)) from exc


def _placeholder(spec: TaskSpec, name: str) -> str | None:
    for example in load_presets(spec.name).examples:
        value = example.inputs.get(name)
        if isinstance(value, str) and not value.startswith("/"):
            return f"e.g. {value}"
    return None


def build_inputs(spec: TaskSpec, *, policy: HostingPolicy | None = None) -> InputWidgets:
    """Create the input widgets of ``spec`` (ids ``{task}-{input}``, ``{task}-url``…) under ``policy``
    (local by default): an uploaded image over ``policy.max_image_pixels`` is refused from its
    header, before anything decodes it; a file input given an http(s) URL (an API or MCP client)
    fetches it under the policy (``components.file_urls``)."""
    policy = policy or HostingPolicy.local()
    max_image_pixels = policy.max_image_pixels
    w = InputWidgets(spec)
    task = spec.name

    def fetched(component: Any) -> Any:
        return fetch_urls_under(component, policy)

    for name in spec.inputs:
        if name == "image" and spec.modality == "document":
            w.add(name, fetched(gr.File(label="Document: a page image or a PDF", file_types=["image", ".pdf"],
                                        elem_id=f"{task}-document")), example=True,
                  description=f"The document ({FILE}): a page image or a PDF; or give `image_url`.")
            with gr.Row():
                w.add("image_url", gr.Textbox(value="", label="…or the URL of a page image or PDF",
                                              placeholder="https://…",
                                              elem_id=f"{task}-url", scale=3))
                w.add("page", gr.Number(value=1, label="PDF page", precision=0, minimum=1, elem_id=f"{task}-page",
                                        scale=1))
        elif name == "image":
            w.add(name, fetched(CheckedImage(label="Image (upload, paste or webcam)", max_pixels=max_image_pixels,
                                             sources=["upload", "clipboard", "webcam"], height=260,
                                             elem_id=f"{task}-image")), example=True)
            w.add("image_url", gr.Textbox(value="", label="…or an image URL (http/https)", placeholder="https://…",
                                          elem_id=f"{task}-url"))
        elif name == "video":
            # include_audio keeps Gradio from re-muxing the upload with ffmpeg (not needed: PyAV decodes)
            w.add(name, fetched(gr.Video(label="Video (upload a clip, or record with the webcam)",
                                         sources=["upload", "webcam"], include_audio=True, height=260,
                                         elem_id=f"{task}-video")), example=True)
        elif name == "audio":
            w.add(name, fetched(gr.Audio(label="Audio (microphone or file: wav, flac, mp3, ogg)", type="filepath",
                                         sources=["microphone", "upload"], elem_id=f"{task}-audio")), example=True)
        elif name == "table":
            table = gr.Dataframe(value=_first_example_table(spec), label="Table (editable)", interactive=True,
                                 type="pandas", elem_id=f"{task}-table")
            w.add(name, table, example=True)
            csv = gr.File(label="…or upload a CSV", file_types=[".csv"], elem_id=f"{task}-csv", height=80)
            csv.upload(_load_csv, inputs=csv, outputs=table, api_visibility="private", queue=False)
        else:
            label, lines = spec.input_label(name), TEXT_LINES.get(name, 1)
            w.add(name, gr.Textbox(label=label, lines=lines, max_lines=max(lines, 20),
                                   placeholder=_placeholder(spec, name), elem_id=f"{task}-{name}"), example=True,
                  description=f"{label}." if name == "text" else None)
    return w
