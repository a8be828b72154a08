"""The Ray Data engine gives the local engine's output (schema, ids, results, errors) on a local Ray
started once for this module (2 CPUs, a small object store, no dashboard)."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
import ray
from PIL import Image

from workbench.__main__ import EXIT_OK, main
from workbench.jobs import JobSpec, run_job
from workbench.jobs.ray_engine import start_ray
from workbench.workloads import natural_texts


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    for attempt in range(2):  # Ray gives its raylet 30 s to register: a saturated CI machine may need a second go
        try:
            start_ray(num_cpus=2, object_store_memory=128 * 2**20, include_dashboard=False, log_to_driver=False)
            break
        except Exception as exc:
            ray.shutdown()
            if attempt or "timed out during startup" not in str(exc):
                raise
    yield
    ray.shutdown()


def _same(local: str, distributed: str) -> None:
    a, b = pq.read_table(local), pq.read_table(distributed)
    assert a.schema.remove_metadata() == b.schema.remove_metadata()
    a, b = a.to_pandas(), b.to_pandas()
    assert b["id"].tolist() == list(range(len(a)))  # one row per input row, in input order
    assert [e if isinstance(e, str) else None for e in b["error"]] == \
           [e if isinstance(e, str) else None for e in a["error"]]
    for x, y in zip(a["output"], b["output"]):
        if isinstance(x, str):
            assert [(d["label"], round(d["score"], 4)) for d in json.loads(x)] == \
                   [(d["label"], round(d["score"], 4)) for d in json.loads(y)]
        else:
            assert pd.isna(y)


def test_ray_equals_local_on_a_csv(manager, tmp_path):
    """The same job, references and all, on both engines: the same rows and the same metric."""
    data = tmp_path / "texts.csv"
    texts = natural_texts(40, seed=2)
    texts[7] = ""
    labels = ["POSITIVE" if i % 3 else "negative" for i in range(40)]
    labels[5] = "neutral"  # a label the model lacks
    pd.DataFrame({"text": texts, "label": labels}).to_csv(data, index=False)
    job = JobSpec("text-classification", input=str(data), output=str(tmp_path / "local.parquet"), shard_rows=16,
                  references="label")
    local = run_job(job, manager=manager, progress=False)
    # two actors on this module's 2-CPU Ray: a fixed pool of two took both CPUs and never read a row
    summary = run_job(job.updated(engine="ray", output=str(tmp_path / "ray"), concurrency=2), progress=False)
    assert (summary.engine, summary.rows, summary.failed) == ("ray", 40, 1)
    assert len(list((tmp_path / "ray").glob("*.parquet"))) >= 2  # a file per block of at most 16 rows
    _same(str(tmp_path / "local.parquet"), str(tmp_path / "ray"))
    assert summary.metric == local.metric and local.metric["n"] == 39


def test_ray_reads_a_folder_of_images_through_the_cli(manager, tmp_path):
    folder = tmp_path / "pictures"
    folder.mkdir()
    for i, color in enumerate(("red", "blue", "green", "white")):
        Image.new("RGB", (30 + 8 * i, 30), color).save(folder / f"{i}.png")
    (folder / "2b.png").write_bytes(b"corrupt")
    common = ["run", "--task", "image-classification", "--input", str(folder), "--quiet"]
    assert main([*common, "--output", str(tmp_path / "local.parquet")]) == EXIT_OK
    assert main([*common, "--output", str(tmp_path / "ray"), "--engine", "ray", "--concurrency", "1"]) == EXIT_OK
    _same(str(tmp_path / "local.parquet"), str(tmp_path / "ray"))
    assert pd.read_parquet(tmp_path / "ray")["error"].notna().tolist() == [False, False, False, True, False]


def test_ray_reads_a_datasets_image_column(manager, tmp_path):
    """A saved `datasets` dataset with an ``Image`` feature (one corrupt image): Ray gets the stored
    bytes (the dataset's Arrow table, ``ray.data.from_arrow``) and answers as the local engine does."""
    import datasets

    paths = []
    for i, color in enumerate(("red", "blue", "green")):
        Image.new("RGB", (30 + 8 * i, 30), color).save(path := tmp_path / f"{i}.png")
        paths.append(str(path))
    (tmp_path / "bad.png").write_bytes(b"corrupt")
    paths.insert(1, str(tmp_path / "bad.png"))
    ds = datasets.Dataset.from_dict({"image": paths}).cast_column("image", datasets.Image())
    ds.save_to_disk(str(saved := tmp_path / "saved"))
    job = JobSpec("image-classification", input=str(saved), output=str(tmp_path / "local.parquet"))
    run_job(job, manager=manager, progress=False)
    run_job(job.updated(engine="ray", output=str(tmp_path / "ray"), concurrency=1), progress=False)
    _same(str(tmp_path / "local.parquet"), str(tmp_path / "ray"))
    errors = pd.read_parquet(tmp_path / "ray")["error"]
    assert errors.notna().tolist() == [False, True, False, False] and "`bad.png` could not be read" in errors[1]
