"""Quantized precisions (int8 on CPU; int4 refused off CUDA) through the real parts: the manager's
cache and byte counts, every task's offline model, the runner's oneDNN int8 route against plain
torchao, the benchmark's agreement columns, Compare, a dataset job and the CLI, the info line and
the code view, and the app's API. No timing assertions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from tests.task_cases import task_case
from workbench.devices import available_dtypes, precision_name
from workbench.errors import DtypeError
from workbench.offline import offline_tasks
from workbench.quantize import QuantizationRefused, mismatch, precision_of
from workbench.tasks import TASKS, get_task

TASK = "text-classification"
#: Offline models int8 refuses, and why: GPT-2's Conv1D and VITS's convolutions are not nn.Linear.
REFUSED = {"text-generation": "gpt2", "text-to-audio": "vits"}


# ---------------------------------------------------------------------------------------------
# choices and the cache


def test_int8_is_offered_on_a_cpu_and_int4_is_not():
    assert "int8" in available_dtypes("cpu") and "int4" not in available_dtypes("cpu")
    assert precision_name("int8", torch.device("cpu")) == "int8"
    with pytest.raises(DtypeError, match="`int4` .*needs a CUDA GPU; on cpu choose `int8`"):
        precision_name("int4", torch.device("cpu"))


def test_int4_is_refused_on_a_cpu_with_what_to_pick(manager):
    with pytest.raises(DtypeError) as info:
        manager.get(TASK, device="cpu", dtype="int4")
    assert "CUDA" in str(info.value) and "int8" in str(info.value) and "bfloat16" in str(info.value)


def test_int8_and_float32_are_two_cache_entries_with_their_own_sizes(manager):
    f32, i8 = manager.load(TASK, dtype="float32"), manager.load(TASK, dtype="int8")
    assert f32.key != i8.key and i8.key.dtype == "int8" and f32.pipe is not i8.pipe
    assert manager.load(TASK, dtype="int8") is i8  # the same key, the same entry
    assert i8.bytes < f32.bytes  # the quantized weights at their real size
    assert i8.precision.startswith("int8 in ") and "float32 elsewhere" in i8.precision
    assert f32.precision == "float32" and f32.attention and not i8.notes
    summary = i8.summary()
    assert summary["dtype"] == "int8" and summary["precision"] == i8.precision
    out = i8.pipe("I love it")
    assert out[0]["label"] == f32.pipe("I love it")[0]["label"]


@pytest.mark.parametrize("task", [t for t in TASKS if t in offline_tasks()])
def test_every_offline_model_runs_in_int8_or_is_refused_naming_its_type(manager, task):
    from workbench.service import run_task

    inputs, params = task_case(get_task(task))
    if task in REFUSED:
        with pytest.raises(QuantizationRefused) as info:
            run_task(manager, task, inputs, params, dtype="int8")
        text = str(info.value)
        assert f"`{REFUSED[task]}`" in text and "Choose `float32` or `bfloat16`" in text
        return
    result = run_task(manager, task, inputs, params, dtype="int8")
    assert result.dtype == "int8" and result.precision.startswith("int8 in ")
    assert result.output is not None


def test_the_precision_that_ran_is_read_from_the_parameters(manager):
    loaded = manager.load(TASK, dtype="bfloat16")
    assert precision_of(loaded.pipe.model).float_dtype == "bfloat16" and mismatch("bfloat16", precision_of(
        loaded.pipe.model)) is None
    import copy

    as_float = copy.deepcopy(loaded.pipe.model).float()  # what transformers ignoring `dtype=` leaves
    note = mismatch("bfloat16", precision_of(as_float))
    assert note and "Asked for bfloat16" in note and "ran in float32" in note and "46459" in note


# ---------------------------------------------------------------------------------------------
# the runner's int8 kernel


def test_onednn_int8_route_equals_plain_torchao_within_the_tolerance():
    from workbench.kernels import INT8_TOLERANCE, int8_linear, onednn_int8_available
    from workbench.quantize import quantize_linear, reduce_range

    if not onednn_int8_available():
        pytest.skip("this torch has no oneDNN int8 linear")
    gen = torch.Generator().manual_seed(0)
    layer = torch.nn.Linear(96, 40)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(40, 96, generator=gen) * 0.1)
    quantize_linear(layer, reduce_range=reduce_range(torch.device("cpu")))
    x = torch.randn(3, 7, 96, generator=gen)
    with torch.inference_mode():
        plain, ours = torch.nn.functional.linear(x, layer.weight, layer.bias), int8_linear(x, layer.weight, layer.bias)
    assert ours.shape == plain.shape == (3, 7, 40)
    assert float((plain - ours).abs().max() / plain.abs().max()) <= INT8_TOLERANCE


def test_runner_reports_its_int8_kernel_and_matches_the_plain_int8_model(manager):
    from workbench.kernels import int8_kernel_choice
    from workbench.quantize import reduce_range
    from workbench.runner import run_batch

    pipe = manager.get(TASK, dtype="int8")
    texts = ["I love it", "a much longer text that goes on for a while", "bad", "fine, I guess"]
    plain = run_batch(pipe, texts, batch_size=4, kernels="torch")
    routed = run_batch(pipe, texts, batch_size=4, kernels="onednn")
    assert plain.stats.kernels == "torch" and routed.stats.kernels.endswith("onednn-int8")
    for a, b in zip(plain.results, routed.results):
        assert a["label"] == b["label"] and abs(a["score"] - b["score"]) < 1e-4
    choice = int8_kernel_choice(reduce_range(torch.device("cpu")))
    assert choice.kernel in ("onednn-int8", "torchao") and choice.torchao_gops > 0
    auto = run_batch(pipe, texts, batch_size=4)
    assert ("onednn-int8" in auto.stats.kernels) == (choice.kernel == "onednn-int8")


# ---------------------------------------------------------------------------------------------
# benchmark, compare, jobs, CLI


def test_benchmark_int8_rows_carry_the_agreement_columns(manager):
    from workbench.bench import BenchConfig, run_benchmark
    from workbench.offline import offline_model_path

    model = offline_model_path("feature-extraction", prefer_real=False)
    result = run_benchmark(manager, BenchConfig("feature-extraction", model=model, dtypes=("int8",),
                                                batch_sizes=(4,), n=16, repeats=1, runners=("runner",)))
    t = result.table
    assert set(t.dtype) == {"float32", "int8"}  # float32 added: the reference
    int8 = t[t.dtype == "int8"].iloc[0]
    assert 0.9 < int8.cosine_mean <= 1.0 and int8.cosine_min <= int8.cosine_mean and int8.same_labels == 1.0
    assert "int8: " in result.recommendation and "mean cosine" in result.recommendation
    assert "to float32" in result.recommendation
    env = result.environment
    assert env["reference_dtype"] and env["precision"]["cpu/int8"].startswith("int8 in ")
    assert env["matmul_peak_gflops"]["cpu/int8"] > 0


def test_benchmark_classifier_int8_rows_say_how_far_from_float32(manager):
    from workbench.bench import BenchConfig, run_benchmark

    result = run_benchmark(manager, BenchConfig(TASK, dtypes=("float32", "int8"), batch_sizes=(1, 4), n=16,
                                                repeats=1))
    int8 = result.table[result.table.dtype == "int8"]
    assert len(int8) == 4 and int8.same_labels.notna().all() and int8.max_abs_diff.notna().all()
    assert int8.cosine_mean.isna().all()  # no embeddings here
    assert "same top label as float32" in result.recommendation


def test_compare_runs_int8_beside_float32(manager):
    from workbench.compare import Config, compare

    result = compare(manager, TASK, {"text": "I love it"}, {}, [Config(device="cpu", dtype="float32"),
                                                               Config(device="cpu", dtype="int8")])
    assert [r.result.dtype for r in result.runs] == ["float32", "int8"]
    assert result.agreement[0]["pair"] == "A vs B" and "same_top_label" in result.agreement[0]
    assert result.runs[1].result.precision.startswith("int8 in ")


def test_compare_defaults_add_int8_where_it_runs(manager):
    import gradio as gr

    from components.compare import render_compare
    from components.task_tab import TabContext, build_task_tab

    context = TabContext(devices=["auto", "cpu"], dtypes=available_dtypes("cpu"), online=False,
                         offline_tasks=frozenset({TASK}))
    with gr.Blocks():
        tab = build_task_tab(get_task(TASK), manager, context)
        widgets = render_compare(tab, context)
    values = {k: c.value for k, c in zip(widgets.config_keys, widgets.config_components)}
    assert (values["dtype_a"], values["dtype_b"], values["dtype_c"]) == ("float32", "bfloat16", "int8")
    assert values["model_c"] == values["model_a"] == f"offline:{TASK}"


def test_a_dataset_job_and_the_cli_accept_int8(manager, tmp_path, capsys):
    from workbench.__main__ import EXIT_OK, main
    from workbench.jobs import JobSpec, run_job

    data = tmp_path / "reviews.csv"
    pd.DataFrame({"text": ["great", "awful, never again", "fine I guess"]}).to_csv(data, index=False)
    job = JobSpec(task=TASK, input=str(data), output=str(tmp_path / "a.parquet"), dtype="int8")
    job.save(tmp_path / "job.json")
    summary = run_job(JobSpec.load(tmp_path / "job.json"), manager=manager, progress=False)
    assert summary.ok == 3
    assert main(["run", "--task", TASK, "--input", str(data), "--output", str(tmp_path / "b.parquet"),
                 "--dtype", "int8", "--quiet"]) == EXIT_OK
    assert pd.read_parquet(tmp_path / "b.parquet")["error"].isna().all()
    assert main(["bench", "--task", TASK, "--dtype", "int8", "--batch-sizes", "2", "--n", "6", "--repeats", "1",
                 "--workload", "uniform", "--runners", "runner", "--out", str(tmp_path / "bench"), "--no-plot",
                 "--quiet"]) == EXIT_OK
    table = pd.read_csv(tmp_path / "bench" / "bench.csv")
    assert set(table.dtype) == {"float32", "int8"} and table[table.dtype == "int8"].same_labels.notna().all()
    assert "int8: " in capsys.readouterr().out


# ---------------------------------------------------------------------------------------------
# what a run shows


def test_info_line_and_code_of_an_int8_run(manager):
    from components.task_tab import timings_markdown
    from workbench.service import run_task

    result = run_task(manager, TASK, {"text": "I love it"}, {"top_k": 2}, dtype="int8")
    info = timings_markdown(result)
    assert "`int8` — ran as int8 in " in info and "attention `" in info
    assert "quantize_(pipe.model" in result.code and 'dtype="float32"' in result.code
    scope: dict = {}
    exec(compile(result.code, "<snippet>", "exec"), scope)  # the code view runs as shown
    assert [d["label"] for d in scope["result"]] == [d["label"] for d in result.output]
    assert type(scope["pipe"].model.classifier.weight).__name__ == "Int8Tensor"


def test_models_tab_lists_what_ran(manager):
    from components.models_tab import LOADED_COLUMNS, loaded_table

    manager.load(TASK, dtype="int8")
    table = loaded_table(manager)
    assert {"precision", "attention"} <= set(LOADED_COLUMNS)
    assert table[table.dtype == "int8"].precision.str.startswith("int8 in ").all()


@pytest.fixture(scope="module")
def served(manager):
    import gradio as gr

    from components.task_tab import TabContext, group_tabs
    from tests.app_server import serving

    context = TabContext(devices=["auto", "cpu"], dtypes=available_dtypes("cpu"), online=False,
                         offline_tasks=frozenset({TASK}))
    from components.bench_panel import render_benchmark_tab

    with gr.Blocks() as demo:
        group_tabs({"Text": [get_task(TASK)]}, manager, context)
        with gr.Tab("Benchmark"):
            render_benchmark_tab(manager)
    with serving(demo) as url:
        yield url


def test_api_runs_int8_and_refuses_int4_with_the_message(served):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(served, verbose=False)
    out = client.predict(text="I love it", model=f"offline:{TASK}", device="cpu", dtype="int8",
                         api_name="/text_classification")
    assert any(isinstance(v, str) and "ran as int8 in " in v for v in out)
    with pytest.raises(AppError, match="`int4` .*needs a CUDA GPU"):
        client.predict(text="I love it", model=f"offline:{TASK}", device="cpu", dtype="int4",
                       api_name="/text_classification")
    compared = client.predict(text="I love it", model_a=f"offline:{TASK}", dtype_a="float32",
                              model_b=f"offline:{TASK}", dtype_b="int8", model_c="",
                              api_name="/text_classification_compare")
    assert "A vs B" in compared[0] and [r[4] for r in compared[1]["data"]] == ["float32", "int8"]
    assert np.isfinite([r[6] for r in compared[1]["data"]]).all()  # inference_s of both


def test_benchmark_endpoint_measures_int8_against_float32(served):
    from gradio_client import Client

    client = Client(served, verbose=False)
    out = client.predict(task=TASK, model=f"offline:{TASK}", workload="uniform", devices=["cpu"], dtypes=["int8"],
                         batch_sizes="2", n=8, repeats=1, max_tokens=0, upload=[], column="", api_name="/benchmark")
    summary = next(v for v in out if isinstance(v, str) and v.startswith("### "))
    table = next(v for v in out if isinstance(v, dict) and "headers" in v)
    rows = [dict(zip(table["headers"], r)) for r in table["data"]]
    assert {r["dtype"] for r in rows} == {"float32", "int8"}
    assert all(r["same_labels"] is not None and r["max_abs_diff"] is not None for r in rows if r["dtype"] == "int8")
    assert "int8: " in summary and "as float32 for" in summary and "cpu/int8: " in summary  # its kernels
