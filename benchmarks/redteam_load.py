"""Hosted mode under the red team's floods (issue 27): one client floods with costly and hostile
inputs — each request a new session — while five other users are served; then ten first loads of
different tasks and dtypes at once.

Starts ``python app.py`` in hosted mode (``SPACE_ID`` set; the client address is read from
``X-Forwarded-For`` as behind a Space's proxy) on a free loopback port. Everything stays on
127.0.0.1 and is bounded: ``--seconds`` of flood at most, ``--requests`` per user.

- the flooder (one address, a new ``session_hash`` per job, ``--depth`` jobs in flight): a 16 MP PNG
  (under the 17 MP cap: decoded and classified), an 8192×8192 clip, a PDF page that PDFium parses for
  minutes, a 384 kHz FLAC, 256 sentences to embed, 5 MB of text — everything but the PNG and the
  sentences must be refused before it costs anything, the PDF killed at its 20 s deadline;
- five users (five addresses) each send ``--requests`` checked requests over three text tasks;
- the app's RSS is sampled throughout: before, peak, and after 30 s and 60 s idle (the app unloads models
  idle for ``--idle-unload`` seconds, 20 here against 900 on a Space, so the run stays short);
- then ten tasks not loaded yet are first used at once, half in float32, half in bfloat16, and each is
  used again: a broken pipeline (mixed dtypes, meta tensors) would fail the second time.

    .venv/bin/python benchmarks/redteam_load.py --out bench-out/redteam.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.loadtest import CALLS, PATIENT, percentile, start_app  # noqa: E402

FIRST_LOADS = [("image-classification", "float32"), ("object-detection", "bfloat16"),
               ("token-classification", "float32"), ("question-answering", "bfloat16"),
               ("zero-shot-classification", "float32"), ("summarization", "bfloat16"),
               ("translation", "float32"), ("depth-estimation", "bfloat16"),
               ("audio-classification", "float32"), ("image-to-text", "bfloat16")]


def hostile_inputs(folder: Path) -> list[tuple[str, dict[str, Any], str]]:
    """(endpoint, arguments, what should happen) for each costly or hostile input."""
    import numpy as np
    import soundfile as sf
    from gradio_client import handle_file
    from PIL import Image

    from tests.test_media import _pdf_bomb
    from workbench.samples import sample_video_frames, write_video

    png = folder / "16mp.png"
    ramp = np.linspace(0, 255, 4000, dtype=np.float32)
    Image.fromarray(np.stack([np.add.outer(ramp, ramp) / 2] * 3, axis=-1).astype("uint8")).save(png)  # ~2 MB file
    huge_clip = folder / "huge.mp4"
    write_video(huge_clip, np.zeros((2, 8192, 8192, 3), dtype=np.uint8))
    pdf = folder / "bomb.pdf"
    pdf.write_bytes(_pdf_bomb(3_000_000))
    flac = folder / "384k.flac"
    square = np.where((np.arange(384_000 * 150) // 4000) % 2, 0.1, -0.1).astype(np.float32)  # 150 s: compresses
    sf.write(str(flac), square, 384_000)
    return [
        ("/image_classification", dict(image=handle_file(str(png)), model="offline:image-classification"), "runs"),
        ("/video_classification", dict(video=handle_file(str(huge_clip)), model="offline:video-classification"),
         "refused"),
        ("/document_question_answering", dict(image=handle_file(str(pdf)), question="What is the total?",
                                              model="offline:document-question-answering"), "refused"),
        ("/automatic_speech_recognition", dict(audio=handle_file(str(flac)),
                                               model="offline:automatic-speech-recognition"), "refused"),
        ("/feature_extraction", dict(text="\n".join(f"Sentence {i} of the flood." for i in range(256)),
                                     model="offline:feature-extraction"), "runs"),
        ("/text_classification", dict(text="x" * 5_000_000, model="offline:text-classification"), "refused"),
    ]


def flood(url: str, inputs: list, stop: threading.Event, depth: int, seconds: float) -> dict[str, Any]:
    """One address keeping ``depth`` jobs in flight, each from a new session, cycling ``inputs``."""
    from gradio_client import Client
    from gradio_client.utils import QueueError

    import uuid

    counts = {"submitted": 0, "answered": 0, "refused_as_expected": 0, "refused_busy": 0, "unexpected": []}
    deadline = time.monotonic() + seconds
    client = Client(url, verbose=False, httpx_kwargs=PATIENT, headers={"X-Forwarded-For": "203.0.113.66"})
    k = 0
    while not stop.is_set() and time.monotonic() < deadline:
        batch = []
        for _ in range(depth):
            api, kwargs, expect = inputs[k % len(inputs)]
            k += 1
            client.session_hash = uuid.uuid4().hex  # a new session per request, as the red team did
            batch.append((api, expect, client.submit(api_name=api, **kwargs)))
        counts["submitted"] += len(batch)
        for api, expect, job in batch:
            try:
                job.result(timeout=120)
                counts["answered"] += 1
                if expect == "refused":
                    counts["unexpected"].append(f"{api} was answered")
            except QueueError:
                counts["refused_busy"] += 1
            except Exception as exc:  # the refusal of a hostile input
                if expect == "refused":
                    counts["refused_as_expected"] += 1
                else:
                    counts["unexpected"].append(f"{api}: {type(exc).__name__} {str(exc)[:120]}")
    counts["unexpected"] = counts["unexpected"][:10]
    return counts


def users(url: str, n: int, requests: int) -> dict[str, Any]:
    from gradio_client import Client

    latencies, errors, lock = [], [], threading.Lock()
    names = list(CALLS)

    def user(i: int) -> None:
        client = Client(url, verbose=False, httpx_kwargs=PATIENT, headers={"X-Forwarded-For": f"198.51.100.{i + 1}"})
        for k in range(requests):
            api = names[(i + k) % len(names)]
            kwargs, check = CALLS[api]
            start = time.monotonic()
            try:
                ok = check(client.predict(api_name=api, **kwargs))
            except Exception as exc:
                ok = False
                with lock:
                    errors.append(f"{api}: {str(exc)[:120]}")
            with lock:
                latencies.append(time.monotonic() - start)
                if not ok and len(errors) < 10:
                    errors.append(f"{api}: wrong answer")

    with ThreadPoolExecutor(n) as pool:
        list(pool.map(user, range(n)))
    return {"requests": len(latencies), "errors": errors, "p50_s": round(percentile(latencies, 0.5), 3),
            "p95_s": round(percentile(latencies, 0.95), 3), "max_s": round(max(latencies), 3)}


def first_loads(url: str) -> dict[str, Any]:
    """Ten first uses at once in two dtypes, then each used again: how many pipelines were broken."""
    from gradio_client import Client

    from tests.task_cases import task_case
    from workbench.tasks import get_task

    def call(task: str, dtype: str, who: int = 0) -> str | None:
        spec = get_task(task)
        inputs, params = task_case(spec)
        from gradio_client import handle_file

        args = {k: (handle_file(v) if isinstance(v, str) and v.startswith("/") else v) for k, v in inputs.items()}
        try:
            Client(url, verbose=False, httpx_kwargs=PATIENT, headers={"X-Forwarded-For": f"192.0.2.{who + 1}"}).predict(
                api_name=f"/{spec.api_name}", model=f"offline:{task}", dtype=dtype, **args, **params)
            return None
        except Exception as exc:
            return f"{task}/{dtype}: {str(exc)[:160]}"

    with ThreadPoolExecutor(len(FIRST_LOADS)) as pool:
        first = [e for e in pool.map(lambda ic: call(*ic[1], ic[0]), enumerate(FIRST_LOADS)) if e]  # ten users
    again = [e for e in (call(*c) for c in FIRST_LOADS) if e]
    return {"first_use_errors": first, "broken_after": again}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    import psutil

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=120, help="longest the flood runs")
    p.add_argument("--depth", type=int, default=12, help="flood jobs in flight at once")
    p.add_argument("--requests", type=int, default=20, help="checked requests per user")
    p.add_argument("--idle-unload", type=float, default=20,
                   help="the app's WORKBENCH_IDLE_UNLOAD_S: models unused this long are unloaded (hosted default 900)")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    os.environ["WORKBENCH_IDLE_UNLOAD_S"] = str(args.idle_unload)
    folder = Path(tempfile.mkdtemp(prefix="wb-redteam-"))
    url, proc = start_app(folder / "app.log")
    app = psutil.Process(proc.pid)
    samples: list[int] = []
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.is_set():
            samples.append(app.memory_info().rss)
            time.sleep(0.5)

    try:
        from gradio_client import Client

        warm = Client(url, verbose=False, httpx_kwargs=PATIENT)
        for api, (kwargs, _) in CALLS.items():
            warm.predict(api_name=api, **kwargs)
        inputs = hostile_inputs(folder)
        baseline = app.memory_info().rss
        threading.Thread(target=sample, daemon=True).start()
        quiet = users(url, 5, args.requests)
        stop, counts = threading.Event(), {}
        flooder = threading.Thread(target=lambda: counts.update(flood(url, inputs, stop, args.depth, args.seconds)),
                                   daemon=True)
        flooder.start()
        time.sleep(5)
        flooded = users(url, 5, args.requests)
        stop.set()
        flooder.join(timeout=300)
        time.sleep(30)
        after = app.memory_info().rss
        time.sleep(30)
        after_60 = app.memory_info().rss
        loads = first_loads(url)
        sampling.set()
        result = {"users_quiet": quiet, "users_flooded": flooded, "flooder": counts,
                  "rss_mb": {"baseline": baseline >> 20, "peak": max(samples) >> 20, "after_30s_idle": after >> 20,
                             "after_60s_idle": after_60 >> 20},
                  "first_loads": loads, "idle_unload_s": args.idle_unload, "cpu": _cpu(),
                  "commit": _commit()}
    finally:
        proc.terminate()
        proc.wait(timeout=120)
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def _commit() -> str:
    import subprocess

    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def _cpu() -> str:
    from workbench.bench.machine import cpu_name

    return cpu_name()


if __name__ == "__main__":
    main()
