"""A ``demo_for`` page in Chromium: an image-classification pipeline built with
``transformers.pipeline`` outside the workbench, served by ``demo_for(pipe)`` in this process. The
page is that one tab (no groups, no Models or Benchmark): its preset example loads, Run labels the
image with the given pipeline, and nothing says "Error"."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

TASK = "image-classification"
LONG = 180_000  # ms: a busy 2-core machine


@pytest.fixture(scope="module")
def demo_url():
    from transformers import pipeline

    from tests.app_server import serving
    from workbench import demo_for
    from workbench.offline import offline_model_path

    pipe = pipeline(TASK, model=offline_model_path(TASK), device="cpu")
    with serving(demo_for(pipe)) as url:
        yield url, pipe.model.name_or_path


def test_a_demo_for_page_runs_its_example_with_the_given_pipeline(browser, demo_url):
    url, folder = demo_url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(url)
        expect(page.locator(f"#{TASK}-description")).to_contain_text("Image classification")
        assert not page.get_by_role("tab", name="Benchmark").count()  # the tab alone, not the workbench
        expect(page.locator(f"#{TASK}-model input")).to_have_value(folder)
        examples = page.locator(".gallery-item, [data-testid='examples'] button, tr.tr-body")
        with page.expect_response(lambda r: "/run/predict" in r.url and r.request.method == "POST"):
            examples.first.click()
        page.wait_for_timeout(300)  # the example's values are applied on the page's next tick
        page.locator(f"#{TASK}-run").click()
        info = page.locator(f"#{TASK}-info")
        expect(info).to_contain_text("preprocess + inference", timeout=LONG)
        assert "already loaded" in info.inner_text() and "Error" not in info.inner_text()
        output = page.locator(f"#{TASK}-output")
        expect(output).to_be_visible()
        assert not output.locator(".error").count()
        expect(output).to_contain_text("%")  # labels with their scores
    finally:
        context.close()
