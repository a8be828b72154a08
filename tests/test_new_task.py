"""Adding a task is one entry: ``tests/new_task.py`` writes a task no built-in resembles — its own
adapter, inputs (``source``, ``target``), output kind (a similarity score), presets and offline
model — and registers it with one ``register`` call, editing nothing else. It then gets a service
run and a snippet that runs, a batch-runner backend with the same results, benchmark workloads
and a sweep, Compare's agreement, a task tab with its example and a named API endpoint — with its
default model, the offline one its entry builds."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pytest

from tests.new_task import NAME, OUTPUT, SPEC
from workbench.tasks import get_task, register, tasks_by_group, unregister

INPUTS = {"source": "A dog runs in the park.", "target": "A dog is running in a park."}


@pytest.fixture(scope="module")
def spec():
    register(SPEC, output_kind=OUTPUT)
    yield SPEC
    unregister(NAME)


def test_it_is_in_the_registry_with_its_own_kinds(spec):
    assert get_task(NAME) is spec and spec in tasks_by_group()["Text"]
    assert spec.output_kind is OUTPUT and [spec.input_kind(n).name for n in spec.inputs] == ["text", "text"]
    from workbench.offline import offline_tasks
    from workbench.presets import load_presets

    assert NAME in offline_tasks() and load_presets(NAME).examples[0].inputs["source"].startswith("A cat")
    with pytest.raises(ValueError, match="already registered"):
        register(spec)
    with pytest.raises(ValueError, match="built-in"):
        unregister("text-classification")
    from dataclasses import replace

    with pytest.raises(KeyError, match="unknown output kind 'nope'"):
        register(replace(spec, name="typo-task", aliases=(), output="nope"))


def test_service_run_with_the_default_model_and_its_snippet(manager, spec):
    from workbench.service import run_task

    result = run_task(manager, NAME, INPUTS)  # no model named: the entry's offline model
    assert result.model == f"offline:{NAME}" and result.random_weights
    assert set(result.output) == {"similarity"} and -1.0 <= result.output["similarity"] <= 1.0
    scope: dict[str, Any] = {}
    exec(result.code, scope)  # the snippet runs as shown and gives the same result
    assert scope["result"] == result.output


def test_runner_backend_gives_the_unbatched_results(manager, spec):
    from workbench.batching import AdapterBackend
    from workbench.runner import backend_for, run_batch

    pipe = manager.get(NAME)
    items = [{"source": "short", "target": "a much longer text than the first one"}, INPUTS,
             {"source": "x", "target": "y"}]
    assert type(backend_for(pipe, {})) is AdapterBackend
    assert run_batch(pipe, items, batch_size=4).results == [pipe(**item) for item in items]


def test_benchmark_workload_and_sweep(manager, spec):
    from workbench.bench import BenchConfig, run_benchmark
    from workbench.workloads import make_workload, workloads_for

    assert workloads_for(NAME)[0] == "natural"
    work = make_workload("natural", NAME, n=8)
    assert len(work.items) == 8 and set(work.items[0]) == {"source", "target"}
    table = run_benchmark(manager, BenchConfig(NAME, batch_sizes=(1, 4), n=8, repeats=1)).table
    assert len(table) == 4 and (table.status == "ok").all()


def test_compare_uses_its_output_kind(manager, spec):
    from workbench.compare import Config, compare

    comparison = compare(manager, NAME, INPUTS, {}, [Config(dtype="float32"), Config(dtype="bfloat16")])
    assert comparison.agreement[0]["difference"] < 0.1


def test_tab_example_and_named_endpoint(manager, spec):
    from gradio_client import Client

    from components.context import make_context
    from components.task_tab import build_task_tab
    from tests.app_server import serving

    with gr.Blocks() as demo:
        with gr.Tab(spec.title):
            tab = build_task_tab(spec, manager, make_context(tasks=[NAME]))
    assert tab.inputs.keys == ["source", "target"] and tab.picker.model.value == f"offline:{NAME}"
    with serving(demo) as url:
        client = Client(url, verbose=False)
        shown, raw, info, code = client.predict(api_name=f"/{spec.api_name}", **INPUTS)  # the tab's default model
        assert set(raw) == {"similarity"} and shown == raw and f"offline:{NAME}" in info
