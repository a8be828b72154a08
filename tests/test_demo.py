"""``demo_for``: the drop-in for ``gr.Interface.from_pipeline``. For every registered task (with its
offline model) it builds the task's tab as an app of its own, served in this process and called
once through ``gradio_client``; a pipeline built with ``transformers.pipeline`` outside the
workbench is served as it is; a pipeline type the registry lacks gets the plain JSON page with its note."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.app_server import ROOT, serving
from tests.task_cases import needs_offline_model, task_case
from workbench.tasks import TASKS, get_task

FILES = ("image", "audio", "video")


def api_kwargs(spec, inputs: dict[str, Any], params: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """The endpoint's keyword arguments for one run of the service's ``inputs`` and ``params``
    (``names``: the endpoint's parameter names, as ``view_api`` lists them)."""
    import pandas as pd
    from gradio_client import handle_file

    from components.examples import table_value
    from components.params import to_ui

    out: dict[str, Any] = {}
    for key, value in inputs.items():
        kind = spec.input_kind(key).name if key in spec.inputs else key
        if (key in FILES or kind in FILES) and isinstance(value, str):  # by name, or by kind (a second image)
            value = handle_file(value)
        elif kind == "images":  # a gallery: its images with their captions
            value = [{"image": handle_file(v), "caption": None} for v in value]
        elif kind == "json" and not isinstance(value, str):  # decision's questions: the widget's JSON text
            import json

            value = json.dumps(value)
        elif key == "table":
            value = table_value(value.to_dict(orient="list") if isinstance(value, pd.DataFrame) else value)
        out[key] = value
    for p in spec.params:
        key = p.name if p.name in names and p.name not in inputs else f"param_{p.name}"
        out[key] = to_ui(p, params.get(p.name, p.default))
    return out


def test_importing_workbench_imports_no_gradio_and_demo_for_is_lazy():
    code = ("import sys, workbench; assert 'gradio' not in sys.modules; "
            "from workbench import demo_for; assert 'gradio' in sys.modules; print(demo_for.__module__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "components.demo"
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        import workbench

        workbench.nothing_here  # noqa: B018


@pytest.mark.parametrize("task", list(TASKS))
def test_demo_for_every_task_builds_its_tab_and_answers_its_endpoint(manager, task):
    from gradio_client import Client

    from workbench import demo_for

    needs_offline_model(task)
    spec = get_task(task)
    demo = demo_for(task, f"offline:{task}", manager=manager)
    ids = {c["props"].get("elem_id") for c in demo.get_config_file()["components"]}
    assert {f"{task}-run", f"{task}-output", f"{task}-model", f"{task}-compare"} <= ids
    with serving(demo) as url:
        client = Client(url, verbose=False)
        api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
        assert {f"/{spec.api_name}", f"/{spec.api_name}_compare"} <= set(api)
        names = [p["parameter_name"] for p in api[f"/{spec.api_name}"]["parameters"]]
        model = next(p for p in api[f"/{spec.api_name}"]["parameters"] if p["parameter_name"] == "model")
        assert model["parameter_default"] == f"offline:{task}"  # the model asked for is the tab's default
        inputs, params = task_case(spec)
        *_, info, code = client.predict(**api_kwargs(spec, inputs, params, names), api_name=f"/{spec.api_name}")
    assert f"offline:{task}" in info and code.strip()


@pytest.fixture(scope="module")
def outside_pipe():
    """A text-classification pipeline built by transformers itself, on the offline model's folder."""
    from transformers import pipeline

    from workbench.offline import offline_model_path

    return pipeline("text-classification", model=offline_model_path("text-classification"), device="cpu")


def test_a_pipeline_built_outside_the_workbench_is_served_as_it_is(outside_pipe):
    from gradio_client import Client

    from workbench import demo_for
    from workbench.manager import PipelineManager

    manager = PipelineManager(max_models=2)
    demo = demo_for(outside_pipe, manager=manager)
    props = {c["props"].get("elem_id"): c["props"] for c in demo.get_config_file()["components"]}
    folder = outside_pipe.model.name_or_path
    assert props["text-classification-model"]["value"] == folder
    assert (props["text-classification-device"]["value"], props["text-classification-dtype"]["value"]) == \
        ("cpu", "float32")
    with serving(demo) as url:
        labels, raw, info, code = Client(url, verbose=False).predict(text="I love it", top_k=2,
                                                                     api_name="/text_classification")
    assert manager.load_count == 0  # nothing was loaded: the given pipeline answered
    expected = outside_pipe("I love it", top_k=2)
    assert [r["label"] for r in raw] == [r["label"] for r in expected]
    assert [round(r["score"], 4) for r in raw] == [round(r["score"], 4) for r in expected]
    assert "(already loaded)" in info and folder in info


def test_a_pipeline_in_bfloat16_keeps_its_dtype(outside_pipe):
    import torch
    from transformers import pipeline

    from workbench import demo_for
    from workbench.manager import PipelineManager

    pipe = pipeline("text-classification", model=outside_pipe.model.name_or_path, device="cpu", dtype=torch.bfloat16)
    manager = PipelineManager(max_models=2)
    demo = demo_for(pipe, "my-bf16-classifier", manager=manager)
    props = {c["props"].get("elem_id"): c["props"] for c in demo.get_config_file()["components"]}
    assert props["text-classification-model"]["value"] == "my-bf16-classifier"
    assert props["text-classification-dtype"]["value"] == "bfloat16"
    assert manager.get("text-classification", "my-bf16-classifier", device="cpu", dtype="bfloat16") is pipe


def test_an_unknown_pipeline_type_gets_plain_json_and_a_note(outside_pipe):
    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from transformers import Pipeline

    from workbench import demo_for

    class ShoutPipeline(Pipeline):
        """A pipeline the registry has no task for: it shouts its text."""

        def _sanitize_parameters(self, times: int | None = None, **kwargs: Any):
            return {}, {}, ({"times": times} if times else {})

        def preprocess(self, text: str):
            return {"text": text}

        def _forward(self, inputs: dict):
            return inputs

        def postprocess(self, outputs: dict, times: int = 1):
            return {"shout": outputs["text"].upper() * times, "length": len(outputs["text"])}

    pipe = ShoutPipeline(model=outside_pipe.model, tokenizer=outside_pipe.tokenizer, task="shout")
    demo = demo_for(pipe)
    props = {c["props"].get("elem_id"): c["props"] for c in demo.get_config_file()["components"]}
    assert "`ShoutPipeline` (task `shout`) is not a task of the workbench" in props["fallback-note"]["value"]
    assert "plain JSON" in props["fallback-note"]["value"]
    with serving(demo) as url:
        client = Client(url, verbose=False)
        assert client.predict("hey", None, '{"times": 2}', api_name="/predict") == {"shout": "HEYHEY", "length": 3}
        with pytest.raises(AppError, match="not JSON"):
            client.predict("hey", None, "{times: 2}", api_name="/predict")
