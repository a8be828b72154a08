"""Dataset jobs (``workbench.jobs``, ``python -m workbench run``) on tiny offline models: every input
format, multi-input tasks, bad rows, resume after a real kill, and the Benchmark tab's export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from workbench.__main__ import EXIT_OK, EXIT_USAGE, build_parser, job_from_args, main
from workbench.jobs import JobSpec, job_from_benchmark, run_job
from workbench.jobs.local import parts_dir, run_local
from workbench.jobs.readers import ROW_ID, detect_format, open_source
from workbench.workloads import natural_texts, uniform_texts

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["I love it", "this is bad", "an ordinary day in the city", "", "the food was cold and the staff rude",
         "great", "what a long and winding road that was, with many turns", "ok", "terrible service",
         "it rained all week", "the best film of the year", "meh"]
EMPTY = 3  # the row whose text is empty


def _job(tmp_path: Path, data: Path, task: str = "text-classification", **kw) -> JobSpec:
    return JobSpec(task=task, input=str(data), output=str(tmp_path / "out.parquet"), **kw)


def _rows(path: str | Path) -> pd.DataFrame:
    return pd.read_parquet(path).sort_values("id").reset_index(drop=True)


def _labels(frame: pd.DataFrame) -> list:
    """Each row's labels and scores (rounded), or its error."""
    return [e if isinstance(e, str) else [(d["label"], round(d["score"], 4)) for d in json.loads(o)]
            for o, e in zip(frame["output"], frame["error"])]


def _write(fmt: str, folder: Path) -> Path:
    frame = pd.DataFrame({"n": range(len(TEXTS)), "text": TEXTS})
    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "csv":
        frame.to_csv(path := folder / "data.csv", index=False)
    elif fmt == "tsv":
        frame.to_csv(path := folder / "data.tsv", index=False, sep="\t")
    elif fmt == "jsonl":
        frame.to_json(path := folder / "data.jsonl", orient="records", lines=True)
    elif fmt == "json":
        frame.to_json(path := folder / "data.json", orient="records")
    elif fmt == "parquet":
        frame.to_parquet(path := folder / "data.parquet")
    elif fmt == "text":
        (path := folder / "data.txt").write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    elif fmt == "disk":
        import datasets

        datasets.Dataset.from_pandas(frame).save_to_disk(str(path := folder / "saved"))
    else:  # datasets.load_dataset on a local folder of data files
        (path := folder / "hub-like").mkdir()
        frame.to_json(path / "train.jsonl", orient="records", lines=True)
    return path


@pytest.fixture(scope="module")
def reference(manager, tmp_path_factory) -> pd.DataFrame:
    tmp = tmp_path_factory.mktemp("reference")
    run_local(_job(tmp, _write("csv", tmp / "in")), manager=manager, progress=False)
    return _rows(tmp / "out.parquet")


# ---- inputs ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "tsv", "jsonl", "json", "parquet", "text", "disk", "datasets"])
def test_every_input_format_gives_one_row_per_input_in_order(manager, tmp_path, reference, fmt):
    data = _write(fmt, tmp_path / "in")
    assert detect_format(data) == fmt
    summary = run_local(_job(tmp_path, data, shard_rows=5), manager=manager, progress=False)
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert out["id"].tolist() == list(range(len(TEXTS)))  # in order, no sorting needed
    assert _labels(out) == _labels(reference)
    assert out["error"].notna().tolist() == [i == EMPTY for i in range(len(TEXTS))]
    assert "text is empty" in out["error"][EMPTY]
    assert (summary.rows, summary.ok, summary.failed) == (len(TEXTS), len(TEXTS) - 1, 1)
    assert not parts_dir(tmp_path / "out.parquet").exists()


def test_frames_number_rows_and_skip(tmp_path):
    source = open_source(_write("jsonl", tmp_path))
    frames = list(source.frames(5, skip=7))
    assert [len(f) for f in frames] == [5] and frames[0][ROW_ID].tolist() == [7, 8, 9, 10, 11]
    assert frames[0]["text"].tolist() == TEXTS[7:]
    assert source.total == len(TEXTS) and source.columns == ["n", "text"]


def test_several_columns_feed_a_multi_input_task(manager, tmp_path):
    data = tmp_path / "qa.csv"
    pd.DataFrame({"q": ["Where is it?", "Who came?", "What?"],
                  "passage": ["It is in Paris.", "Nobody came to the party.", ""]}).to_csv(data, index=False)
    job = _job(tmp_path, data, "question-answering", columns=("question=q", "context=passage"))
    run_local(job, manager=manager, progress=False)
    out = _rows(tmp_path / "out.parquet")
    answers = [json.loads(o) if isinstance(o, str) else None for o in out["output"]]
    assert all(isinstance(a["answer"], str) and a["answer"] for a in answers[:2])
    assert answers[2] is None and "context is empty" in out["error"][2]


def _media_folders(tmp_path: Path) -> tuple[Path, Path]:
    """Four images (PNG and JPEG; ``c.png`` corrupt) and three clips at 8 kHz (WAV and FLAC; ``2.wav``
    silent), as plain folders."""
    pictures, clips = tmp_path / "pictures", tmp_path / "clips"
    pictures.mkdir()
    clips.mkdir()
    for name, color in (("a.png", "red"), ("b.jpg", "blue"), ("d.png", "green")):
        Image.new("RGB", (40, 30), color).save(pictures / name)
    (pictures / "c.png").write_bytes(b"not a picture at all")
    t = np.arange(8000, dtype=np.float32) / 8000
    sf.write(clips / "1.wav", 0.3 * np.sin(2 * np.pi * 440 * t), 8000)  # resampled to the model's rate
    sf.write(clips / "2.wav", np.zeros(8000, dtype=np.float32), 8000)
    sf.write(clips / "3.flac", 0.3 * np.sin(2 * np.pi * 220 * t[:4000]), 8000)
    return pictures, clips


def test_folder_of_images_with_a_corrupt_one(manager, tmp_path):
    folder, _ = _media_folders(tmp_path)
    assert detect_format(folder) == "files"
    summary = run_local(_job(tmp_path, folder, "image-classification"), manager=manager, progress=False)
    out = _rows(tmp_path / "out.parquet")
    assert out["error"].notna().tolist() == [False, False, True, False]
    assert "could not be read as an image" in out["error"][2]
    assert all(json.loads(o)[0]["label"] for o in out["output"][[0, 1, 3]])
    assert summary.failed == 1 and list(summary.errors.values()) == [1]


def test_folder_of_audio_with_a_silent_clip(manager, tmp_path):
    _, folder = _media_folders(tmp_path)
    run_local(_job(tmp_path, folder, "audio-classification"), manager=manager, progress=False)
    out = _rows(tmp_path / "out.parquet")
    assert out["error"].notna().tolist() == [False, True, False] and "silent" in out["error"][1]


def test_datasets_image_and_audio_columns_answer_as_the_files_do(manager, tmp_path):
    """`datasets` Image and Audio features (a saved dataset, and an image folder with metadata read by
    ``load_dataset``) are decoded by the job as files are: the same outputs, and a corrupt image or a
    silent clip is that row's error, not the job's end."""
    import datasets

    pictures, clips = _media_folders(tmp_path)
    expected = {}
    for task, folder in (("image-classification", pictures), ("audio-classification", clips)):
        run_local(JobSpec(task=task, input=str(folder), output=str(tmp_path / f"{task}.parquet")), manager=manager,
                  progress=False)
        expected[task] = _labels(_rows(tmp_path / f"{task}.parquet"))
    assert [isinstance(x, str) for x in expected["image-classification"]] == [False, False, True, False]
    assert [isinstance(x, str) for x in expected["audio-classification"]] == [False, True, False]

    saved = {
        "image-classification": datasets.Dataset.from_dict(
            {"image": [str(f) for f in sorted(pictures.iterdir())], "n": [0, 1, 2, 3]}).cast_column(
            "image", datasets.Image()),
        "audio-classification": datasets.Dataset.from_dict(
            {"audio": [str(f) for f in sorted(clips.iterdir())]}).cast_column("audio", datasets.Audio(16_000)),
    }
    for task, ds in saved.items():
        ds.save_to_disk(str(path := tmp_path / f"{task}-saved"))
        assert detect_format(path) == "disk"
        run_local(JobSpec(task=task, input=str(path), output=str(out := tmp_path / f"{task}-disk.parquet")),
                  manager=manager, progress=False)
        assert _labels(_rows(out)) == expected[task], task

    captions = "".join(f"{f.name},picture {i}\n" for i, f in enumerate(sorted(pictures.iterdir())))
    (pictures / "metadata.csv").write_text("file_name,caption\n" + captions)
    assert detect_format(pictures) == "datasets"
    run_local(JobSpec(task="image-classification", input=str(pictures), columns=("image",),
                      output=str(out := tmp_path / "imagefolder.parquet")), manager=manager, progress=False)
    assert _labels(_rows(out)) == expected["image-classification"]


def test_folder_of_videos_with_a_corrupt_one(manager, tmp_path):
    import shutil

    from workbench.samples import sample_file

    folder = tmp_path / "videos"
    folder.mkdir()
    shutil.copy(sample_file("clip.mp4"), folder / "a.mp4")
    (folder / "b.mp4").write_bytes(b"not a video")
    run_local(_job(tmp_path, folder, "video-classification"), manager=manager, progress=False)
    out = _rows(tmp_path / "out.parquet")
    assert out["error"].notna().tolist() == [False, True]
    assert json.loads(out["output"][0])[0]["label"] and "b.mp4" in out["error"][1]


def test_a_row_the_pipeline_rejects_is_recorded_and_the_others_run(manager, tmp_path):
    data = tmp_path / "masks.txt"
    data.write_text("Paris is the [MASK] of France.\nno mask in this one\nThe [MASK] sat on the mat.\n")
    run_local(_job(tmp_path, data, "fill-mask", params={"top_k": 2}), manager=manager, progress=False)
    out = _rows(tmp_path / "out.parquet")
    assert out["error"].notna().tolist() == [False, True, False]
    assert "mask" in out["error"][1].lower()
    assert [len(json.loads(out["output"][i])) for i in (0, 2)] == [2, 2]


def test_embeddings_are_a_float32_column_equal_to_the_runner(manager, tmp_path):
    from workbench.runner import run_batch

    data = tmp_path / "docs.parquet"
    texts = natural_texts(20, seed=3)
    pd.DataFrame({"text": texts}).to_parquet(data)
    run_local(_job(tmp_path, data, "feature-extraction", shard_rows=8), manager=manager, progress=False)
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "out.parquet")
    import pyarrow as pa

    assert pa.types.is_list(table.schema.field("embedding").type)
    assert table.schema.field("embedding").type.value_type == pa.float32()
    got = np.stack(table.column("embedding").to_numpy(zero_copy_only=False))
    pipe = manager.get("feature-extraction")
    want = np.stack(run_batch(pipe, texts, pooling="mean", normalize=True, truncation=True).results)
    assert got.shape == (20, 384) and np.allclose(got, want, atol=1e-5)


# ---- resume --------------------------------------------------------------------------------------------


def test_a_killed_job_resumes_without_losing_or_repeating_rows(manager, tmp_path):
    data = tmp_path / "many.csv"
    n = 1200
    pd.DataFrame({"text": uniform_texts(n, seed=1)}).to_csv(data, index=False)
    out = tmp_path / "out.parquet"
    parts = parts_dir(out)
    cmd = [sys.executable, "-m", "workbench", "run", "--task", "text-classification", "--input", str(data),
           "--output", str(out), "--shard-rows", "40", "--quiet"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while not list(parts.glob("part-*.parquet")):
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no shard appeared within 240 s"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    done = sorted(parts.glob("part-*.parquet"))
    assert not out.exists() and 1 <= len(done) < n // 40
    job = JobSpec("text-classification", input=str(data), output=str(out), shard_rows=40)
    with pytest.raises(ValueError, match="--resume"):
        run_local(job, manager=manager, progress=False)
    with pytest.raises(ValueError, match="different job"):
        run_local(job.updated(params={"top_k": 1}), manager=manager, resume=True, progress=False)
    summary = run_local(job, manager=manager, resume=True, progress=False)
    assert summary.resumed_at == 40 * len(done) and summary.rows == n and summary.failed == 0
    resumed = pd.read_parquet(out)
    assert resumed["id"].tolist() == list(range(n))
    whole = tmp_path / "whole.parquet"
    run_local(job.updated(output=str(whole)), manager=manager, progress=False)
    assert _labels(resumed) == _labels(pd.read_parquet(whole))


# ---- the command line and the Benchmark tab's export ---------------------------------------------------------


def test_command_line_round_trips_through_the_parser(tmp_path):
    job = JobSpec("question-answering", input="qa.csv", output="o.parquet", model="offline:question-answering",
                  columns=("question=q", "context=c"), dtype="bfloat16", batch_size=16, max_tokens=None,
                  params={"top_k": 2}, shard_rows=256, references="answer")
    argv = job.command().split()[3:]
    assert job_from_args(build_parser().parse_args(argv)) == job


def test_cli_errors_say_what_to_do(tmp_path, capsys):
    assert main(["run", "--task", "text-classification", "--output", str(tmp_path / "o.parquet")]) == EXIT_USAGE
    assert "--input" in capsys.readouterr().err
    data = _write("csv", tmp_path)
    assert main(["run", "--task", "text-classification", "--input", str(data), "--column", "nope",
                 "--output", str(tmp_path / "o.parquet"), "--quiet"]) == EXIT_USAGE
    assert "no column nope" in capsys.readouterr().err
    assert main(["run", "--task", "text-to-audio", "--input", str(data), "--output", "o.parquet"]) == EXIT_USAGE
    assert "not batchable" in capsys.readouterr().err


def test_benchmark_export_runs_as_a_job(manager, tmp_path, capsys):
    import threading

    from components.bench_panel import _benchmark, _outputs, export_job
    from components.bench_request import BenchRequest

    request = BenchRequest.from_widgets(dict(task="text-classification", model="offline:text-classification",
                                             workload="uniform", devices=["cpu"], dtypes=["float32"],
                                             batch_sizes="1,4", n=16, repeats=1, max_tokens=4096))
    result, _ = _benchmark(manager, request, lambda f, desc: None, threading.Event())
    *_, files = _outputs(result)
    command, path = export_job(files)
    assert command.startswith("python -m workbench run --config job.json --input ")
    exported = JobSpec.load(path)
    best = result.table[result.table.status == "ok"].sort_values("items_per_s").iloc[-1]
    assert exported == job_from_benchmark(result)
    assert (exported.batch_size, exported.dtype, exported.max_tokens) == (int(best.batch_size), "float32", 4096)
    data, out = _write("csv", tmp_path / "in"), tmp_path / "exported.parquet"
    argv = command.split()[3:]
    argv[argv.index("--config") + 1] = path
    argv[argv.index("--input") + 1], argv[argv.index("--output") + 1] = str(data), str(out)
    assert main([*argv, "--quiet", "--save-config", str(tmp_path / "again.json")]) == EXIT_OK
    assert f"{len(TEXTS)} rows" in capsys.readouterr().out and len(pd.read_parquet(out)) == len(TEXTS)
    assert JobSpec.load(tmp_path / "again.json") == exported.updated(input=str(data), output=str(out))
    assert export_job(None)[1] is None


def test_run_job_dispatches_to_the_local_engine(manager, tmp_path):
    summary = run_job(_job(tmp_path, _write("text", tmp_path)), manager=manager, progress=False)
    assert summary.engine == "local" and summary.rows == len(TEXTS)


# ---- references (--references; --labels, its former name) -----------------------------------------


def test_a_job_with_references_scores_every_row_and_the_whole(manager, tmp_path):
    from workbench.metrics import score

    data = tmp_path / "labelled.csv"
    texts = ["I love it", "awful", "fine", "bad", "great fun", ""]
    pd.DataFrame({"text": texts, "label": ["POSITIVE", "negative", "1", "neutral", "0", "POSITIVE"]}).to_csv(
        data, index=False)
    summary = run_local(_job(tmp_path, data, references="label"), manager=manager, progress=False)
    out = _rows(summary.output)
    ran = out[out["error"].isna()]
    assert len(ran) == 5  # the empty text is that row's error, not scored
    # the references as the model names its labels ("1" is id2label's POSITIVE); the one it lacks stays as given
    assert ran["reference"].tolist() == ["POSITIVE", "NEGATIVE", "POSITIVE", "neutral", "NEGATIVE"]
    assert ran["reference_known"].tolist() == [True, True, True, False, True]
    top = [json.loads(o)[0]["label"] for o in ran["output"]]
    assert ran["prediction"].tolist() == top
    assert ran["correct"].tolist() == [p == r for p, r in zip(top, ran["reference"])]
    want = score("classification", top, ran["reference"].tolist())
    assert summary.metric["values"] == want.values and summary.metric["n"] == 5
    assert "1 reference(s) name labels this model does not have" in summary.text()


def test_a_bad_reference_column_fails_before_the_model_loads(tmp_path):
    from workbench.manager import PipelineManager

    data = tmp_path / "texts.csv"
    pd.DataFrame({"text": ["a", "b"]}).to_csv(data, index=False)
    manager = PipelineManager(max_models=1)
    with pytest.raises(ValueError, match="the data has no column gold"):
        run_local(_job(tmp_path, data, references="gold"), manager=manager, progress=False)
    with pytest.raises(ValueError, match="no per-row metric .* tasks that have one: .*text-classification"):
        run_local(_job(tmp_path, data, task="text-generation", references="text"), manager=manager, progress=False)
    assert manager.load_count == 0


def test_the_cli_takes_references(manager, tmp_path, capsys):
    data = tmp_path / "speech.csv"
    pd.DataFrame({"text": ["one two three"], "gold": ["one two three"]}).to_csv(data, index=False)
    args = ["run", "--task", "token-classification", "--input", str(data), "--output", str(tmp_path / "o.parquet"),
            "--references", "gold", "--quiet"]
    assert main(args) == EXIT_USAGE  # an entity reference is `TYPE: words`, said before the model loads
    assert "Reference 1 in `gold`: An entity reference is `TYPE: words; TYPE: words`" in capsys.readouterr().err
    pd.DataFrame({"text": ["John lives in Paris"], "gold": ["PER: John; LOC: Paris"]}).to_csv(data, index=False)
    assert main(args) == EXIT_OK
    assert "entities on 1 labelled rows: precision" in capsys.readouterr().out


def test_labels_the_former_name_of_references_still_works(tmp_path, capsys):
    """``--labels`` (both commands) and a job file's ``labels`` key, from before the rename, name the
    reference column as ``--references`` and ``references`` do; ``--help`` shows only the new name."""
    for command in ("bench", "run"):
        args = build_parser().parse_args([command, "--task", "text-classification", "--labels", "gold"])
        assert args.references == "gold" and not hasattr(args, "labels")
        assert "--labels is deprecated; use --references" in capsys.readouterr().err
        assert build_parser().parse_args([command, "--task", "text-classification",
                                          "--references", "gold"]).references == "gold"
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "--references COLUMN" in text and "--labels" not in text
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"task": "text-classification", "input": "in.csv", "output": "o.parquet",
                               "labels": "gold"}))
    job = JobSpec.load(old)
    assert job == JobSpec("text-classification", input="in.csv", output="o.parquet", references="gold")
    assert job_from_args(build_parser().parse_args(["run", "--config", str(old)])).references == "gold"
    saved = json.loads(job.save(tmp_path / "new.json").read_text())
    assert saved["references"] == "gold" and "labels" not in saved  # written under the new name
    assert JobSpec.from_dict({**saved, "labels": "gold"}) == job  # both names, the same column
    with pytest.raises(ValueError, match="two reference columns"):
        JobSpec.from_dict({**saved, "labels": "label"})
    # a bench.json written before the rename: its config's `labels` goes to the exported job
    bench = {"config": {"task": "text-classification", "labels": "gold"},
             "rows": [{"status": "ok", "items_per_s": 9.0, "device": "cpu", "dtype": "float32", "batch_size": 8}]}
    assert job_from_benchmark(bench).references == "gold"
