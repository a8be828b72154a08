"""Shared cases for the service and UI tests: inputs and parameters for one run of each task, and a
local HTTP server for URL inputs."""

from __future__ import annotations

import contextlib
import http.server
import threading
from typing import Any, Iterator

import pytest

from workbench.offline import offline_tasks
from workbench.presets import load_presets
from workbench.samples import sample_file, sample_table
from workbench.tasks import TaskSpec

#: Inputs for tasks whose presets have no example, by input name.
DEFAULT_INPUTS: dict[str, Any] = {
    "text": "My name is Mary and I live in London.",
    "question": "What is the total?",
    "context": "The invoice number is 4711 and the total is 42.50 EUR.",
    "query": "Which city is in Germany?",
}
#: Parameters that make random-weight models return something to render.
TEST_PARAMS: dict[str, dict[str, Any]] = {
    "object-detection": {"threshold": 0.0},
    "zero-shot-object-detection": {"threshold": 0.0},
    "image-segmentation": {"threshold": 0.0},
    "text-generation": {"max_new_tokens": 8},
    "summarization": {"max_new_tokens": 8},
    "translation": {"max_new_tokens": 8},
    "text2text-generation": {"max_new_tokens": 8},
    "image-to-text": {"max_new_tokens": 8},
    "image-text-to-text": {"max_new_tokens": 8},
}


def default_inputs(spec: TaskSpec) -> dict[str, Any]:
    """One input of each of the task's input kinds (``spec.input_kind``): a sample file, the sample
    table, or a text (``DEFAULT_INPUTS`` by input name, else a sentence)."""
    samples = {"image": "image.png", "document": "document.png", "audio": "tone.wav", "video": "clip.mp4"}
    values: dict[str, Any] = {}
    for name in spec.inputs:
        kind = spec.input_kind(name).name
        if kind in samples:
            values[name] = sample_file(samples[kind])
        elif kind == "table":
            values[name] = sample_table()
        else:
            values[name] = DEFAULT_INPUTS.get(name, DEFAULT_INPUTS["text"])
    return values


def task_case(spec: TaskSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """Inputs and params for one run: the first preset example when there is one."""
    examples = load_presets(spec.name).examples
    inputs, params = (dict(examples[0].inputs), dict(examples[0].params)) if examples else (default_inputs(spec), {})
    for p in spec.params:
        if p.required and p.name not in params:
            params[p.name] = "sports, politics, music"
    params.update(TEST_PARAMS.get(spec.name, {}))
    return inputs, params


def needs_offline_model(task: str) -> None:
    if task not in offline_tasks():
        pytest.skip(f"no offline model for {task} yet")



@contextlib.contextmanager
def serve_test_files() -> Iterator[str]:
    """A loopback HTTP server: ``/<anything>.png`` is the sample image, ``/<anything>.pdf`` the sample
    invoice as a one-page PDF, anything else an HTML page."""
    import io

    from workbench.samples import sample_document

    image = open(sample_file("image.png"), "rb").read()
    pdf = io.BytesIO()
    sample_document()[0].save(pdf, "PDF", resolution=72)
    routes = {".png": (image, "image/png"), ".pdf": (pdf.getvalue(), "application/pdf")}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body, ctype = routes.get(self.path[-4:], (b"<html>hi</html>", "text/html"))
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
