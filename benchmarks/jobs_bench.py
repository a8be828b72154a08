"""Dataset jobs (``python -m workbench run``): memory on a large input, throughput local vs Ray.

1. **Bounded memory**: a generated CSV of ``--rows`` (200 000) short texts runs through the local
   engine (a subprocess, the tiny offline text classifier: the engine's memory, not a model's);
   the process's RSS is sampled with psutil while it runs, against the rows written so far.
2. **Throughput**: the seeded 512-text ``natural`` workload (``workbench.workloads``) as Parquet,
   embedded with the packaged all-MiniLM-L6-v2 (feature-extraction) by the local engine and by the
   Ray engine with 1 and 2 actors on this machine. Each is one command, timed end to end (Python
   start, model load, Ray start included) and by the engine's own count (``rows/s`` of its
   summary: the local engine counts from the first row; Ray from reading to the last write).

Writes ``jobs.json`` and ``jobs.md`` to ``--out`` and prints the tables. Not a test: numbers depend
on the machine and on what else runs on it (the load average is recorded).

    .venv/bin/python benchmarks/jobs_bench.py --out benchmarks/results/$(date +%F)/jobs
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.bench import cpu_name, git_commit  # noqa: E402
from workbench.workloads import corpus_lines, natural_texts  # noqa: E402

RATE = re.compile(r"([\d.]+) rows/s")


def _cli(args: list[str]) -> list[str]:
    return [sys.executable, "-m", "workbench", "run", *args, "--quiet"]


def memory_run(rows: int, work: Path, max_seconds: float | None = None) -> dict:
    """Run ``rows`` short texts through the local engine, sampling RSS (process + children); with
    ``max_seconds``, stop the job then (it could ``--resume``) and report the rows written so far."""
    lines = list(corpus_lines())
    data = work / "short.csv"
    pd.DataFrame({"text": [lines[i % len(lines)] for i in range(rows)]}).to_csv(data, index=False)
    out = work / "short.parquet"
    parts = out.with_name(out.name + ".parts")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    began = time.perf_counter()
    proc = subprocess.Popen(_cli(["--task", "text-classification", "--input", str(data), "--output", str(out)]),
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    samples = []
    handle = psutil.Process(proc.pid)
    while proc.poll() is None:
        try:
            rss = handle.memory_info().rss + sum(c.memory_info().rss for c in handle.children(recursive=True))
        except psutil.NoSuchProcess:
            break
        try:  # shards are named part-<first row>-<end row>.parquet
            done = sum(int(p.name[18:30]) - int(p.name[5:17]) for p in parts.glob("part-*.parquet"))
        except OSError:  # the folder was just removed: the job is joining its output
            done = rows
        samples.append((round(time.perf_counter() - began, 2), done, rss))
        if max_seconds and time.perf_counter() - began > max_seconds:
            proc.kill()
            break
        time.sleep(0.25)
    stdout, stderr = proc.communicate()
    stopped = proc.returncode == -9
    if proc.returncode != 0 and not stopped:
        raise SystemExit(f"the memory run failed:\n{stderr[-2000:]}")
    running = [s for s in samples if s[1] > 0]
    first = running[0] if running else samples[-1]
    peak = max(s[2] for s in samples)
    written = running[-1][1] if stopped and running else len(pd.read_parquet(out, columns=["id"]))
    return {"rows": rows, "input_mb": round(data.stat().st_size / 2**20, 1), "stopped_after_s": max_seconds if stopped else None,
            "rows_written": written, "wall_s": round(time.perf_counter() - began, 1),
            "rows_per_s": None if stopped else float(RATE.search(stdout).group(1)),
            "rss_mb_at_first_shard": round(first[2] / 2**20), "rows_at_first_shard": first[1],
            "rss_mb_peak": round(peak / 2**20),
            "rss_mb_by_rows": [(s[1], round(s[2] / 2**20)) for s in running[:: max(1, len(running) // 10)]]}


def throughput_runs(n: int, work: Path, engines: list[str]) -> list[dict]:
    """The 512-text natural workload embedded by each engine configuration."""
    data = work / "natural.parquet"
    pd.DataFrame({"text": natural_texts(n, seed=0)}).to_parquet(data)
    rows = []
    for name in engines:
        engine, _, actors = name.partition(":")
        out = work / f"emb-{engine}-{actors or 'local'}{'' if engine == 'ray' else '.parquet'}"
        args = ["--task", "feature-extraction", "--input", str(data), "--output", str(out), "--batch-size", "32",
                "--shard-rows", "128"]
        if engine == "ray":
            args += ["--engine", "ray", "--concurrency", actors or "1"]
        began = time.perf_counter()
        done = subprocess.run(_cli(args), cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, capture_output=True,
                              text=True, timeout=3600)
        wall = time.perf_counter() - began
        if done.returncode != 0:
            rows.append({"engine": name, "status": f"failed: {done.stderr.strip().splitlines()[-1][:200]}"})
            continue
        rows.append({"engine": name, "status": "ok", "rows": n, "engine_rows_per_s": float(RATE.search(done.stdout).group(1)),
                     "end_to_end_s": round(wall, 1), "end_to_end_rows_per_s": round(n / wall, 1)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=200_000, help="short texts of the memory run")
    parser.add_argument("--n", type=int, default=512, help="texts of the throughput runs")
    parser.add_argument("--engines", default="local,ray:1,ray:2", help="local, ray:<actors>, comma-separated")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-seconds", type=float, default=None,
                        help="stop the memory run after this long (on a busy machine) and report the rows so far")
    parser.add_argument("--out", default="bench-out/jobs")
    args = parser.parse_args()
    env = {"commit": git_commit(), "cpu": cpu_name(), "cpu_count": os.cpu_count(),
           "load_average_start": [round(x, 2) for x in os.getloadavg()], "date": time.strftime("%Y-%m-%d %H:%M %Z")}
    with tempfile.TemporaryDirectory(prefix="wb-jobs-bench-") as tmp:
        work = Path(tmp)
        speed = throughput_runs(args.n, work, [e.strip() for e in args.engines.split(",") if e.strip()])
        memory = None if args.skip_memory else memory_run(args.rows, work, args.memory_seconds)
    env["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "jobs.json").write_text(json.dumps({"environment": env, "memory": memory, "throughput": speed}, indent=1))
    parts = [pd.DataFrame(speed).to_markdown(index=False)]
    if memory:
        shown = {k: v for k, v in memory.items() if k != "rss_mb_by_rows"}
        parts += [pd.DataFrame([shown]).to_markdown(index=False),
                  "RSS (MB) by rows written: " + ", ".join(f"{r}: {m}" for r, m in memory["rss_mb_by_rows"])]
    parts.append(" · ".join(f"{k}: {v}" for k, v in env.items()))
    (out / "jobs.md").write_text("\n\n".join(parts) + "\n")
    print("\n\n".join(parts))


if __name__ == "__main__":
    main()
