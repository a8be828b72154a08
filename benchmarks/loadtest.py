"""Load test of the app in hosted mode: many users at once, plus one user flooding the queue.

Starts ``python app.py`` in hosted mode (``SPACE_ID`` set, offline models) on a free loopback port,
or uses ``--url`` (loopback only). ``--clients`` users (threads, one ``gradio_client.Client`` each:
one browser session each) send ``--requests`` requests in all, round-robin over three tasks (text
classification, fill-mask, feature extraction), one at a time each, and every answer is checked.
With ``--flood``, one more client keeps ``--flood-depth`` feature-extraction jobs submitted at once
for as long as the others run (bounded: at most ``--flood-max`` submissions); the per-session limit
refuses what exceeds its share with a busy message. Prints the other users' latency p50/p95/max,
errors, the flooder's accepted/refused counts, and writes them as JSON (``--out``).

    .venv/bin/python benchmarks/loadtest.py --clients 50 --requests 300 --flood --out loadtest.json
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
PATIENT = {"timeout": 120}  # httpx options of every client: a saturated host answers joins slowly
TEXT = "The workbench answered every request while someone else flooded the queue."
CALLS: dict[str, tuple[dict[str, Any], Callable[[Any], bool]]] = {
    "/text_classification": (dict(text=TEXT, top_k=2, model="offline:text-classification"),
                             lambda out: len(out[0]["confidences"]) == 2),
    "/fill_mask": (dict(text="The workbench [MASK] every request.", top_k=3, model="offline:fill-mask"),
                   lambda out: len(out[1]) == 3),
    "/feature_extraction": (dict(text=TEXT, model="offline:feature-extraction"),
                            lambda out: "384" in json.dumps(out[1]) or bool(out[1])),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(log: Path, timeout: float = 300) -> tuple[str, subprocess.Popen]:
    """``app.py`` in hosted mode on a free loopback port; returns its URL and process."""
    port = _free_port()
    env = {**os.environ, "SPACE_ID": "loadtest/pipeline-workbench", "HF_HUB_OFFLINE": "1",
           "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    env.setdefault("WORKBENCH_OFFLINE_DIR", tempfile.mkdtemp(prefix="wb-loadtest-"))
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return url, proc
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise SystemExit(f"app.py did not start; see {log}")
            time.sleep(0.5)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0–1) of ``values`` by linear interpolation (``statistics.quantiles``)."""
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def run_users(url: str, clients: int, requests: int, timeout: float) -> dict[str, Any]:
    """``clients`` sessions sending ``requests`` checked requests in all; latencies and errors."""
    from gradio_client import Client

    names = list(CALLS)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def user(index: int) -> None:
        client = Client(url, verbose=False, httpx_kwargs=PATIENT)
        for k in range(index, requests, clients):
            api = names[k % len(names)]
            kwargs, check = CALLS[api]
            start = time.monotonic()
            try:
                out = client.submit(api_name=api, **kwargs).result(timeout=timeout)
                ok = check(out)
            except Exception as exc:  # recorded, not raised: the report counts them
                ok, out = False, f"{type(exc).__name__}: {exc}"
            with lock:
                latencies.append(time.monotonic() - start)
                if not ok:
                    errors.append(f"{api}: {str(out)[:200]}")

    start = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(user, range(clients)))
    wall = time.monotonic() - start
    return {"requests": len(latencies), "errors": len(errors), "error_samples": errors[:5], "wall_s": round(wall, 2),
            "p50_s": round(percentile(latencies, 0.50), 3), "p95_s": round(percentile(latencies, 0.95), 3),
            "max_s": round(max(latencies), 3), "requests_per_s": round(len(latencies) / wall, 2)}


def flood(url: str, stop: threading.Event, depth: int, limit: int) -> dict[str, int]:
    """One session keeping ``depth`` jobs submitted until ``stop`` (at most ``limit`` submissions)."""
    from gradio_client import Client
    from gradio_client.utils import QueueError

    client = Client(url, verbose=False, httpx_kwargs=PATIENT)
    kwargs, _ = CALLS["/feature_extraction"]
    counts = {"submitted": 0, "accepted": 0, "refused_busy": 0, "other_errors": 0}
    while not stop.is_set() and counts["submitted"] < limit:
        jobs = [client.submit(api_name="/feature_extraction", **kwargs) for _ in range(depth)]
        counts["submitted"] += depth
        for job in jobs:
            try:
                job.result(timeout=240)
                counts["accepted"] += 1
            except QueueError:
                counts["refused_busy"] += 1
            except Exception:
                counts["other_errors"] += 1
    return counts


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="a running app on 127.0.0.1 (default: start one in hosted mode)")
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--requests", type=int, default=300)
    p.add_argument("--flood", action="store_true", help="add one client flooding the queue")
    p.add_argument("--flood-depth", type=int, default=40, help="jobs the flooder submits at once")
    p.add_argument("--flood-max", type=int, default=2000, help="most jobs the flooder submits in all")
    p.add_argument("--timeout", type=float, default=300, help="seconds one request may take")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args(argv)
    if not 1 <= args.clients <= 200 or not 1 <= args.requests <= 5000:
        raise SystemExit("keep the load bounded: 1-200 clients, 1-5000 requests")
    proc = None
    if args.url:
        host = urllib.parse.urlparse(args.url).hostname
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise SystemExit(f"--url must be a loopback address (got {host}): this load test never leaves the machine")
        url = args.url if args.url.endswith("/") else args.url + "/"
    else:
        url, proc = start_app(Path(tempfile.mkdtemp(prefix="wb-loadtest-")) / "app.log")
    try:
        from gradio_client import Client

        warm = Client(url, verbose=False, httpx_kwargs=PATIENT)
        for api, (kwargs, _) in CALLS.items():  # load each model once, outside the timings
            warm.predict(api_name=api, **kwargs)
        stop, flood_counts = threading.Event(), {}
        flooder = None
        if args.flood:
            def run_flood() -> None:
                flood_counts.update(flood(url, stop, args.flood_depth, args.flood_max))
            flooder = threading.Thread(target=run_flood, daemon=True)
            flooder.start()
            time.sleep(1.0)  # the flood is under way before the users start
        users = run_users(url, args.clients, args.requests, args.timeout)
        stop.set()
        if flooder is not None:
            flooder.join(timeout=180)
        result = {"clients": args.clients, "flood": args.flood, "users": users, "flooder": flood_counts,
                  "cpus": os.cpu_count()}
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
