"""End-to-end: a text-generation sweep in the Benchmark tab (Chromium, the real app started once for
the module): plain, runner and continuous batching rows, the recommendation in words, and the two
generation charts (output tokens/s and TTFT p95 against requests in flight) drawn."""

from __future__ import annotations

import re

import pytest

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

LONG = 300_000  # ms: three runners × two sizes of generation on a shared 2-core machine


def test_generation_sweep_shows_both_generation_plots(page):
    page.get_by_role("tab", name="Benchmark", exact=True).click()
    task_box = page.locator("#bench-task input")
    task_box.click()
    task_box.fill("text-generation")
    page.get_by_role("option", name="text-generation", exact=True).click()
    expect(page.locator("#bench-model input")).to_have_value(re.compile("^offline:text-generation"), timeout=30_000)
    bf16 = page.locator("#bench-dtypes").get_by_label("bfloat16")
    if bf16.is_checked():
        bf16.uncheck()
    for elem, value in (("#bench-n", 8), ("#bench-repeats", 1)):
        box = page.locator(f"{elem} input[type=number]")
        box.fill(str(value))
        box.press("Enter")
    page.locator("#bench-sizes textarea, #bench-sizes input").first.fill("1,4")
    # the generation charts stay hidden until a generation result is shown
    expect(page.locator("#bench-plot-output_tokens_per_s")).to_be_hidden()
    page.locator("#bench-run").click()
    summary = page.locator("#bench-summary")
    expect(summary).to_contain_text("Best:", timeout=LONG)
    expect(summary).to_contain_text("output tokens/s")
    expect(summary).to_contain_text("TTFT p95")
    expect(page.locator("#bench-status")).to_contain_text("Done in")
    cells = page.locator("#bench-table").inner_text().split()
    assert cells.count("continuous") == 2 and cells.count("plain") == 2, cells
    for col in ("output_tokens_per_s", "ttft_p95_ms"):
        chart = page.locator(f"#bench-plot-{col} [data-testid='altair']")
        expect(chart.locator("canvas, svg.marks").first).to_be_visible()
