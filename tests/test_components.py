"""The UI: every task tab's callback returns values its output widgets accept; errors become gr.Error;
the app builds with every tab and serves every task as a named API endpoint."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gradio as gr
import pytest

from components.params import to_ui
from components.task_tab import TaskTab, group_tabs
from tests.task_cases import needs_offline_model, serve_test_files, task_case
from workbench.samples import sample_file
from workbench.tasks import TASKS, tasks_by_group

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def http_server():
    with serve_test_files() as url:
        yield url


@pytest.fixture(scope="module")
def context():
    import app

    return app.make_context()


@pytest.fixture(scope="module")
def tabs(manager, context) -> dict[str, TaskTab]:
    with gr.Blocks():
        return group_tabs(tasks_by_group(), manager, context)


def widget_values(tab: TaskTab, inputs: dict[str, Any], params: dict[str, Any], **options: Any) -> dict[str, Any]:
    """What the widgets would hold for these service inputs and params."""
    named: dict[str, Any] = {k: None for k in tab.keys}
    named.update({k: v for k, v in inputs.items()})
    for p, key in zip(tab.params.params, tab.params.keys):
        named[key] = to_ui(p, params.get(p.name, p.default))
    named.update(model=f"offline:{tab.spec.name}", revision="", device="auto", dtype="auto")
    named.update(options)
    return named


def run_tab(tab: TaskTab, named: dict[str, Any], session: str = "") -> list[Any]:
    """The outputs of a run's last update (the ones before only say its progress)."""
    *_, last = tab.run(named, session)
    return last


def test_components_do_not_import_torch():
    code = ("import sys, components.task_tab, components.models_tab, components.banner, components.demo, "
            "components.mcp, components.file_urls, app; "
            "assert 'torch' not in sys.modules, 'torch was imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, timeout=120)


@pytest.mark.parametrize("task", list(TASKS))
def test_every_tab_output_is_accepted_by_its_widgets(tabs, task):
    needs_offline_model(task)
    tab = tabs[task]
    inputs, params = task_case(tab.spec)
    values = run_tab(tab, widget_values(tab, inputs, params))
    assert len(values) == len(tab.out_components)
    for component, value in zip(tab.out_components, values):
        if not isinstance(value, gr.components.Component):  # an update was validated when it was built
            component.postprocess(value)  # raises if the widget cannot show the value
    info = values[len(tab.renderer.components) + 1]
    assert "offline:" in info and "cpu" in info and "load" in info
    assert "pipe" in values[-1]  # the code view


def test_each_tab_has_the_ids_the_browser_tests_use(manager, context, tabs):
    """Built at once (``lazy=False``: as a session's ``gr.render`` builds them); the lazily built
    app's tabs hold the endpoints' hidden widgets, with no ids and no buttons."""
    with gr.Blocks():
        eager = group_tabs(tasks_by_group(), manager, context, lazy=False)
    assert sum(tab.run_button is None for tab in tabs.values()) > len(tabs) // 2
    assert all(not c.elem_id for tab in tabs.values() if tab.run_button is None for c in tab.in_components)
    for task, tab in eager.items():
        assert tab.run_button.elem_id == f"{task}-run"
        assert tab.renderer.components[0].elem_id == f"{task}-output"
        assert tab.picker.model.elem_id == f"{task}-model"
        if "text" in tab.spec.inputs:
            assert tab.inputs.component("text").elem_id == f"{task}-text"
        if "image" in tab.spec.inputs:
            assert tab.inputs.component("image_url").elem_id == f"{task}-url"


def test_image_url_field_wins_over_the_upload(tabs, http_server):
    needs_offline_model("image-classification")
    tab = tabs["image-classification"]
    named = widget_values(tab, {"image": None, "image_url": f"{http_server}/x.png"}, {"top_k": 3})
    labels = run_tab(tab, named)[0]
    assert len(labels) == 3 and all(0 <= s <= 1 for s in labels.values())


def test_text_generation_streams_several_updates(tabs):
    tab = tabs["text-generation"]
    updates = [u for u in tab.run(widget_values(tab, {"text": "Once upon a time"}, {"max_new_tokens": 40}))
               if isinstance(u[0], str)]  # progress updates skip the output box
    assert len(updates) >= 2
    assert "generating" in updates[0][2] and "tokens/s" in updates[-1][2]
    assert updates[-1][0].startswith("Once upon a time")


def test_generated_text_leaves_out_pieces_of_characters_and_says_so(tabs):
    """The offline GPT-2's greedy answer to this prompt holds byte tokens that are not whole
    characters (decoded as "�"): the text box leaves them out, the info line says how many, the
    raw output keeps them."""
    import json

    tab = tabs["text-generation"]
    *_, (text, raw, info, _) = tab.run(widget_values(tab, {"text": "Once upon a time"}, {}))
    broken = json.dumps(raw, ensure_ascii=False).count("\ufffd")
    assert broken > 0  # the model did produce some
    assert text.startswith("Once upon a time") and "\ufffd" not in text
    assert f'Left out of the text: {broken} "\ufffd"' in info


def test_max_new_tokens_past_the_model_ends_with_a_note(tabs):
    """400 new tokens on the 128-position offline GPT-2: lowered, said on the info line, and the
    info line ends (no "generating…" left behind)."""
    tab = tabs["text-generation"]
    *_, last = tab.stream(widget_values(tab, {"text": "Once upon a time"}, {"max_new_tokens": 400}))
    assert "generating" not in last[2] and "new tokens" in last[2]
    assert "max new tokens lowered from 400 to" in last[2]


def test_stop_ends_the_stream(tabs):
    tab = tabs["text-generation"]
    stream = tab.run(widget_values(tab, {"text": "Once upon a time"}, {"max_new_tokens": 100}), "session-1")
    next(u for u in stream if isinstance(u[0], str))  # the first piece of text
    assert "stopped" in tab.stop("session-1")
    *_, last = stream
    assert "generating" not in last[2] and "new tokens" in last[2]  # the stream ended with a final update
    assert tab.stop("session-1") is None  # nothing runs any more


# ---------------------------------------------------------------------------------------------
# Bad inputs -> gr.Error with a message a person can act on


@pytest.mark.parametrize("task, inputs, options, message", [
    ("text-classification", {"text": "  "}, {}, "text is empty"),
    ("text-classification", {"text": "hi"}, {"model": "nobody/no-such-model"}, "not in the local cache"),
    ("text-classification", {"text": "hi"}, {"device": "cpu", "dtype": "float16"}, "needs a GPU"),
    ("text-classification", {"text": "hi"}, {"model": "offline:text-generation"}, "cannot do text-classification"),
    ("fill-mask", {"text": "no mask here"}, {}, "mask token"),
    ("image-classification", {"image": None}, {}, "No image given"),
    ("automatic-speech-recognition", {"audio": None}, {}, "No audio given"),
    ("question-answering", {"question": "Who?", "context": ""}, {}, "context is empty"),
])
def test_bad_inputs_become_gr_errors(tabs, task, inputs, options, message):
    tab = tabs[task]
    with pytest.raises(gr.Error, match=message):
        run_tab(tab, widget_values(tab, inputs, {}, **options))


def test_url_that_is_not_an_image_is_a_gr_error(tabs, http_server):
    tab = tabs["object-detection"]
    with pytest.raises(gr.Error, match="not an image"):
        run_tab(tab, widget_values(tab, {"image_url": f"{http_server}/page.html"}, {}))


# ---------------------------------------------------------------------------------------------
# The whole app


@pytest.fixture(scope="module")
def demo(manager, context):
    import app

    return app.build_app(manager, context=context)


def _labels(config: dict, kind: str) -> list[str]:
    return [c["props"].get("label") for c in config["components"] if c["type"] == kind]


def test_app_has_every_group_task_models_and_benchmark(demo):
    config = demo.get_config_file()
    tabs = _labels(config, "tabitem")
    for group in tasks_by_group():
        assert group in tabs
    for spec in TASKS.values():
        assert spec.title in tabs
    assert "Models" in tabs and "Benchmark" in tabs


def test_every_task_is_a_named_api_endpoint(demo):
    names = {d.get("api_name") for d in demo.get_config_file()["dependencies"]}
    assert {spec.api_name for spec in TASKS.values()} <= names


def test_each_task_runs_in_its_own_queue(demo):
    """A long run in one task never holds the slots of another task's requests."""
    runs = {fn.api_name: fn for fn in demo.fns.values() if fn.api_name in {s.api_name for s in TASKS.values()}}
    assert len(runs) == len(TASKS)
    for spec in TASKS.values():
        fn = runs[spec.api_name]
        assert fn.concurrency_id == spec.name and fn.concurrency_limit == 2


def test_offline_banner_names_offline_models(demo, context):
    banner = next(c for c in demo.get_config_file()["components"] if c["props"].get("elem_id") == "hub-banner")
    assert not context.online and "cannot be reached" in banner["props"]["value"]


@pytest.fixture(scope="module")
def served(demo):
    from tests.app_server import serving

    with serving(demo) as url:
        yield url


def test_gradio_client_calls_the_named_endpoints(served):
    from gradio_client import Client, handle_file

    client = Client(served, verbose=False)
    api = client.view_api(print_info=False, return_format="dict")
    assert {f"/{spec.api_name}" for spec in TASKS.values()} <= set(api["named_endpoints"])
    names = [p["parameter_name"] for p in api["named_endpoints"]["/text_classification"]["parameters"]]
    assert names == ["text", "top_k", "function_to_apply", "model", "revision", "device", "dtype"]
    labels, raw, info, code = client.predict(text="I love it", top_k=2, model="offline:text-classification",
                                             api_name="/text_classification")
    assert len(labels["confidences"]) == 2 and len(raw) == 2 and "pipeline(" in code
    out = client.predict(image=handle_file(sample_file("image.png")), top_k=2, model="offline:image-classification",
                         api_name="/image_classification")
    assert len(out[0]["confidences"]) == 2


def test_gradio_client_streams_text_generation(served):
    from gradio_client import Client

    client = Client(served, verbose=False)
    job = client.submit(text="Hello", max_new_tokens=16, model="offline:text-generation", api_name="/text_generation")
    final = job.result(timeout=120)
    assert final[0].startswith("Hello") and "tokens/s" in final[2]
    assert len(job.outputs()) >= 2  # streamed: more than the final update


def test_an_error_does_not_stop_the_server(served):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(served, verbose=False)
    with pytest.raises(AppError, match="text is empty"):
        client.predict(text="", model="offline:text-classification", api_name="/text_classification")
    labels = client.predict(text="fine", top_k=1, model="offline:text-classification",
                            api_name="/text_classification")[0]
    assert len(labels["confidences"]) == 1


def test_models_tab_unloads_through_the_api(served, manager):
    from gradio_client import Client

    from components.models_tab import key_label

    keep, drop = manager.load("text-classification"), manager.load("fill-mask")
    client = Client(served, verbose=False)
    message, status, table, *_ = client.predict(key_label(drop.key), api_name="/unload_model")
    assert message.startswith("Unloaded") and drop.key not in [e.key for e in manager.loaded()]
    assert keep.key in [e.key for e in manager.loaded()]
    rows = [tuple(row[:2]) for row in table["data"]]  # (task, model): other tests may have loaded other dtypes
    assert (drop.key.task, drop.key.model) not in rows or any(
        e.key.task == drop.key.task and e.key.model == drop.key.model for e in manager.loaded())
    assert (keep.key.task, keep.key.model) in rows
    message, status, table, *_ = client.predict(api_name="/unload_all_models")
    assert "Unloaded" in message and not manager.loaded() and "0 pipeline(s) loaded" in status


def test_main_honours_gradio_env(monkeypatch):
    import app

    monkeypatch.setenv("GRADIO_SERVER_NAME", "0.0.0.0")
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7999")
    args = app.parse_args([])
    assert (args.host, args.port) == ("0.0.0.0", 7999)
    assert app.parse_args(["--port", "8001"]).port == 8001


def test_first_page_is_served_before_any_model_loads(tmp_path):
    """``python app.py`` answers HTTP with nothing heavy before launch: no model has loaded when the
    first page is served (how fast that is, is measured by benchmarks/page_weight.py, not here; the
    timeout only guards against a hang on a busy machine)."""
    from tests.app_server import start_app

    log = tmp_path / "app.log"
    app = start_app(log, timeout=180)
    try:
        text = log.read_text(errors="replace")
        assert "Loading weights" not in text and "LOAD REPORT" not in text, text[-2000:]
    finally:
        app.stop()


# ---------------------------------------------------------------------------------------------
# Progress, Cancel, a closed tab, errors that stay


LONG_TEXT = "\n".join(f"sentence number {i} about tiny models" for i in range(4000))
HUGE_TEXT = "\n".join(f"sentence {i}" for i in range(100_000))  # minutes of work: it can only end by a cancel


def _workers(task: str) -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == f"run-{task}" and t.is_alive()]


def _wait_gone(task: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while _workers(task) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _workers(task), f"the worker of {task} kept running"


def _until_progress(run, text: str) -> list:
    for update in run:
        if isinstance(update[-2], str) and text in update[-2]:
            return update
    raise AssertionError(f"the run ended without saying {text!r}")


def test_progress_then_cancel_on_a_task_tab(tabs):
    tab = tabs["feature-extraction"]
    run = tab.run(widget_values(tab, {"text": LONG_TEXT}, {}), "s-cancel")
    update = _until_progress(run, "inference: input")
    assert update[-2].startswith("⏳") and "/4000" in update[-2]
    assert all(v is gr.skip() or isinstance(v, type(gr.skip())) for v in update[:2])  # the outputs stay as they are
    assert tab.stop("s-cancel") == "⏳ cancelling…"
    *_, last = run
    assert last[-2].startswith("**Cancelled** during inference") and "/4000" in last[-2] and last[0] is None
    assert last[-2].count("Cancelled") == 1  # said once, not "Cancelled. Cancelled during…"
    _wait_gone("feature-extraction")
    assert tab.stop("s-cancel") is None


def test_closing_the_run_cancels_its_worker(tabs):
    """Gradio closes a run's generator when its browser tab goes away: the worker must stop too."""
    tab = tabs["feature-extraction"]
    run = tab.run(widget_values(tab, {"text": HUGE_TEXT}, {}), "s-closed")
    _until_progress(run, "inference: input")
    assert _workers("feature-extraction")
    run.close()
    _wait_gone("feature-extraction")


def test_an_error_stays_in_the_output_area(tabs):
    tab = tabs["text-classification"]
    run_tab(tab, widget_values(tab, {"text": "fine"}, {}), "s-error")
    with pytest.raises(gr.Error, match="text is empty"):
        run_tab(tab, widget_values(tab, {"text": " "}, {}), "s-error")
    labels, raw, info, code = tab.error_outputs("s-error")
    assert info.startswith("**Error:**") and "text is empty" in info  # not the previous run's info
    assert labels is None and raw is None


def test_a_bad_number_is_refused_with_the_range(tabs):
    tab = tabs["text-generation"]
    with pytest.raises(gr.Error, match=r"temperature must be a number, not 'warm' \(or leave it empty"):
        run_tab(tab, widget_values(tab, {"text": "Hi"}, {}, temperature="warm"))
    with pytest.raises(gr.Error, match=r"temperature must be from 0\.05 to 2; got 7 \(or leave it empty"):
        run_tab(tab, widget_values(tab, {"text": "Hi"}, {}, temperature="7"))


def test_several_images_give_a_shaded_similarity_table_that_fits(tabs):
    """Image embeddings takes the gallery's images in one run; the similarity table names each by
    its number, is shaded by value (-1 red, 0 white, 1 blue) and shows 2 decimals."""
    tab = tabs["image-feature-extraction"]
    files = [sample_file("image.png"), sample_file("image-turned.png"), sample_file("document.png")]
    values = run_tab(tab, widget_values(tab, {"image": [(f, None) for f in files]}, {"pool": True}))
    embeddings, similarity = values[0], values[1]
    assert embeddings["input"].tolist() == ["image 1", "image 2", "image 3"]
    assert similarity.visible is True
    styler = similarity.value  # the Styler's display, as the widget holds it
    assert styler["headers"] == ["", "1", "2", "3"]
    assert [row[0] for row in styler["data"]] == embeddings["input"].tolist()
    shown = styler["metadata"]["display_value"]
    assert shown[0][1] == "1.00" and all(len(cell.split(".")[-1]) == 2 for row in shown for cell in row[1:])
    colours = styler["metadata"]["styling"]
    assert all("background-color" in cell for row in colours for cell in row[1:])
    assert colours[0][1] != colours[0][3] or shown[0][1] == shown[0][3]  # a colour by value


def test_empty_and_small_outputs_are_explained(tabs):
    from components.renderers import EmbeddingsRenderer

    tab = tabs["image-feature-extraction"]
    values = run_tab(tab, widget_values(tab, {"image": [(sample_file("image.png"), None)]}, {}))
    assert "sentence" not in tab.renderer.components[0].label and "image" in tab.renderer.components[0].label
    assert values[1].visible is False and "several images" in values[-2]  # one input: no similarity grid
    tab = tabs["feature-extraction"]
    values = run_tab(tab, widget_values(tab, {"text": "one\ntwo"}, {}))
    assert isinstance(tab.renderer, EmbeddingsRenderer) and values[1].visible is True
    tab = tabs["fill-mask"]
    labels = run_tab(tab, widget_values(tab, {"text": "Paris is the [MASK] of France."}, {"top_k": 3}))[0]
    assert all(name.endswith("%)") for name in labels)  # a random model's tiny probabilities, readable


def test_api_reads_like_documented_api(served):
    from gradio_client import Client

    api = Client(served, verbose=False).view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name, endpoint in api.items():
        assert endpoint["description"], f"{name} has no description"
        for p in endpoint["parameters"]:
            assert not p["parameter_name"].startswith("param_"), (name, p)
            assert p["python_type"]["description"], f"{name}: parameter {p['parameter_name']} has no description"
            assert "Literal[]" not in p["python_type"]["type"], (name, p)
        for r in endpoint["returns"]:
            assert not r["label"].startswith("value_"), f"{name} has an unnamed output"
            assert r["python_type"]["description"], f"{name}: output {r['label']} has no description"
    params = {p["parameter_name"]: p for p in api["/text_classification"]["parameters"]}
    assert params["top_k"]["python_type"]["type"] == "int"
    assert params["model"]["python_type"]["type"] == "str"  # any Hub id, not a fixed list
    assert params["dtype"]["python_type"]["type"].startswith("Literal['auto'")
    temperature = {p["parameter_name"]: p for p in api["/text_generation"]["parameters"]}["temperature"]
    assert temperature["python_type"]["type"] == "float | None" and "model's default" in temperature[
        "python_type"]["description"]
    assert [r["label"] for r in api["/text_classification"]["returns"]] == ["Labels", "Raw output", "Run info",
                                                                            "Python code"]
    bench = {p["parameter_name"]: p for p in api["/benchmark"]["parameters"]}
    assert list(bench) == ["task", "model", "workload", "devices", "dtypes", "batch_sizes", "n", "repeats",
                           "max_tokens", "upload", "column", "models", "references", "sample", "quality_tolerance",
                           "runners", "max_new_tokens", "output_lengths"]
    assert all(bench[k]["parameter_has_default"] for k in ("upload", "column", "models", "references", "sample",
                                                           "quality_tolerance", "runners", "max_new_tokens",
                                                           "output_lengths"))
    assert "scored by the task's metric" in bench["references"]["python_type"]["description"]
    assert bench["runners"]["parameter_default"] == ["plain", "runner", "continuous"]
    assert "--runners" in bench["runners"]["python_type"]["description"]
    assert bench["max_new_tokens"]["python_type"]["type"] == "int"
    assert bench["max_new_tokens"]["parameter_default"] == 64
    assert bench["output_lengths"]["python_type"]["type"] == "Literal['long-tail', 'fixed']"
    assert "--output-lengths" in bench["output_lengths"]["python_type"]["description"]
    assert [r["label"] for r in api["/export_job"]["returns"]][1:] == ["Job file (JSON)", "Shell script"]
    assert [p["parameter_name"] for p in api["/unload_model"]["parameters"]] == ["pipeline"]
    assert api["/unload_model"]["parameters"][0]["python_type"]["type"] == "str | None"
    assert "/text_generation_stop" in api and "Stop" in api["/text_generation_stop"]["description"]


def test_a_corrupt_image_upload_gets_our_message(served, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    bad = tmp_path / "photo.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"definitely not the rest of a png" * 10)
    client = Client(served, verbose=False)
    with pytest.raises(AppError, match="could not be read as an image"):
        client.predict(image=handle_file(str(bad)), model="offline:image-classification",
                       api_name="/image_classification")


def test_a_cancelled_client_job_stops_the_worker(served):
    from gradio_client import Client

    client = Client(served, verbose=False)
    job = client.submit(text=HUGE_TEXT, api_name="/feature_extraction")
    deadline = time.monotonic() + 300
    while not _workers("feature-extraction") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _workers("feature-extraction"), "the run did not start"
    time.sleep(0.5)
    job.cancel()
    _wait_gone("feature-extraction")


def test_checked_image_sends_the_browser_every_prop_of_gr_image():
    """The browser's Image widget needs gr.Image's props (``sources``...); a subclass whose
    ``__init__`` takes ``**kwargs`` sent none of them and the Vision tabs did not render."""
    from components.checked_image import CheckedImage

    with gr.Blocks():
        checked = CheckedImage(label="Image", sources=["upload", "clipboard"])
        plain = gr.Image(label="Image", type="filepath", image_mode=None, sources=["upload", "clipboard"])
    got, want = checked.get_config(), plain.get_config()
    assert got["sources"] == ["upload", "clipboard"]
    assert set(want) - {"name"} <= set(got)
    assert checked.get_block_name() == "image"
