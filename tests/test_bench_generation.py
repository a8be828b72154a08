"""The Benchmark's generation rows (plain, runner, continuous batching) and generation jobs, on the
tiny offline causal LMs. No timing assertions: only that every column is filled and the numbers
agree with each other and with the tokens the runs produced."""

from __future__ import annotations

import math
import threading

import pandas as pd
import pytest

from workbench.bench import COLUMNS, BenchCancelled, BenchConfig, run_benchmark
from workbench.bench.generation import output_lengths
from workbench.gen_metrics import GENERATION_COLUMNS

SIZES = (1, 4)


def _config(**kw) -> BenchConfig:
    return BenchConfig("text-generation", **{"model": "offline:text-generation", "batch_sizes": SIZES, "n": 10,
                                             "repeats": 1, "max_new_tokens": 8, **kw})


@pytest.fixture(scope="module")
def gen_result(manager):
    return run_benchmark(manager, _config())


def test_every_generation_column_is_filled_and_consistent(gen_result):
    t = gen_result.table
    assert list(t.columns) == COLUMNS
    assert sorted(zip(t.runner, t.batch_size)) == sorted((r, b) for r in ("plain", "runner", "continuous")
                                                         for b in SIZES)
    assert (t.status == "ok").all()
    for col in (*GENERATION_COLUMNS, "peak_mem_mb", "mfu", "forward_calls", "same_tokens", "items_per_s"):
        assert t[col].notna().all() and (t[col] >= 0).all(), (col, t[col].tolist())
    assert (t.ttft_p50_ms <= t.ttft_p95_ms).all() and (t.e2e_p50_ms <= t.e2e_p95_ms).all()
    # the tokens counted are the tokens the runs produced: EOS ignored, every request got what it asked
    req = gen_result.requests
    budgets = output_lengths(10, 8, 0, limit=64)
    for (_, _), group in req.groupby(["runner", "batch_size"]):
        assert group.tokens.tolist() == group.asked_tokens.tolist() == budgets
    # per request: TTFT <= E2E, and TTFT + ITL × (tokens − 1) == E2E
    assert (req.ttft_s <= req.e2e_s + 1e-9).all()
    assert all(math.isclose(r.ttft_s + r.itl_s * (r.tokens - 1), r.e2e_s, rel_tol=1e-6, abs_tol=1e-9)
               for r in req.itertuples())
    # the row's throughput is its requests' tokens over its wall time; requests/s likewise
    for row in t.itertuples():
        mine = req[(req.runner == row.runner) & (req.batch_size == row.batch_size)]
        assert math.isclose(row.output_tokens_per_s, round(mine.tokens.sum() / row.seconds, 2), rel_tol=1e-3)
        assert math.isclose(row.requests_per_s, round(len(mine) / row.seconds, 3), rel_tol=1e-3)
        assert row.e2e_p95_ms <= row.seconds * 1000 + 1e-6


def test_the_three_runners_give_the_same_greedy_tokens(gen_result):
    """Greedy decoding on the offline GPT-2: plain (left-padded batches), the runner (equal-length
    batches) and continuous batching (each request's attention over its own tokens) give every
    request the tokens of plain unbatched (batch 1) — float32 on a 2-layer model leaves no near-ties."""
    t = gen_result.table
    assert (t.same_tokens == 1.0).all() and t.first_diff.isna().all(), t[["runner", "batch_size", "same_tokens"]]


def test_recommendation_and_files(gen_result, tmp_path):
    text = gen_result.recommendation
    assert text.startswith("Best: ") and "output tokens/s" in text and "TTFT p95" in text
    assert "in flight" in text
    env = gen_result.environment
    assert "EOS ignored" in env["output_lengths"] and env["load_average"]
    paths = gen_result.save(tmp_path)
    assert set(paths) == {"csv", "json", "md", "png", "requests"}
    assert "ttft_p95_ms" in paths["md"].read_text() and len(pd.read_csv(paths["requests"])) == 10 * 6


def test_export_as_job_picks_the_fastest_runner(gen_result):
    from workbench.jobs import job_from_benchmark

    job = job_from_benchmark(gen_result)
    best = gen_result.table.loc[gen_result.table.output_tokens_per_s.idxmax()]
    assert (job.runner, job.batch_size) == (best.runner, best.batch_size)
    assert job.params["max_new_tokens"] == 8


def test_chat_workload_through_the_chat_template(manager):
    result = run_benchmark(manager, BenchConfig("text-generation", model="offline:chat", workload="chat", n=6,
                                                batch_sizes=(3,), repeats=1, max_new_tokens=6,
                                                runners=("plain", "continuous")))
    t = result.table
    assert (t.status == "ok").all() and t.output_tokens_per_s.notna().all()
    assert (t.same_tokens == 1.0).all(), t[["runner", "same_tokens", "first_diff"]]
    assert "chats" in result.environment["workload"]


def test_prompts_from_a_file_column(manager, tmp_path):
    """The ``file`` workload for generation: the prompts in a table's column, through plain batching
    and continuous batching alike, with the same greedy tokens."""
    prompts = ["Once upon a time", "The weather today is", "A short one", "Write a long story about the sea and a ship"]
    data = tmp_path / "prompts.csv"
    pd.DataFrame({"id": range(4), "prompt": prompts}).to_csv(data, index=False)
    result = run_benchmark(manager, BenchConfig("text-generation", model="offline:text-generation", workload="file",
                                                path=str(data), column="prompt", n=4, batch_sizes=(2,), repeats=1,
                                                max_new_tokens=5, runners=("plain", "continuous")))
    t = result.table
    assert (t.status == "ok").all() and (t.output_tokens > 0).all() and (t.same_tokens == 1.0).all()
    assert "prompts.csv" in result.environment["workload"] and "prompt" in result.environment["workload"]


def test_cancel_stops_continuous_batching_before_the_next_step(manager):
    """Cancel set inside a decoding step of the continuous run (from a forward hook, as the UI's
    thread would at any moment): no further forward pass starts, the rows measured before stay, and
    the model still generates normally afterwards (its attention implementation is back)."""
    from workbench.offline import offline_model_path
    from workbench.offline.random_models import resolve_bench_model

    stop = threading.Event()
    armed = threading.Event()
    seen = {"calls": 0, "after": 0}

    def progress(fraction: float, what: str) -> None:
        if "continuous" in what and "run 1/1" in what:
            armed.set()

    pipe = manager.load("text-generation", resolve_bench_model("offline:text-generation")).pipe

    def hook(module, args):
        if stop.is_set():
            seen["after"] += 1
        elif armed.is_set():
            seen["calls"] += 1
            if seen["calls"] == 3:
                stop.set()

    handle = pipe.model.register_forward_pre_hook(hook)
    try:
        with pytest.raises(BenchCancelled) as info:
            run_benchmark(manager, _config(batch_sizes=(2,), runners=("plain", "continuous")), progress=progress,
                          stop_event=stop)
    finally:
        handle.remove()
    assert stop.is_set() and seen["after"] == 0
    partial = info.value.partial.table
    assert partial.runner.tolist() == ["plain"] and partial.output_tokens_per_s.notna().all()
    assert pipe.model.config._attn_implementation == "sdpa"
    assert offline_model_path("text-generation", prefer_real=False)
    assert pipe("Hello", max_new_tokens=3)[0]["generated_text"].startswith("Hello")


def test_continuous_only_for_generation(manager):
    with pytest.raises(ValueError, match="continuous"):
        run_benchmark(manager, BenchConfig("text-classification", runners=("plain", "continuous"), n=8))
    assert BenchConfig("text-classification").runners == ("plain", "runner")
    assert BenchConfig("text-generation").runners == ("plain", "runner", "continuous")


def test_a_generation_job_runs_with_continuous_batching(manager, tmp_path):
    """``python -m workbench run --runner continuous``: every row, in input order, the pipeline's own
    greedy result for that prompt; resumable like any job."""
    from workbench.jobs import JobSpec
    from workbench.jobs.local import run_local
    from workbench.workloads import natural_texts

    prompts = [t[:80] for t in natural_texts(7, seed=3)]
    pd.DataFrame({"text": prompts}).to_csv(tmp_path / "prompts.csv", index=False)
    job = JobSpec(task="text-generation", model="offline:text-generation", input=str(tmp_path / "prompts.csv"),
                  output=str(tmp_path / "out.parquet"), runner="continuous", batch_size=3, shard_rows=4,
                  params={"max_new_tokens": 6})
    assert "--runner continuous" in job.command()
    summary = run_local(job, manager=manager, progress=False)
    assert summary.ok and summary.rows == 7
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["id"].tolist() == list(range(7)) and out.error.isna().all()
    pipe = manager.load("text-generation", "offline:text-generation").pipe
    import json

    for prompt, got in zip(prompts, out.output):
        assert json.loads(got) == pipe(prompt, max_new_tokens=6, do_sample=False), prompt


def test_chat_stream_timings_are_the_shared_definitions(manager):
    """The Chat mode's TTFT and tokens/s are ``workbench.gen_metrics``' for the same clock readings."""
    from workbench.generation import stream_generate

    pipe = manager.load("text-generation", "offline:text-generation").pipe
    last = list(stream_generate(pipe, "Hello there", stop_event=threading.Event(), max_new_tokens=6,
                                do_sample=False))[-1]
    t = last.timing
    assert last.done and t.tokens == last.new_tokens
    assert last.time_to_first_token_s == t.ttft_s and last.tokens_per_s == t.tokens_per_s
    assert t.ttft_s + t.itl_s * (t.tokens - 1) == pytest.approx(t.e2e_s)


# ---- several models, the tab's settings, progress --------------------------------------------------

TWO = "offline:text-generation,offline:chat"  # a tiny GPT-2 and a tiny Llama with a chat template


def test_two_models_are_swept_in_turn_and_compared_within_each(manager):
    """Two offline generative models in one sweep, as the general sweep does: a ``model`` column,
    each model's tokens compared with its own plain row (another model's tokens differ), the
    recommendation naming the model, a chart line per model × runner, every request counted."""
    from components.bench_plots import bench_chart
    from workbench.bench import plot_frame

    steps, counted, partials = [], [], []
    result = run_benchmark(manager, _config(model=TWO, n=4, batch_sizes=(1, 2), max_new_tokens=3,
                                            output_lengths="fixed", runners=("plain", "continuous")),
                           progress=lambda f, what: steps.append(what), on_row=partials.append,
                           on_inputs=lambda f, k, n: counted.append((f, k, n)))
    t = result.table
    models = ["offline:text-generation", "offline:chat"]
    assert t.model.drop_duplicates().tolist() == models
    assert sorted(zip(t.model, t.runner, t.batch_size)) == sorted(
        (m, r, b) for m in models for r in ("plain", "continuous") for b in (1, 2))
    assert (t.status == "ok").all() and (t.output_tokens == 4 * 3).all()
    assert (t.same_tokens == 1.0).all() and t.first_diff.isna().all(), t[["model", "runner", "same_tokens"]]
    assert set(result.requests.model) == set(models) and len(result.requests) == 2 * 2 * 2 * 4
    env = result.environment
    assert list(env["models"]) == models and env["model_path"] == env["models"][models[0]]["model_path"]
    head, *paragraphs = result.recommendation.split("\n\n")
    best = t.loc[t.output_tokens_per_s.idxmax()]
    other = next(m for m in models if m != best.model)
    assert head.startswith(f"Best: {best.model} with ") and f"× {other}'s best" in head, head
    assert [p.split(": ")[0] for p in paragraphs] == models
    frame = plot_frame(t)
    assert frame.series.nunique() == 4 and frame.variant.nunique() == 2
    chart = bench_chart(frame, "output_tokens_per_s", "Output tokens/s").to_dict()
    assert chart["encoding"]["strokeDash"]["legend"]["title"] == "model · dtype · device"
    # progress: a step per measurement, each one's requests counted up to 4, the fraction only growing
    assert any(s.startswith("offline:chat: cpu float32: continuous, 2 in flight") for s in steps), steps
    assert [k for _, k, _ in counted].count(4) == 2 * 2 * 2 and {n for *_, n in counted} == {4}
    assert [f for f, *_ in counted] == sorted(f for f, *_ in counted) and counted[-1][0] == 1.0
    assert len(partials) == 2 * 2 * 2 and len(partials[-1].table) == len(t)


def test_two_models_through_the_cli(tmp_path, capsys):
    from workbench.__main__ import EXIT_OK, main

    code = main(["bench", "--task", "text-generation", "--model", TWO, "--batch-sizes", "2", "--n", "3",
                 "--repeats", "1", "--max-new-tokens", "2", "--output-lengths", "fixed", "--runners",
                 "runner,continuous", "--out", str(tmp_path), "--quiet"])
    out = capsys.readouterr().out
    assert code == EXIT_OK, out
    table = pd.read_csv(tmp_path / "bench.csv")
    assert sorted(zip(table.model, table.runner)) == sorted(
        (m, r) for m in TWO.split(",") for r in ("runner", "continuous"))
    assert (table.output_tokens == 3 * 2).all() and (table.same_tokens == 1.0).all()
    assert "Best: offline:" in out and (tmp_path / "bench.png").stat().st_size > 1000


def test_the_tab_asks_what_the_cli_asks():
    """The Benchmark tab's runners, mean new tokens and output lengths make the config the CLI's
    ``--runners``, ``--max-new-tokens`` and ``--output-lengths`` make."""
    from components.bench_request import BenchRequest
    from workbench.__main__ import build_parser, config_from_args

    cli = config_from_args(build_parser().parse_args(
        ["bench", "--task", "text-generation", "--model", TWO, "--batch-sizes", "1,4", "--n", "16", "--repeats", "2",
         "--runners", "runner,continuous", "--max-new-tokens", "12", "--output-lengths", "fixed"]))
    tab = BenchRequest.from_widgets(dict(
        task="text-generation", model="offline:text-generation", models=["offline:chat"], workload="natural",
        devices=["cpu"], dtypes=["float32"], batch_sizes="1,4", n=16.0, repeats=2.0, max_tokens=8192,
        runners=["continuous", "runner"], max_new_tokens=12.0, output_lengths="fixed")).config()
    assert tab == cli
    assert cli.runners == ("runner", "continuous") and cli.max_new_tokens == 12 and cli.output_lengths == "fixed"
    # the widgets of a task without generation rows: continuous left out, an empty tick refused in words
    other = BenchRequest.from_widgets(dict(task="text-classification", devices=["cpu"], dtypes=["float32"],
                                           batch_sizes="1", runners=["plain", "runner", "continuous"]))
    assert other.config().runners == ("plain", "runner")
    from workbench.errors import InputError

    with pytest.raises(InputError, match="Tick at least one runner text-generation has"):
        BenchRequest.from_widgets(dict(task="text-generation", devices=["cpu"], dtypes=["float32"],
                                       batch_sizes="1", runners=[]))
