"""End-to-end fixtures: the real app (``python app.py``) on a free loopback port, once per module,
driven by Debian's Chromium through Playwright; a local HTTP server for URL inputs; a screenshot
of the page under ``test-output/`` whenever a test fails."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",
]


def pytest_collection_modifyitems(items):
    for item in items:
        if "browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """Start ``python app.py`` on a free port (``tests.app_server``); yield its URL; stop it after
    the module's tests."""
    from tests.app_server import start_app

    app = start_app(tmp_path_factory.mktemp("app") / "app.log")
    yield app.url
    app.stop()


@pytest.fixture(scope="module")
def static_server(tmp_path_factory):
    """A loopback HTTP server over a temp folder; yields (base_url, folder)."""
    folder = tmp_path_factory.mktemp("www")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()


@pytest.fixture(scope="module")
def fake_mic_wav(tmp_path_factory) -> Path:
    """The sound Chromium's fake microphone plays: a 2 s tone, 16-bit PCM."""
    import soundfile as sf

    from workbench.samples import sample_waveform

    path = tmp_path_factory.mktemp("mic") / "speech.wav"
    wave, sr = sample_waveform(seconds=2.0, sr=16000)
    sf.write(path, wave, sr, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def browser(fake_mic_wav):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                              args=CHROMIUM_ARGS + [f"--use-file-for-fake-audio-capture={fake_mic_wav}"])
        yield b
        b.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture()
def page(browser, app_url, request):
    """A fresh page on the app (microphone allowed); saves a screenshot if the test fails."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["microphone"])
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(app_url)
    yield pg
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        OUTPUT.mkdir(exist_ok=True)
        pg.screenshot(path=str(OUTPUT / f"{request.node.name}.png"), full_page=True)
    context.close()
