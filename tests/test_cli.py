"""``python -m workbench``: help, the bench command (table, files, exit codes) and offline builds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from workbench.__main__ import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parent.parent


def test_help_explains_the_commands():
    out = subprocess.run([sys.executable, "-m", "workbench", "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert out.returncode == 0
    assert "bench" in out.stdout and "offline" in out.stdout


def test_bench_help_lists_the_options(capsys):
    try:
        main(["bench", "--help"])
    except SystemExit as exc:
        assert exc.code == 0
    text = capsys.readouterr().out
    for option in ("--task", "--model", "--batch-sizes", "--workload", "--device", "--dtype", "--n", "--out"):
        assert option in text


def test_no_command_prints_help(capsys):
    assert main([]) == EXIT_USAGE
    assert "bench" in capsys.readouterr().out


def test_bench_prints_the_table_and_writes_files(tmp_path, capsys):
    code = main(["bench", "--task", "text-classification", "--batch-sizes", "1,4", "--workload", "uniform", "--n", "12",
                 "--repeats", "1", "--out", str(tmp_path), "--quiet"])
    assert code == EXIT_OK
    out = capsys.readouterr().out
    assert "items_per_s" in out and "Best:" in out
    table = pd.read_csv(tmp_path / "bench.csv")
    assert len(table) == 4 and set(table.runner) == {"plain", "runner"}
    assert json.loads((tmp_path / "bench.json").read_text())["environment"]["task"] == "text-classification"
    assert (tmp_path / "bench.png").stat().st_size > 1000


def test_bench_on_a_user_file(tmp_path):
    data = tmp_path / "reviews.csv"
    pd.DataFrame({"stars": [5, 1, 3], "text": ["great", "awful, never again", "fine I guess"]}).to_csv(data, index=False)
    code = main(["bench", "--task", "sentiment-analysis", "--batch-sizes", "2", "--workload", "file", "--file",
                 str(data), "--column", "text", "--repeats", "1", "--runners", "runner", "--out", str(tmp_path),
                 "--no-plot", "--quiet"])
    assert code == EXIT_OK and not (tmp_path / "bench.png").exists()
    assert len(pd.read_csv(tmp_path / "bench.csv")) == 1


def test_bench_errors_exit_non_zero(tmp_path, capsys):
    assert main(["bench", "--task", "no-such-task", "--out", str(tmp_path), "--quiet"]) == EXIT_USAGE
    assert "Valid tasks" in capsys.readouterr().err
    assert main(["bench", "--task", "text-classification", "--device", "cuda:7", "--n", "4",
                 "--out", str(tmp_path), "--quiet"]) == EXIT_FAILED
    assert "cuda" in capsys.readouterr().err.lower()
    assert main(["bench", "--task", "text-classification", "--batch-sizes", "0", "--out", str(tmp_path),
                 "--quiet"]) == EXIT_USAGE


def test_offline_builds_and_lists_every_model(capsys):
    from workbench.offline import offline_tasks

    assert main(["offline"]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0] for line in lines}
    assert set(offline_tasks()) <= listed
    assert all(Path(line.split()[-1]).is_dir() for line in lines)
