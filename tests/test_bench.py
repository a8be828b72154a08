"""The benchmark, its workloads and the Benchmark tab, on tiny offline models (no timing assertions:
the machine is shared, so only the shape and consistency of the results are checked)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pandas as pd
import pytest
import torch

from tests.test_runner import RowLimit
from workbench.bench import (COLUMNS, BenchCancelled, BenchConfig, agreement, compare, matmul_peak, plain_padding,
                             plot_frame, run_benchmark)
from workbench.offline import minilm_path, offline_model_path
from workbench.runner import run_batch
from workbench.workloads import (long_tail_texts, make_workload, natural_texts, read_inputs, task_inputs,
                                 uniform_texts, workloads_for)


def _small(task: str = "text-classification", **kw) -> BenchConfig:
    return BenchConfig(task, **{"batch_sizes": (1, 4), "n": 24, "repeats": 1, **kw})


@pytest.fixture(scope="module")
def classifier_result(manager):
    return run_benchmark(manager, _small(dtypes=("float32", "bfloat16")))


# ---- the sweep -----------------------------------------------------------------------------------------


def test_rows_cover_the_sweep_with_every_column(classifier_result):
    t = classifier_result.table
    assert list(t.columns) == COLUMNS
    assert len(t) == 2 * 2 * 2  # runners × batch sizes × dtypes
    assert set(zip(t.runner, t.batch_size, t.dtype)) == {(r, b, d) for r in ("plain", "runner") for b in (1, 4)
                                                          for d in ("float32", "bfloat16")}
    assert (t.status == "ok").all()
    assert (t.items_per_s > 0).all() and (t.tokens_per_s > t.items_per_s).all()
    assert (t.latency_p95_ms >= t.latency_p50_ms).all()
    assert t.mfu.between(0, 1).all() and (t.mfu > 0).all()
    assert (t.forward_calls >= 1).all()


def test_runner_matches_plain_and_pads_less(classifier_result):
    t = classifier_result.table
    fp32 = t[t.dtype == "float32"]
    assert (fp32.same_labels == 1.0).all() and (fp32.max_abs_diff <= 1e-4).all()
    plain4 = fp32[(fp32.runner == "plain") & (fp32.batch_size == 4)].padding_share.item()
    ours4 = fp32[(fp32.runner == "runner") & (fp32.batch_size == 4)].padding_share.item()
    assert ours4 < plain4
    assert (t[t.batch_size == 1].padding_share == 0).all()
    assert (t[t.runner == "plain"].groupby(["dtype"]).speedup.max().round(6) == 1.0).all()


def test_recommendation_compares_dtypes(classifier_result):
    text = classifier_result.recommendation
    assert text.startswith("Best: ")
    assert "Our runner is" in text and "bfloat16" in text and "same top label" in text


def test_environment_and_saved_files(classifier_result, tmp_path):
    env = classifier_result.environment
    for key in ("torch", "transformers", "python", "cpu", "commit", "model", "workload", "matmul_peak_gflops"):
        assert env.get(key), key
    assert set(env["matmul_peak_gflops"]) == {"cpu/float32", "cpu/bfloat16"}
    paths = classifier_result.save(tmp_path)
    assert set(paths) == {"csv", "json", "md", "png"} and all(p.stat().st_size > 0 for p in paths.values())
    md = paths["md"].read_text().splitlines()
    rows = [x for x in md if x.startswith("| ")][1:]  # after the header
    assert md[0].startswith("| runner ") and len(rows) == len(classifier_result.table)
    assert classifier_result.recommendation in md
    back = pd.read_csv(paths["csv"])
    assert list(back.columns) == COLUMNS and len(back) == len(classifier_result.table)
    data = json.loads(paths["json"].read_text())
    assert data["environment"]["torch"] == torch.__version__ and len(data["rows"]) == len(back)
    assert data["config"]["task"] == "text-classification" and data["recommendation"]
    assert paths["png"].read_bytes()[:4] == b"\x89PNG"


def test_feature_extraction_reports_cosine_across_dtypes(manager):
    model = offline_model_path("feature-extraction", prefer_real=False)
    result = run_benchmark(manager, _small("feature-extraction", model=model, dtypes=("float32", "bfloat16"),
                                           runners=("runner",), batch_sizes=(4,)))
    assert "cosine" in result.recommendation
    fp32 = result.table[result.table.dtype == "float32"]
    assert fp32.max_abs_diff.item() == 0.0  # the reference is the runner's own fp32 run here


def test_oom_rows(manager):
    """Plain batching above the limit is an `oom` row; the runner backs off and says so."""
    pipe = manager.get("text-classification")
    with RowLimit(pipe.model, 3):
        result = run_benchmark(manager, _small(batch_sizes=(2, 8)))
    t = result.table.set_index(["runner", "batch_size"])
    assert t.loc[("plain", 8), "status"] == "oom" and np.isnan(t.loc[("plain", 8), "items_per_s"])
    assert t.loc[("plain", 2), "status"] == "ok"
    assert t.loc[("runner", 8), "status"] == "ok" and t.loc[("runner", 8), "oom_backoffs"] >= 1
    assert t.loc[("runner", 8), "final_batch_size"] <= 3


def test_cancel_returns_the_rows_so_far(manager):
    seen: list[str] = []
    stop = threading.Event()

    def progress(fraction: float, what: str) -> None:  # cancel as the second timed run starts
        seen.append(what)
        if sum(", run " in w for w in seen) == 2:
            stop.set()

    with pytest.raises(BenchCancelled) as info:
        run_benchmark(manager, _small(repeats=2), stop_event=stop, progress=progress)
    partial = info.value.partial
    assert partial is not None and list(partial.table.columns) == COLUMNS
    # every row's untimed peak-memory run came first; of the timed runs, only the first one ran
    assert sum("peak memory" in what for what in seen) == 4
    assert len(partial.table) == 1 and partial.table.runs.tolist() == [1]
    assert partial.table.status.tolist() == ["ok"] and partial.table.items_per_s.iloc[0] > 0
    assert partial.table.peak_mem_mb.iloc[0] > 0


def test_cancel_stops_the_forward_pass_under_way(manager):
    """Cancel in the middle of a row (24 passes at batch 1): the pass under way stops before its
    layers run (``workbench.progress``'s hooks), no other pass starts, and the row is left out."""
    pipe = manager.get("text-classification")
    stop = threading.Event()
    measuring: list[str] = []
    started, finished = [], []

    def before(module, args) -> None:
        if measuring:
            started.append(1)
            if len(started) == 3:
                stop.set()

    def after(module, args, out) -> None:
        if measuring:
            finished.append(1)

    hooks = [pipe.model.register_forward_pre_hook(before), pipe.model.register_forward_hook(after)]
    try:
        with pytest.raises(BenchCancelled) as info:
            run_benchmark(manager, _small(), stop_event=stop,
                          progress=lambda f, what: measuring.append(what) if "peak memory" in what else None)
    finally:
        for hook in hooks:
            hook.remove()
    assert (len(started), len(finished)) == (3, 2) and measuring == ["cpu float32: plain, batch 1, peak memory"]
    assert info.value.partial is not None and info.value.partial.table.empty


def test_cancel_while_preparing_stops_before_the_warm_up(manager):
    seen: list[str] = []
    stop = threading.Event()

    def progress(fraction: float, what: str) -> None:
        seen.append(what)
        if "matmul peak" in what:
            stop.set()

    with pytest.raises(BenchCancelled) as info:
        run_benchmark(manager, _small(), progress=progress, stop_event=stop)
    assert "matmul peak" in seen[-1] and not any("warming up" in what for what in seen)
    assert info.value.partial is not None and info.value.partial.table.empty


def test_timed_runs_are_not_the_peak_memory_runs(manager):
    """Measuring peak RSS hands the heap's free pages back, which slows the run after it; so each
    row's peak memory comes from its own untimed run before the timed repeats."""
    seen: list[str] = []
    result = run_benchmark(manager, _small(batch_sizes=(2,), repeats=2),
                           progress=lambda f, what: seen.append(what))
    runs = [w.split(": ", 1)[1] for w in seen if w.startswith("cpu float32: ")]
    assert runs == ["plain, batch 2, peak memory", "runner, batch 2, peak memory",
                    "plain, batch 2, run 1/2", "runner, batch 2, run 1/2",
                    "runner, batch 2, run 2/2", "plain, batch 2, run 2/2"], seen
    assert result.table.runs.tolist() == [2, 2] and (result.table.peak_mem_mb > 0).all()


def test_repeats_interleave_dtypes(manager):
    """Each repeat runs every dtype in turn, so drift in the machine's speed hits all rows alike."""
    seen: list[str] = []
    run_benchmark(manager, _small(dtypes=("float32", "bfloat16"), batch_sizes=(2,), repeats=2, runners=("runner",)),
                  progress=lambda f, what: seen.append(what))
    measured = [w.split(":")[0] for w in seen if ", run " in w]
    assert measured == ["cpu float32", "cpu bfloat16", "cpu float32", "cpu bfloat16"], seen


def test_progress_goes_to_one(manager):
    seen: list[float] = []
    run_benchmark(manager, _small(runners=("runner",), batch_sizes=(4,)), progress=lambda f, what: seen.append(f))
    assert seen == sorted(seen) and seen[-1] == 1.0 and all(0 <= f <= 1 for f in seen)


@pytest.mark.parametrize("task,workload", [("image-classification", "images"), ("audio-classification", "audio"),
                                           ("question-answering", "natural"), ("fill-mask", "long-tail")])
def test_other_modalities_and_tasks(manager, task, workload):
    result = run_benchmark(manager, BenchConfig(task, batch_sizes=(1, 4), n=8, repeats=1, workload=workload))
    t = result.table
    assert (t.status == "ok").all() and (t.same_labels == 1.0).all(), t.to_string()


def test_not_batchable_and_bad_runner(manager):
    from workbench.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="not batchable"):
        run_benchmark(manager, BenchConfig("mask-generation"))
    with pytest.raises(ValueError, match="runner"):
        run_benchmark(manager, _small(runners=("fast",)))


# ---- helpers ---------------------------------------------------------------------------------------------


def test_plain_padding_and_compare():
    assert plain_padding([5, 5, 5], 2) == 0.0
    assert plain_padding([1, 9], 2) == pytest.approx(8 / 18)
    assert plain_padding([1, 9], 1) == 0.0
    a = [np.ones((2, 3)), [{"label": "x", "score": 0.5}]]
    assert compare(a, [np.ones((2, 3)) + 1e-6, [{"label": "x", "score": 0.5001}]]) == (pytest.approx(1e-4), 1.0)
    assert compare(a, [np.ones((2, 3)), [{"label": "y", "score": 0.5}]])[1] == 0.5
    assert agreement([np.ones((2, 3))], [np.ones((2, 3)) * 2]) == ("cosine", pytest.approx(1.0))
    assert agreement([[{"label": "a"}], [{"label": "b"}]], [[{"label": "a"}], [{"label": "c"}]]) == \
        ("same top label", 0.5)


def test_matmul_peak_is_positive():
    assert matmul_peak("cpu", torch.float32, size=256, seconds=0.05) > 1e8


def test_plot_frame_series():
    t = pd.DataFrame([{"runner": "plain", "dtype": "float32", "device": "cpu", "status": "oom", "batch_size": 8},
                      {"runner": "runner", "dtype": "bfloat16", "device": "cpu", "status": "ok", "batch_size": 8}])
    assert plot_frame(t)["series"].tolist() == ["runner · bfloat16 · cpu"]


# ---- workloads -------------------------------------------------------------------------------------------


def test_workloads_are_seeded_and_shaped():
    assert natural_texts(50, seed=1) == natural_texts(50, seed=1) != natural_texts(50, seed=2)
    assert all(len(t.split()) == 12 for t in uniform_texts(20))
    tail = long_tail_texts(130)
    short = [len(t) for i, t in enumerate(tail) if i % 64]
    assert all(len(tail[i]) >= 50 * max(short) / 10 for i in (0, 64, 128))
    assert [i for i, t in enumerate(tail) if len(t) > 3 * max(short)] == [0, 64, 128]


@pytest.mark.skipif(minilm_path() is None, reason="needs the packaged MiniLM tokenizer")
def test_natural_lengths_are_long_tailed():
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path())
    lengths = np.array([len(tok(t)["input_ids"]) for t in natural_texts(512)])
    assert np.median(lengths) < 64 and lengths.max() > 512 and (lengths > 512).sum() <= 10
    assert np.percentile(lengths, 90) > 2 * np.median(lengths)


def test_workloads_fit_their_tasks():
    assert workloads_for("text-classification")[0] == "natural"
    assert workloads_for("audio-classification") == ["audio", "file"]
    qa = make_workload("uniform", "question-answering", n=3)
    assert all(set(x) == {"question", "context"} for x in qa.items)
    masked = task_inputs("fill-mask", ["a b c", "one"], mask_token="<mask>")
    assert masked == ["a <mask> c", "<mask>"]
    zs = make_workload("natural", "zero-shot-classification", n=2)
    assert zs.params["candidate_labels"]
    assert len(make_workload("images", "image-classification", n=3).items) == 3
    clips = make_workload("audio", "audio-classification", n=5).items
    assert all(c.dtype == np.float32 and c.ndim == 1 for c in clips)
    with pytest.raises(ValueError, match="images"):
        make_workload("natural", "image-classification")
    with pytest.raises(ValueError, match="unknown workload"):
        make_workload("nope", "text-classification")


def test_user_data_files(tmp_path):
    csv = tmp_path / "d.csv"
    pd.DataFrame({"id": [1, 2, 3], "review": ["good", "bad", None], "other": ["x", "y", "z"]}).to_csv(csv, index=False)
    assert read_inputs(csv) == ["good", "bad"]
    assert read_inputs(csv, column="other", n=2) == ["x", "y"]
    with pytest.raises(ValueError, match="no column"):
        read_inputs(csv, column="nope")
    jsonl = tmp_path / "d.jsonl"
    jsonl.write_text('{"text": "one"}\n{"text": "two"}\n')
    assert read_inputs(jsonl) == ["one", "two"]
    lines = tmp_path / "d.txt"
    lines.write_text("first\n\nsecond\n")
    assert read_inputs(lines) == ["first", "second"]
    folder = tmp_path / "imgs"
    folder.mkdir()
    from workbench.samples import sample_image

    for i in range(2):
        sample_image(32 + i).save(folder / f"{i}.png")
    w = make_workload("file", "image-classification", path=str(folder))
    assert len(w.items) == 2 and w.items[1].size == (33, 33)
    w = make_workload("file", "fill-mask", path=str(lines), mask_token="[MASK]")
    assert w.items == ["[MASK]", "[MASK]"]
    with pytest.raises(FileNotFoundError):
        read_inputs(tmp_path / "missing.csv")


# ---- the Benchmark tab -----------------------------------------------------------------------------------


def test_benchmark_tab_builds_and_runs(manager):
    import gradio as gr

    from components.bench_panel import _benchmark, _outputs, render_benchmark_tab
    from components.bench_request import BenchRequest
    from workbench.bench import BenchConfig, batch_sizes
    from workbench.errors import InputError

    with gr.Blocks() as demo:
        with gr.Tab("Benchmark"):
            tab = render_benchmark_tab(manager)
    assert tab.task.value == "feature-extraction" and len(tab.plots) == 4
    run_deps = [d for d in demo.fns.values() if d.api_name == "benchmark"]
    assert run_deps and run_deps[0].concurrency_id == "benchmark"

    calls = []
    request = BenchRequest.from_widgets(dict(task="text-classification", model="offline:text-classification",
                                             workload="uniform", devices=["cpu"], dtypes=["float32"],
                                             batch_sizes="4, 1", n=8, repeats=1, max_tokens=0))
    result, note = _benchmark(manager, request, lambda f, desc: calls.append(f), threading.Event())
    summary, scatter, *plots, table, files = _outputs(result)
    assert note == "" and summary.startswith("### Best:") and calls[-1] == 1.0
    assert len(plots) == 4 and len(table) == 4 and [f.rsplit(".", 1)[1] for f in files] == ["csv", "json"]
    assert list(table.columns)[:2] == ["runner", "batch_size"] and "seconds" not in table.columns
    # the plots: batch size on a log2 axis with a tick at each measured size, a point per measurement
    spec = plots[0].to_dict()
    assert spec["mark"] == {"type": "line", "point": True, "clip": True}
    assert spec["encoding"]["x"]["scale"]["type"] == "log" and spec["encoding"]["x"]["scale"]["base"] == 2
    assert spec["encoding"]["x"]["axis"]["values"] == [1, 4]
    # cancelled before any row: no error, no result (the tab keeps the earlier one), a note that says so
    stopped = threading.Event()
    stopped.set()
    result, note = _benchmark(manager, request, lambda f, desc: None, stopped)
    assert result is None and note.startswith("**Cancelled** before any row was measured")
    with pytest.raises(InputError, match="upload"):
        BenchRequest.from_widgets(dict(task="text-classification", workload="file", devices=["cpu"],
                                       dtypes=["float32"], batch_sizes="1"))
    with pytest.raises(ValueError, match="positive integers"):
        BenchRequest.from_widgets(dict(task="text-classification", devices=["cpu"], dtypes=["float32"],
                                       batch_sizes="0,8")).config()
    assert BenchConfig("text-classification", batch_sizes="64,1, 8").batch_sizes == (1, 8, 64)
    assert batch_sizes([8, 8, 2]) == [2, 8]


def test_peak_memory_of_a_run_is_not_hidden_by_what_an_earlier_run_freed(manager):
    """A plain run at a large batch leaves freed memory in the heap; the runner's run after it must
    still show its own peak (without handing that memory back first, it read ~0 MB)."""
    from workbench.bench import PeakMemory

    pipe = manager.get("feature-extraction")  # the real all-MiniLM-L6-v2
    texts = make_workload("natural", "feature-extraction", n=64).items
    cpu = torch.device("cpu")
    with PeakMemory(cpu) as plain:
        list(pipe(texts, batch_size=64, truncation=True))
    with PeakMemory(cpu) as ours:
        run_batch(pipe, texts, batch_size=8, truncation=True)
    assert plain.peak_mb > ours.peak_mb > 15, (plain.peak_mb, ours.peak_mb)


def test_peak_memory_catches_a_brief_spike():
    from workbench.bench import PeakMemory

    with PeakMemory(torch.device("cpu")) as mem:
        spike = torch.ones(25 * 2**20)  # 100 MB, alive for a few milliseconds
        del spike
    assert 95 < mem.peak_mb < 200, mem.peak_mb


def test_package_exports_stay_functions_after_their_modules_load():
    """A submodule named like an export replaced the export once imported (``compare`` was a module
    in some test orders): every exported name stays what its module defines."""
    import importlib

    import workbench.bench as bench

    for name, module in bench._EXPORTS.items():
        importlib.import_module(module)
        assert getattr(bench, name) is getattr(importlib.import_module(module), name), name


def test_progress_counts_each_measurements_inputs(manager):
    """``on_inputs``: plain pipeline batching counts every input it postprocesses, the runner every
    batch it finishes; each measurement counts up to all its inputs, and the sweep's fraction only
    grows, between the steps ``progress`` reports."""
    events: list[tuple] = []
    run_benchmark(manager, _small(batch_sizes=(1, 4), n=12), progress=lambda f, what: events.append(("step", f, what)),
                  on_inputs=lambda f, k, n: events.append(("inputs", f, k, n)))
    measurements: list[tuple[str, list[int]]] = []
    for event in events:
        if event[0] == "step":
            measurements.append((event[2], []))
        elif measurements:
            measurements[-1][1].append(event[2])
    timed = [(what, counts) for what, counts in measurements if "batch" in what]
    assert len(timed) == 2 * 2 * 2  # runners × sizes × (peak memory pass + 1 repeat)
    for what, counts in timed:
        assert counts == sorted(counts) and counts[-1] == 12, (what, counts)
        if what.startswith("cpu float32: plain"):
            assert counts == list(range(1, 13)), counts  # one by one
    assert all(e[3] == 12 for e in events if e[0] == "inputs")
    fractions = [e[1] for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
