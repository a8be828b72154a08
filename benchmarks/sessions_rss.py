"""The server's memory against the number of sessions: a measurement, not a test (issue 27).

Gradio keeps state for every session it has seen, sized by the app's components, so a client that
sends each request with a new ``session_hash`` grows the server by that much per request. This starts
the real app (``python app.py``, offline, on a free loopback port; ``--hosted`` as on a Space, where
the state of at most ``max_sessions`` sessions is kept), sends ``--sessions`` refused requests (an
empty text to ``/text_classification``: no model runs), each from a new session, one at a time, and
samples the server's RSS every ``--every`` sessions and after ``--idle`` seconds of quiet. Prints the
table and writes ``sessions_rss.{json,md}`` under ``benchmarks/results/<today>/sessions_rss[-hosted]``::

    python benchmarks/sessions_rss.py                 # 200 sessions, local mode
    python benchmarks/sessions_rss.py --hosted        # the same with SPACE_ID set
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.page_weight import _commit, _cpu, _size  # noqa: E402  (the same environment notes)


def rss_mb(pid: int) -> float:
    """The process's resident memory in MB, from ``/proc``."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200, help="requests, each from a new session")
    parser.add_argument("--every", type=int, default=50, help="sample RSS every this many sessions")
    parser.add_argument("--idle", type=float, default=60, help="seconds of quiet before the last sample")
    parser.add_argument("--hosted", action="store_true", help="run the app as on a Space (SPACE_ID set)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    from tests.app_server import start_app

    work = Path(tempfile.mkdtemp(prefix="sessions-rss-"))
    app = start_app(work / "app.log", env={"SPACE_ID": "local/sessions-rss"} if args.hosted else None, timeout=600)
    samples: list[dict] = []
    try:
        pid, config_bytes = app.proc.pid, _size(app.url + "config")
        client = Client(app.url, verbose=False)
        time.sleep(5)
        samples.append({"sessions": 0, "rss_mb": rss_mb(pid), "note": "started, one client connected"})
        refused, started = 0, time.monotonic()
        for i in range(1, args.sessions + 1):
            client.session_hash = uuid.uuid4().hex  # a new session per request, as the red team did
            try:
                client.predict(text="", api_name="/text_classification")
            except AppError:
                refused += 1
            if i % args.every == 0 or i == args.sessions:
                samples.append({"sessions": i, "rss_mb": rss_mb(pid), "note": ""})
        wall = time.monotonic() - started
        time.sleep(args.idle)
        samples.append({"sessions": args.sessions, "rss_mb": rss_mb(pid), "note": f"after {args.idle:.0f} s idle"})
    finally:
        app.stop()
    first, last = samples[0]["rss_mb"], samples[-2]["rss_mb"]
    env = {"commit": _commit(), "cpu": _cpu(), "load_average": [round(x, 2) for x in os.getloadavg()],
           "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "hosted": args.hosted,
           "config_bytes": config_bytes}
    summary = {"sessions": args.sessions, "refused": refused, "wall_s": round(wall, 1),
               "mb_per_session": round((last - first) / args.sessions, 3)}
    lines = ["| sessions | RSS (MB) | |", "| ---: | ---: | --- |"]
    lines += [f"| {s['sessions']} | {s['rss_mb']:.0f} | {s['note']} |" for s in samples]
    lines += ["", f"{summary['mb_per_session']:.2f} MB per session over {args.sessions} sessions "
                  f"({refused} refused as expected, {wall:.0f} s); `/config` {config_bytes / 1e6:.2f} MB; "
                  f"{'hosted' if args.hosted else 'local'} mode; commit {env['commit']} · {env['cpu']} · "
                  f"load average {env['load_average']}"]
    table = "\n".join(lines)
    print(table)
    name = "sessions_rss-hosted" if args.hosted else "sessions_rss"
    out = args.out or ROOT / "benchmarks" / "results" / dt.date.today().isoformat() / name
    out.mkdir(parents=True, exist_ok=True)
    result = {"summary": summary, "samples": samples, "environment": env}
    (out / "sessions_rss.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "sessions_rss.md").write_text(table + "\n")
    print(f"\nwritten to {out}")
    return result


if __name__ == "__main__":
    main()
