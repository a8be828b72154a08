"""Quality next to speed in the Benchmark: labelled data scored by each task's metric, several
models in one sweep, the Pareto front and the pick within a tolerance, the files and the job that
the pick exports, and the refusals of bad reference files before any model loads (tiny offline
models and the packaged MiniLM; nothing is timed)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from sklearn.metrics import accuracy_score

from workbench.bench import BenchConfig, quality_frame, run_benchmark
from workbench.bench.quality import choose, labelled_workload, pareto, sample_for
from workbench.errors import InputError
from workbench.manager import PipelineManager
from workbench.offline import offline_model_path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "presets" / "labelled" / "text-classification.csv"


def _other_classifier() -> str:
    """A second text classifier with other labels: the tiny zero-shot (NLI) model's folder."""
    return offline_model_path("zero-shot-classification", prefer_real=False)


@pytest.fixture(scope="module")
def two_models(manager):
    """Two models × two dtypes on the shipped sentiment sample, with references."""
    config = BenchConfig("text-classification", model=f"offline:text-classification,{_other_classifier()}",
                         batch_sizes=(1, 4), dtypes=("float32", "bfloat16"), path=str(SAMPLE), references="label",
                         n=64, repeats=1)
    return run_benchmark(manager, config)


def test_every_row_carries_its_model_and_its_score(two_models):
    t = two_models.table
    assert list(dict.fromkeys(t.model)) == ["offline:text-classification", _other_classifier()]
    assert len(t) == 2 * 2 * 2 * 2 and (t.status == "ok").all()
    assert (t.quality_metric == "accuracy").all() and t.quality.between(0, 100).all()
    assert t.metrics.str.match(r"accuracy [\d.]+, macro_f1 [\d.]+").all()
    # the NLI model has none of the sentiment labels: every reference counts as wrong, and that is said
    other = t[t.model == _other_classifier()]
    assert (other.quality == 0).all()
    assert "16 reference(s) name labels this model does not have (NEGATIVE, POSITIVE)" in two_models.recommendation
    # each row is compared with the first model's float32 reference run
    first = t[t.model == "offline:text-classification"]
    assert (first[first.dtype == "float32"].same_labels == 1.0).all() and (other.same_labels == 0.0).all()


def test_the_score_is_the_metric_of_the_models_own_predictions(two_models, manager):
    """The float32 rows' accuracy is sklearn's accuracy of the pipeline's top labels on the sample,
    computed here without the benchmark."""
    frame = pd.read_csv(SAMPLE)
    pipe = manager.load("text-classification", "offline:text-classification", device="cpu", dtype="float32").pipe
    predicted = [out["label"] for out in pipe(frame.text.tolist())]
    expected = round(100 * accuracy_score(frame.label.tolist(), predicted), 2)
    t = two_models.table
    rows = t[(t.model == "offline:text-classification") & (t.dtype == "float32")]
    assert (rows.quality == expected).all()


def test_the_pick_is_the_fastest_within_the_tolerance_and_the_files_say_so(two_models, tmp_path):
    frame = quality_frame(two_models.table)
    assert len(frame) == 4 and frame.chosen.sum() == 1 and frame.pareto.any()
    chosen = frame[frame.chosen].iloc[0]
    best = frame.quality.max()
    assert chosen.quality >= best - 1.0
    assert chosen.items_per_s == frame[frame.quality >= best - 1.0].items_per_s.max()
    picked = two_models.recommended
    assert (picked["model"], picked["dtype"], picked["batch_size"]) == (chosen["model"], chosen["dtype"], chosen["batch_size"])
    assert two_models.recommendation.startswith("Fastest within 1 point of the best accuracy: ")
    paths = two_models.save(tmp_path)
    assert paths["quality_png"].stat().st_size > 0
    saved = json.loads(paths["json"].read_text())
    assert saved["recommended"]["dtype"] == chosen["dtype"] and saved["config"]["references"] == "label"
    assert {"model", "quality", "metrics"} <= set(pd.read_csv(paths["csv"]).columns)
    assert "| model " in paths["md"].read_text()


def test_export_as_job_runs_the_pick_and_reports_the_same_accuracy(two_models, manager, tmp_path):
    from workbench.jobs import job_from_benchmark
    from workbench.jobs.local import run_local

    job = job_from_benchmark(two_models, input=str(SAMPLE), output=str(tmp_path / "out.parquet"))
    picked = two_models.recommended
    assert (job.model, job.dtype, job.batch_size, job.references) == (picked["model"], picked["dtype"],
                                                                      picked["batch_size"], "label")
    summary = run_local(job, manager=manager, progress=False)
    t = two_models.table
    row = t[(t.model == job.model) & (t.dtype == job.dtype) & (t.batch_size == job.batch_size)
            & (t.runner == picked["runner"])]
    assert summary.metric["values"]["accuracy"] == pytest.approx(row.quality.item(), abs=0.01)


def test_pareto_and_choose_by_hand():
    points = [{"items_per_s": 10.0, "quality": 90.0}, {"items_per_s": 20.0, "quality": 88.5},
              {"items_per_s": 15.0, "quality": 80.0}, {"items_per_s": 40.0, "quality": 70.0}]
    assert [p["items_per_s"] for p in pareto(points)] == [10.0, 20.0, 40.0]
    assert choose(points, tolerance=1.0)["items_per_s"] == 10.0
    assert choose(points, tolerance=2.0)["items_per_s"] == 20.0
    assert choose(points, tolerance=25.0)["items_per_s"] == 40.0
    # a word error rate: lower is better
    wer = [{"items_per_s": 10.0, "quality": 0.10}, {"items_per_s": 30.0, "quality": 0.15}]
    assert choose(wer, tolerance=0.01, higher_is_better=False)["items_per_s"] == 10.0
    assert [p["items_per_s"] for p in pareto(wer, higher_is_better=False)] == [10.0, 30.0]


def test_the_packaged_minilm_scores_real_similarity(manager):
    """Spearman of the pairs' cosine with the written scores: real quality from the real model,
    the int8 rows within a few points of float32."""
    path, column = sample_for("feature-extraction")
    result = run_benchmark(manager, BenchConfig("feature-extraction", batch_sizes=(8,), dtypes=("float32", "int8"),
                                                path=path, references=column, repeats=1))
    t = result.table
    assert (t.quality_metric == "spearman").all()
    fp32 = t[t.dtype == "float32"].quality
    assert (fp32 > 70).all()
    assert (abs(t[t.dtype == "int8"].quality - fp32.iloc[0]) < 5).all()
    assert result.environment["references"] == "40 pairs from feature-extraction.csv with references in `score`"


RETRIEVAL = ROOT / "presets" / "labelled" / "feature-extraction-retrieval.csv"


def test_the_packaged_minilm_ranks_the_retrieval_sample_through_the_cli(tmp_path):
    """Recall@k of each query's cosine ranking of the 60 documents: real quality from the real
    model, far above chance (a random ranking finds a query's document in its first five 5/60 of
    the time)."""
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "workbench", "bench", "--task", "feature-extraction", "--file",
                           str(RETRIEVAL), "--references", "relevant", "--dtype", "float32", "--batch-sizes", "16",
                           "--runners", "runner", "--repeats", "1", "--out", str(out), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Fastest within 1 point of the best recall@5: offline:feature-extraction in float32" in proc.stdout
    row = pd.read_csv(out / "bench.csv").iloc[0]
    assert row.quality_metric == "recall@5" and row.quality >= 80
    values = dict(part.rsplit(" ", 1) for part in row.metrics.split(", "))
    assert list(values) == ["recall@1", "recall@5", "recall@10", "mrr"]
    assert float(values["recall@10"]) >= float(values["recall@5"]) >= float(values["recall@1"]) >= 50
    saved = json.loads((out / "bench.json").read_text())
    assert saved["environment"]["references"] == ("18 queries against 60 documents from "
                                                  "feature-extraction-retrieval.csv with references in `relevant`")
    assert (out / "quality.png").exists()


def test_the_tab_picks_the_retrieval_sample_by_its_reference_column_and_weighs_two_models(manager):
    """The tab's request with the shipped sample ticked: an empty reference column keeps the
    similarity pairs, `relevant` the retrieval sample; run with a random stand-in next to MiniLM,
    the pick is MiniLM, at the best recall@5."""
    from components.bench_request import BenchRequest

    widgets = {"task": "feature-extraction", "model": "offline:feature-extraction", "devices": ["cpu"],
               "dtypes": ["float32"], "batch_sizes": "16", "n": 128, "repeats": 1, "max_tokens": 0, "sample": True}
    pairs = BenchRequest.from_widgets(widgets).config()
    assert (Path(pairs.path[0]).name, pairs.references) == ("feature-extraction.csv", "score")
    with pytest.raises(InputError, match=r"reference column `score` \(feature-extraction.csv\) or `relevant` "
                                         r"\(feature-extraction-retrieval.csv\), not `gold`"):
        BenchRequest.from_widgets({**widgets, "references": "gold"})
    random_model = offline_model_path("feature-extraction", prefer_real=False)
    config = BenchRequest.from_widgets({**widgets, "references": "relevant", "models": [random_model]}).config()
    assert (Path(config.path[0]).name, config.references) == ("feature-extraction-retrieval.csv", "relevant")
    result = run_benchmark(manager, replace(config, runners=("runner",)))
    t = result.table
    assert (t.status == "ok").all() and (t.quality_metric == "recall@5").all()
    minilm, stand_in = t[t.model == "offline:feature-extraction"], t[t.model == random_model]
    assert (minilm.quality >= 80).all() and (stand_in.quality < minilm.quality.min()).all()
    assert result.recommended["model"] == "offline:feature-extraction"
    assert result.recommendation.startswith("Fastest within 1 point of the best recall@5: offline:feature-extraction")
    assert len(quality_frame(t)) == 2


def test_zero_shot_takes_its_candidates_from_the_references():
    path, column = sample_for("zero-shot-classification")
    data = labelled_workload("zero-shot-classification", path, column)
    assert data.params["candidate_labels"] == sorted(set(pd.read_csv(path)[column]))


def test_multi_input_columns_map_like_a_job(tmp_path):
    data = tmp_path / "qa.csv"
    pd.DataFrame({"q": ["Who?"], "passage": ["Ann came."], "gold": ["Ann"]}).to_csv(data, index=False)
    got = labelled_workload("question-answering", data, "gold", columns=("question=q", "context=passage"))
    assert got.items == [{"question": "Who?", "context": "Ann came."}] and got.references == ["Ann"]


def test_retrieval_columns_map_like_a_job_and_numeric_ids_match_their_references(tmp_path):
    data = tmp_path / "docs.jsonl"
    pd.DataFrame({"doc_id": [1, 2, None, None], "body": ["Bread needs yeast.", "Rice needs water.",
                                                         "How is bread made?", "What does rice need?"],
                  "gold": [None, None, "1", "2|7"]}).to_json(data, orient="records", lines=True)
    got = labelled_workload("feature-extraction", data, "gold", columns=("id=doc_id,text=body",), n=1)
    assert got.metric == "retrieval" and got.ids == ["1", "2"] and got.references == ["1"]
    assert got.items == ["Bread needs yeast.", "Rice needs water.", "How is bread made?"]
    assert got.description == "1 query against 2 documents from docs.jsonl with references in `gold`"


@pytest.mark.parametrize("case, match", [
    ("missing column", "has no reference column `label`; its columns: text, sentiment"),
    ("empty file", "has no rows"),
    ("empty reference", "Reference 2 in `label` is empty"),
    ("no input", "Row 1 of `data.csv` has no text"),
    ("wrong type", "Reference 1 in `score` is `high`; similarity references are numbers"),
    ("no metric", "text-generation has no metric for references yet"),
    ("not a table", "could not be read as a table"),
])
def test_bad_reference_files_are_refused_before_any_model_loads(tmp_path, case, match):
    data = tmp_path / "data.csv"
    task, column = "text-classification", "label"
    if case == "missing column":
        data.write_text("text,sentiment\nGood.,POSITIVE\n")
    elif case == "empty file":
        data.write_text("text,label\n")
    elif case == "empty reference":
        data.write_text("text,label\nGood.,POSITIVE\nBad.,\n")
    elif case == "no input":
        data.write_text('text,label\n"",POSITIVE\n')
    elif case == "wrong type":
        task, column = "feature-extraction", "score"
        data.write_text("a,b,score\nOne.,Two.,high\n")
    elif case == "no metric":
        task = "text-generation"
        data.write_text("text,label\nOnce,upon a time\n")
    else:
        data.write_bytes(b'text,label\n"unclosed,POSITIVE\n\xff\xfe')
    fresh = PipelineManager(max_models=1)
    with pytest.raises(InputError, match=match.replace("(", r"\(").replace(")", r"\)")):
        run_benchmark(fresh, BenchConfig(task, path=str(data), references=column, batch_sizes=(1,), repeats=1))
    assert fresh.loaded() == []


@pytest.mark.parametrize("rows, match", [
    ("text,relevant\nBread needs yeast.,\nHow is bread made?,d1\n",
     "needs two text columns besides `relevant` (e.g. sentence1, sentence2); it has text. For retrieval (recall@k), "
     "give an `id` column"),
    ("id,text,relevant\nd1,Bread needs yeast.,\nq1,How is bread made?,d9\n",
     "Row 2 of `data.csv` is a query whose `relevant` (`d9`) names no document of the table; name the `id` of its "
     "relevant documents (e.g. d1)"),
    ("id,text,relevant\nd1,Bread needs yeast.,\nq1,How is bread made?,|\n", "Row 2 of `data.csv` is a query whose"),
    ("id,text,relevant\nd1,Bread needs yeast.,\nd2,Rice needs water.,\n", "`data.csv` has no queries"),
    ("id,text,relevant\nq1,How is bread made?,d1\n", "`data.csv` has no documents"),
    ("id,text,relevant\nd1,Bread needs yeast.,\n,Rice needs water.,\nq1,How is bread made?,d1\n",
     "Row 2 of `data.csv` is a document (its `relevant` is empty) without an id in `id`"),
    ("id,text,relevant\nd1,Bread needs yeast.,\nd1,Rice needs water.,\nq1,How is bread made?,d1\n",
     "The id `d1` is given to rows 1 and 2 of `data.csv`"),
    ("id,text,relevant\nd1,,\nq1,How is bread made?,d1\n", "Row 1 of `data.csv` has no text in `text`"),
])
def test_bad_retrieval_files_are_refused_before_any_model_loads(tmp_path, rows, match):
    data = tmp_path / "data.csv"
    data.write_text(rows)
    fresh = PipelineManager(max_models=1)
    with pytest.raises(InputError, match=re.escape(match)):
        run_benchmark(fresh, BenchConfig("feature-extraction", path=str(data), references="relevant",
                                         batch_sizes=(1,), repeats=1))
    assert fresh.loaded() == []


def test_a_job_refuses_retrieval_references_and_says_where_they_are_scored(tmp_path):
    from workbench.jobs import JobSpec
    from workbench.jobs.local import run_local

    fresh = PipelineManager(max_models=1)
    job = JobSpec("feature-extraction", input=str(RETRIEVAL), output=str(tmp_path / "out.parquet"),
                  references="relevant")
    with pytest.raises(ValueError, match=r"recall@k ranking each query against every document, while a job works "
                                         r"row by row; measure them with `python -m workbench bench --task "
                                         r"feature-extraction --file FILE --references COLUMN`"):
        run_local(job, manager=fresh, progress=False)
    assert fresh.load_count == 0


def test_the_cli_sweeps_two_models_with_references(tmp_path):
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "workbench", "bench", "--task", "text-classification",
                           "--model", f"offline:text-classification,{_other_classifier()}", "--dtype",
                           "float32,bfloat16", "--batch-sizes", "1,4", "--repeats", "1", "--file", str(SAMPLE),
                           "--references", "label", "--quality-tolerance", "2", "--out", str(out), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Fastest within 2 points of the best accuracy" in proc.stdout
    table = pd.read_csv(out / "bench.csv")
    assert table.model.nunique() == 2 and table.dtype.nunique() == 2 and table.quality.notna().all()
    assert (out / "quality.png").exists()
    # --labels, the former name of --references, still names the reference column
    bad = subprocess.run([sys.executable, "-m", "workbench", "bench", "--task", "text-classification", "--file",
                          str(SAMPLE), "--labels", "sentiment", "--out", str(out), "--quiet"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "has no reference column `sentiment`" in bad.stderr
    assert "--labels is deprecated; use --references" in bad.stderr
