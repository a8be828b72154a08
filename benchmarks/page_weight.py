"""How heavy the app's first page is, and how soon it can be used: a measurement, not a test.

Starts the real app (``python app.py``, offline, on a free loopback port), opens it in Debian's
Chromium a few times (a fresh browser context each: nothing cached) and records

- the bytes of the page itself (``/``), of ``/config`` (every component and event, as JSON), and
  of everything the browser fetched before the page was usable;
- the time from navigation until the first tab's **Run** button is on screen and enabled
  (time to interactive, as a newcomer sees it), and until Chromium's ``load`` event.

Prints a Markdown table and writes it, with the environment (CPU, load average, commit), to
``benchmarks/results/<today>/page_weight/page_weight.{json,md}``::

    python benchmarks/page_weight.py            # 3 loads
    python benchmarks/page_weight.py --loads 5 --out /tmp/pw
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return f"{line.split(':', 1)[1].strip()} ({os.cpu_count()} cores)"
    except OSError:
        pass
    return f"{platform.processor() or platform.machine()} ({os.cpu_count()} cores)"


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _size(url: str) -> int:
    with urllib.request.urlopen(url, timeout=60) as response:
        return len(response.read())


def measure(url: str, loads: int) -> list[dict[str, float]]:
    """``loads`` page loads in fresh browser contexts: bytes fetched and times, one dict each."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
    out = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        for _ in range(loads):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            fetched = {"bytes": 0}

            def count(response, fetched=fetched) -> None:
                try:
                    fetched["bytes"] += len(response.body())
                except Exception:  # a response without a body (redirects, websockets)
                    pass

            page.on("response", count)
            started = time.perf_counter()
            page.goto(url, wait_until="commit", timeout=300_000)
            run = page.locator("#text-classification-run")
            run.wait_for(state="visible", timeout=300_000)
            page.wait_for_function("() => !document.querySelector('#text-classification-run').disabled",
                                   timeout=300_000)
            interactive = time.perf_counter() - started
            page.wait_for_load_state("load", timeout=300_000)
            loaded = time.perf_counter() - started
            out.append({"interactive_s": round(interactive, 2), "load_s": round(loaded, 2),
                        "fetched_bytes": fetched["bytes"]})
            context.close()
        browser.close()
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=3, help="page loads to time (default 3)")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for the results (default: benchmarks/results/<today>/page_weight)")
    args = parser.parse_args(argv)
    from tests.app_server import start_app

    work = Path(tempfile.mkdtemp(prefix="page-weight-"))
    app = start_app(work / "app.log", timeout=600)
    try:
        page_bytes, config_bytes = _size(app.url), _size(app.url + "config")
        loads = measure(app.url, args.loads)
    finally:
        app.stop()
    env = {"commit": _commit(), "cpu": _cpu(), "load_average": [round(x, 2) for x in os.getloadavg()],
           "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "python": platform.python_version()}
    import gradio

    env["gradio"] = gradio.__version__
    summary = {"page_bytes": page_bytes, "config_bytes": config_bytes,
               "fetched_bytes_median": statistics.median(r["fetched_bytes"] for r in loads),
               "interactive_s_median": statistics.median(r["interactive_s"] for r in loads),
               "load_s_median": statistics.median(r["load_s"] for r in loads)}
    mb = 1e6
    table = "\n".join([
        "| page (`/`) | `/config` | fetched before usable (median) | Run usable after (median, s) | `load` event (median, s) | loads |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {page_bytes / mb:.2f} MB | {config_bytes / mb:.2f} MB | {summary['fetched_bytes_median'] / mb:.2f} MB "
        f"| {summary['interactive_s_median']:.1f} | {summary['load_s_median']:.1f} | {len(loads)} |",
        "",
        f"commit {env['commit']} · {env['cpu']} · load average {env['load_average']} · gradio {env['gradio']}",
    ])
    print(table)
    out = args.out or ROOT / "benchmarks" / "results" / dt.date.today().isoformat() / "page_weight"
    out.mkdir(parents=True, exist_ok=True)
    (out / "page_weight.json").write_text(json.dumps({"summary": summary, "loads": loads, "environment": env},
                                                     indent=2) + "\n")
    (out / "page_weight.md").write_text(table + "\n")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
