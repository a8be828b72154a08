"""End-to-end: the real app in Debian's Chromium (Playwright), one app start for the module.

Each test drives the UI as a user would: open a group tab then a task sub-tab, fill inputs,
click Run, and wait for the output and the timings line (``{task}-info``).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from workbench.samples import sample_file, sample_image

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

ROOT = Path(__file__).resolve().parents[2]
LONG = 120_000  # ms: the first run of a task builds its tiny offline model on a 2-core machine


def open_task(page, group: str, task: str, title: str) -> None:
    """Click the group tab, then the task's sub-tab (behind "More tabs" if it overflows)."""
    page.get_by_role("tab", name=group, exact=True).click()
    sub = page.locator(f"#tab-{task}-button")
    if not sub.is_visible():
        page.locator("button[aria-label='More tabs']").first.click()
        page.get_by_role("button", name=title, exact=True).click()
    else:
        sub.click()
    expect(page.locator(f"#{task}-run")).to_be_visible()


def run_and_wait(page, task: str) -> None:
    page.locator(f"#{task}-run").click()
    expect(page.locator(f"#{task}-info")).to_contain_text("preprocess + inference", timeout=LONG)


def test_text_classification(page):
    open_task(page, "Text", "text-classification", "Text classification")
    page.locator("#text-classification-text textarea").fill("I love this tiny model.")
    run_and_wait(page, "text-classification")
    out = page.locator("#text-classification-output")
    expect(out).to_contain_text("%")  # Label shows each class with its confidence


def test_image_upload_and_url(page, static_server):
    base, folder = static_server
    sample_image(64).save(folder / "cat.png")
    open_task(page, "Vision", "image-classification", "Image classification")
    page.locator("#image-classification-image input[type=file]").set_input_files(sample_file("image.png"))
    run_and_wait(page, "image-classification")
    out = page.locator("#image-classification-output")
    expect(out).to_contain_text("%")
    # now by URL, in a fresh page so the upload is gone and the result is new
    page.reload()
    open_task(page, "Vision", "image-classification", "Image classification")
    out = page.locator("#image-classification-output")
    page.locator("#image-classification-url input, #image-classification-url textarea").first.fill(f"{base}/cat.png")
    run_and_wait(page, "image-classification")
    expect(out).to_contain_text("%")


def test_microphone_speech_recognition(page):
    """Record → Stop → Run at once: Run is disabled while recording and until the recording is the
    input (it is encoded and uploaded after Stop), so the run always has the audio."""
    open_task(page, "Audio", "automatic-speech-recognition", "Speech recognition")
    audio = page.locator("#automatic-speech-recognition-audio")
    run = page.locator("#automatic-speech-recognition-run")
    audio.get_by_role("button", name="Record", exact=True).click()
    expect(run).to_be_disabled(timeout=60_000)  # a server round trip: slow while the app warms up
    page.wait_for_timeout(2500)
    audio.get_by_role("button", name="Stop", exact=True).click()
    expect(run).to_be_enabled(timeout=60_000)  # the recording is uploaded, then released
    run_and_wait(page, "automatic-speech-recognition")  # no wait between Stop's release and the click
    info = page.locator("#automatic-speech-recognition-info")
    assert "No audio" not in info.inner_text()
    expect(audio.locator("audio, .waveform-container, [data-testid='waveform-controls']").first).to_be_attached()
    # the offline Whisper has random weights: it may decode nothing; the text box is there either way
    expect(page.locator("#automatic-speech-recognition-output textarea")).to_be_visible()


def test_document_qa(page):
    open_task(page, "Documents & multimodal", "document-question-answering", "Document QA")
    page.locator("#document-question-answering-document input[type=file]").set_input_files(
        sample_file("document.png"))
    page.locator("#document-question-answering-question input, "
                 "#document-question-answering-question textarea").first.fill("What is the total?")
    run_and_wait(page, "document-question-answering")
    expect(page.locator("#document-question-answering-output")).not_to_be_empty()


def test_text_generation_streams_and_stops(page):
    open_task(page, "Text", "text-generation", "Text generation")
    # not "Once upon a time" alone: the offline GPT-2 answers it with byte tokens that are no whole
    # characters, which the text box leaves out, so its text would not grow
    page.locator("#text-generation-text textarea").fill("Once upon a time, in a small house by the river,")
    mnt = page.locator("#text-generation-param-max_new_tokens input[type=number]")
    mnt.fill("120")  # the offline GPT-2 has 128 positions
    mnt.press("Enter")
    info = page.locator("#text-generation-info")
    # the tiny model writes its 120 tokens in well under a second, so Stop can lose the race with the
    # end of the stream: try a few times and require that one attempt is marked stopped
    infos = []
    for _ in range(4):
        seen = _stream_and_stop(page)
        assert len(seen) >= 2, f"expected streamed updates, saw {seen!r}"
        assert seen[-1].startswith("Once upon")  # the prompt is included and the text grows from it
        expect(info).to_contain_text("tokens/s", timeout=30_000)
        expect(info).not_to_contain_text("generating…", timeout=30_000)  # the stream has ended
        infos.append(info.inner_text())
        if "stopped" in infos[-1]:
            break
    assert "stopped" in infos[-1], infos


def _stream_and_stop(page) -> list[str]:
    """Click Run, record every distinct value of the output box from inside the page (no polling
    round-trips), press Stop the moment the second update lands; return the values seen."""
    page.evaluate("""() => {
        window.__seen = [];
        const before = (document.querySelector('#text-generation-output textarea') || {}).value || '';
        window.__poll = setInterval(() => {
            const box = document.querySelector('#text-generation-output textarea');
            const v = box ? box.value : '';
            if (v && v !== before && v !== window.__seen[window.__seen.length - 1]) {
                window.__seen.push(v);
                if (window.__seen.length === 2) document.querySelector('#text-generation-stop').click();
            }
        }, 2);
    }""")
    page.locator("#text-generation-run").click()
    page.wait_for_function("() => window.__seen.length >= 2", timeout=LONG)
    page.wait_for_timeout(1000)
    return page.evaluate("() => { clearInterval(window.__poll); return window.__seen; }")


def test_bad_url_shows_toast_then_recovers(page, static_server):
    base, folder = static_server
    (folder / "page.html").write_text("<html><body>not an image</body></html>")
    sample_image(64).save(folder / "ok.png")
    open_task(page, "Vision", "image-classification", "Image classification")
    url = page.locator("#image-classification-url input, #image-classification-url textarea").first
    url.fill(f"{base}/page.html")
    page.locator("#image-classification-run").click()
    toast = page.locator(".toast-body").first
    expect(toast).to_be_visible(timeout=LONG)
    assert toast.inner_text().strip()
    url.fill(f"{base}/ok.png")
    run_and_wait(page, "image-classification")
    expect(page.locator("#image-classification-output")).to_contain_text("%")




# ---- the Benchmark tab ----------------------------------------------------------------------------


def _bench_settings(page, *, task: str, n: int, sizes: str, repeats: int) -> None:
    page.get_by_role("tab", name="Benchmark", exact=True).click()
    task_box = page.locator("#bench-task input")
    task_box.click()
    task_box.fill(task)
    page.get_by_role("option", name=task, exact=True).click()
    expect(page.locator("#bench-model input")).to_have_value(re.compile(f"^offline:{task} "), timeout=30_000)
    bf16 = page.locator("#bench-dtypes").get_by_label("bfloat16")
    if bf16.is_checked():
        bf16.uncheck()
    for elem, value in (("#bench-n", n), ("#bench-repeats", repeats)):
        box = page.locator(f"{elem} input[type=number]")
        box.fill(str(value))
        box.press("Enter")
    sizes_box = page.locator("#bench-sizes textarea, #bench-sizes input").first
    sizes_box.fill(sizes)


def test_benchmark_runs_plots_and_exports(page, tmp_path):
    _bench_settings(page, task="text-classification", n=16, sizes="1,4", repeats=1)
    page.locator("#bench-run").click()
    summary = page.locator("#bench-summary")
    expect(summary).to_contain_text("Best:", timeout=LONG)
    expect(summary).to_contain_text("plain batching's best")
    # the table: plain and runner at both batch sizes
    table = page.locator("#bench-table")
    expect(table).to_contain_text("runner")
    cells = [line.strip() for line in table.inner_text().split()]
    # the header has a "runner" column too
    assert cells.count("plain") == 2 and cells.count("runner") == 1 + 2 and cells.count("float32") == 4, cells
    expect(page.locator("#bench-status")).to_contain_text("Done in")
    # the four charts (Vega-Lite through gr.Plot) drew something
    for col in ("items_per_s", "latency_p50_ms", "peak_mem_mb", "padding_share"):
        chart = page.locator(f"#bench-plot-{col} [data-testid='altair']")
        expect(chart.locator("canvas, svg.marks").first).to_be_visible()
    # downloads: the CSV and the JSON with the environment
    links = page.locator("#bench-files a")
    expect(links).to_have_count(2)
    hrefs = links.evaluate_all("links => links.map(a => a.href)")
    assert sorted(h.rsplit(".", 1)[-1] for h in hrefs) == ["csv", "json"], hrefs
    with page.expect_download() as download:
        page.locator("#bench-files a[href$='.csv']").click()
    csv = download.value.path().read_text()
    assert csv.splitlines()[0].startswith("model,runner,batch_size,device,dtype,status,items_per_s")
    assert len(csv.strip().splitlines()) == 5
    _export_as_job_runs_the_fastest_row(page, csv, tmp_path)


def test_benchmark_weighs_quality_of_two_models_and_int8_on_the_labelled_sample(page):
    """Two models × float32 and int8 on the shipped sentiment sample: every row scored, the
    quality-against-throughput scatter drawn, the pick said in words."""
    _bench_settings(page, task="text-classification", n=16, sizes="1,4", repeats=1)
    page.locator("#bench-dtypes").get_by_label("int8").check()
    more = page.locator("#bench-models input")
    more.click()
    more.fill("offline:zero-shot-classification")
    more.press("Enter")
    expect(page.locator("#bench-models")).to_contain_text("offline:zero-shot-classification")
    page.locator("#bench-data").get_by_text("Your own data").click()
    page.locator("#bench-sample").get_by_label("Use the shipped labelled sample").check()
    page.locator("#bench-run").click()
    summary = page.locator("#bench-summary")
    expect(summary).to_contain_text("Fastest within 1 point of the best accuracy", timeout=LONG)
    expect(summary).to_contain_text("name labels this model does not have")
    chart = page.locator("#bench-plot-quality [data-testid='altair']")
    expect(chart.locator("canvas, svg.marks").first).to_be_visible()
    table = page.locator("#bench-table")
    expect(table).to_contain_text("accuracy")
    cells = table.inner_text()
    assert "int8" in cells and "offline:zero-shot-classification" in cells


def _export_as_job_runs_the_fastest_row(page, csv: str, tmp_path) -> None:
    """"Export as job": the command shown and the job file downloaded carry the fastest row of the
    table, and the file runs as it is (``python -m workbench run --config job.json``)."""
    import io
    import json
    import subprocess
    import sys

    import pandas as pd

    rows = pd.read_csv(io.StringIO(csv))
    rows = rows[rows["status"] == "ok"]
    fastest = {(int(r.batch_size), r.dtype) for r in rows.itertuples() if r.items_per_s == rows["items_per_s"].max()}
    page.locator("#bench-job").get_by_text("Export as job").click()
    command = page.locator("#bench-job-command")
    expect(command).to_contain_text("python -m workbench run", timeout=30_000)
    expect(command).to_contain_text("--config job.json")
    link = page.locator("#bench-job-file a")
    expect(link).to_have_count(1)
    with page.expect_download() as download:
        link.click()
    job = json.loads(download.value.path().read_text())
    assert job["task"] == "text-classification" and (job["batch_size"], job["dtype"]) in fastest, (job, fastest)
    (config := tmp_path / "job.json").write_text(json.dumps(job))
    pd.DataFrame({"text": ["a fine day", "", "rain again"]}).to_csv(data := tmp_path / "in.csv", index=False)
    done = subprocess.run([sys.executable, "-m", "workbench", "run", "--config", str(config), "--input", str(data),
                           "--output", str(out := tmp_path / "out.parquet"), "--quiet"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = pd.read_parquet(out)
    assert result["id"].tolist() == [0, 1, 2] and result["error"].notna().tolist() == [False, True, False]


def test_benchmark_cancel_is_prompt_keeps_results_and_shows_no_error(page):
    """Cancel within the first row of a long sweep: within seconds the status line says "Cancelled",
    no "Error" badge or toast appears, the earlier run's results stay on the page, and the next run
    works."""
    summary, status = page.locator("#bench-summary"), page.locator("#bench-status")
    _bench_settings(page, task="text-classification", n=8, sizes="2", repeats=1)
    page.locator("#bench-run").click()
    expect(status).to_contain_text("Done in", timeout=2 * LONG)
    expect(summary).to_contain_text("Best:")
    _bench_settings(page, task="text-classification", n=2048, sizes="1,2,4,8", repeats=5)
    page.locator("#bench-run").click()
    # inside the first row (2048 inputs one at a time): Cancel must not wait for its end
    expect(status).to_contain_text("plain, batch 1", timeout=2 * LONG)  # the progress, on the status line
    started = time.monotonic()
    page.locator("#bench-cancel").click()
    expect(status).to_contain_text("Cancelled", timeout=30_000)
    took = time.monotonic() - started
    assert took < 10, f"Cancel took {took:.1f} s"
    expect(summary).to_contain_text("Best:")  # the earlier results stay
    expect(page.locator("#bench-table")).to_contain_text("runner")
    expect(page.locator(".toast-body")).to_have_count(0)
    expect(page.get_by_text("Error", exact=True)).to_have_count(0)
    # the queue is free again: a small run finishes
    _bench_settings(page, task="text-classification", n=8, sizes="2", repeats=1)
    page.locator("#bench-run").click()
    expect(status).to_contain_text("Done in", timeout=2 * LONG)
    expect(summary).to_contain_text("Best:")
