"""End-to-end in Chromium: a two-turn chat then Stop mid-answer (on the slow stand-in chat model), and
Compare runs in a text tab and in a vision tab.

The app runs as ``python -m tests.slow_chat``: the real app, with one extra copy of the tiny chat
model loaded under its folder's name and slowed to 0.15 s a token, so Stop always lands mid-answer.
"""

from __future__ import annotations

import re
import time

import pytest

from tests.browser.test_e2e import LONG
from tests.browser.test_e2e import open_task as _open_task
from workbench.samples import sample_file

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

CHAT = "text-generation-chat"


@pytest.fixture(scope="module")
def slow_app(tmp_path_factory):
    """``python -m tests.slow_chat`` on a free loopback port; yields (url, slow model name)."""
    from tests.app_server import start_app

    app = start_app(tmp_path_factory.mktemp("slow-app") / "app.log", command=["-m", "tests.slow_chat"],
                    args=["--delay", "0.15"], timeout=400)  # a loaded 2-core machine takes minutes
    model = next(line.split("=", 1)[1] for line in app.log_text().splitlines() if line.startswith("SLOW_MODEL="))
    yield app.url, model
    app.stop()


@pytest.fixture(scope="module")
def app_url(slow_app):
    """The ``page`` fixture of conftest opens this module's app."""
    return slow_app[0]


def open_task(page, group: str, task: str, title: str) -> None:
    """test_e2e's open_task, then a longer wait for the tab's widgets (this page is large and the
    shared test machine slow to render it)."""
    try:
        _open_task(page, group, task, title)
    except AssertionError:
        expect(page.locator(f"#{task}-run")).to_be_visible(timeout=LONG)


def _set_number(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def _send(page, text: str) -> None:
    page.locator(f"#{CHAT}-message textarea").fill(text)
    page.locator(f"#{CHAT}-send").click()


def test_chat_two_turns_then_stop_mid_answer(page, slow_app):
    _, slow_model = slow_app
    page.set_default_timeout(LONG)  # the shared 2-core test machine renders this page slowly
    open_task(page, "Text", "text-generation", "Text generation")
    page.locator("#tab-text-generation-chat-button").click()
    chatbot, info = page.locator(f"#{CHAT}-chatbot"), page.locator(f"#{CHAT}-info")
    _set_number(page, f"{CHAT}-param-max_new_tokens", 8)
    page.locator(f"#{CHAT}-system textarea").fill("You are brief.")
    _send(page, "Hello, who are you?")
    expect(chatbot.locator(".bot-row")).to_have_count(1, timeout=LONG)
    expect(info).to_contain_text("tokens/s", timeout=LONG)
    expect(info).not_to_contain_text("generating", timeout=LONG)
    _send(page, "Tell me more.")
    expect(chatbot.locator(".user-row")).to_have_count(2, timeout=LONG)
    expect(chatbot.locator(".bot-row")).to_have_count(2, timeout=LONG)
    expect(info).not_to_contain_text("generating", timeout=LONG)
    page.get_by_role("button", name=re.compile("^Prompt the model got")).click()  # the rendered template has both turns
    prompt = page.locator(f"#{CHAT}-prompt")
    expect(prompt).to_contain_text("Tell me more.")
    assert prompt.inner_text().count("<|user|>") == 2

    # Stop: the slow model takes 0.15 s a token, so 200 tokens would take 30 s
    model_box = page.locator(f"#{CHAT}-model input")
    model_box.fill(slow_model)
    model_box.press("Enter")
    _set_number(page, f"{CHAT}-param-max_new_tokens", 200)
    _send(page, "Now a long story, please.")
    expect(info).to_contain_text("generating", timeout=LONG)
    expect(chatbot.locator(".bot-row")).to_have_count(3, timeout=LONG)
    started = time.monotonic()
    page.locator(f"#{CHAT}-stop").click()
    expect(info).to_contain_text("stopped", timeout=15_000)
    assert time.monotonic() - started < 15
    tokens = int(info.inner_text().split(" new tokens")[0].rsplit(" ", 1)[-1])
    assert 0 < tokens < 200
    # the conversation goes on after a Stop
    _set_number(page, f"{CHAT}-param-max_new_tokens", 3)
    _send(page, "Thanks.")
    expect(chatbot.locator(".bot-row")).to_have_count(4, timeout=LONG)
    expect(info).not_to_contain_text("generating", timeout=LONG)
    page.locator(f"#{CHAT}-clear").click()
    expect(chatbot.locator(".bot-row")).to_have_count(0)


def _compare_float32_with_bfloat16(page, task: str) -> None:
    """Open the tab's Compare, run its default configurations (float32, bfloat16) and check both
    labelled outputs are shown side by side with their peak memory and the agreement summary."""
    page.locator(f"#{task}-compare").get_by_text("Compare: up to three configurations").click()
    page.locator(f"#{task}-compare-run").click()
    expect(page.locator(f"#{task}-compare-summary")).to_contain_text("A vs B", timeout=LONG)
    expect(page.locator(f"#{task}-compare-summary")).to_contain_text("top label the same")
    for row in ("a", "b"):
        expect(page.locator(f"#{task}-compare-{row}-output")).to_contain_text("%")
        expect(page.locator(f"#{task}-compare-info-{row}")).to_contain_text("peak memory")
    expect(page.locator(f"#{task}-compare-info-b")).to_contain_text("bfloat16")


def test_compare_text_classification_float32_vs_bfloat16(page):
    page.set_default_timeout(LONG)
    task = "text-classification"
    open_task(page, "Text", task, "Text classification")
    page.locator(f"#{task}-text textarea").fill("I love this tiny model.")
    _compare_float32_with_bfloat16(page, task)
    expect(page.locator(f"#{task}-compare-runs")).to_contain_text("float32")
    # the widgets are built when Compare is first opened; closing and opening it again keeps them
    page.locator(f"#{task}-compare-model-c input").fill("")
    title = page.locator(f"#{task}-compare").get_by_text("Compare: up to three configurations")
    title.click()
    expect(page.locator(f"#{task}-compare-run")).to_be_hidden()
    title.click()
    expect(page.locator(f"#{task}-compare-summary")).to_contain_text("A vs B")
    expect(page.locator(f"#{task}-compare-model-c input")).to_have_value("")
    expect(page.locator(f"#{task}-compare-run")).to_have_count(1)


def test_compare_image_classification_float32_vs_bfloat16(page):
    """A vision tab's Compare: the same uploaded image through both configurations, side by side."""
    page.set_default_timeout(LONG)
    task = "image-classification"
    open_task(page, "Vision", task, "Image classification")
    page.locator(f"#{task}-image input[type=file]").set_input_files(sample_file("image.png"))
    expect(page.locator(f"#{task}-image img").first).to_be_visible()  # uploaded and shown
    _compare_float32_with_bfloat16(page, task)
