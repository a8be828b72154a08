"""Model sources: the local HF cache (found, listed, loaded offline by revision) and fit checks."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

from workbench.errors import ModelNotFoundError
from workbench.manager import PipelineManager
from workbench.hub import hub_reachable
from workbench.models import local_models, resolve_model
from workbench.offline import offline_model_path

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _fake_hub_cache(hub: Path, repo_id: str, folder: str) -> Path:
    """Lay out ``folder`` the way huggingface_hub caches a download: blobs, snapshots/<commit>, refs/main."""
    repo = hub / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    snap = repo / "snapshots" / COMMIT
    snap.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for f in Path(folder).iterdir():
        if f.is_file():
            data = f.read_bytes()
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data)
            os.symlink(os.path.relpath(blob, snap), snap / f.name)
    return snap


@pytest.fixture()
def hf_cache(tmp_path, monkeypatch):
    hub = tmp_path / "hub"
    _fake_hub_cache(hub, "acme/tiny-sentiment", offline_model_path("text-classification"))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(hub))
    return hub


def test_cached_model_resolves_to_its_snapshot(hf_cache):
    src = resolve_model("acme/tiny-sentiment", "text-classification")
    assert src.kind == "cache" and src.path.endswith(COMMIT)
    assert resolve_model("acme/tiny-sentiment", "text-classification", revision=COMMIT).path == src.path


def test_cached_model_loads_offline(hf_cache):
    manager = PipelineManager()
    loaded = manager.load("text-classification", "acme/tiny-sentiment", revision="main")
    assert loaded.source.kind == "cache" and loaded.random_weights is False
    assert loaded.pipe("I love it")[0]["label"] in {"NEGATIVE", "POSITIVE"}


def test_unknown_revision_of_a_cached_model_is_not_found(hf_cache):
    with pytest.raises(ModelNotFoundError, match="revision `v9`"):
        resolve_model("acme/tiny-sentiment", "text-classification", revision="v9")


def test_local_models_lists_cached_models_that_fit(hf_cache):
    assert [m.repo_id for m in local_models("text-classification")] == ["acme/tiny-sentiment"]
    assert local_models("text-generation") == []
    names = PipelineManager().local_models("text-classification")
    assert names == ["offline:text-classification", "acme/tiny-sentiment"]


def test_hub_is_unreachable_offline():
    assert hub_reachable() is False  # HF_HUB_OFFLINE=1 in tests


def test_copied_folder_is_a_local_source(tmp_path):
    dest = tmp_path / "my-model"
    shutil.copytree(offline_model_path("text-classification"), dest, ignore=shutil.ignore_patterns("workbench_offline.json"))
    src = resolve_model(str(dest), "text-classification")
    assert src.kind == "local"
    assert PipelineManager().load("text-classification", str(dest)).random_weights is False


def test_unreachable_hub_fails_fast_without_offline_flags(monkeypatch):
    """With HF_HUB_OFFLINE unset the workbench probes the Hub itself and gives up within seconds."""
    import time

    import workbench.hub as hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("WORKBENCH_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "_HUB_STATE", {})  # forget any earlier probe
    import huggingface_hub.constants as c

    # a loopback port nobody listens on stands in for an unreachable Hub: no traffic leaves the machine
    monkeypatch.setattr(c, "ENDPOINT", "https://127.0.0.1:9")
    start = time.monotonic()
    with pytest.raises(ModelNotFoundError, match="Hub cannot be reached"):
        PipelineManager().get("text-classification", "acme/not-cached")
    assert time.monotonic() - start < 20
