"""Command line of Pipeline Workbench: ``python -m workbench {bench,offline} ...``.

``bench`` compares plain pipeline batching with the workbench's batch runner over batch sizes,
devices and dtypes on one workload; it prints the table and writes ``bench.csv``, ``bench.json``
(with the environment) and ``bench.png`` to ``--out``. ``offline`` builds every tiny offline
model and prints where each one lives.

Examples::

    python -m workbench bench --task feature-extraction --batch-sizes 1,8,32,64 --workload natural \\
        --dtype float32,bfloat16 --n 512 --out benchmarks/results/minilm
    python -m workbench bench --task text-classification --model ./my-model --workload file \\
        --file reviews.csv --column text
    python -m workbench offline
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _csv(text: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in text.split(",") if v.strip())


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
                                                  "offline model)")
    b.add_argument("--revision", default=None, help="model revision (branch, tag or commit)")
    b.add_argument("--batch-sizes", default="1,8,32,64", help="comma-separated batch sizes")
    b.add_argument("--workload", default="natural", choices=WORKLOADS,
                   help="uniform, natural (long-tailed lengths), long-tail (1 in 64 is 100× longer), images, "
                        "audio, or file (--file)")
    b.add_argument("--file", dest="path", default=None,
                   help="for --workload file: a CSV/JSONL file (see --column), a text file (one input per line) or "
                        "a folder of images/audio/text files")
    b.add_argument("--column", default=None, help="column of a CSV/JSONL file (default: the first text column)")
    b.add_argument("--device", default="cpu", help="comma-separated devices: cpu, cuda, cuda:1, mps, auto")
    b.add_argument("--dtype", default="float32", help="comma-separated dtypes: float32, bfloat16, float16 (GPU)")
    b.add_argument("--n", type=int, default=512, help="number of inputs")
    b.add_argument("--repeats", type=int, default=3, help="timed runs per row (the median is reported)")
    b.add_argument("--max-tokens", type=int, default=8192,
                   help="the runner's token budget per batch (rows × longest row); 0 for no cap")
    b.add_argument("--kernels", default="auto", choices=("auto", "torch", "onednn"),
                   help="the runner's linear-layer kernels: auto picks oneDNN on a CPU where it beats torch's default "
                        "(plain batching always uses torch's)")
    b.add_argument("--runners", default="plain,runner", help="which to run: plain, runner, or both")
    b.add_argument("--seed", type=int, default=0, help="workload seed")
    b.add_argument("--out", default="bench-out", help="folder for bench.csv, bench.json and bench.png")
    b.add_argument("--no-plot", action="store_true", help="skip the PNG plot")
    b.add_argument("--quiet", action="store_true", help="no progress bar")

    sub.add_parser("offline", help="build every tiny offline model and print its folder",
                   description="Build (once) the tiny random-weight model of every task and print task and folder. "
                               "Folders live under $WORKBENCH_OFFLINE_DIR (default ~/.cache/pipeline-workbench).")
    return parser


def cmd_bench(args: argparse.Namespace) -> int:
    import pandas as pd
    from tqdm import tqdm

    from workbench.bench import BenchConfig, run_benchmark
    from workbench.manager import PipelineManager
    from workbench.runner import batch_sizes

    config = BenchConfig(
        task=args.task, model=args.model, revision=args.revision, batch_sizes=tuple(batch_sizes(args.batch_sizes)),
        devices=_csv(args.device), dtypes=_csv(args.dtype), workload=args.workload, n=args.n,
        repeats=args.repeats, seed=args.seed, max_tokens=args.max_tokens or None, kernels=args.kernels,
        runners=_csv(args.runners), path=args.path, column=args.column)
    bar = None if args.quiet else tqdm(total=1000, unit="‰", bar_format="{l_bar}{bar}| {elapsed}<{remaining}",
                                        file=sys.stderr)

    def progress(fraction: float, what: str) -> None:
        if bar is not None:
            bar.set_description(what[:60])
            bar.update(max(0, int(fraction * 1000) - bar.n))

    try:
        result = run_benchmark(PipelineManager(max_models=2), config, progress=progress)
    finally:
        if bar is not None:
            bar.close()
    with pd.option_context("display.max_columns", None, "display.width", 200):
        shown = [c for c in result.table.columns if c not in ("seconds", "runs")]
        print(result.table[shown].to_string(index=False))
    print()
    print(result.recommendation)
    paths = result.save(args.out, plot=not args.no_plot)
    print("wrote " + ", ".join(str(p) for p in paths.values()))
    return EXIT_OK if (result.table.status == "ok").any() else EXIT_FAILED


def cmd_offline(args: argparse.Namespace) -> int:
    from workbench.offline import build_all, minilm_path

    for task, folder in build_all().items():
        print(f"{task:32s} {folder}")
    real = minilm_path()
    if real:
        print(f"{'feature-extraction (real MiniLM)':32s} {real}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    from workbench.errors import WorkbenchError

    try:
        return {"bench": cmd_bench, "offline": cmd_offline}[args.command](args)
    except (WorkbenchError, ValueError, FileNotFoundError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, (ValueError, KeyError)) else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
