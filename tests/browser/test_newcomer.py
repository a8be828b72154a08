"""What a newcomer trips over (issue 26), in Chromium: Chat's Enter, refusals that stay on the page
in words (tabs, Compare, Chat, Benchmark) and toasts that do not pile up, examples that show what
their tab is for and fill before Run, words that match their fields, and the page on a phone.

One app for the module (conftest's ``app_url``); each test opens its own page.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.test_e2e import LONG, open_task

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

CHAT = "text-generation-chat"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(autouse=True)
def patient_expect():
    """The shared 2-core test machine renders this large page slowly: wait up to a minute for what
    a test expects to see (Playwright's own default is 5 s), then back to that default."""
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def open_chat(page) -> None:
    open_task(page, "Text", "text-generation", "Text generation")
    page.locator("#tab-text-generation-chat-button").click()
    expect(page.locator(f"#{CHAT}-message textarea")).to_be_visible()


def no_error_pill(page, selector: str) -> None:
    """Gradio marks an output of a failed event with a red "Error" over it."""
    expect(page.locator(selector).locator(".error")).to_have_count(0)


#: An example: a button (texts, sounds), or a row of the table that shows pictures as thumbnails.
EXAMPLES = ".gallery-item, [data-testid='examples'] button, tr.tr-body"


def click_example(page, task: str, index: int = 0) -> None:
    page.locator(f"#tab-{task}").locator(EXAMPLES).nth(index).click()


# ---- Chat -----------------------------------------------------------------------------------------


def test_chat_enter_sends_and_shift_enter_is_a_new_line(page):
    page.set_default_timeout(LONG)
    open_chat(page)
    box = page.locator(f"#{CHAT}-message textarea")
    box.click()
    box.type("Hello")
    box.press("Shift+Enter")
    box.type("there")
    expect(box).to_have_value("Hello\nthere")  # Shift+Enter: a new line, nothing sent
    chatbot = page.locator(f"#{CHAT}-chatbot")
    expect(chatbot.locator(".user-row")).to_have_count(0)
    box.press("Enter")  # Enter: sent
    expect(chatbot.locator(".user-row")).to_have_count(1)
    expect(chatbot.locator(".user-row")).to_contain_text("there")
    expect(chatbot.locator(".bot-row")).to_have_count(1, timeout=LONG)
    expect(box).to_have_value("")


def test_chat_empty_send_is_answered_in_the_info_line_only(page):
    page.set_default_timeout(LONG)
    open_chat(page)
    page.locator(f"#{CHAT}-send").click()
    expect(page.locator(f"#{CHAT}-info")).to_contain_text("Write a message first")
    for part in ("message", "prompt", "code", "chatbot"):
        no_error_pill(page, f"#{CHAT}-{part}")
    expect(page.locator(f"#{CHAT}-chatbot .user-row")).to_have_count(0)


def test_a_chat_that_fails_keeps_its_reason_and_the_message(page):
    page.set_default_timeout(LONG)
    open_chat(page)
    model = page.locator(f"#{CHAT}-model input")
    model.fill("no-such-org/no-such-chat-model")
    model.press("Enter")
    page.locator(f"#{CHAT}-message textarea").fill("Hello?")
    page.locator(f"#{CHAT}-send").click()
    info = page.locator(f"#{CHAT}-info")
    expect(info).to_contain_text("Error:", timeout=LONG)
    expect(info).to_contain_text("no-such-org/no-such-chat-model")
    expect(page.locator(f"#{CHAT}-message textarea")).to_have_value("Hello?")
    no_error_pill(page, f"#{CHAT}-message")


# ---- refusals stay on the page ------------------------------------------------------------------


def test_a_non_image_upload_keeps_its_reason_under_the_output(page, tmp_path):
    page.set_default_timeout(LONG)
    notes = tmp_path / "notes.png"
    notes.write_text("not an image at all\n" * 50)
    task = "image-classification"
    open_task(page, "Vision", task, "Image classification")
    page.locator(f"#{task}-image input[type=file]").set_input_files(str(notes))
    page.locator(f"#{task}-run").click()
    info = page.locator(f"#{task}-info")
    expect(info).to_contain_text("could not be read as an image", timeout=LONG)
    expect(info).not_to_contain_text("failed before it started")
    expect(page.locator(".toast-body")).to_have_count(0, timeout=30_000)  # the toast fades…
    expect(info).to_contain_text("notes.png could not be read as an image")  # …the reason stays


def test_a_new_error_does_not_bring_back_the_last_one(page):
    page.set_default_timeout(LONG)
    task = "text-classification"
    open_task(page, "Text", task, "Text classification")
    page.locator(f"#{task}-run").click()  # empty text
    toast = page.locator(".toast-body")
    expect(toast).to_contain_text("text is empty", timeout=LONG)
    page.locator(f"#{task}-text textarea").fill("A fine sentence.")
    model = page.locator(f"#{task}-model input")
    model.fill("no-such-org/no-such-model")
    model.press("Enter")
    page.locator(f"#{task}-run").click()
    expect(page.locator(f"#{task}-info")).to_contain_text("no-such-org/no-such-model", timeout=LONG)
    expect(toast).to_have_count(1)
    expect(toast).to_contain_text("no-such-org/no-such-model")
    expect(toast).not_to_contain_text("text is empty")  # the earlier, unrelated error is not shown again
    expect(toast).not_to_contain_text("(2)")


def test_compare_keeps_its_refusal_in_its_summary(page):
    page.set_default_timeout(LONG)
    task = "text-classification"
    open_task(page, "Text", task, "Text classification")
    page.locator(f"#{task}-compare").get_by_text("Compare: up to three configurations").click()
    page.locator(f"#{task}-compare-run").click()  # no text
    summary = page.locator(f"#{task}-compare-summary")
    expect(summary).to_contain_text("text is empty", timeout=LONG)
    expect(page.locator(".toast-body")).to_have_count(0, timeout=30_000)
    expect(summary).to_contain_text("text is empty")
    no_error_pill(page, f"#{task}-compare-summary")


def test_the_benchmark_keeps_its_refusal_on_its_status_line(page):
    page.set_default_timeout(LONG)
    page.get_by_role("tab", name="Benchmark", exact=True).click()
    sizes = page.locator("#bench-sizes textarea, #bench-sizes input").first
    sizes.fill("eight")
    page.locator("#bench-run").click()
    status = page.locator("#bench-status")
    expect(status).to_contain_text("Error:", timeout=LONG)
    expect(status).to_contain_text("eight")
    expect(page.locator(".toast-body")).to_have_count(0, timeout=30_000)
    expect(status).to_contain_text("eight")


# ---- examples -------------------------------------------------------------------------------------


def test_object_detection_examples_draw_boxes_with_the_stand_in(page):
    page.set_default_timeout(LONG)
    task = "object-detection"
    open_task(page, "Vision", task, "Object detection")
    for index in (0, 1):
        click_example(page, task, index)
        page.locator(f"#{task}-run").click()
        info = page.locator(f"#{task}-info")
        expect(info).to_contain_text("preprocess + inference", timeout=LONG)
        expect(info).not_to_contain_text("Nothing scored above the threshold")
        expect(page.locator(f"#{task}-output .legend-item").first).to_be_visible()


def test_mask_generation_example_draws_masks_with_the_stand_in(page):
    page.set_default_timeout(LONG)
    task = "mask-generation"
    open_task(page, "Vision", task, "Mask generation (SAM)")
    examples = page.locator(f"#tab-{task}").locator("table:has(tr.tr-body)")  # thumbnails, a column per field
    expect(examples.locator("thead")).to_contain_text("points per side")  # named as the field is, not points_per_crop
    click_example(page, task)
    page.locator(f"#{task}-run").click()
    info = page.locator(f"#{task}-info")
    expect(info).to_contain_text("preprocess + inference", timeout=LONG)
    expect(info).not_to_contain_text("returned nothing")
    expect(page.locator(f"#{task}-output .legend-item").first).to_be_visible()


def test_audio_examples_can_be_heard_before_they_run(page):
    """A sound example's chip names its file; a player beside the examples plays that file."""
    page.set_default_timeout(LONG)
    task = "automatic-speech-recognition"
    open_task(page, "Audio", task, "Speech recognition")
    player = page.locator(f"#{task}-example-player-0")
    expect(player).to_contain_text("tone.wav")
    expect(player.locator("#duration")).to_have_text(re.compile(r"0:01"))  # the 1 s tone, loaded and decoded
    expect(player.locator(".play-pause-button")).to_be_enabled()


def test_an_embeddings_example_shows_the_similarity_matrix(page):
    page.set_default_timeout(LONG)
    task = "feature-extraction"
    open_task(page, "Text", task, "Embeddings & similarity")
    click_example(page, task)
    page.locator(f"#{task}-run").click()
    expect(page.locator(f"#{task}-info")).to_contain_text("preprocess + inference", timeout=LONG)
    similarity = page.locator(f"#{task}-similarity")
    expect(similarity).to_be_visible()
    expect(similarity).to_contain_text("Someone plays an instrument.")


def test_run_pressed_right_after_an_example_runs_the_example(page):
    """No wait between the example's click and Run's: Run gets the example (it fills at once, or Run
    waits for it), not the empty box."""
    page.set_default_timeout(LONG)
    task = "text-classification"
    open_task(page, "Text", task, "Text classification")
    click_example(page, task)
    page.locator(f"#{task}-run").click()
    info = page.locator(f"#{task}-info")
    expect(info).to_contain_text("preprocess + inference", timeout=LONG)
    expect(info).not_to_contain_text("empty")
    assert page.locator(f"#{task}-text textarea").input_value().strip()


# ---- words ----------------------------------------------------------------------------------------


def test_words_match_their_fields(page):
    page.set_default_timeout(LONG)
    task = "table-question-answering"
    open_task(page, "Text", task, "Table QA")
    page.locator(f"#{task}-run").click()
    expect(page.locator(f"#{task}-info")).to_contain_text("question about the table is empty", timeout=LONG)

    task = "document-question-answering"
    open_task(page, "Documents & multimodal", task, "Document QA")
    page.locator(f"#{task}-question input, #{task}-question textarea").first.fill("What is the total?")
    page.locator(f"#{task}-run").click()
    expect(page.locator(f"#{task}-info")).to_contain_text("No document given", timeout=LONG)
    from workbench.samples import sample_file

    page.locator(f"#{task}-document input[type=file]").set_input_files(sample_file("document.png"))
    expect(page.locator(f"#{task}-document-preview img").first).to_be_visible(timeout=LONG)  # the page, not a chip

    page.get_by_role("tab", name="Documents & multimodal", exact=True).click()
    expect(page.get_by_role("tab", name="Image + text chat")).to_have_count(0)  # one turn: not called a chat
    page.get_by_role("tab", name="Vision", exact=True).click()
    page.locator("#tab-mask-generation-button").click()
    expect(page.locator("#mask-generation-description")).not_to_contain_text("promptable")

    task = "text-classification"  # offline: a preset that is not cached says it cannot load now
    open_task(page, "Text", task, "Text classification")
    page.locator(f"#{task}-model input").click()
    hub = page.get_by_role("option").filter(has_text="distilbert-base-uncased-finetuned-sst-2-english")
    expect(hub.first).to_contain_text("cannot load now")


# ---- a phone --------------------------------------------------------------------------------------


@pytest.fixture()
def phone(browser, app_url):
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(LONG)
    page.goto(app_url)
    yield page
    context.close()


def _clear_of_arrow(page, selector: str) -> dict:
    """The dropdown's text box ends before its arrow, and is wide enough for a model id."""
    box = page.locator(f"{selector} input").first
    geometry = box.evaluate("""e => { const r = e.getBoundingClientRect(), s = getComputedStyle(e);
        const arrow = e.parentElement.querySelector('.icon-wrap').getBoundingClientRect();
        return {text_right: r.right - parseFloat(s.paddingRight), arrow_left: arrow.left, width: r.width}; }""")
    assert geometry["text_right"] <= geometry["arrow_left"] + 1, (selector, geometry)
    return geometry


def test_on_a_phone_pickers_show_their_value_and_chat_comes_first(phone):
    page = phone
    expect(page.locator("#text-classification-run")).to_be_visible()
    for part in ("device", "dtype"):
        _clear_of_arrow(page, f"#text-classification-{part}")
    assert _clear_of_arrow(page, "#text-classification-model")["width"] >= 250  # "offline:text-classification"
    open_chat(page)
    chatbot, settings = page.locator(f"#{CHAT}-chatbot"), page.locator(f"#{CHAT}-settings")
    assert chatbot.bounding_box()["y"] < settings.bounding_box()["y"]  # the conversation first
    expect(page.locator(f"#{CHAT}-system textarea")).to_be_hidden()  # the settings folded away
    assert chatbot.bounding_box()["y"] < PHONE["height"] * 1.5


def test_on_a_phone_compare_and_the_models_table_fit_the_width(phone):
    page = phone
    task = "text-classification"
    expect(page.locator(f"#{task}-run")).to_be_visible()
    page.locator(f"#{task}-compare").get_by_text("Compare: up to three configurations").click()
    expect(page.locator(f"#{task}-compare-run")).to_be_visible()
    overflowing = page.evaluate("""(sel) => [...document.querySelectorAll(sel + ' .block')]
        .filter(e => e.offsetParent !== null && e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => e.id || e.className)""", f"#{task}-compare")
    assert not overflowing, overflowing
    page.get_by_role("tab", name="Models", exact=True).click()
    table = page.locator("#models-presets")
    expect(table).to_contain_text("text-classification")  # filled when the tab opens
    headers = table.locator("thead th")
    right = table.bounding_box()["x"] + table.bounding_box()["width"]
    for i in range(headers.count()):
        box = headers.nth(i).bounding_box()
        assert box is not None and box["x"] + box["width"] <= right + 1, (i, headers.nth(i).inner_text(), box)
    assert re.search("model", table.inner_text())


# ---- the Benchmark fills in as it goes ---------------------------------------------------------


def test_the_benchmark_shows_rows_as_they_finish_and_cancel_keeps_them(page):
    from tests.browser.test_e2e import _bench_settings

    page.set_default_timeout(LONG)
    _bench_settings(page, task="text-classification", n=512, sizes="1,2,4,8", repeats=3)
    page.locator("#bench-run").click()
    status = page.locator("#bench-status")
    expect(status).to_contain_text("left", timeout=2 * LONG)  # the progress has a time left
    # rows in the table while the sweep still runs (the status line still shows its progress)
    page.wait_for_function("""() => document.querySelectorAll('#bench-table tbody tr').length > 0
        && document.querySelector('#bench-status').innerText.includes('⏳')""", timeout=2 * LONG)
    expect(page.locator("#bench-summary")).to_contain_text("so far")
    page.locator("#bench-cancel").click()
    expect(status).to_contain_text("Cancelled", timeout=2 * LONG)
    expect(status).to_contain_text("were measured before you cancelled")
    assert page.locator("#bench-table tbody tr").count() > 0  # what was measured stays
