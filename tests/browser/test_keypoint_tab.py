"""The keypoint-matching tab in Chromium: two images uploaded (one input each), Run, and the pair
drawn side by side with its matches, the table of matches best first, and the code view's
``pipe([image, image_2])``; then the tab's first example (the sample and the sample turned 12°).
"""

from __future__ import annotations

import pytest

from workbench.samples import sample_file

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

LONG = 180_000  # ms: the first run builds the tiny offline SuperGlue on a busy 2-core machine
TASK = "keypoint-matching"


def _open(page) -> None:
    page.get_by_role("tab", name="Vision", exact=True).click()
    button = page.locator(f"#tab-{TASK}-button")
    if not button.is_visible():
        page.locator("button[aria-label='More tabs']").first.click()
        page.get_by_role("button", name="Keypoint matching", exact=True).click()
    else:
        button.click()
    expect(page.locator(f"#{TASK}-run")).to_be_visible()


def _run(page) -> None:
    page.locator(f"#{TASK}-run").click()
    info = page.locator(f"#{TASK}-info")
    expect(info).to_contain_text("preprocess + inference", timeout=LONG)
    assert "Error" not in info.inner_text()


def _rows(text: str) -> list[list[float]]:
    """The table's rows from its text: after the header's "score", six numbers a row."""
    cells = [float(c) for c in text.split("score", 1)[1].split()]
    return [cells[i:i + 6] for i in range(0, len(cells) - len(cells) % 6, 6)]


def test_two_uploads_give_the_matches_drawn_and_listed(page):
    _open(page)
    expect(page.locator(f"#{TASK}-image")).to_contain_text("First image")
    expect(page.locator(f"#{TASK}-image_2")).to_contain_text("Second image")
    page.locator(f"#{TASK}-image input[type=file]").set_input_files(sample_file("image.png"))
    page.locator(f"#{TASK}-image_2 input[type=file]").set_input_files(sample_file("image-turned.png"))
    expect(page.locator(f"#{TASK}-image_2 img")).to_be_visible()
    _run(page)
    drawn = page.locator(f"#{TASK}-output img")
    expect(drawn).to_be_visible()
    size = drawn.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert size[0] > size[1] > 0, f"the two images side by side: {size}"
    table = page.locator(f"#{TASK}-matches")
    expect(table).to_contain_text("score")
    rows = _rows(table.inner_text())
    assert rows and rows[0][0] == 1, rows
    scores = [r[-1] for r in rows]
    assert scores == sorted(scores, reverse=True) and all(0 <= s <= 1 for s in scores)
    page.locator(f"#tab-{TASK}").get_by_text("Code: the same call in Python").click()
    expect(page.locator(f"#{TASK}-code")).to_contain_text("pipe([")  # the code view passes the pair


def test_first_example_runs(page):
    _open(page)
    examples = page.locator(f"#tab-{TASK}").locator(".gallery-item, [data-testid='examples'] button, "
                                                   "tr.tr-body")
    expect(examples.first).to_be_visible()
    with page.expect_response(lambda r: "/run/predict" in r.url and r.request.method == "POST"):
        examples.first.click()
    page.wait_for_timeout(300)
    expect(page.locator(f"#{TASK}-image_2 img")).to_be_visible()
    _run(page)
    expect(page.locator(f"#{TASK}-output img")).to_be_visible()
    assert not page.locator(f"#{TASK}-output .error").count()
