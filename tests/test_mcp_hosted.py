"""MCP in hosted mode: the real app as a Space runs it (``SPACE_ID`` set) with Gradio's own switch
``GRADIO_MCP_SERVER=True``, driven with the ``mcp`` package's client. Every limit holds for MCP
calls as for the browser: no server paths (in any form a file argument can take) and no loopback
URL, the per-session limit (all MCP calls come through the app's own client: together they get
one session's share of the queue), and the queue's bound."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("mcp")

from tests.conftest import HOSTED_ENV  # noqa: E402
from tests.full_queue import SLOW, fill_queue  # noqa: E402
from tests.loopback import HITS, PNG, server  # noqa: E402,F401 (fixture)
from tests.mcp_client import MCPClient, data_uri, text_of  # noqa: E402
from tests.test_hosting_core import NOT_A_HUB_ID, REFUSED_PATH  # noqa: E402

QUEUE_MAX = 4  # jobs waiting in all: reached by three other sessions below, never by MCP's three
PREFIX = ""  # on a real Space (SYSTEM=spaces as well) Gradio prefixes the tools with its name: pipeline_workbench_…


@pytest.fixture(scope="module")
def hosted_mcp_app(tmp_path_factory):
    from tests.app_server import start_app

    env = {**HOSTED_ENV, "GRADIO_MCP_SERVER": "True", "WORKBENCH_QUEUE_MAX": str(QUEUE_MAX)}
    app = start_app(tmp_path_factory.mktemp("hosted-mcp-app") / "app.log", env=env)
    yield app
    app.stop()


@pytest.fixture(scope="module")
def mcp(hosted_mcp_app) -> MCPClient:
    return MCPClient(hosted_mcp_app.url)


def _refused(result, match: str) -> None:
    import re

    assert result.isError, text_of(result)
    assert re.search(match, text_of(result)), text_of(result)


def test_the_spaces_tools_and_the_operator_tools_refuse(mcp):
    names = {t.name for t in mcp.tools()}
    assert {f"{PREFIX}text_classification", f"{PREFIX}image_classification", f"{PREFIX}unload_all_models"} <= names
    _refused(mcp.call(f"{PREFIX}unload_all_models"), "operator control")


def test_no_server_path_and_no_loopback_url_reaches_the_app(mcp, server, tmp_path_factory):
    secret = tmp_path_factory.mktemp("server-files") / "secret.png"
    secret.write_bytes(PNG)
    tool = f"{PREFIX}image_classification"
    common = {"top_k": 1, "model": "offline:image-classification"}
    HITS.clear()
    results = [mcp.call(name, **arguments) for name, arguments in [  # one at a time: MCP's share is 3 jobs
        (tool, {"image_url": str(secret), **common}),  # the URL box: our path check
        (tool, {"image": str(secret), **common}),  # a file argument is a URL or data: URI, never a path
        (tool, {"image": f"file://{secret}", **common}),
        (tool, {"image": {"path": str(secret), "meta": {"_type": "gradio.FileData"}}, **common}),  # not a string
        (tool, {"image": f"http://127.0.0.1:{server}/cat.png", **common}),  # fetched by us: refused
        (tool, {"image_url": f"http://127.0.0.1:{server}/cat.png", **common}),
        (f"{PREFIX}text_classification", {"text": "hi", "model": str(secret.parent)}),
    ]]
    for result, match in zip(results, (REFUSED_PATH, "provide a url", "provide a url", "Input validation error",
                                       r"Could not fetch URL .* only public http\(s\) addresses",
                                       r"Could not fetch URL .* only public http\(s\) addresses", NOT_A_HUB_ID)):
        _refused(result, match)
    assert HITS == []  # the loopback server was never asked
    uploaded = mcp.call(tool, image=data_uri(PNG), **common)
    assert not uploaded.isError and "confidences" in uploaded.content[0].text  # an upload works


def test_mcp_calls_share_one_sessions_limit_and_others_are_still_served(mcp, hosted_mcp_app):
    """Eight summaries at once over MCP: three are queued or running (one session's share; the
    queue's bound of 4 waiting cannot be reached by three jobs), the rest refused as busy at once;
    meanwhile another user's summary is served."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    other = Client(hosted_mcp_app.url, verbose=False, headers={"X-Forwarded-For": "198.51.100.2"})
    with ThreadPoolExecutor(1) as pool:
        flood = pool.submit(mcp.calls, [(f"{PREFIX}summarization", SLOW)] * 8)
        time.sleep(1.0)
        _, _, info, _ = other.predict(text="A short text.", num_beams=1, max_new_tokens=2,
                                      model="offline:summarization", api_name="/summarization")
        results = flood.result(timeout=600)
    assert "preprocess + inference" in info
    done = [r for r in results if not r.isError]
    refused = [r for r in results if r.isError]
    assert done and len(refused) >= 4, [text_of(r)[:80] for r in results]
    assert all("try again" in text_of(r) for r in refused), [text_of(r) for r in refused]
    assert all(r.content[0].text.strip() for r in done)


def test_a_full_queue_refuses_mcp_calls(mcp, hosted_mcp_app):
    """Three other users fill the queue (4 waiting): an MCP call — of a caller with no job at all — is
    refused as busy, for another task too."""
    jobs = fill_queue(hosted_mcp_app.url, QUEUE_MAX)
    try:
        _refused(mcp.call(f"{PREFIX}text_classification", text="hi", model="offline:text-classification"),
                 "Queue is full")
    finally:
        for job in jobs:
            job.cancel()
