"""benchmarks/gpu.sh, the GPU check: its dry run (every step on the CPU, offline models, tiny sizes,
gradio made unimportable as on the GPU machine) and the pieces a GPU run needs that a dry run does
not reach (the MiniLM float16 carry, choosing the carried wheels to install, a step killed at its
budget). Nothing here is timed: the numbers of a dry run mean nothing."""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks" / "gpu"))

import carry  # noqa: E402
import probe  # noqa: E402
import steps  # noqa: E402
import summary  # noqa: E402

FILES = {"summary.md", "results.json", "gpu.log", "encoders.csv", "generation.csv"}


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """``bash benchmarks/gpu.sh --dry-run`` once, with ``import gradio`` failing as it does there."""
    out = tmp_path_factory.mktemp("gpu-out")
    shim = tmp_path_factory.mktemp("no-gradio")
    (shim / "gradio").mkdir()
    (shim / "gradio" / "__init__.py").write_text('raise ImportError("no gradio on the GPU machine")\n')
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable, "PYTHONPATH": str(shim)}
    start = time.monotonic()
    proc = subprocess.run(["bash", "benchmarks/gpu.sh", "--dry-run"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=480)
    seconds = time.monotonic() - start
    print(f"dry run: {seconds:.0f} s")
    return proc, out, json.loads((out / "results.json").read_text()) if (out / "results.json").exists() else None


def _step(results, name):
    return next(s for s in results["steps"] if s["step"] == name)


def test_dry_run_passes_every_step_and_prints_the_summary_last(dry_run):
    proc, out, results = dry_run
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    files = {p.name for p in out.iterdir()}
    assert files == FILES and len(files) <= 8
    assert results["dry_run"] and results["device"] == "cpu"
    assert [s["step"] for s in results["steps"]] == [name for name, _, _ in steps.STEPS]
    for s in results["steps"]:
        assert s["status"] in ("ok", "not available"), (s["step"], s["status"], s["error"], s["checks"], s["notes"])
        assert s["gradio_imported"] is False
    tail = proc.stdout.strip().splitlines()[-(len(steps.STEPS) + 3):]
    assert "DRY RUN" in tail[0] and "no GPU numbers" in tail[0]
    assert tail[1].startswith("| step | status |")
    assert [line.split("|")[1].strip() for line in tail[3:]] == [name for name, _, _ in steps.STEPS]
    assert "## Steps" in (out / "summary.md").read_text()


def test_each_precision_and_runner_is_measured_or_said_unavailable(dry_run):
    _, _, results = dry_run
    for name in ("2a-minilm", "2b-distilbert"):
        s = _step(results, name)
        measured = {r["dtype"] for r in s["rows"] if r["status"] == "ok"}
        unavailable = {u["what"].rsplit(" in ", 1)[1]: u["why"] for u in s["unavailable"]}
        assert "float32" in measured and {"plain", "runner"} <= {r["runner"] for r in s["rows"]}
        assert set(probe.DTYPES) == measured | set(unavailable) and not measured & set(unavailable)
        assert "not offered on cpu" in unavailable["float16"]
    for name in ("3a-generation-135m", "3b-generation-0.5b"):
        s = _step(results, name)
        runners = {r["runner"] for r in s["rows"]}
        said = " ".join(u["what"] + " " + u["why"] for u in s["unavailable"])
        assert {"plain", "runner", "stream (1 in flight)"} <= runners
        assert "continuous" in runners or "runner `continuous`" in said
        stream = next(r for r in s["rows"] if r["runner"] == "stream (1 in flight)")
        assert stream["ttft_ms"] > 0 and stream["itl_p50_ms"] > 0


def test_oom_backoff_manager_bound_and_zerogpu_checks_hold(dry_run):
    _, _, results = dry_run
    oom = _step(results, "2c-oom-backoff")
    assert all(c["ok"] for c in oom["checks"]) and len(oom["checks"]) == 2
    assert oom["rows"][0]["oom_backoffs"] >= 1 and oom["rows"][0]["same_labels"]
    bound = _step(results, "4-manager-bound")
    assert all(c["ok"] for c in bound["checks"]) and len(bound["checks"]) >= 3
    assert "refused" in bound["short"] and bound["rows"][0]["refused"]
    zero = _step(results, "5-zerogpu")
    assert zero["facts"]["path"].startswith(("spaces ", "the plain path"))
    assert zero["rows"][0]["device"] == "cpu"


def test_the_minilm_carried_in_float16_loads_and_is_the_workbenchs_minilm(tmp_path, monkeypatch):
    import torch
    from safetensors import safe_open
    from transformers import pipeline

    from workbench.offline import MARKER, minilm_path, offline_info, offline_model_path

    src = Path(offline_model_path("feature-extraction", prefer_real=False))
    dest = carry.export_minilm_half(src, tmp_path / "minilm-fp16")
    assert json.loads((dest / "config.json").read_text())["dtype"] == "float16"
    with safe_open(str(dest / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} <= {torch.float16, torch.int64}
    text = "Paris is the capital of France."
    full = torch.tensor(pipeline("feature-extraction", model=str(src))(text))
    half = torch.tensor(pipeline("feature-extraction", model=str(dest), dtype=torch.float32)(text))
    assert torch.allclose(full, half, atol=2e-2)
    (dest / MARKER).unlink()  # the tiny model's offline marker; the real MiniLM has none
    monkeypatch.setenv("WORKBENCH_MINILM_DIR", str(dest))
    assert minilm_path() == str(dest)
    assert "WORKBENCH_MINILM_DIR" in offline_info(str(dest)).description


def _wheel(folder: Path, name: str, version: str, requires: list[str]) -> Path:
    path = folder / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    meta = "\n".join([f"Name: {name}", f"Version: {version}", *(f"Requires-Dist: {r}" for r in requires)])
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name.replace('-', '_')}-{version}.dist-info/METADATA", meta)
    return path


def test_only_what_the_machine_lacks_or_has_too_old_is_installed(tmp_path):
    wheels = [_wheel(tmp_path, "spaces", "0.51.3", ["httpx>=0.20", "pydantic>=1,<3"]),
              _wheel(tmp_path, "pydantic", "2.14.4", ["typing-inspection>=0.4.2", "annotated-types>=0.6"]),
              _wheel(tmp_path, "typing-inspection", "0.4.5", []), _wheel(tmp_path, "annotated-types", "0.8.0", [])]
    here = {"httpx": "0.28", "annotated-types": "0.7.0", "typing-inspection": "0.4.0"}
    assert carry.to_install(wheels, here.get) == ["pydantic", "spaces", "typing-inspection"]
    assert doctest.testmod(carry).failed == 0


def test_a_step_killed_at_its_budget_is_reported_timed_out_with_what_it_had(tmp_path, monkeypatch):
    def slow(step, plan):
        step.fact("measured", "before the budget ran out")
        time.sleep(30)

    monkeypatch.setitem(steps.RUN, "4-manager-bound", slow)
    assert steps._fork("4-manager-bound", tmp_path, 2.0, True) == steps.TIMED_OUT
    (tmp_path / "rc.txt").write_text(f"4-manager-bound {steps.TIMED_OUT}\n")
    record = next(s for s in summary.load_steps(tmp_path) if s["step"] == "4-manager-bound")
    assert record["status"] == "timed out" and record["facts"]["measured"] == "before the budget ran out"
    assert "budget" in record["error"]
