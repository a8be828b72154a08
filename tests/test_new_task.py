"""Adding a task is one registry entry: a ``TaskSpec`` made here (a copy of text-classification
under another name), registered and nothing else edited, gets a working service run, code
snippet, batch-runner backend, benchmark workload and sweep, task tab and named API endpoint."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gradio as gr
import pytest

from workbench.tasks import get_task, register, tasks_by_group, unregister

MODEL = "offline:text-classification"  # the copy runs the same pipeline, so the same offline model fits


@pytest.fixture(scope="module")
def spec():
    new = replace(get_task("text-classification"), name="my-classification", aliases=("my-alias",),
                  title="My classification", description="A copy of text classification under another name.")
    register(new)
    yield new
    unregister(new.name)


def _rounded(labels: list[dict[str, Any]]) -> list[tuple[str, float]]:
    return [(x["label"], round(x["score"], 4)) for x in labels]


def test_it_is_in_the_registry(spec):
    assert get_task("my-alias") is spec and spec in tasks_by_group()["Text"]
    with pytest.raises(ValueError, match="already registered"):
        register(spec)
    with pytest.raises(ValueError, match="built-in"):
        unregister("text-classification")


def test_service_run_and_its_snippet(manager, spec):
    from workbench.service import run_task

    result = run_task(manager, "my-classification", {"text": "I love it"}, {"top_k": 2}, model=MODEL)
    assert len(result.output) == 2 and result.task == "my-classification"
    assert 'pipeline("text-classification"' in result.code
    scope: dict[str, Any] = {}
    exec(result.code, scope)  # the snippet runs as shown and gives the same result
    assert _rounded(scope["result"]) == _rounded(result.output)


def test_runner_backend(manager, spec):
    from workbench.batching import PipelineBackend, make_backend
    from workbench.runner import run_batch

    pipe = manager.get("my-classification", MODEL)
    texts = ["short", "a somewhat longer text to classify", "mid length text", "x"]
    assert type(make_backend(pipe, {})) is PipelineBackend
    out = run_batch(pipe, texts, batch_size=4)
    assert [_rounded(r if isinstance(r, list) else [r]) for r in out.results] == \
        [_rounded(r if isinstance(r, list) else [r]) for r in (pipe(t) for t in texts)]


def test_benchmark_workload_and_sweep(manager, spec):
    from workbench.bench import BenchConfig, run_benchmark
    from workbench.workloads import make_workload, workloads_for

    assert workloads_for("my-classification")[0] == "natural"
    work = make_workload("natural", "my-classification", n=8)
    assert len(work.items) == 8 and work.params == {"truncation": True}
    result = run_benchmark(manager, BenchConfig("my-classification", model=MODEL, batch_sizes=(1, 4), n=8,
                                                repeats=1))
    table = result.table
    assert len(table) == 4 and (table.status == "ok").all() and (table.same_labels == 1.0).all()


def test_tab_and_named_endpoint(manager, spec):
    import app
    from components.task_tab import build_task_tab
    from gradio_client import Client
    from tests.app_server import serving

    with gr.Blocks() as demo:
        with gr.Tab(spec.title):
            tab = build_task_tab(spec, manager, app.make_context())
    assert tab.stop_button is not None and not tab.streams  # every tab has Cancel; this one does not stream
    assert tab.inputs.keys == ["text"]
    with serving(demo) as url:
        client = Client(url, verbose=False)
        labels, raw, info, code = client.predict(text="I love it", top_k=2, model=MODEL,
                                                 api_name="/my_classification")
        assert len(labels["confidences"]) == 2 and len(raw) == 2 and "pipeline(" in code
