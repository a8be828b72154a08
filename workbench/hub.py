"""What the workbench asks the Hugging Face Hub — is it reachable, which files a model has (with their
sizes), download a chosen few — in one object that tests replace, since the Hub is never reached in tests.

Also which of a model's files a transformers load needs (``loadable_files``: one weight format, no
ONNX/GGUF/TF copies, no subfolders) and how many bytes of weights they hold (``weights_bytes``), for
the hosted size cap and the manager's memory reservations.

>>> files = {"config.json": 600, "model.safetensors": 400, "pytorch_model.bin": 400, "onnx/model.onnx": 400}
>>> sorted(loadable_files(files)), weights_bytes(loadable_files(files))
(['config.json', 'model.safetensors'], 400)
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlparse

from workbench.errors import ModelNotFoundError, WorkbenchError
from workbench.messages import with_type

Files = dict[str, "int | None"]
"""File name in the repository -> size in bytes (``None`` when the Hub did not say)."""

#: Weight files, in the formats transformers may find next to each other in a repository.
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx", ".gguf", ".tflite",
                   ".ot", ".mlmodel", ".npz", ".pb", ".keras")
#: Tried in this order: the first format present is the one transformers loads.
LOADED_FORMATS = (".safetensors", ".bin")


_HUB_STATE: dict[str, float | bool] = {}
_HUB_LOCK = threading.Lock()
_HUB_TTL_S = 60.0


def hub_offline_forced() -> bool:
    """``HF_HUB_OFFLINE=1`` (or the workbench's own ``WORKBENCH_OFFLINE=1``) forces offline mode."""
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on") for v in ("HF_HUB_OFFLINE", "WORKBENCH_OFFLINE"))


def hub_reachable(timeout: float = 2.0) -> bool:
    """Whether the Hub answers a TCP connection within ``timeout`` seconds (cached for a minute).

    The check runs in a daemon thread so a hanging DNS lookup cannot block the caller longer.
    """
    if hub_offline_forced():
        return False
    with _HUB_LOCK:
        if time.monotonic() - float(_HUB_STATE.get("at", -1e9)) < _HUB_TTL_S:
            return bool(_HUB_STATE["ok"])
    from huggingface_hub import constants

    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    result: list[bool] = []

    def probe() -> None:
        try:
            socket.create_connection((host, 443), timeout=timeout).close()
            result.append(True)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe, daemon=True)
    t.start()
    t.join(timeout + 0.5)
    ok = bool(result and result[0])
    with _HUB_LOCK:
        _HUB_STATE.update(ok=ok, at=time.monotonic())
    return ok


def _model_info(repo_id: str, revision: str | None) -> Any:
    from huggingface_hub import HfApi

    return HfApi().model_info(repo_id, revision=revision, files_metadata=True, timeout=15)


def _download(repo_id: str, revision: str | None, files: list[str]) -> str:
    from huggingface_hub import snapshot_download

    return snapshot_download(repo_id, revision=revision, allow_patterns=files)


@dataclass(frozen=True)
class Hub:
    """The Hub as the workbench sees it. ``model_info(repo_id, revision)`` returns a
    ``huggingface_hub.ModelInfo`` with file sizes; ``download(repo_id, revision, files)`` returns the
    local folder holding those files; ``reachable()`` says whether to try at all (default:
    ``hub_reachable``)."""

    reachable: Callable[[], bool] | None = None
    model_info: Callable[[str, str | None], Any] = _model_info
    download: Callable[[str, str | None, list[str]], str] = _download

    def is_reachable(self) -> bool:
        if self.reachable is not None:
            return self.reachable()
        return hub_reachable()

    def files(self, repo_id: str, revision: str | None) -> Files:
        """The repository's files and sizes, from its metadata (nothing is downloaded)."""
        try:
            info = self.model_info(repo_id, revision)
        except Exception as exc:  # huggingface_hub raises RepositoryNotFound, Gated, HTTP and network errors
            at = f" at revision `{revision}`" if revision else ""
            raise ModelNotFoundError(f"Model `{repo_id}`{at} could not be found on the Hub (it may not exist, or be "
                                     f"private or gated): {type(exc).__name__}.") from exc
        return {s.rfilename: getattr(s, "size", None) for s in (info.siblings or [])}

    def snapshot(self, repo_id: str, revision: str | None, files: list[str]) -> str:
        """Download ``files`` of the repository (or find them in the cache); the local folder."""
        try:
            return self.download(repo_id, revision, files)
        except Exception as exc:
            raise ModelNotFoundError(f"Model `{repo_id}` could not be downloaded from the Hub: "
                                     f"{with_type(exc)}") from exc


#: A revision is a branch, a tag or a commit: git's reference-name rules (``git check-ref-format``),
#: which exclude absolute paths, ``..``, backslashes, spaces and control characters.
_REVISION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._\-]*(/[A-Za-z0-9_][A-Za-z0-9._\-]*)*")


def check_revision(revision: str | None) -> str | None:
    """``revision`` trimmed (``None`` when empty) if it can name a branch, a tag or a commit of a Hub
    repository; else ``WorkbenchError``. huggingface_hub joins a revision onto the cache's ``refs/``
    folder, so an absolute path or ``..`` would make any server folder a model's snapshot.

    >>> check_revision(" main "), check_revision("refs/pr/3"), check_revision(""), check_revision("v1.0")
    ('main', 'refs/pr/3', None, 'v1.0')
    >>> check_revision("/tmp/gradio/x")
    Traceback (most recent call last):
    ...
    workbench.errors.WorkbenchError: The revision must be a branch, a tag or a commit hash (like `main`, `v1.0` or `714eb0f`), not `/tmp/gradio/x`.
    """
    text = (revision or "").strip()
    if not text:
        return None
    parts = text.split("/")
    if (len(text) > 255 or not _REVISION.fullmatch(text) or ".." in text or text.endswith(".")
            or any(p.endswith(".lock") for p in parts)):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise WorkbenchError(f"The revision must be a branch, a tag or a commit hash (like `main`, `v1.0` or "
                             f"`714eb0f`), not `{shown}`.")
    return text


def loadable_files(files: Files) -> Files:
    """The files a transformers load reads: top-level files, with the weights of the first format in
    ``LOADED_FORMATS`` present only (a repository with safetensors and .bin copies loads the safetensors)."""
    top = {name: size for name, size in files.items() if "/" not in name}
    weights = [n for n in top if n.endswith(WEIGHT_SUFFIXES)]
    chosen = next(([n for n in weights if n.endswith(fmt)] for fmt in LOADED_FORMATS
                   if any(n.endswith(fmt) for n in weights)), [])
    return {n: s for n, s in top.items() if n not in weights or n in chosen}


def weights_bytes(files: Files) -> int | None:
    """Bytes of the weight files among ``files``; ``None`` when any size is unknown or there are none."""
    sizes = [size for name, size in files.items() if name.endswith(WEIGHT_SUFFIXES)]
    if not sizes or any(size is None for size in sizes):
        return None
    return int(sum(sizes))


def folder_files(folder: str | os.PathLike) -> Files:
    """The loadable files of a model folder and their sizes on disk (links followed)."""
    root = Path(folder)
    return loadable_files({p.name: p.stat().st_size for p in root.iterdir() if p.is_file()})


def estimate_bytes(weights: int | None, config: Any, dtype: Any) -> int | None:
    """Bytes a model's weights will take once loaded as ``dtype`` (a ``torch.dtype``): the weight files'
    size ``weights``, scaled from the dtype they are stored in (``config.dtype``, float32 if unsaid)."""
    import torch

    if not weights:
        return None
    stored = getattr(config, "dtype", None) or getattr(config, "torch_dtype", None) or torch.float32
    if isinstance(stored, str):
        stored = getattr(torch, stored, torch.float32)
    try:
        ratio = dtype.itemsize / stored.itemsize
    except AttributeError:
        ratio = 1.0
    return int(weights * ratio)


def broken_file(exc: BaseException, folder: str) -> str | None:
    """The weight file in ``folder`` a load failed on, when the error says a file is corrupt
    (safetensors, pickle, zip); ``None`` for other errors."""
    text = f"{type(exc).__name__}: {exc}".lower()
    signs = ("safetensor", "deserializ", "header", "unpickl", "pickle", "zip", "eof", "invalid load key")
    if not any(s in text for s in signs):
        return None
    root = Path(folder)
    weights = sorted(p.name for p in root.iterdir() if p.name.endswith(LOADED_FORMATS)) if root.is_dir() else []
    named = [w for w in weights if w.lower() in text]
    return (named or weights or ["the weights"])[0]
