"""Command line of Pipeline Workbench: ``python -m workbench {bench,run,offline} ...``.

``bench`` compares plain pipeline batching with the workbench's batch runner over batch sizes,
devices and dtypes on one workload; it prints the table and writes ``bench.csv``, ``bench.json``
(with the environment) and ``bench.png`` to ``--out``. ``run`` runs a task over a whole dataset
(``workbench.jobs``), locally or on Ray Data, into a Parquet file. ``offline`` builds every tiny
offline model and prints where each one lives.

Examples::

    python -m workbench bench --task feature-extraction --batch-sizes 1,8,32,64 --workload natural \\
        --dtype float32,bfloat16 --n 512 --out benchmarks/results/minilm
    python -m workbench bench --task text-classification --model ./my-model --workload file \\
        --file reviews.csv --column text
    python -m workbench bench --task feature-extraction --model offline:feature-extraction,./other-encoder \
        --dtype float32,int8 --file presets/labelled/feature-extraction.csv --references score
    python -m workbench run --task text-classification --input reviews.csv --column text \\
        --output predictions.parquet --dtype bfloat16 --batch-size auto
    python -m workbench run --config job.json --input reviews.csv --output predictions.parquet --resume
    python -m workbench offline
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from workbench.bench.config import BenchConfig

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _csv(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


class _RenamedOption(argparse.Action):
    """An option's former name, kept working and hidden from ``--help``: stores to the new option's
    ``dest`` and says on stderr which name to use."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, new: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"note: {option_string} is deprecated; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _add_references(parser: argparse.ArgumentParser, help: str) -> None:
    """``--references COLUMN``, and its former name ``--labels`` (deprecated, not in ``--help``)."""
    parser.add_argument("--references", default=None, metavar="COLUMN", help=help)
    parser.add_argument("--labels", dest="references", action=_RenamedOption, new="--references", default=None,
                        metavar="COLUMN", help=argparse.SUPPRESS)


def build_parser() -> argparse.ArgumentParser:
    from workbench.workloads import WORKLOADS

    parser = argparse.ArgumentParser(
        prog="python -m workbench", description="Pipeline Workbench from the command line.",
        epilog="Run `python -m workbench COMMAND --help` for a command's options.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    b = sub.add_parser(
        "bench", help="benchmark plain pipeline batching against the workbench's batch runner",
        description="Sweep batch sizes (× devices × dtypes) on one workload, timing plain `pipe(items, "
                    "batch_size=N)` against the workbench runner on the same inputs in the same process. Prints "
                    "the table; writes bench.csv, bench.json (with the environment) and bench.png to --out. "
                    "Exits 1 when no run finished, 2 on a usage error.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    b.add_argument("--task", required=True, help="task name or alias, e.g. feature-extraction, text-classification")
    b.add_argument("--model", default=None, help="Hub id, local folder, or offline:<task> (default: the task's "
                                                  "offline model); several, comma-separated, are swept in turn")
    b.add_argument("--revision", default=None, help="model revision (branch, tag or commit)")
    b.add_argument("--batch-sizes", default="1,8,32,64", help="comma-separated batch sizes")
    b.add_argument("--workload", default="natural", choices=WORKLOADS,
                   help="uniform, natural (long-tailed lengths), long-tail (1 in 64 is 100× longer), images, "
                        "audio, or file (--file)")
    b.add_argument("--file", dest="path", default=None,
                   help="for --workload file: a CSV/JSONL file (see --column), a text file (one input per line) or "
                        "a folder of images/audio/text files")
    b.add_argument("--column", default=None, help="column of a CSV/JSONL file (default: the first text column); with "
                                                   "--references the input column(s), e.g. question=q,context=passage")
    _add_references(b, "the --file column holding each input's reference: every row is scored by the task's metric "
                       "(accuracy/F1, entity F1, SQuAD, WER, BLEU/chrF, Spearman) and the recommendation names the "
                       "fastest configuration within --quality-tolerance of the best quality")
    b.add_argument("--quality-tolerance", type=float, default=1.0,
                   help="how many points below the best quality the recommended configuration may score")
    b.add_argument("--device", default="cpu", help="comma-separated devices: cpu, cuda, cuda:1, mps, auto")
    b.add_argument("--dtype", default="float32",
                   help="comma-separated dtypes: float32, bfloat16, float16 (GPU), int8 (int8 weights, dynamic "
                        "int8 activations), int4 (4-bit weights, CUDA GPU)")
    b.add_argument("--n", type=int, default=512, help="number of inputs")
    b.add_argument("--repeats", type=int, default=3, help="timed runs per row (the median is reported)")
    b.add_argument("--max-tokens", type=int, default=8192,
                   help="the runner's token budget per batch (rows × longest row); 0 for no cap")
    b.add_argument("--kernels", default="auto", choices=("auto", "torch", "onednn"),
                   help="the runner's linear-layer kernels: auto picks oneDNN on a CPU where it beats torch's default "
                        "(plain batching always uses torch's)")
    b.add_argument("--runners", default=None,
                   help="comma-separated: plain, runner, continuous (transformers' continuous batching, text "
                        "generation only; default: all three for text generation, plain,runner otherwise)")
    b.add_argument("--max-new-tokens", type=int, default=None,
                   help="text generation: the mean of the requests' max_new_tokens (default 64)")
    b.add_argument("--output-lengths", default="long-tail", choices=("long-tail", "fixed"),
                   help="text generation: each request's max_new_tokens drawn long-tailed (seeded) or all the mean; "
                        "EOS is ignored, so lengths are what was asked")
    b.add_argument("--seed", type=int, default=0, help="workload seed")
    b.add_argument("--out", default="bench-out", help="folder for bench.csv, bench.json and bench.png")
    b.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    _add_run_parser(sub)
    sub.add_parser("offline", help="build every tiny offline model and print its folder",
                   description="Build (once) the tiny random-weight model of every task and print task and folder. "
                               "Folders live under $WORKBENCH_OFFLINE_DIR (default ~/.cache/pipeline-workbench).")
    return parser


def _add_run_parser(sub: Any) -> None:
    from workbench.jobs.readers import FORMATS
    from workbench.jobs.job_file import ENGINES

    r = sub.add_parser(
        "run", help="run a task over a whole dataset into a Parquet file (locally or on Ray Data)",
        description="Run one task's pipeline over every row of a dataset with the batch runner, writing OUT.parquet "
                    "with one row per input row, in order: id, the result (output as JSON, or embedding) and error "
                    "(a bad row is recorded, not fatal). Shards are written as it goes; --resume continues a killed "
                    "job. Options given here override those of --config. Exits 1 when no row ran, 2 on a usage "
                    "error.")
    r.add_argument("--config", default=None, help="a job file (JSON), e.g. exported by the Benchmark tab")
    r.add_argument("--task", default=None, help="task name or alias (required without --config)")
    r.add_argument("--model", default=None, help="Hub id, local folder, or offline:<task> (default: the task's "
                                                  "offline model)")
    r.add_argument("--revision", default=None, help="model revision (branch, tag or commit)")
    r.add_argument("--input", default=None, help="CSV, TSV, JSONL, JSON, Parquet or text file (one row a line), a "
                                                  "folder of images/audio, or a `datasets` dataset (saved or loadable)")
    r.add_argument("--format", default=None, choices=("auto", *FORMATS), help="input format (default: auto)")
    r.add_argument("--split", default=None, help="split of a `datasets` dataset (default: the only one, or train)")
    r.add_argument("--column", action="append", default=None,
                   help="the column of each task input, in order or as input=column (repeat, or comma-separated): "
                        "--column text; --column question=q --column context=passage (default: by name)")
    r.add_argument("--output", default=None, help="the Parquet file to write (Ray: a folder of Parquet files)")
    r.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps or auto (default: cpu)")
    r.add_argument("--dtype", default=None, help="float32, bfloat16, float16 (GPU) or auto (default: float32)")
    r.add_argument("--batch-size", default=None, help="rows per batch at most, or auto (default: auto)")
    r.add_argument("--max-tokens", type=int, default=None,
                   help="the runner's token budget per batch (rows × longest row; 0: no cap; default 8192)")
    r.add_argument("--kernels", default=None, choices=("auto", "torch", "onednn"), help="the runner's linear kernels")
    r.add_argument("--param", action="append", default=None, metavar="KEY=VALUE",
                   help="a call parameter (JSON value or text), e.g. --param top_k=3 --param truncation=true")
    r.add_argument("--shard-rows", type=int, default=None, help="rows read, run and written at a time (default 1024)")
    r.add_argument("--engine", default=None, choices=ENGINES, help="local (default) or ray (Ray Data)")
    r.add_argument("--concurrency", type=int, default=None, help="ray: at most this many pipeline actors; the pool grows to it as CPUs/GPUs allow (default 1)")
    r.add_argument("--num-gpus", type=float, default=None, help="ray: GPUs per actor (default 0)")
    _add_references(r, "a column of references: each row says whether it is right (`correct`), and the summary "
                       "gives the task's metric (accuracy, F1, WER, chrF…)")
    r.add_argument("--runner", default=None, choices=("plain", "runner", "continuous"),
                   help="how rows are batched: the workbench runner (default), plain pipeline batching, or "
                        "continuous (transformers' continuous batching, text generation: --batch-size requests in "
                        "flight, --max-tokens per step)")
    r.add_argument("--resume", action="store_true", help="continue a killed job from its last shard")
    r.add_argument("--save-config", default=None, metavar="JOB.json", help="also write the job to this file")
    r.add_argument("--quiet", action="store_true", help="no progress bar")


def _param(text: str) -> tuple[str, Any]:
    import json

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"--param takes KEY=VALUE, e.g. top_k=3; got {text!r}")
    try:
        return key.strip(), json.loads(value)
    except json.JSONDecodeError:
        return key.strip(), value


def job_from_args(args: argparse.Namespace) -> Any:
    """The ``JobSpec`` of ``run``'s arguments: ``--config``'s job, overridden by the options given."""
    from workbench.jobs import JobSpec

    changes: dict[str, Any] = {name: getattr(args, name) for name in (
        "task", "model", "revision", "input", "output", "format", "split", "device", "dtype", "kernels", "engine",
        "shard_rows", "concurrency", "num_gpus", "references", "runner")}
    if args.column:
        changes["columns"] = tuple(args.column)
    if args.param:
        changes["params"] = dict(_param(p) for p in args.param)
    if args.batch_size is not None:
        changes["batch_size"] = "auto" if args.batch_size == "auto" else int(args.batch_size)
    if args.config:
        job = JobSpec.load(args.config)
        if "params" in changes:
            changes["params"] = {**job.params, **changes["params"]}
    elif args.task:
        job = JobSpec(task=args.task)
    else:
        raise ValueError("give --task (or a job file with --config)")
    job = job.updated(**changes)
    if args.max_tokens is not None:  # 0: no cap (None, which `updated` would ignore)
        job = dataclasses.replace(job, max_tokens=args.max_tokens or None)
    return job


def cmd_run(args: argparse.Namespace) -> int:
    from workbench.jobs import run_job

    job = job_from_args(args)
    if args.save_config:
        job.save(args.save_config)
    summary = run_job(job, resume=args.resume, progress=not args.quiet)
    print(summary.text())
    return EXIT_OK if summary.ok or not summary.rows else EXIT_FAILED


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    """The ``BenchConfig`` of ``bench``'s arguments (the Benchmark tab's ``BenchRequest.config``
    makes the same from its widgets)."""
    from workbench.bench import BenchConfig

    return BenchConfig(
        task=args.task, model=args.model, revision=args.revision, batch_sizes=args.batch_sizes,
        devices=_csv(args.device), dtypes=_csv(args.dtype), workload=args.workload, n=args.n,
        repeats=args.repeats, seed=args.seed, max_tokens=args.max_tokens or None, kernels=args.kernels,
        runners=_csv(args.runners) if args.runners else (), path=args.path, column=args.column,
        max_new_tokens=args.max_new_tokens, output_lengths=args.output_lengths, references=args.references,
        quality_tolerance=args.quality_tolerance)


def cmd_bench(args: argparse.Namespace) -> int:
    import pandas as pd
    from tqdm import tqdm

    from workbench.bench import run_benchmark
    from workbench.manager import PipelineManager

    config = config_from_args(args)
    bar = None if args.quiet else tqdm(total=1000, unit="‰", file=sys.stderr,
                                        bar_format="{l_bar}{bar}| {postfix} {elapsed}<{remaining}")

    def progress(fraction: float, what: str) -> None:
        if bar is not None:
            bar.set_description(what[:60])
            bar.set_postfix_str("", refresh=False)
            bar.update(max(0, int(fraction * 1000) - bar.n))

    def inputs(fraction: float, done: int, total: int) -> None:  # redrawn at tqdm's pace, not at every input
        if bar is not None:
            bar.set_postfix_str(f"{done} / {total} inputs", refresh=False)
            bar.update(max(0, int(fraction * 1000) - bar.n))

    try:
        result = run_benchmark(PipelineManager(max_models=2), config, progress=progress, on_inputs=inputs)
    finally:
        if bar is not None:
            bar.close()
    with pd.option_context("display.max_columns", None, "display.width", 200):
        print(result.shown_table().to_string(index=False))
    print()
    print(result.recommendation)
    paths = result.save(args.out, plot=not args.no_plot)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return EXIT_OK if (result.table.status == "ok").any() else EXIT_FAILED


def cmd_offline(args: argparse.Namespace) -> int:
    from workbench.offline import REAL_MODEL, REAL_TASK, build_all, minilm_path

    for task, folder in build_all().items():
        print(f"{task:32s} {folder}")
    real = minilm_path()
    if real:
        print(f"{f'{REAL_TASK} (real {REAL_MODEL})':32s} {real}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from workbench.errors import InputError, WorkbenchError

    try:
        return {"bench": cmd_bench, "run": cmd_run, "offline": cmd_offline}[args.command](args)
    except (WorkbenchError, ValueError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, (ValueError, KeyError, InputError)) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
