"""Tabs built when first opened (``components.lazy``), in Chromium on the real app in hosted mode
with a small queue: a tab's widgets arrive when it is opened (a group's first task when the group
is), work, and keep what was typed when the user comes back; Chat and Compare likewise; and a tab
opens while other users' runs fill the queue (its opening never waits in it)."""

from __future__ import annotations

import json
import urllib.request

import pytest

from tests.conftest import HOSTED_ENV
from tests.full_queue import fill_queue, queue_size

QUEUE_MAX = 4


@pytest.fixture(scope="module")
def hosted(tmp_path_factory):
    from tests.app_server import start_app

    app = start_app(tmp_path_factory.mktemp("lazy-app") / "app.log",
                    env={**HOSTED_ENV, "WORKBENCH_QUEUE_MAX": str(QUEUE_MAX)})
    yield app
    app.stop()


@pytest.fixture(scope="module")
def app_url(hosted) -> str:  # the page fixture opens this app
    return hosted.url


def _config_ids(url: str) -> set[str]:
    with urllib.request.urlopen(url + "config", timeout=60) as r:
        return {c["props"].get("elem_id") for c in json.load(r)["components"]}


def test_a_tab_is_built_when_opened_and_keeps_its_values(page, app_url):
    ids = _config_ids(app_url)
    assert "text-classification-run" in ids  # on screen when the page opens
    assert "image-classification-description" in ids and "image-classification-run" not in ids
    assert "token-classification-run" not in ids and "text-generation-chat-send" not in ids
    assert "bench-intro" in ids and "bench-run" not in ids  # the Benchmark tab too

    page.locator("#group-vision-button").click()  # the group's first task is built with it
    page.locator("#image-classification-run").wait_for()
    assert page.locator("#image-classification-url input, #image-classification-url textarea").first.is_enabled()

    page.locator("#group-text-button").click()
    page.get_by_role("tab", name="Named entities").click()
    box = page.locator("#token-classification-text textarea")
    box.fill("Mary lives in London.")
    page.locator("#token-classification-run").click()
    page.locator("#token-classification-info").get_by_text("preprocess + inference").wait_for(timeout=120_000)
    page.get_by_role("tab", name="Fill mask").click()
    page.locator("#fill-mask-run").wait_for()
    page.get_by_role("tab", name="Named entities").click()
    assert box.input_value() == "Mary lives in London."  # built once: coming back keeps it
    assert page.locator("#token-classification-info").get_by_text("preprocess + inference").is_visible()

    compare = page.locator("#token-classification-compare")
    compare.get_by_text("Compare: up to three configurations").click()
    page.locator("#token-classification-compare-run").wait_for()  # built with the tab: at once

    page.locator("#tab-text-generation-button").click()
    page.locator("#tab-text-generation-chat-button").click()
    page.locator("#text-generation-chat-message textarea").wait_for()
    assert page.locator("#text-generation-chat-message textarea").is_enabled()

    page.locator("#group-benchmark-button").click()
    page.locator("#bench-run").wait_for()
    sizes = page.locator("#bench-sizes textarea, #bench-sizes input").first
    assert sizes.is_enabled() and page.locator("#bench-n input").first.is_enabled()


def test_a_tab_opens_while_other_users_fill_the_queue(page, hosted):
    """Other users' summaries fill the queue; a tab opened then is built all the same. No job is
    added meanwhile, so the queue only shrinks: still full once the tab is there, it was full all
    along. When a summary ended first (a slow machine), the next group's tab is tried."""
    conclusive = 0
    for group, task in [("audio", "automatic-speech-recognition"), ("documents", "document-question-answering"),
                        ("vision", "image-classification")]:
        jobs = fill_queue(hosted.url, QUEUE_MAX)
        try:
            page.locator(f"#group-{group}-button").click()
            page.locator(f"#{task}-run").wait_for(timeout=30_000)  # built, though the queue is full
            conclusive += queue_size(hosted.url) >= QUEUE_MAX
        finally:
            for job in jobs:
                job.cancel()
            for job in jobs:  # the next round starts from an empty queue
                try:
                    job.result(timeout=120)
                except Exception:  # cancelled or refused: what we want
                    pass
        if conclusive:
            break
    assert conclusive, "the queue emptied before every tab opened: the test could not tell"
