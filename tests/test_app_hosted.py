"""Hosted mode in the app: the real ``app.py`` with ``SPACE_ID`` set (the ``hosted_app`` fixture),
driven through ``gradio_client`` — banner, operator-only endpoints refused, the app keeps serving."""

from __future__ import annotations

import json
import re
import urllib.request

import pytest

import app
from components.banner import hosted_banner
from workbench.hosting import HostingPolicy


def _component(config: dict, elem_id: str) -> dict:
    return next(c for c in config["components"] if c["props"].get("elem_id") == elem_id)


@pytest.fixture(scope="module")
def config(hosted_app) -> dict:
    with urllib.request.urlopen(hosted_app.url + "config", timeout=30) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def client(hosted_app):
    from gradio_client import Client

    return Client(hosted_app.url, verbose=False)


def test_hosted_flag_and_env_select_hosted_mode():
    assert app.parse_args([]).hosted is None  # then SPACE_ID / WORKBENCH_HOSTED decide
    assert app.parse_args(["--hosted"]).hosted is True
    assert HostingPolicy.from_env({}, hosted=None).hosted is False
    assert HostingPolicy.from_env({"WORKBENCH_HOSTED": "1"}).hosted is True


def test_banner_says_hosted_mode_and_what_it_limits(config, hosted_app):
    banner = _component(config, "hosted-banner")["props"]
    assert banner["visible"] is not False
    assert "Hosted mode" in banner["value"] and "operator only" in banner["value"]
    assert "3 job(s) at a time per user" in banner["value"] and "25 MB" in banner["value"]
    assert "hosted mode: on" in hosted_app.log_text()
    assert hosted_banner(HostingPolicy.local()) == ""  # locally: nothing changes for the operator


def test_unload_controls_are_hidden(config):
    for elem_id in ("models-which", "models-unload", "models-unload-all"):
        assert _component(config, elem_id)["props"]["visible"] is False, elem_id


def test_unload_endpoints_refuse_and_the_app_keeps_serving(client):
    from gradio_client.exceptions import AppError

    labels = client.predict(text="I love it", top_k=1, model="offline:text-classification",
                            api_name="/text_classification")[0]
    with pytest.raises(AppError, match="operator control"):
        client.predict(api_name="/unload_all_models")
    with pytest.raises(AppError, match="operator control"):
        client.predict("text-classification · offline:text-classification · cpu · float32", api_name="/unload_model")
    again, _, info, _ = client.predict(text="I love it", top_k=1, model="offline:text-classification",
                                       api_name="/text_classification")
    assert again == labels and "already loaded" in info  # nothing was unloaded


def test_model_picker_lists_no_local_models_and_says_hub_ids(config):
    picker = _component(config, "text-classification-model")["props"]
    assert "local folder" not in picker["info"] and "Hub id" in picker["info"]
    # the Benchmark tab is built when opened: its endpoint's hidden widgets are built by the same code
    components = {c["id"]: c["props"] for c in config["components"]}
    inputs = next(d for d in config["dependencies"] if d.get("api_name") == "benchmark")["inputs"]
    bench = {components[i]["label"]: components[i] for i in inputs}
    assert "local folder" not in bench["Model"]["info"] and "Hub id" in bench["Model"]["info"]
    assert bench["Inputs"]["maximum"] == HostingPolicy.public().max_bench_items


@pytest.mark.parametrize("sizes, n, message", [
    ("1,2,4,8,16,32,48", 16, "7 batch sizes is more than this shared host runs"),
    ("1,128", 16, "Batch size 128 is larger than this shared host allows"),
])
def test_long_benchmarks_are_refused(client, sizes, n, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=message):
        client.predict("feature-extraction", "offline:feature-extraction", "natural", ["cpu"], ["float32"], sizes, n,
                       1, 0, None, "", api_name="/benchmark")


def _fn_index(config: dict, api_name: str) -> int:
    return next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)


def test_a_flooding_session_is_refused_while_another_user_is_served(hosted_app, config):
    """One client queues 12 generations at once: beyond its 3 jobs it is told the server is busy
    (not left hanging), and another user's request is still answered meanwhile."""
    from gradio_client import Client
    from gradio_client.utils import QueueError

    flood, other = Client(hosted_app.url, verbose=False), Client(hosted_app.url, verbose=False)
    jobs = [flood.submit(text="Hello", max_new_tokens=96, model="offline:text-generation",
                         api_name="/text_generation") for _ in range(12)]
    labels = other.predict(text="I love it", top_k=1, model="offline:text-classification",
                           api_name="/text_classification")[0]
    assert len(labels["confidences"]) == 1
    done, refused = 0, []
    for job in jobs:
        try:
            assert job.result(timeout=120)[0].startswith("Hello")
            done += 1
        except QueueError as exc:
            refused.append(str(exc))
    assert done >= 1 and len(refused) >= 1 and done + len(refused) == 12
    assert all("try again" in m for m in refused)


def test_the_busy_refusal_carries_our_message(hosted_app, config):
    """Over HTTP (what the browser and any client see): 503 with a detail saying to retry."""
    import httpx

    from concurrent.futures import ThreadPoolExecutor

    fn = _fn_index(config, "text_generation")
    components = {c["id"]: c["props"] for c in config["components"]}
    values = {"text-generation-text": "Hello", "text-generation-param-max_new_tokens": 96,
              "text-generation-model": "offline:text-generation"}
    inputs = next(d for d in config["dependencies"] if d["id"] == fn)["inputs"]
    data = [values.get(components[i].get("elem_id"), components[i].get("value")) for i in inputs]
    body = {"data": data, "fn_index": fn, "trigger_id": None, "session_hash": "flooding-session", "event_data": None}
    with ThreadPoolExecutor(6) as pool:
        replies = list(pool.map(lambda _: httpx.post(hosted_app.url + "gradio_api/queue/join", json=body, timeout=30),
                                range(6)))
    refused = [r for r in replies if r.status_code == 503]
    assert refused, [r.status_code for r in replies]
    assert "job(s) queued or running" in refused[0].json()["detail"] and "retry" in refused[0].json()["detail"]


def _join_body(config: dict, session: str) -> dict:
    """A raw ``queue/join`` body for one text generation of ``session`` (what a browser sends)."""
    fn = _fn_index(config, "text_generation")
    components = {c["id"]: c["props"] for c in config["components"]}
    values = {"text-generation-text": "Hello", "text-generation-param-max_new_tokens": 96,
              "text-generation-model": "offline:text-generation"}
    inputs = next(d for d in config["dependencies"] if d["id"] == fn)["inputs"]
    data = [values.get(components[i].get("elem_id"), components[i].get("value")) for i in inputs]
    return {"data": data, "fn_index": fn, "trigger_id": None, "session_hash": session, "event_data": None}


def test_a_new_session_per_request_does_not_escape_the_client_limit(hosted_app, config):
    """One client (its address as the Space's proxy forwards it) sends 20 jobs, each with a new
    session_hash: beyond 6 it is told it is busy, and another address is still admitted."""
    import httpx

    from concurrent.futures import ThreadPoolExecutor

    flood = {"X-Forwarded-For": "203.0.113.7"}
    join = hosted_app.url + "gradio_api/queue/join"
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda i: httpx.post(join, json=_join_body(config, f"flood-{i}"), headers=flood,
                                                     timeout=60), range(20)))
    admitted = [r for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code == 503]
    assert len(admitted) <= HostingPolicy.public().max_jobs_per_client and len(admitted) + len(refused) == 20
    assert "Your address's sessions already have 6 job(s)" in refused[0].json()["detail"]
    other = httpx.post(join, json=_join_body(config, "someone-else"), headers={"X-Forwarded-For": "198.51.100.2"},
                       timeout=60)
    assert other.status_code == 200
    for i, reply in [*enumerate(replies), (None, other)]:  # the admitted jobs end before the next test
        if reply.status_code == 200:
            _wait_until_done(hosted_app.url, "someone-else" if i is None else f"flood-{i}")


def test_a_clients_queued_jobs_wait_their_turn_behind_another_clients_first(hosted_app, config):
    """One address queues 6 generations (2 run, 4 wait); another address's job, joined after them,
    waits behind the flooder's next one only — it starts before the flooder's last two (without
    turns it would start last). Order only: each session's stream says when its job started."""
    import httpx

    from concurrent.futures import ThreadPoolExecutor

    join = hosted_app.url + "gradio_api/queue/join"
    flood = {"X-Forwarded-For": "203.0.113.9"}
    for i in range(6):
        assert httpx.post(join, json=_join_body(config, f"turns-{i}"), headers=flood, timeout=60).status_code == 200
    other = httpx.post(join, json=_join_body(config, "turns-other"), headers={"X-Forwarded-For": "198.51.100.9"},
                       timeout=60)
    assert other.status_code == 200
    sessions = [f"turns-{i}" for i in range(6)] + ["turns-other"]
    with ThreadPoolExecutor(len(sessions)) as pool:
        started = dict(zip(sessions, pool.map(lambda s: _started_at(hosted_app.url, s), sessions)))
    later = [s for s in sessions[:6] if started[s] > started["turns-other"]]
    assert len(later) >= 2, started


def test_one_clients_jobs_run_one_at_a_time_while_another_clients_job_starts(hosted_app):
    """One address runs a slow summary and queues a second; another address's summary, joined
    after that second one, starts first, and the second starts only once the first has ended
    (summarization runs two at once, so without the per-client share both would run at once)."""
    import time

    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    from tests.full_queue import SLOW

    a, b = (Client(hosted_app.url, verbose=False, headers={"X-Forwarded-For": ip})
            for ip in ("203.0.113.21", "198.51.100.21"))
    first = a.submit(**SLOW, api_name="/summarization")
    _wait_for(first, {"PROCESSING", "ITERATING", "PROGRESS"})
    second = a.submit(**SLOW, api_name="/summarization")
    _wait_for(second, {"IN_QUEUE", "PROCESSING", "ITERATING", "PROGRESS", "FINISHED"})
    other = b.submit(**SLOW, api_name="/summarization")
    jobs = {"first": first, "second": second, "other": other}
    with ThreadPoolExecutor(3) as pool:
        seen = dict(zip(jobs, pool.map(_watch, jobs.values())))
    assert seen["other"]["started"] < seen["second"]["started"], seen
    assert seen["second"]["started"] > seen["first"]["ended"] - 0.5, seen  # polled every 50 ms
    assert all(job.result(timeout=60)[0] for job in jobs.values())


def _wait_for(job, codes: set[str], timeout: float = 60.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while job.status().code.name not in codes:
        assert time.monotonic() < deadline, job.status()
        time.sleep(0.05)


def _watch(job, timeout: float = 180.0) -> dict[str, float]:
    """When ``job`` was first seen running, and when it was seen done (``time.monotonic``)."""
    import time

    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while not job.done():
        assert time.monotonic() < deadline, job.status()
        if "started" not in seen and job.status().code.name in ("PROCESSING", "ITERATING", "PROGRESS"):
            seen["started"] = time.monotonic()
        time.sleep(0.05)
    seen["ended"] = time.monotonic()
    seen.setdefault("started", seen["ended"])
    return seen


def _started_at(url: str, session: str, timeout: float = 180.0) -> float:
    """When ``session``'s job started (``time.monotonic``, read from its event stream), after
    reading on until it completed."""
    import time

    import httpx

    start = None
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session},
                      timeout=timeout) as stream:
        for line in stream.iter_lines():
            if "process_starts" in line and start is None:
                start = time.monotonic()
            if "process_completed" in line:
                return start if start is not None else time.monotonic()
    raise AssertionError(f"{session}: the stream ended before the job completed")


def _wait_until_done(url: str, session: str, timeout: float = 180.0) -> None:
    """Read ``session``'s event stream until its job has completed."""
    import httpx

    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session},
                      timeout=timeout) as stream:
        for line in stream.iter_lines():
            if "process_completed" in line:
                return


@pytest.fixture(scope="module")
def huge_png(tmp_path_factory):
    """A 13000×13000 PNG of ~20 KB: 169 MP, which decoded to RGB would take ~500 MB."""
    from PIL import Image

    path = tmp_path_factory.mktemp("uploads") / "huge.png"
    Image.new("1", (13000, 13000)).save(path, optimize=True)
    return path


def test_a_huge_image_upload_is_refused_before_decoding(hosted_app, client, huge_png):
    import psutil
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    assert huge_png.stat().st_size < 100_000
    process = psutil.Process(hosted_app.proc.pid)
    before = process.memory_info().rss
    for _ in range(3):
        with pytest.raises(AppError, match=r"13000×13000 = 169\.0 MP; at most 17 MP allowed"):
            client.predict(image=handle_file(str(huge_png)), model="offline:image-classification",
                           api_name="/image_classification")
    assert process.memory_info().rss - before < 300 * 2**20  # a decode would cost 500 MB each
    labels = client.predict(text="still serving", top_k=1, model="offline:text-classification",
                            api_name="/text_classification")[0]
    assert len(labels["confidences"]) == 1


def test_a_text_file_uploaded_as_an_image_gets_our_message(client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    path = tmp_path / "notes.png"
    path.write_text("not an image at all\n" * 100)
    with pytest.raises(AppError, match=r"`notes.png` could not be read as an image .*Accepted: PNG"):
        client.predict(image=handle_file(str(path)), model="offline:image-classification",
                       api_name="/image_classification")


def test_an_upload_over_the_cap_is_refused(client, tmp_path):
    from gradio_client import handle_file

    path = tmp_path / "big.wav"
    with open(path, "wb") as f:
        f.truncate(HostingPolicy.public().max_upload_bytes + 2**20)
    with pytest.raises(Exception, match=r"(?i)size|large|limit"):
        client.predict(audio=handle_file(str(path)), model="offline:audio-classification",
                       api_name="/audio_classification")


# -- keep last: it stops the module's app ------------------------------------------------------------

def test_sigterm_lets_the_running_job_finish_then_exits(hosted_app):
    """SIGTERM while jobs are running: they still complete, a new job is refused as busy, and the
    process exits normally (status 0) once nothing is in flight."""
    import signal
    import time

    from gradio_client import Client
    from gradio_client.utils import QueueError, Status

    patient = {"timeout": 60}  # a busy test machine may take seconds to answer a join
    client = Client(hosted_app.url, verbose=False, httpx_kwargs=patient)
    late = Client(hosted_app.url, verbose=False, httpx_kwargs=patient)
    call = dict(text="The stock market fell today, but prices rose last week.", model="offline:summarization",
                api_name="/summarization")
    client.predict(**call, num_beams=1, max_new_tokens=2)  # loaded
    # Five summaries with the default beam search (4 beams, 128 new tokens: seconds each even on a fast
    # machine; the tiny model never ends early) on two workers: three rounds of work, so the signal
    # below lands while jobs run even when the clients' status threads lag on a loaded machine (checked
    # on the server's side: its log counts the jobs in flight at the signal). Two sessions (3 jobs
    # each at most), one address: with `late`, 6 jobs, the per-client limit, so only the drain refuses.
    second = Client(hosted_app.url, verbose=False, httpx_kwargs=patient)
    jobs = [c.submit(**call, num_beams=4, max_new_tokens=128) for c in (client, client, client, second, second)]
    deadline = time.monotonic() + 180
    while not any(j.status().code in (Status.PROCESSING, Status.PROGRESS, Status.ITERATING, Status.FINISHED)
                  for j in jobs):
        assert time.monotonic() < deadline, "no summary started"
        time.sleep(0.02)
    hosted_app.proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    with pytest.raises(QueueError, match="try again"):
        late.predict(text="too late", model="offline:text-classification", api_name="/text_classification")
    for job in jobs:
        summary, _, info, _ = job.result(timeout=240)
        assert summary.strip() and "preprocess + inference" in info  # the whole answer, not an error
    assert hosted_app.proc.wait(timeout=120) == 0
    log = hosted_app.log_text()
    assert "SIGTERM: taking no new jobs" in log and "every job in flight finished" in log
    in_flight = re.search(r"waiting up to \d+ s for (\d+) in flight", log)
    assert in_flight and int(in_flight.group(1)) >= 1, "the jobs ended before the signal; ask for more tokens"
