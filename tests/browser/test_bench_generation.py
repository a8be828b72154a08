"""End-to-end, the Benchmark tab in Chromium (the real app started once for the module): a
text-generation sweep with its own settings (runners, mean new tokens, output lengths) and its two
charts; and what a newcomer needs of the tab (issue 26): no empty plots before a run, legends that
say which colour and which line style is which, a colour per runner that stays across runs and
charts, a progress line that counts inputs with the time left, and "Export as job" as named files."""

from __future__ import annotations

import re

import pytest

from tests.browser.test_e2e import _bench_settings

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

LONG = 300_000  # ms: a few generation rows on a shared 2-core machine
#: Each runner's colour in every chart (workbench.bench.plot.RUNNER_COLOURS).
COLOURS = {"plain": "#4c78a8", "runner": "#f58518", "continuous": "#54a24b"}
GENERATION_CHARTS = ("output_tokens_per_s", "ttft_p95_ms")


def _generation_settings(page, *, n: int, sizes: str, mean: int, untick: tuple[str, ...] = (),
                         fixed: bool = False) -> None:
    """Text generation on its offline model, float32 only, one repeat; the runners, the mean of the
    new tokens and the output lengths as given."""
    page.get_by_role("tab", name="Benchmark", exact=True).click()
    generation = page.locator("#bench-generation")
    expect(generation).to_be_hidden()  # the default task does not generate
    task_box = page.locator("#bench-task input")
    task_box.click()
    task_box.fill("text-generation")
    page.get_by_role("option", name="text-generation", exact=True).click()
    expect(page.locator("#bench-model input")).to_have_value(re.compile("^offline:text-generation"), timeout=30_000)
    expect(generation).to_be_visible()
    bf16 = page.locator("#bench-dtypes").get_by_label("bfloat16")
    if bf16.is_checked():
        bf16.uncheck()
    for elem, value in (("#bench-n", n), ("#bench-repeats", 1)):
        box = page.locator(f"{elem} input[type=number]")
        box.fill(str(value))
        box.press("Enter")
    page.locator("#bench-sizes textarea, #bench-sizes input").first.fill(sizes)
    for runner in untick:
        page.locator("#bench-runners").get_by_label(runner, exact=True).uncheck()
    mean_box = page.locator("#bench-max-new-tokens input")
    mean_box.fill(str(mean))
    mean_box.press("Enter")
    if fixed:
        page.locator("#bench-output-lengths").get_by_label("fixed").check()


def _legends(page, chart: str) -> dict[str, dict[str, str]]:
    """The legends of a chart as drawn (SVG): title -> {label: its symbol's stroke colour}, and
    "lines" -> the stroke colours of the drawn lines."""
    svg = page.locator(f"#bench-plot-{chart} svg.marks").first
    expect(svg).to_be_visible(timeout=60_000)
    return svg.evaluate("""svg => {
        const out = {};
        for (const g of svg.querySelectorAll('.role-legend')) {
            const title = [...g.querySelectorAll('.role-legend-title text')].map(t => t.textContent).join(' ');
            const labels = [...g.querySelectorAll('.role-legend-label text')].map(t => t.textContent);
            const strokes = [...g.querySelectorAll('.role-legend-symbol path')].map(p => p.getAttribute('stroke'));
            out[title] = Object.fromEntries(labels.map((l, i) => [l, (strokes[i] || '').toLowerCase()]));
        }
        out.lines = Object.fromEntries([...svg.querySelectorAll('.mark-line.role-mark path')]
            .map(p => [(p.getAttribute('stroke') || '').toLowerCase(), true]));
        return out;
    }""")


def _table_rows(page) -> list[dict[str, str]]:
    """The results table as header -> cell text, one dict per row (Gradio's dataframe draws its
    header as a table and its rows as a virtual grid)."""
    table = page.locator("#bench-table")
    headers = [h.strip() for h in table.locator("table.header-table thead th").all_inner_texts()]
    return [dict(zip(headers, (c.strip() for c in row.locator("[role=gridcell]").all_inner_texts())))
            for row in table.locator("[role=row].virtual-row").all()]


def test_generation_sweep_draws_its_two_charts_with_legends_and_no_empty_plot_before(page):
    page.set_default_timeout(LONG)
    page.get_by_role("tab", name="Benchmark", exact=True).click()
    expect(page.locator("#bench-run")).to_be_visible()
    # before a run: no plot at all (no untitled empty boxes)
    expect(page.locator("[id^='bench-plot-']:visible")).to_have_count(0)
    _generation_settings(page, n=8, sizes="1,4", mean=4)
    page.locator("#bench-run").click()
    summary = page.locator("#bench-summary")
    expect(summary).to_contain_text("Best:", timeout=LONG)
    expect(summary).to_contain_text("output tokens/s")
    expect(summary).to_contain_text("TTFT p95")
    expect(page.locator("#bench-status")).to_contain_text("Done in")
    rows = _table_rows(page)
    assert sorted((r["runner"], r["batch_size"]) for r in rows) == sorted(
        (runner, size) for runner in COLOURS for size in ("1", "4")), rows
    # the generation charts, not the item charts (items/s, padding…: empty for generation rows)
    shown = page.locator("[id^='bench-plot-']:visible")
    expect(shown).to_have_count(2)
    assert sorted(shown.evaluate_all("els => els.map(e => e.id)")) == sorted(
        f"bench-plot-{c}" for c in GENERATION_CHARTS)
    for chart in GENERATION_CHARTS:
        legends = _legends(page, chart)
        assert legends["runner"] == COLOURS, legends  # every runner in its colour, in both charts
        assert legends["dtype · device"] == {"float32 · cpu": legends["dtype · device"]["float32 · cpu"]}, legends
        assert set(legends["lines"]) == set(COLOURS.values()), legends


def test_the_runners_and_output_lengths_chosen_are_what_runs(page):
    """Plain unticked, a fixed mean of 3 new tokens: the table holds only the runner and continuous
    batching, every row generated 8 × 3 tokens, and each runner keeps its colour from the run with
    all three."""
    page.set_default_timeout(LONG)
    _generation_settings(page, n=8, sizes="2", mean=3, untick=("plain",), fixed=True)
    page.locator("#bench-run").click()
    expect(page.locator("#bench-status")).to_contain_text("Done in", timeout=LONG)
    summary = page.locator("#bench-summary")
    expect(summary).to_contain_text("mean 3.0 (fixed, asked mean 3")
    rows = _table_rows(page)
    assert sorted(r["runner"] for r in rows) == ["continuous", "runner"], rows
    assert {r["output_tokens"] for r in rows} == {"24"}, rows
    for chart in GENERATION_CHARTS:
        legends = _legends(page, chart)
        assert legends["runner"] == {k: COLOURS[k] for k in ("runner", "continuous")}, legends


def test_progress_counts_inputs_and_says_the_time_left(page):
    page.set_default_timeout(LONG)
    _bench_settings(page, task="text-classification", n=512, sizes="1,2,4,8", repeats=3)
    page.locator("#bench-run").click()
    status = page.locator("#bench-status")
    expect(status).to_contain_text(re.compile(r"\d+ / 512 inputs · \d+% · \d+ s, about .+ left"), timeout=2 * LONG)
    page.locator("#bench-cancel").click()
    expect(status).to_contain_text("Cancelled", timeout=LONG)


def test_export_as_job_downloads_job_json_and_a_named_script(page, tmp_path):
    """The job file downloads as job.json, the command as run-job.sh (Gradio's own download of a
    code box would save file.sh: the box offers copy only), and the script runs the job."""
    import os
    import subprocess
    import sys

    import pandas as pd

    from tests.browser.conftest import ROOT

    page.set_default_timeout(LONG)
    _bench_settings(page, task="text-classification", n=8, sizes="2", repeats=1)
    page.locator("#bench-run").click()
    expect(page.locator("#bench-status")).to_contain_text("Done in", timeout=LONG)
    page.locator("#bench-job").get_by_text("Export as job").click()
    command = page.locator("#bench-job-command")
    expect(command).to_contain_text("--config job.json", timeout=30_000)
    expect(command.locator("a[download]")).to_have_count(0)
    names = {}
    for elem in ("#bench-job-file", "#bench-job-script"):
        link = page.locator(f"{elem} a").first
        expect(link).to_be_visible()
        with page.expect_download() as download:
            link.click()
        path = tmp_path / download.value.suggested_filename
        download.value.save_as(path)
        names[elem] = path
    assert [p.name for p in names.values()] == ["job.json", "run-job.sh"]
    pd.DataFrame({"text": ["a fine day", "rain again"]}).to_csv(data := tmp_path / "in.csv", index=False)
    done = subprocess.run(["sh", str(names["#bench-job-script"]), str(data), str(out := tmp_path / "out.parquet")],
                          cwd=ROOT, env={**os.environ, "PYTHON": sys.executable}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert pd.read_parquet(out)["id"].tolist() == [0, 1]
