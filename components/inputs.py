"""Input widgets for a task, chosen by each input's kind (``workbench.kinds``; no per-task code).

``build_inputs(spec)`` creates the widgets inside the current Blocks context and returns an
``InputWidgets`` that knows how to turn their values into the ``inputs`` dict of
``workbench.service.run_task``: an image is the uploaded file *or* the URL typed next to it; a
document is an image or PDF plus a page number; a table is the edited dataframe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import gradio as gr

from components.checked_image import CheckedImage, Refused
from components.file_urls import fetch_urls_under
from workbench.hosting import HostingPolicy
from workbench.kinds import KINDS
from workbench.presets import load_presets
from workbench.tasks import TaskSpec

#: Lines of the text inputs, by input name (their labels are the task's: ``spec.input_label``).
TEXT_LINES: dict[str, int] = {"text": 4, "question": 1, "context": 6, "query": 1, "state": 4}
#: What the text inputs mean for an API client, by input name (other inputs: their kind's description).
API_DESCRIPTIONS: dict[str, str] = {
    "question": "The question.",
    "context": "The text that contains the answer.",
    "query": "The question about the table.",
    "state": "The state the questions are about: a text (or JSON as text).",
    "questions": 'The questions, as JSON text: {name: {"type": "choice" | "score" | "noul", "instructions": ..., '
                 '"criteria": ...}}.',
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
        document(component, description or key.replace("_", " ").capitalize() + ".",
                 schema=STRING if text else None)
        self.keys.append(key)
        self.components.append(component)
        if example:
            self.example_keys.append(key)

    def component(self, key: str) -> gr.components.Component:
        return self.components[self.keys.index(key)]

    def to_service(self, values: dict[str, Any]) -> dict[str, Any]:
        """The ``inputs`` for ``run_task`` from widget values keyed as ``keys``; an upload its widget
        refused (``Refused``) raises ``InputError`` with the reason."""
        from workbench.errors import InputError

        out: dict[str, Any] = {}
        for name in self.spec.inputs:
            value = values.get(name)
            url = values.get(f"{name}_url")
            if isinstance(url, str) and url.strip():
                value = url.strip()
            elif isinstance(value, Refused):
                raise InputError(value.reason)
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


def _preview_page(path: Any, page: Any, policy: HostingPolicy) -> Any:
    """The page a document upload will be read from (a PDF's page rendered small), or nothing."""
    from workbench.errors import WorkbenchError
    from workbench.inputs import load_document

    if not path:
        return None
    try:
        return load_document(path, max(int(page or 1), 1) - 1, policy, scale=1.0)
    except (WorkbenchError, ValueError, OSError):
        return None  # Run says why


def _document(w: InputWidgets, spec: TaskSpec, name: str, task: str, policy: HostingPolicy) -> None:
    document = fetch_urls_under(gr.File(label="Document: a page image or a PDF", file_types=["image", ".pdf"],
                                        height=90, elem_id=f"{task}-document"), policy)
    w.add(name, document, example=True, description=KINDS["document"].description)
    with gr.Row():
        w.add(f"{name}_url", gr.Textbox(value="", label="…or the URL of a page image or PDF", placeholder="https://…",
                                        elem_id=f"{task}-url", scale=3),
              description="An http(s) URL of the page image or PDF (used instead of the file when given).")
        page = gr.Number(value=1, label="PDF page", precision=0, minimum=1, elem_id=f"{task}-page", scale=1)
        w.add("page", page, description="The PDF page to read, from 1.")
    # the uploaded page itself, not only a file chip (a PDF's page as it will be read)
    preview = gr.Image(label="The page", interactive=False, height=220, elem_id=f"{task}-document-preview")
    for trigger in (document.change, page.change):
        trigger(lambda path, n: _preview_page(path, n, policy), inputs=[document, page], outputs=preview,
                api_visibility="private", show_progress="hidden")


def _image(w: InputWidgets, spec: TaskSpec, name: str, task: str, policy: HostingPolicy) -> None:
    # ids {task}-image and {task}-url; a further image input (keypoint matching's image_2): {task}-{name}(-url)
    ids = (f"{task}-image", f"{task}-url") if name == "image" else (f"{task}-{name}", f"{task}-{name}-url")
    what = spec.input_labels.get(name) or ("Image" if name == "image" else spec.input_label(name))
    w.add(name, fetch_urls_under(CheckedImage(label=f"{what} (upload, paste or webcam)", max_pixels=policy.max_image_pixels,
                                              sources=["upload", "clipboard", "webcam"], height=260,
                                              elem_id=ids[0]), policy),
          example=True, description=KINDS["image"].description.replace("`image_url`", f"`{name}_url`"))
    w.add(f"{name}_url", gr.Textbox(value="", label="…or an image URL (http/https)", placeholder="https://…",
                                    elem_id=ids[1]),
          description=f"An http(s) URL of the image (used instead of `{name}` when given).")


def _images(w: InputWidgets, spec: TaskSpec, name: str, task: str, policy: HostingPolicy) -> None:
    # the same ids as one image's: {task}-image and {task}-url
    w.add(name, fetch_urls_under(gr.Gallery(label="Images (upload several: their similarities)", type="filepath",
                                            interactive=True, sources=["upload", "clipboard", "webcam"],
                                            columns=4, height=260, object_fit="contain", elem_id=f"{task}-image"),
                                 policy),
          example=True, description=KINDS["images"].description)
    w.add(f"{name}_url", gr.Textbox(value="", label="…or image URLs (http/https), one per line", lines=2,
                                    placeholder="https://…", elem_id=f"{task}-url"),
          description="http(s) URLs of the images, one per line (used instead of the gallery when given).")


def _video(w: InputWidgets, spec: TaskSpec, name: str, task: str, policy: HostingPolicy) -> None:
    # include_audio keeps Gradio from re-muxing the upload with ffmpeg (not needed: PyAV decodes)
    w.add(name, fetch_urls_under(gr.Video(label="Video (upload a clip, or record with the webcam)",
                                          sources=["upload", "webcam"], include_audio=True, height=260,
                                          elem_classes=["wb-video"], elem_id=f"{task}-video"), policy),
          example=True, description=KINDS["video"].description)


def _audio(w: InputWidgets, spec: TaskSpec, name: str, task: str, policy: HostingPolicy) -> None:
    w.add(name, fetch_urls_under(gr.Audio(label="Audio (microphone or file: wav, flac, mp3, ogg, m4a)",
                                          type="filepath", sources=["microphone", "upload"],
                                          elem_id=f"{task}-audio"), policy),
          example=True, description=KINDS["audio"].description)


def _table(w: InputWidgets, spec: TaskSpec, name: str, task: str, policy: HostingPolicy) -> None:
    table = gr.Dataframe(value=_first_example_table(spec), label="Table (editable)", interactive=True,
                         type="pandas", elem_id=f"{task}-table")
    w.add(name, table, example=True, description=KINDS["table"].description)
    csv = gr.File(label="…or upload a CSV", file_types=[".csv"], elem_id=f"{task}-csv", height=80)
    csv.upload(_load_csv, inputs=csv, outputs=table, api_visibility="private", queue=False)


def _text(w: InputWidgets, spec: TaskSpec, name: str, task: str, policy: HostingPolicy) -> None:
    label, lines = spec.input_label(name), TEXT_LINES.get(name, 1)
    if spec.input_kind(name).name == "lines":
        lines = max(lines, 4)
    w.add(name, gr.Textbox(label=label, lines=lines, max_lines=max(lines, 20), placeholder=_placeholder(spec, name),
                           elem_id=f"{task}-{name}"), example=True,
          description=f"{label}." if name == "text" else API_DESCRIPTIONS.get(name))


def _json(w: InputWidgets, spec: TaskSpec, name: str, task: str, policy: HostingPolicy) -> None:
    import json

    examples = load_presets(spec.name).examples
    first = examples[0].inputs.get(name) if examples else None
    value = json.dumps(first, indent=1, ensure_ascii=False) if isinstance(first, (dict, list)) else first
    w.add(name, gr.Code(value=value, language="json", label=spec.input_label(name), lines=10, max_lines=30,
                        elem_id=f"{task}-{name}"),
          example=True, description=API_DESCRIPTIONS.get(name, KINDS["json"].description))


#: How each input kind (``workbench.kinds``) is shown: a function adding its widgets to an ``InputWidgets``.
WIDGETS: dict[str, Callable[[InputWidgets, TaskSpec, str, str, HostingPolicy], None]] = {
    "text": _text, "lines": _text, "image": _image, "images": _images, "document": _document, "audio": _audio,
    "video": _video, "table": _table, "json": _json,
}


def build_inputs(spec: TaskSpec, *, policy: HostingPolicy | None = None) -> InputWidgets:
    """Create the input widgets of ``spec``, each by its input kind (``WIDGETS``; ids ``{task}-{input}``,
    ``{task}-url``…) under ``policy`` (local by default): an uploaded image over
    ``policy.max_image_pixels`` is refused from its header, before anything decodes it; a file input
    given an http(s) URL (an API or MCP client) fetches it under the policy (``components.file_urls``)."""
    w = InputWidgets(spec)
    for name in spec.inputs:
        WIDGETS[spec.input_kind(name).name](w, spec, name, spec.name, policy or HostingPolicy.local())
    return w
