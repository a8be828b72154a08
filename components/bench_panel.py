"""The Benchmark tab: plain pipeline batching against the workbench's batch runner.

``render_benchmark_tab(manager)`` builds the tab's contents inside the caller's ``gr.Tab``: pick
task, model, devices, dtypes, batch sizes and workload (or upload your own data) — for text
generation also the runners and the requests' output lengths —, Run with a progress line that
counts the inputs and says the time left (Cancel stops the run within a layer of its forward pass
and keeps the rows measured so far; cancelled before any row, the earlier results stay), then see
plots (throughput, latency, peak memory, padding share against batch size on a log2 axis; for text
generation output tokens/s and TTFT p95 against requests in flight: ``components.bench_plots``;
none before a run), the table, a recommendation, and CSV/JSON downloads; "Export as job" gives the
fastest configuration as ``job.json``, the command that runs it over a whole dataset
(``workbench.jobs``) and that command as ``run-job.sh``. Runs share one queue
(``concurrency_id="benchmark"``, one at a time) so they never hold up the task tabs. All the work
is in ``workbench.bench``.
"""

from __future__ import annotations

import tempfile
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

import gradio as gr

from components.bench_request import KEYS, BenchRequest
from components.events import PROGRESS, client_id, gr_error, named_signature, session_id
from components.runs import Owner, Workers, Working, drive
from components.api_docs import BENCHMARK_API, INTEGER, document, document_benchmark
from components.bench_plots import bench_chart, quality_chart
from components.lazy import interactive, when_opened
from components.pool import ComponentPool
from components.bench_request import OUTPUT_LENGTHS
from components.model_picker import model_choices
from workbench.bench.config import GENERATION_RUNNERS, generation_bench
from workbench.bench.generation import DEFAULT_MEAN_NEW_TOKENS
from workbench.bench.quality import sample_for
from workbench.bench.report import SHOWN_COLUMNS
from workbench.errors import WorkbenchError
from workbench.hosting import HostingPolicy
from workbench.offline import OFFLINE_PREFIX
from workbench.progress import RunControl
from workbench.tasks import DEFAULT_BENCH_TASK, TASKS, get_task
from workbench.workloads import workloads_for
from workbench.zerogpu import gpu

if TYPE_CHECKING:
    from workbench.manager import PipelineManager

CONCURRENCY_ID = "benchmark"
BENCH_GPU_SECONDS = 300  # the most a benchmark may hold a ZeroGPU Space's GPU
PLOTS = (("items_per_s", "Throughput (items/s)"), ("latency_p50_ms", "Forward latency p50 (ms)"),
         ("peak_mem_mb", "Peak memory (MB)"), ("padding_share", "Padding share"))
#: Text generation's own charts (shown instead of ``PLOTS`` for generation rows): against requests in flight.
GENERATION_PLOTS = (("output_tokens_per_s", "Output tokens/s"), ("ttft_p95_ms", "Time to first token p95 (ms)"))
QUALITY_PLOT = "Quality against throughput (best batch size per model and precision)"
#: Errors of a Run that the user can fix: ours, and the sweep's refusals of a setting (batch sizes,
#: workload, file or column) with messages that name the fix.
USER_ERRORS = (WorkbenchError, ValueError, TypeError, FileNotFoundError, KeyError)


def batchable_tasks() -> list[str]:
    return [name for name, spec in TASKS.items() if spec.batchable]


@dataclass
class BenchmarkTab:
    """The widgets, for tests and for the app to wire more events if it wants."""

    task: gr.Dropdown
    model: gr.Dropdown
    workload: gr.Dropdown
    run: gr.Button | None  # None: an endpoint's hidden widgets (a lazy tab's)
    cancel: gr.Button | None
    status: gr.Markdown
    summary: gr.Markdown
    plots: list[gr.Plot]
    table: gr.Dataframe
    files: gr.File
    generation_plots: list[gr.Plot] = field(default_factory=list)
    runners: gr.CheckboxGroup | None = None
    max_new_tokens: gr.Number | None = None
    output_lengths: gr.Radio | None = None
    inputs: list[gr.components.Component] = field(default_factory=list)  # the /benchmark parameters (KEYS order)
    results: list[gr.components.Component] = field(default_factory=list)  # summary, quality plot, plots, table, files
    job_outputs: list[gr.components.Component] = field(default_factory=list)  # Export as job: command, file, script
    models: gr.Dropdown | None = None
    sample: gr.Checkbox | None = None
    generation_row: gr.Row | None = None


def check_bench_bounds(policy: HostingPolicy, n: int, sizes: list[int], *, repeats: int = 1, configs: int = 1) -> None:
    """Refuse a benchmark larger than the host allows (``policy.max_bench_*``; no bound locally).

    >>> check_bench_bounds(HostingPolicy.local(), 100_000, [1, 1024])
    >>> check_bench_bounds(HostingPolicy.public(), 100_000, [1])
    Traceback (most recent call last):
    ...
    workbench.errors.WorkbenchError: 100000 inputs is more than this shared host runs in one benchmark (at most 256); ask for fewer, or run the workbench on your own machine for long benchmarks.
    """
    where = "or run the workbench on your own machine for long benchmarks."
    if policy.max_bench_items and n > policy.max_bench_items:
        raise WorkbenchError(f"{n} inputs is more than this shared host runs in one benchmark "
                             f"(at most {policy.max_bench_items}); ask for fewer, {where}")
    if policy.max_bench_batch_sizes and len(sizes) > policy.max_bench_batch_sizes:
        raise WorkbenchError(f"{len(sizes)} batch sizes is more than this shared host runs in one benchmark "
                             f"(at most {policy.max_bench_batch_sizes}); list fewer, {where}")
    if policy.max_bench_repeats and repeats > policy.max_bench_repeats:
        raise WorkbenchError(f"{repeats} repeats is more than this shared host runs (at most "
                             f"{policy.max_bench_repeats}); ask for fewer, {where}")
    if policy.max_bench_configs and configs > policy.max_bench_configs:
        raise WorkbenchError(f"{configs} device × dtype combinations is more than this shared host runs in one "
                             f"benchmark (at most {policy.max_bench_configs}); pick fewer, {where}")
    if policy.max_bench_batch_size and max(sizes) > policy.max_bench_batch_size:
        raise WorkbenchError(f"Batch size {max(sizes)} is larger than this shared host allows "
                             f"(at most {policy.max_bench_batch_size}); choose smaller ones, {where}")


def render_benchmark_tab(manager: PipelineManager, workers: Workers | None = None, *,
                         pool: ComponentPool | None = None, opened_by: list[gr.Tab] | None = None) -> BenchmarkTab:
    """Build the Benchmark tab's contents in the current Blocks context (bounded by
    ``manager.policy``: on a public host, fewer inputs and batch sizes; see ``check_bench_bounds``).

    With ``pool`` and ``opened_by`` (the tab), the widgets are built for a session the first time it
    opens the tab (``components.lazy.when_opened``); the ``/benchmark`` and ``/export_job`` endpoints
    are there from the start on the pool's hidden twins, the same API. Returns the endpoint's widgets
    (hidden twins, no buttons, when lazy)."""
    gr.Markdown(
        "Compare **plain pipeline batching** (`pipe(items, batch_size=N)`) with the workbench's **batch runner** "
        "(length-sorted batches cut where they cost least, a token budget, out-of-memory back-off, and oneDNN's linear "
        "kernels on CPUs where they beat torch's) on the same inputs. Each row is the median of the repeats after a "
        "warm-up; peak memory comes from one untimed run per row. Other work on this machine makes timings noisy. "
        "For **text generation** the rows are what LLM users measure — output tokens/s, time to first token, "
        "inter-token and end-to-end latency — with transformers' **continuous batching** as a third runner.",
        elem_id="bench-intro")
    if pool is None or opened_by is None:
        tab = _build_widgets(manager)
        _wire(tab, _Benchmarks(manager, workers, tab), endpoint=True)
        return tab
    with pool.detached():
        built = _build_widgets(manager)
    api = _twins(built, pool)
    handler = _Benchmarks(manager, workers, api)
    _endpoints(api, handler)

    def build() -> None:
        tab = _build_widgets(manager)
        interactive(tab.inputs, [tab.status, *tab.results, *tab.generation_plots, *tab.job_outputs])
        _wire(tab, handler, endpoint=False)

    when_opened(opened_by, build)
    return api


def _build_widgets(manager: PipelineManager) -> BenchmarkTab:
    """The tab's widgets (ids ``bench-…``), documented for the API, not wired."""
    from workbench.devices import available_devices, available_dtypes

    devices = [d for d in available_devices() if d != "auto"]
    dtypes = list(dict.fromkeys(t for d in devices for t in available_dtypes(d) if t != "auto"))
    spec = get_task(DEFAULT_BENCH_TASK)
    with gr.Row():
        task = gr.Dropdown(batchable_tasks(), value=spec.name, label="Task", elem_id="bench-task")
        model = gr.Dropdown(model_choices(spec), value=f"{OFFLINE_PREFIX}{spec.name}", allow_custom_value=True,
                            filterable=True, label="Model", scale=3,
                            info="a preset, any Hub id" + (", or a local folder" if manager.policy.allow_local_paths
                                                           else ""),
                            elem_id="bench-model")
        workload = gr.Dropdown(workloads_for(spec.name), value=workloads_for(spec.name)[0], label="Workload",
                               info="natural: long-tailed lengths; long-tail: 1 in 64 is 100× longer",
                               elem_id="bench-workload")
    with gr.Row():
        device = gr.CheckboxGroup(devices, value=[devices[-1] if len(devices) > 1 else devices[0]], label="Devices",
                                  elem_id="bench-devices")
        dtype = gr.CheckboxGroup(dtypes, value=[t for t in ("float32", "bfloat16") if t in dtypes], label="dtypes",
                                 info="two dtypes: the summary says which is faster and how close", elem_id="bench-dtypes")
        sizes = gr.Textbox("1,8,32,64", label="Batch sizes", info="comma-separated (text generation: requests in "
                           "flight)", elem_id="bench-sizes")
    with gr.Row():
        n = gr.Slider(8, manager.policy.max_bench_items or 2048, value=128, step=8, label="Inputs",
                      elem_id="bench-n")
        repeats = gr.Slider(1, manager.policy.max_bench_repeats or 5, value=2, step=1, label="Repeats", info="the median is reported",
                            elem_id="bench-repeats")
        max_tokens = gr.Number(8192, label="Runner token budget", info="rows × longest row per batch; 0: none",
                               precision=0, elem_id="bench-max-tokens")
    with gr.Row(visible=generation_bench(spec), elem_id="bench-generation") as generation_row:
        runners = gr.CheckboxGroup(list(GENERATION_RUNNERS), value=list(GENERATION_RUNNERS), label="Runners",
                                   info="plain: pipe(prompts, batch_size=N) · runner: length-sorted batches · "
                                        "continuous: transformers' continuous batching, N requests in flight",
                                   elem_id="bench-runners")
        max_new_tokens = gr.Number(DEFAULT_MEAN_NEW_TOKENS, label="Mean new tokens", minimum=1, precision=0,
                                   info="the mean of the requests' max_new_tokens; EOS is ignored",
                                   elem_id="bench-max-new-tokens")
        output_lengths = gr.Radio(list(OUTPUT_LENGTHS), value=OUTPUT_LENGTHS[0], label="Output lengths",
                                  info="long-tail: each request's length drawn around the mean (seeded); "
                                       "fixed: the mean for all", elem_id="bench-output-lengths")
    with gr.Row():
        models = gr.Dropdown(model_choices(spec), value=[], multiselect=True, allow_custom_value=True,
                             label="More models", info="swept after the first, each through the model cache; the "
                             "summary weighs quality against speed", elem_id="bench-models")
    with gr.Accordion("Your own data (workload: file) and references", open=False, elem_id="bench-data"):
        with gr.Row():
            upload = gr.File(file_count="multiple", label="CSV / JSONL / text file, or image / audio files",
                             elem_id="bench-upload")
            column = gr.Textbox(label="Column", placeholder="first text column", elem_id="bench-column",
                                info="with references: the input column(s), e.g. question=q,context=passage")
        with gr.Row():
            references = gr.Textbox(label="Reference column", placeholder="none: speed and agreement only",
                                    info="each input's right answer: every row is scored by the task's metric",
                                    elem_id="bench-references")
            tolerance = gr.Number(1.0, label="Quality tolerance (points)", minimum=0, elem_id="bench-tolerance",
                                  info="the pick: the fastest within this of the best quality")
            sample = gr.Checkbox(False, label="Use the shipped labelled sample", elem_id="bench-sample",
                                 visible=sample_for(spec.name) is not None,
                                 info="presets/labelled: a few written examples with references (feature "
                                 "extraction: reference column `relevant` for retrieval, else similarity pairs)")
    with gr.Row():
        run = gr.Button("Run benchmark", variant="primary", elem_id="bench-run")
        cancel = gr.Button("Cancel", variant="stop", elem_id="bench-cancel")
    # the run's progress is drawn on its own line, not over the previous run's summary and plots
    status = gr.Markdown(min_height=40, elem_id="bench-status")
    summary = gr.Markdown(elem_id="bench-summary")
    quality_plot = gr.Plot(label=QUALITY_PLOT, show_label=False, visible=False, elem_id="bench-plot-quality")
    plots = []  # hidden until there are rows to draw: no empty, untitled boxes before a run
    for row in (PLOTS[:2], PLOTS[2:]):
        with gr.Row():
            for col, title in row:
                plots.append(gr.Plot(label=title, show_label=False, visible=False, elem_id=f"bench-plot-{col}"))
    with gr.Row():  # text generation: output tokens/s and TTFT p95 against requests in flight
        generation_plots = [gr.Plot(label=title, show_label=False, visible=False, elem_id=f"bench-plot-{col}")
                            for col, title in GENERATION_PLOTS]
    table = gr.Dataframe(headers=SHOWN_COLUMNS, label="Results", interactive=False, elem_id="bench-table")
    files = gr.File(label="Downloads (CSV, JSON with the environment)", file_count="multiple", interactive=False,
                    elem_id="bench-files")
    with gr.Accordion("Export as job", open=False, elem_id="bench-job"):
        # copy only: Gradio's own download of a Code box always saves "file.sh"; run-job.sh is the named one
        job_command = gr.Code(label="Run the fastest configuration over a whole dataset (set --input and --output)",
                              language="shell", interactive=False, buttons=["copy"], elem_id="bench-job-command")
        with gr.Row():
            job_file = gr.File(label="Job file (JSON)", interactive=False, elem_id="bench-job-file")
            job_script = document(gr.File(label="Shell script", interactive=False, elem_id="bench-job-script"),
                                  "run-job.sh: the command above as a script beside job.json (`sh run-job.sh INPUT "
                                  "OUTPUT.parquet`, from the workbench's folder).")
    results = [summary, quality_plot, *plots, table, files]
    document(runners, "Text generation only: the runners to sweep — `plain` (`pipe(prompts, batch_size=N)`), "
                      "`runner` (the workbench's length-sorted batches) and `continuous` (transformers' continuous "
                      "batching, N requests in flight); as the CLI's `--runners`. Other tasks sweep plain and runner "
                      "among those given.")
    document(max_new_tokens, "Text generation only: the mean of the requests' `max_new_tokens` (EOS is ignored, so "
                             "each request generates what it asks); as the CLI's `--max-new-tokens`.", schema=INTEGER)
    document(output_lengths, "Text generation only: `long-tail` draws each request's `max_new_tokens` around the mean "
                             "(seeded lognormal, as real traffic), `fixed` gives every request the mean; as the CLI's "
                             "`--output-lengths`.")

    document_benchmark(task=task, model=model, workload=workload, devices=device, dtypes=dtype, batch_sizes=sizes,
                       n=n, repeats=repeats, max_tokens=max_tokens, upload=upload, column=column, models=models,
                       references=references, sample=sample, quality_tolerance=tolerance, quality_plot=quality_plot,
                       status=status, summary=summary, plots=plots, table=table, downloads=files,
                       job_command=job_command, job_file=job_file, generation_plots=generation_plots)
    widgets = [task, model, workload, device, dtype, sizes, n, repeats, max_tokens, upload, column, models, references,
               sample, tolerance, runners, max_new_tokens, output_lengths]
    return BenchmarkTab(task, model, workload, run, cancel, status, summary, plots, table, files, generation_plots,
                        runners, max_new_tokens, output_lengths, inputs=widgets, results=results,
                        job_outputs=[job_command, job_file, job_script], models=models, sample=sample,
                        generation_row=generation_row)


def _twins(built: BenchmarkTab, pool: ComponentPool) -> BenchmarkTab:
    """``built`` (widgets built ``pool.detached()``) with each endpoint widget replaced by its twin
    in ``pool``, and no buttons."""
    from dataclasses import replace

    twin = pool.twin
    return replace(built, run=None, cancel=None, status=twin(built.status), inputs=[twin(c) for c in built.inputs],
                   results=[twin(c) for c in built.results], files=twin(built.files),
                   generation_plots=[twin(c) for c in built.generation_plots],
                   job_outputs=[twin(c) for c in built.job_outputs])


class _Benchmarks:
    """What the tab's events call, shared by the endpoint and every session's widgets: runs (one
    stop flag per session), their failures until shown, Cancel."""

    def __init__(self, manager: PipelineManager, workers: Workers | None, tab: BenchmarkTab) -> None:
        self.manager, self.workers = manager, workers
        self.after_status = len(tab.results) + len(tab.generation_plots)  # the run's outputs after its status line
        self.stops: dict[str, threading.Event] = {}  # session -> its run's stop flag
        self.failures: dict[str, str] = {}  # session -> why its last run failed, until show_error puts it on the page

    def on_task(self, name: str) -> tuple[Any, ...]:
        s = get_task(name)
        loads = workloads_for(s.name)
        return (gr.Dropdown(choices=model_choices(s), value=f"{OFFLINE_PREFIX}{s.name}"),
                gr.Dropdown(choices=loads, value=loads[0]), gr.Dropdown(choices=model_choices(s), value=[]),
                gr.Checkbox(value=False, visible=sample_for(s.name) is not None),
                gr.Row(visible=generation_bench(s)), gr.CheckboxGroup(value=list(GENERATION_RUNNERS)))

    def run(self, request: gr.Request, progress: gr.Progress = PROGRESS, **values: Any) -> Iterator[list[Any]]:
        """The sweep in a worker thread (``components.runs.drive``): the status line while it works;
        the browser going away cancels it, and its worker counts against the limits until it stops."""
        manager, stops = self.manager, self.stops
        skipped = [gr.skip()] * self.after_status
        session = session_id(request)
        control = RunControl()
        stops[session] = control.cancel_event
        at: dict[str, Any] = {"fraction": 0.0, "what": "starting", "inputs": None, "partial": None}

        def report(fraction: float, desc: str = "") -> None:  # called as gr.Progress is, once per step
            at.update(fraction=fraction, what=desc, inputs=None)

        def on_inputs(fraction: float, done: int, total: int) -> None:  # as the step's inputs finish
            at.update(fraction=fraction, inputs=(done, total))

        def on_row(partial: Any) -> None:  # the sweep's rows so far, shown at the next poll
            at["partial"] = partial

        def produce() -> Iterator[tuple[Any, str]]:
            yield _benchmark(manager, BenchRequest.from_widgets(values), report, control.cancel_event, on_row,
                             on_inputs)

        started, outcome = time.monotonic(), None
        owner = Owner(session, client_id(request, manager.policy), CONCURRENCY_ID, 1)
        try:
            for event in drive(produce, control, name="benchmark", poll_s=1.0, workers=self.workers, owner=owner):
                if isinstance(event, Working):
                    what = at["what"] + (" · {} / {} inputs".format(*at["inputs"]) if at["inputs"] else "")
                    progress(at["fraction"], desc=what)
                    status_line = progress_line(at["what"], at["fraction"], time.monotonic() - started,
                                                inputs=at["inputs"])
                    partial, at["partial"] = at["partial"], None
                    # the rows measured so far fill the table and plots as they come
                    shown = _partial_outputs(partial) if partial is not None else skipped
                    yield [status_line, *shown]
                else:
                    outcome = event.value
        except Exception as exc:
            error = gr_error(exc, manager.policy, user_errors=USER_ERRORS)
            self.failures[session] = error.message  # shown on the status line by show_error: a toast fades
            raise error from None
        finally:
            stops.pop(session, None)
        result, note = outcome
        if result is None:  # cancelled before any row was measured: the earlier results stay
            yield [note, *skipped]
            return
        yield [note or f"Done in {time.monotonic() - started:.0f} s.", *_page(result)]

    def on_cancel(self, request: gr.Request) -> str:
        return "Cancelling…" if session_id(request) in self.stops else "Nothing is running."

    def stop_run(self, request: gr.Request) -> None:
        flag = self.stops.get(session_id(request))
        if flag is not None:
            flag.set()

    def show_error(self, request: gr.Request) -> str:
        reason = self.failures.pop(session_id(request), None) or "The benchmark failed before it started."
        return f"**Error:** {reason}"


def _run_options(tab: BenchmarkTab, handler: _Benchmarks) -> dict[str, Any]:
    # keyword inputs, as in the task tabs: the /benchmark endpoint's parameters are named like the request's fields
    def run(request: gr.Request, progress: gr.Progress = PROGRESS, **values: Any) -> Iterator[list[Any]]:
        yield from handler.run(request, progress, **values)

    return dict(fn=gpu(named_signature(run, list(KEYS), request=True), duration=BENCH_GPU_SECONDS),
                inputs_kwargs=dict(zip(KEYS, tab.inputs)), outputs=[tab.status, *tab.results, *tab.generation_plots],
                concurrency_id=CONCURRENCY_ID, concurrency_limit=1)


def _endpoints(api: BenchmarkTab, handler: _Benchmarks) -> None:
    """``/benchmark`` and ``/export_job`` on hidden widgets, with no trigger (a lazy tab's)."""
    gr.on([], **_run_options(api, handler), api_name="benchmark", api_description=BENCHMARK_API)
    gr.on([], export_job_files, inputs=api.files, outputs=api.job_outputs, api_name="export_job", queue=False)


def _wire(tab: BenchmarkTab, handler: _Benchmarks, *, endpoint: bool) -> None:
    """Run, Cancel, the task's choices, the error line and Export as job; ``endpoint``: Run is the
    ``/benchmark`` endpoint and the export ``/export_job`` (else both private: a session's widgets)."""
    task, model, workload, models, sample, generation_row, runners = (
        tab.task, tab.model, tab.workload, tab.models, tab.sample, tab.generation_row, tab.runners)
    private = dict(api_visibility="private")
    task.change(handler.on_task, inputs=task, outputs=[model, workload, models, sample, generation_row, runners],
                api_visibility="private", queue=False)
    event = tab.run.click(**_run_options(tab, handler), show_progress_on=tab.status,
                          **(dict(api_name="benchmark", api_description=BENCHMARK_API) if endpoint else private))
    event.success(export_job_files, inputs=tab.files, outputs=tab.job_outputs, queue=False,
                  **(dict(api_name="export_job") if endpoint else private))
    # the reason stays on the status line until the next run (the toast fades)
    event.failure(handler.show_error, inputs=None, outputs=tab.status, api_visibility="private", queue=False)
    # "Cancelling…" is on the page before the run is told to stop: told first, the run could end and say
    # "Cancelled" before that reached the page, and be overwritten by it.
    tab.cancel.click(handler.on_cancel, outputs=tab.status, api_visibility="private", queue=False).then(
        handler.stop_run, api_visibility="private", queue=False)


def export_job(files: list[Any] | None) -> tuple[str, str | None]:
    """The benchmark's fastest configuration (from its ``bench.json`` download) as ``job.json`` and
    the command line that runs it (``workbench.jobs.job_from_benchmark``)."""
    from pathlib import Path

    from workbench.jobs import job_from_benchmark

    paths = [Path(getattr(f, "name", None) or str(f)) for f in files or []]
    bench = next((p for p in paths if p.name == "bench.json"), None)
    if bench is None:
        return "# Run a benchmark first: its fastest configuration is exported here.", None
    try:
        job = job_from_benchmark(bench)
    except ValueError as exc:
        return f"# {exc}", None
    except (KeyError, TypeError, AttributeError, OSError) as exc:  # a file that is not the Benchmark's own
        return (f"# `{bench.name}` is not a benchmark result this workbench wrote ({type(exc).__name__}); run a "
                "benchmark and export that one."), None
    path = job.save(bench.with_name("job.json"))
    return job.command(config=path.name), str(path)


#: The name "Export as job" gives the job's command as a shell script.
JOB_SCRIPT = "run-job.sh"


def export_job_files(files: list[Any] | None) -> tuple[str, str | None, str | None]:
    """``export_job``'s command and ``job.json``, and the command as ``run-job.sh`` beside it
    (``job_script``): named files to download, never Gradio's ``file.sh``."""
    from pathlib import Path

    command, path = export_job(files)
    if path is None:
        return command, None, None
    script = Path(path).with_name(JOB_SCRIPT)
    script.write_text(job_script(Path(path).name), encoding="utf-8")
    script.chmod(0o755)
    return command, path, str(script)


def job_script(config: str) -> str:
    """A POSIX shell script that runs the job file ``config`` (beside it) over its two arguments,
    the input and the output; ``$PYTHON`` picks the interpreter (default ``python``).

    >>> print(job_script("job.json").splitlines()[-1])
    "${PYTHON:-python}" -m workbench run --config "$(dirname "$0")/job.json" --input "$1" --output "$2"
    """
    import shlex

    return ("#!/bin/sh\n"
            "# The Benchmark's recommended configuration over a whole dataset, from Pipeline Workbench's folder:\n"
            f"#   sh {JOB_SCRIPT} INPUT OUTPUT.parquet\n"
            "# INPUT: a CSV/TSV/JSONL/Parquet/text file, a folder of images or audio, or a `datasets` dataset.\n"
            "set -eu\n"
            'if [ "$#" -ne 2 ]; then echo "usage: sh $0 INPUT OUTPUT.parquet" >&2; exit 2; fi\n'
            f'"${{PYTHON:-python}}" -m workbench run --config "$(dirname "$0")/{shlex.quote(config)}" '
            '--input "$1" --output "$2"\n')


def progress_line(what: str, fraction: float, elapsed: float, *, inputs: tuple[int, int] | None = None) -> str:
    """The status line while a benchmark runs: what it measures, how many of its inputs are done,
    how far the whole sweep is, and a time left extrapolated from the time so far (once a few
    percent are done).

    >>> progress_line("cpu float32: runner, batch 8, run 1/2", 0.25, 30.0, inputs=(96, 512))
    '⏳ cpu float32: runner, batch 8, run 1/2 · 96 / 512 inputs · 25% · 30 s, about 1 min 30 s left'
    """
    counted = f" · {inputs[0]} / {inputs[1]} inputs" if inputs else ""
    line = f"⏳ {what}{counted} · {fraction:.0%} · {elapsed:.0f} s"
    if fraction >= 0.03 and elapsed > 0:
        left = elapsed * (1 - fraction) / fraction
        line += f", about {_duration(left)} left"
    return line


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(round(seconds)), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _partial_outputs(result: Any) -> list[Any]:
    """The rows of a sweep still running, in ``results`` + generation charts order: the summary
    saying so, the charts and the table so far; the quality scatter and the downloads left as they
    are (drawn and written once, at the end)."""
    from workbench.bench import plot_frame

    rows = len(result.table)
    frame = plot_frame(result.table)
    charts = [bench_chart(frame, col, title) for col, title in PLOTS]
    return [f"### Measuring… {rows} row{'s' * (rows != 1)} so far (medians of the repeats done)", gr.skip(),
            *_item_plots(charts, result), result.shown_table(), gr.skip(), *_generation_outputs(result)]


def _page(result: Any) -> list[Any]:
    """Everything a finished (or cancelled) run shows, in ``results`` + generation charts order:
    ``_outputs``, its item charts shown only for item rows, and the generation charts."""
    summary, scatter, *charts, table, files = _outputs(result)
    return [summary, scatter, *_item_plots(charts, result), table, files, *_generation_outputs(result)]


def _item_plots(charts: list[Any], result: Any) -> list[Any]:
    """The item charts (``PLOTS``), shown when ``result`` has item rows and hidden for generation
    rows, whose own charts replace them."""
    shown = not result.generates
    return [gr.Plot(chart, visible=shown) for chart in charts]


def _benchmark(manager: PipelineManager, request: BenchRequest, progress: Any,
               stop: threading.Event, on_row: Any = None, on_inputs: Any = None) -> tuple[Any, str]:
    """Run ``request``'s sweep with a progress bar; returns its result and a note for the status line
    ("" when it ran to the end). A cancelled run is no error: its result holds the rows measured so
    far, or is ``None`` when no row was. ``on_row`` and ``on_inputs`` go to ``run_benchmark``."""
    from workbench.bench import BenchCancelled, run_benchmark

    config = request.config()
    check_bench_bounds(manager.policy, config.n, list(config.batch_sizes), repeats=config.repeats,
                       configs=len(config.devices) * len(config.dtypes) * len(config.models))

    def report(fraction: float, what: str) -> None:
        progress(fraction, desc=what)

    try:
        return run_benchmark(manager, config, progress=report, stop_event=stop, on_row=on_row,
                             on_inputs=on_inputs), ""
    except BenchCancelled as cancelled:
        partial = cancelled.partial
        if partial is None or partial.table.empty:
            return None, ("**Cancelled** before any row was measured; the results below, if any, are from an "
                          "earlier run.")
        rows = len(partial.table)
        return partial, f"**Cancelled** — the {rows} row{'s' * (rows != 1)} below were measured before you cancelled."


def _generation_outputs(result: Any) -> list[Any]:
    """Text generation's charts (output tokens/s, TTFT p95 against requests in flight), shown only
    when ``result`` has generation rows."""
    from workbench.bench import plot_frame

    if not result.generates:
        return [gr.Plot(visible=False) for _ in GENERATION_PLOTS]
    frame = plot_frame(result.table)
    return [gr.Plot(bench_chart(frame, col, title, x_title="requests in flight (batch size)"), visible=True)
            for col, title in GENERATION_PLOTS]


def _outputs(result: Any) -> list[Any]:
    """The summary, the charts, the table and the downloads of ``result``."""
    from workbench.bench import plot_frame, quality_frame
    from workbench.bench.quality import weighs_quality

    frame = plot_frame(result.table)
    out_dir = tempfile.mkdtemp(prefix="wb-bench-")
    paths = result.save(out_dir, plot=False)
    env = result.environment
    peaks = ", ".join(f"{k}: {v} GFLOP/s" for k, v in env.get("matmul_peak_gflops", {}).items())
    kernels = ", ".join(f"{k}: {v}" for k, v in env.get("runner_kernels", {}).items())
    head, _, rest = result.recommendation.partition("\n\n")  # the decision as the heading, the details below
    summary = (f"### {head}\n\n" + (f"{rest}\n\n" if rest else "") +
               f"{env.get('task')} · `{env.get('model')}` · {env.get('workload', '')} · "
               + (f"{env['output_lengths']} · " if env.get("output_lengths") else "") + f"{env.get('cpu')} · "
               f"torch {env.get('torch')} · transformers {env.get('transformers')} · matmul peak {peaks} · "
               f"runner's linear kernels {kernels}" + (f" · commit {env['commit']}" if env.get("commit") else ""))
    plots = [bench_chart(frame, col, title) for col, title in PLOTS]
    points = quality_frame(result.table, tolerance=result.config.quality_tolerance)
    weighed = weighs_quality(result.table) and not points.empty
    scatter = gr.Plot(quality_chart(points, QUALITY_PLOT) if weighed else None, visible=weighed)
    return [summary, scatter, *plots, result.shown_table(), [str(paths["csv"]), str(paths["json"])]]
