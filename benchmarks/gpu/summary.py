"""Gather the steps' records into the files of ``$OUT`` and print the summary table last.

    python benchmarks/gpu/summary.py --work DIR --out OUT --wall SECONDS [--dry-run]

Writes ``summary.md`` (the summary table, then each step: headline, table, checks, what was not
available), ``results.json`` (everything), ``encoders.csv`` and ``generation.csv`` (the bench rows
of steps 2 and 3, a ``model`` column first); ``gpu.sh`` adds ``gpu.log``. Exits 1 when a step
failed or timed out. Needs no torch, pandas or tabulate.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path
from typing import Any

from steps import STEPS

#: The bench columns shown in summary.md (all of them are in the CSV files).
BENCH_COLUMNS = ["runner", "batch_size", "dtype", "status", "items_per_s", "tokens_per_s", "speedup",
                 "latency_p50_ms", "latency_p95_ms", "peak_mem_mb", "padding_share", "mfu", "final_batch_size",
                 "oom_backoffs", "max_abs_diff", "same_labels"]
LIMIT_S = 480
GOOD = ("ok", "partial", "not available")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    return str(value).replace("|", "\\|").replace("\n", " ")


def md_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return ""
    if columns is None:
        columns = list(dict.fromkeys(k for r in rows for k in r))
    columns += [c for r in rows for c in r if ("ttft" in c or "itl" in c) and c not in columns]
    columns = [c for c in dict.fromkeys(columns) if any(c in r for r in rows)]
    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def load_steps(work: Path) -> list[dict[str, Any]]:
    """Each step's record; a step whose record still says running was killed (its budget) or crashed."""
    rcs = {}
    rc_file = work / "rc.txt"
    if rc_file.exists():
        for line in rc_file.read_text().splitlines():
            name, _, rc = line.partition(" ")
            rcs[name] = int(rc) if rc.strip().lstrip("-").isdigit() else None
    out = []
    for name, title, budget in STEPS:
        path = work / f"{name}.json"
        data: dict[str, Any] = {"step": name, "title": title, "status": "failed", "budget_s": budget, "seconds": None,
                                "short": "", "headline": [], "facts": {}, "rows": [], "checks": [], "unavailable": [],
                                "notes": [], "error": "it did not start"}
        if path.exists():
            data.update(json.loads(path.read_text()))
        rc = rcs.get(name)
        if data["status"] == "running":
            killed = rc in (124, 137)
            data["status"] = "timed out" if killed else "failed"
            data["error"] = data.get("error") or (f"killed at its budget of {budget} s (what it had measured is kept)"
                                                  if killed else f"it exited with {rc} before finishing")
        data["rc"] = rc
        out.append(data)
    return out


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    columns = list(dict.fromkeys(["model", *(k for r in rows for k in r)]))
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in r.items()})


def summary_table(steps: list[dict[str, Any]]) -> str:
    rows = []
    for s in steps:
        result = s.get("short") or (s["headline"][0] if s["headline"] else "") or s.get("error") or ""
        if s["status"] in ("failed", "timed out") and s.get("error"):
            result = f"{result} — {s['error']}" if s.get("short") else s["error"]
        spent = f"{s['seconds']:.0f}" if s.get("seconds") is not None else "-"
        rows.append({"step": s["step"], "status": s["status"], "s": f"{spent}/{s['budget_s']:g}",
                     "result": result, "not available": ", ".join(u["what"] for u in s["unavailable"])})
    return md_table(rows, ["step", "status", "s", "result", "not available"])


def header(results: dict[str, Any]) -> str:
    env = results["steps"][0]["facts"]
    vers = env.get("versions", {})
    if results["dry_run"]:
        what = "DRY RUN on the CPU with the offline models and tiny sizes: these are no GPU numbers"
    else:
        what = f"GPU run on {env['gpu']}" if env.get("gpu") else "GPU run, but no GPU was found"
    return (f"GPU check — {what}. Commit {env.get('commit')}, torch {vers.get('torch')}, transformers "
            f"{vers.get('transformers')}, Python {env.get('python')}; wall {results['wall_s']} s of the "
            f"{results['limit_s']} s allowed.")


def details(steps: list[dict[str, Any]], *, tables: bool = True) -> str:
    """Each step: its headline, (with ``tables``) its rows, checks, what was not available, notes."""
    parts = []
    for s in steps:
        parts.append(f"### {s['step']} — {s['title']}: {s['status']} ({s.get('seconds')} s of {s['budget_s']:g})")
        parts += [f"- {h}" for h in s["headline"]]
        bench = [r for r in s["rows"] if "runner" in r and "items_per_s" in r]
        other = [r for r in s["rows"] if r not in bench]
        if bench and tables:
            cols = ["model", *BENCH_COLUMNS] if len({r.get("model") for r in bench}) > 1 else list(BENCH_COLUMNS)
            parts.append(md_table(bench, cols))
        if other and tables:
            parts.append(md_table(other))
        parts += [f"- {'ok' if c['ok'] else 'FAILED'}: {c['what']}" + (f" ({c['detail']})" if c["detail"] else "")
                  for c in s["checks"]]
        parts += [f"- not available: {u['what']} — {u['why']}" for u in s["unavailable"]]
        parts += [f"- note: {n}" for n in s["notes"]]
        if s.get("error"):
            parts.append(f"- error: {s['error']}")
        parts.append("")
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--wall", type=int, default=0)
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    steps = load_steps(args.work)
    install = args.work / "install.json"
    results = {"dry_run": args.dry_run, "device": "cpu" if args.dry_run else "cuda", "wall_s": args.wall,
               "limit_s": LIMIT_S, "commit": steps[0]["facts"].get("commit"),
               "carried": json.loads(install.read_text()) if install.exists() else None, "steps": steps}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=1, default=str))
    for name, prefix in (("encoders.csv", "2"), ("generation.csv", "3")):
        rows = [r for s in steps if s["step"].startswith(prefix) for r in s["rows"]]
        if rows:
            write_csv(args.out / name, rows)
    table = summary_table(steps)
    text = "\n\n".join([f"# {header(results)}", table, "## Steps", details(steps)])
    (args.out / "summary.md").write_text(text + "\n")
    print(details(steps, tables=False))
    print(f"Tables: {args.out / 'summary.md'}; all of it: {args.out / 'results.json'}\n")
    print(header(results))
    print(table)
    return 0 if all(s["status"] in GOOD for s in steps) else 1


if __name__ == "__main__":
    sys.exit(main())
