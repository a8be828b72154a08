"""Every task tab in Chromium, as a new user tries it: open the tab (one click, no "…" menu), click
its first preset example, Run, and see a rendered result with the info line and no "Error".
Then the polish around a run: progress and Cancel, an error that stays, the dtype box, the
"model default" number boxes, and the layout at 1280 and 390 px. One app and one page for the module.
"""

from __future__ import annotations

from contextlib import contextmanager

import pytest

from workbench.tasks import tasks_by_group

from playwright.sync_api import expect

LONG = 180_000  # ms: the first run of each task builds its tiny offline model on a busy 2-core machine
ALL = [(group, spec) for group, specs in tasks_by_group().items() for spec in specs]


@contextmanager
def _page(browser, url: str, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(url)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="module")
def tab_page(browser, app_url):
    """One page for the module (a page load per task would double the time)."""
    with _page(browser, app_url) as page:
        yield page


def open_task(page, group: str, task: str) -> None:
    """One click on the group, one on the task: both buttons are on screen, none behind "…"."""
    page.get_by_role("tab", name=group, exact=True).click()
    button = page.locator(f"#tab-{task}-button")
    expect(button).to_be_visible()
    button.click()
    expect(page.locator(f"#{task}-run")).to_be_visible()


def panel(page, task: str):
    return page.locator(f"#tab-{task}")


@pytest.mark.parametrize("group, spec", ALL, ids=[spec.name for _, spec in ALL])
def test_first_example_runs(tab_page, group, spec):
    page, task = tab_page, spec.name
    open_task(page, group, task)
    examples = panel(page, task).locator(".gallery-item, [data-testid='examples'] button, tr.tr-body")
    expect(examples.first).to_be_visible()
    # Gradio loads an example through the server (queue=False): wait for that answer before Run.
    with page.expect_response(lambda r: "/run/predict" in r.url and r.request.method == "POST"):
        examples.first.click()
    page.wait_for_timeout(300)  # the answer's values are applied on the page's next tick
    if "video" in spec.inputs:  # the example clip plays in the browser (it refuses MPEG-4 Part 2 clips)
        video = panel(page, task).locator("video").first
        page.wait_for_function("v => v.readyState >= 1 || v.error !== null", arg=video.element_handle())
        assert video.evaluate("v => v.error === null"), f"{task}: the example clip is not playable"
    page.locator(f"#{task}-run").click()
    info = page.locator(f"#{task}-info")
    done = "tokens/s" if task == "text-generation" else "preprocess + inference"
    expect(info).to_contain_text(done, timeout=LONG)
    assert "Error" not in info.inner_text()
    output = page.locator(f"#{task}-output")
    expect(output).to_be_visible()
    assert not output.locator(".error").count(), f"{task}: the output shows an error"


@pytest.fixture()
def fresh_page(browser, app_url):
    """A page of its own: the module's page, after every tab's example (videos, audio, plots),
    keeps Chromium's renderer busy, and a 30 000-line input on top of that starved it."""
    with _page(browser, app_url) as page:
        yield page


def test_cancel_stops_a_long_run(fresh_page):
    page = fresh_page
    open_task(page, "Text", "feature-extraction")
    box = page.locator("#feature-extraction-text textarea")
    box.evaluate("(el, n) => { el.value = Array.from({length: n}, (_, i) => 'sentence ' + i).join('\\n');"
                 " el.dispatchEvent(new Event('input', {bubbles: true})); }", 30_000)
    page.locator("#feature-extraction-run").click()
    info = page.locator("#feature-extraction-info")
    expect(info).to_contain_text("inference: input", timeout=LONG)  # the real stage, with i/n
    expect(info).to_contain_text("/30000")
    page.locator("#feature-extraction-stop").click()
    expect(info).to_contain_text("Cancelled during inference", timeout=60_000)
    expect(page.locator("#feature-extraction-output")).not_to_contain_text("Error")
    box.fill("one\ntwo")  # the tab is free again
    page.locator("#feature-extraction-run").click()
    expect(info).to_contain_text("preprocess + inference", timeout=LONG)


def test_an_error_stays_visible_and_clears_the_old_info(tab_page):
    page = tab_page
    open_task(page, "Text", "text-classification")
    box = page.locator("#text-classification-text textarea")
    box.fill("A fine sentence.")
    page.locator("#text-classification-run").click()
    info = page.locator("#text-classification-info")
    expect(info).to_contain_text("preprocess + inference", timeout=LONG)
    box.fill("   ")
    page.locator("#text-classification-run").click()
    expect(info).to_contain_text("Error:", timeout=60_000)
    expect(info).to_contain_text("text is empty")
    expect(info).not_to_contain_text("preprocess + inference")  # the previous run's line is gone
    expect(page.locator(".toast-body")).to_have_count(0, timeout=30_000)  # the toast fades…
    expect(info).to_contain_text("text is empty")  # …the message stays


def test_dtype_box_takes_only_its_choices(tab_page):
    page = tab_page
    open_task(page, "Text", "text-classification")
    dtype = page.locator("#text-classification-dtype input")
    before = dtype.input_value()
    dtype.click()
    page.keyboard.type("float16")
    page.keyboard.press("Enter")
    page.locator("#text-classification-description").click()  # click away
    assert dtype.input_value() in ("auto", "float32", "bfloat16")
    assert dtype.input_value() != "bfloat16" or before == "bfloat16", "typing float16 selected bfloat16"


def test_optional_numbers_are_empty_with_a_placeholder(tab_page):
    page = tab_page
    open_task(page, "Text", "summarization")
    box = page.locator("#summarization-param-temperature textarea, #summarization-param-temperature input").first
    assert box.input_value() == "" and "model default" in (box.get_attribute("placeholder") or "")
    panel(page, "summarization").locator(".gallery-item, [data-testid='examples'] button").first.click()
    assert box.input_value() == "" and "model default" in (box.get_attribute("placeholder") or "")


@pytest.mark.parametrize("width", [1280, 390])
def test_every_task_is_one_click_away(browser, app_url, width):
    with _page(browser, app_url, width) as page:
        expect(page.get_by_role("tab", name="Text", exact=True)).to_be_visible(timeout=60_000)  # the app has loaded
        for name in ("Models", "Benchmark"):
            expect(page.get_by_role("tab", name=name, exact=True)).to_be_visible()
        for group, specs in tasks_by_group().items():
            page.get_by_role("tab", name=group, exact=True).click()
            for spec in specs:
                expect(page.locator(f"#tab-{spec.name}-button")).to_be_visible()
        assert not page.locator("button[aria-label='More tabs']:visible").count()
        last = tasks_by_group()["Vision"][-1].name
        page.get_by_role("tab", name="Vision", exact=True).click()
        page.locator(f"#tab-{last}-button").click()  # the last of the Vision row, usable
        run = page.locator(f"#{last}-run")
        run.scroll_into_view_if_needed()
        expect(run).to_be_in_viewport()
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, "the page scrolls sideways"


def test_model_box_text_clears_its_arrow(tab_page):
    page = tab_page
    open_task(page, "Text", "text-classification")
    box = page.locator("#text-classification-model")
    text, arrow = box.locator("input").first, box.locator(".icon-wrap").first
    padding = float(text.evaluate("el => parseFloat(getComputedStyle(el).paddingRight)"))
    t, a = text.bounding_box(), arrow.bounding_box()
    assert t["x"] + t["width"] - padding <= a["x"] + 1, "the model id runs under the dropdown arrow"
