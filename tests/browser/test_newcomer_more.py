"""What a newcomer trips over (issue 26), the rest, in Chromium: Image embeddings takes several
images and shows their similarities, examples with pictures as thumbnails, a similarity matrix that
is shaded and fits, a score shown once, Cancel only while a run goes and "Cancelled" said once, the
video box's icons in view, Compare's stand-in note said once, no "�" in generated text, and Unload
all asking first.

One app for the module (conftest's ``app_url``); each test opens its own page.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.test_e2e import LONG, open_task
from tests.browser.test_newcomer import EXAMPLES, click_example

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect


@pytest.fixture(autouse=True)
def patient_expect():
    """The shared 2-core test machine renders this large page slowly: wait up to a minute for what
    a test expects to see (Playwright's own default is 5 s), then back to that default."""
    expect.set_options(timeout=60_000)
    yield
    expect.set_options(timeout=5_000)


def run(page, task: str) -> None:
    page.locator(f"#{task}-run").click()
    expect(page.locator(f"#{task}-info")).to_contain_text("preprocess + inference", timeout=LONG)


def fits_and_is_shaded(page, selector: str) -> None:
    """The table shows every column without a sideways scroll (each cell ends inside the block),
    and its number cells are coloured by value."""
    block = page.locator(selector)
    cells = block.locator(".body-cell")  # Gradio's rows are divs (virtual scrolling)
    expect(cells.first).to_be_visible()
    right = block.evaluate("e => e.getBoundingClientRect().right")
    ends = cells.evaluate_all("cs => cs.map(c => c.getBoundingClientRect().right)")
    assert max(ends) <= right + 1, f"cells end at {max(ends)}, the table's block at {right}"
    colours = cells.evaluate_all("cs => cs.map(c => getComputedStyle(c).backgroundColor)")
    assert len(set(colours)) > 2, colours  # shaded by value, not only the table's stripes


# ---- Image embeddings: several images, their similarities ----------------------------------------


def test_image_embeddings_example_shows_the_similarity_of_several_images(page):
    page.set_default_timeout(LONG)
    task = "image-feature-extraction"
    open_task(page, "Vision", task, "Image embeddings")
    first = page.locator(f"#tab-{task}").locator(EXAMPLES).first
    expect(first.locator("img")).to_have_count(3)  # the example's three images, as thumbnails
    first.click()
    expect(page.locator(f"#{task}-image img")).to_have_count(3)  # in the gallery
    run(page, task)
    similarity = page.locator(f"#{task}-similarity")
    expect(similarity).to_be_visible()
    for n in (1, 2, 3):
        expect(similarity).to_contain_text(f"image {n}")
    fits_and_is_shaded(page, f"#{task}-similarity")


# ---- examples, tables, scores ----------------------------------------------------------------------


def test_examples_with_pictures_show_thumbnails(page):
    page.set_default_timeout(LONG)
    open_task(page, "Vision", "image-classification", "Image classification")
    examples = page.locator("#tab-image-classification").locator(EXAMPLES)
    expect(examples.first.locator("img")).to_be_visible()  # the picture, not a chip saying image.png
    expect(examples.first).not_to_contain_text("image.png")
    open_task(page, "Vision", "video-classification", "Video classification")
    examples = page.locator("#tab-video-classification").locator(EXAMPLES)
    expect(examples.first.locator("video")).to_have_count(1)  # the clip's first frame
    expect(examples.first).not_to_contain_text("clip.mp4")


def test_the_similarity_matrix_is_shaded_and_fits(page):
    page.set_default_timeout(LONG)
    task = "feature-extraction"
    open_task(page, "Text", task, "Embeddings & similarity")
    click_example(page, task, 1)  # four sentences
    run(page, task)
    similarity = page.locator(f"#{task}-similarity")
    expect(similarity).to_contain_text("I forgot my login details.")
    fits_and_is_shaded(page, f"#{task}-similarity")


def test_fill_mask_shows_each_score_once(page):
    page.set_default_timeout(LONG)
    task = "fill-mask"
    open_task(page, "Text", task, "Fill mask")
    click_example(page, task)
    run(page, task)
    output = page.locator(f"#{task}-output")
    expect(output).to_contain_text("%)")  # a random model's tiny probabilities, in the names…
    shown = output.inner_text()
    assert not re.search(r"(?m)^\s*0%\s*$", shown), shown  # …and not again as a rounded "0%"


# ---- Cancel ----------------------------------------------------------------------------------------


def test_cancel_shows_while_a_run_goes_and_says_cancelled_once(page):
    page.set_default_timeout(LONG)
    task = "feature-extraction"
    open_task(page, "Text", task, "Embeddings & similarity")
    cancel = page.locator(f"#{task}-stop")
    expect(cancel).to_be_hidden()  # nothing to cancel yet
    page.locator(f"#{task}-text textarea").evaluate(
        "(el, n) => { el.value = Array.from({length: n}, (_, i) => 'sentence ' + i).join('\\n');"
        " el.dispatchEvent(new Event('input', {bubbles: true})); }", 30_000)
    page.locator(f"#{task}-run").click()
    info = page.locator(f"#{task}-info")
    expect(info).to_contain_text("/30000", timeout=LONG)
    expect(cancel).to_be_visible()
    cancel.click()
    expect(info).to_contain_text("Cancelled during inference", timeout=LONG)
    expect(info).not_to_contain_text("Cancelled. Cancelled")
    expect(cancel).to_be_hidden()  # the run is over


# ---- the video box ---------------------------------------------------------------------------------


def _icons_inside(page, selector: str) -> None:
    """Every button of the box (upload, webcam…) ends inside the box, not under its edge."""
    box = page.locator(selector)
    expect(box.locator("button").first).to_be_visible()
    bottom = box.evaluate("e => e.getBoundingClientRect().bottom")
    icons = box.locator("button svg").evaluate_all("s => s.map(e => e.getBoundingClientRect().bottom)")
    assert icons and max(icons) <= bottom, (icons, bottom)


def test_the_video_box_shows_its_icons_whole(page):
    page.set_default_timeout(LONG)
    task = "video-classification"
    open_task(page, "Vision", task, "Video classification")
    _icons_inside(page, f"#{task}-video")  # empty: upload and webcam under the drop area
    click_example(page, task)
    expect(page.locator(f"#{task}-video video")).to_be_visible()
    _icons_inside(page, f"#{task}-video")  # a clip loaded: its player, then the icons


# ---- Compare says the stand-in once -----------------------------------------------------------------


def test_compare_says_the_stand_in_once(page):
    page.set_default_timeout(LONG)
    task = "text-classification"
    open_task(page, "Text", task, "Text classification")
    page.locator(f"#{task}-text textarea").fill("A fine day.")
    page.locator(f"#{task}-compare").get_by_text("Compare: up to three configurations").click()
    page.locator(f"#{task}-compare-run").click()
    summary = page.locator(f"#{task}-compare-summary")
    expect(summary).to_contain_text("random-weight stand-in", timeout=2 * LONG)  # above the columns, once
    assert summary.inner_text().count("random-weight stand-in") == 1
    for row in "ab":
        info = page.locator(f"#{task}-compare-info-{row}")
        expect(info).to_contain_text("preprocess + inference")
        expect(info).not_to_contain_text("random-weight stand-in")


# ---- generated text --------------------------------------------------------------------------------


def test_generated_text_leaves_out_pieces_of_characters_and_says_so(page):
    """The offline stand-in's greedy answer to this prompt holds a byte token that is not a whole
    character (the raw output shows it as "�"): the text leaves it out and the info line says so."""
    page.set_default_timeout(LONG)
    task = "text-generation"
    open_task(page, "Text", task, "Text generation")
    page.locator(f"#{task}-text textarea").fill("Once upon a time")
    run(page, task)
    page.locator(f"#tab-{task}").get_by_text("Raw output (JSON)").click()
    expect(page.locator(f"#{task}-json")).to_contain_text("\ufffd")  # the model did produce one
    expect(page.locator(f"#{task}-output textarea")).not_to_have_value(re.compile("\ufffd"))
    expect(page.locator(f"#{task}-output textarea")).to_have_value(re.compile("Once upon a time"))
    expect(page.locator(f"#{task}-info")).to_contain_text("Left out of the text")


# ---- Models: Unload all asks first -----------------------------------------------------------------


def test_unload_all_asks_first(page):
    page.set_default_timeout(LONG)
    task = "text-classification"
    open_task(page, "Text", task, "Text classification")
    page.locator(f"#{task}-text textarea").fill("A fine day.")
    run(page, task)  # one pipeline loaded
    page.get_by_role("tab", name="Models", exact=True).click()
    status = page.locator("#models-status")
    expect(status).not_to_contain_text(" 0 pipeline(s) loaded")
    page.locator("#models-unload-all").click()
    question = page.locator("#models-confirm-question")
    expect(question).to_contain_text("loaded pipeline")
    expect(question).to_contain_text("?")
    page.locator("#models-unload-all-keep").click()
    expect(question).to_be_hidden()
    page.locator("#models-refresh").click()
    expect(page.locator("#models-loaded")).to_contain_text("offline:text-classification")  # kept
    page.locator("#models-unload-all").click()
    page.locator("#models-unload-all-confirm").click()
    expect(page.locator("#models-message")).to_contain_text("Unloaded")
    expect(status).to_contain_text(" 0 pipeline(s) loaded")
    expect(question).to_be_hidden()
