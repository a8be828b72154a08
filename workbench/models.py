"""Where a model comes from (offline build, local folder, HF cache, Hub) and whether it fits a task.

    resolve_model("offline:text-classification", "text-classification").kind
    # -> 'offline'
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from workbench.errors import ModelNotFoundError, ModelTaskMismatchError
from workbench.hosting import HostingPolicy
from workbench.hub import Hub, check_revision, folder_files, loadable_files, weights_bytes
from workbench.offline import OFFLINE_PREFIX, offline_info, offline_model_path, offline_models, offline_tasks
from workbench.tasks import TaskSpec, get_task

SourceKind = Literal["offline", "local", "cache", "hub", "given"]  # given: a pipeline built by the caller


@dataclass(frozen=True)
class ModelSource:
    """A resolved model: ``path`` is a folder for offline/local/cache, a Hub id for hub."""

    kind: SourceKind
    path: str
    revision: str | None = None
    weights_bytes: int | None = None  # the weight files' bytes on disk or on the Hub, when known

    @property
    def local_files_only(self) -> bool:
        return self.kind != "hub"


# ---------------------------------------------------------------------------------------------
# Resolving a model name


def resolve_model(model: str | None, task: str | TaskSpec, revision: str | None = None, *,
                  policy: HostingPolicy | None = None, hub: Hub | None = None) -> ModelSource:
    """Turn what the user typed into a loadable source, without loading weights.

    - empty or ``offline:<task>`` (exactly a built-in name): the task's built-in offline model;
    - an existing folder (only when ``policy`` allows local paths): that folder;
    - a Hub id already in the HF cache (at ``revision``): the cached snapshot folder;
    - otherwise the Hub id itself, if the Hub can be reached — else ``ModelNotFoundError``.

    When ``policy`` does not allow local paths (hosted), a name is only ever a Hub id or a built-in
    offline name: it is checked as a Hub id, against ``policy.model_allowlist``, and — before any
    download — its files' size on the Hub against ``policy.max_model_bytes``; then our code downloads
    it (``hub.download``) so that transformers loads a cache folder, never a path named by the user.
    """
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    policy = policy or HostingPolicy.local()
    hub = hub or Hub()
    name = (model or "").strip()
    revision = check_revision(revision)
    if not name or name.startswith(OFFLINE_PREFIX):
        return _offline_source(name, spec)
    if not policy.allow_local_paths:
        return _hosted_source(name, spec, revision, policy, hub)
    expanded = Path(name).expanduser()
    if expanded.is_dir():
        if not (expanded / "config.json").exists():
            raise ModelNotFoundError(f"Folder `{name}` has no config.json; point to a folder written by `save_pretrained`.")
        path = str(expanded.resolve())
        return ModelSource("offline" if offline_info(path) else "local", path, None, weights_bytes(folder_files(path)))
    if name.startswith(("/", "./", "../", "~")):
        raise ModelNotFoundError(f"Folder `{name}` does not exist.")
    cached = cached_snapshot(name, revision)
    if cached:
        return _sized(ModelSource("cache", cached, revision, weights_bytes(folder_files(cached))), name, policy)
    if hub.is_reachable():
        if policy.max_model_bytes is not None:
            _sized(ModelSource("hub", name, revision, _hub_bytes(name, revision, hub)), name, policy)
        return ModelSource("hub", name, revision)
    raise _not_reachable(name, revision, spec)


def builtin_offline_names() -> list[str]:
    """Every built-in offline model name, without ``offline:`` (a task's own, plus named ones like ``chat``)."""
    tasks = offline_tasks()
    return sorted(set(tasks) | {n for t in tasks for n in offline_models(t)})


def _offline_source(name: str, spec: TaskSpec) -> ModelSource:
    which = name.removeprefix(OFFLINE_PREFIX) or spec.name
    if which not in builtin_offline_names():
        own = [f"`{OFFLINE_PREFIX}{n}`" for n in offline_models(spec.name)] or ["none"]
        raise ModelNotFoundError(f"`{name}` is not a built-in offline model. For {spec.name} use {', '.join(own)}; "
                                 f"the others are `{OFFLINE_PREFIX}<task>` for the other tasks.")
    path = offline_model_path(which)
    return ModelSource("offline", path, None, weights_bytes(folder_files(path)))


def _hosted_source(name: str, spec: TaskSpec, revision: str | None, policy: HostingPolicy, hub: Hub) -> ModelSource:
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        raise ModelNotFoundError(
            f"`{name}` is not a Hub model id. This public workbench loads models from the Hugging Face Hub "
            f"(`org/name`) or the built-in `{OFFLINE_PREFIX}<task>` ones, not folders on the server.") from None
    if not policy.allows_model(name):
        raise ModelNotFoundError(f"Model `{name}` is not among the models this workbench's operator allows: "
                                 f"{', '.join(policy.model_allowlist or ())}.")
    cached = cached_snapshot(name, revision)
    if cached:
        return _sized(ModelSource("cache", cached, revision, weights_bytes(folder_files(cached))), name, policy)
    if not hub.is_reachable():
        raise _not_reachable(name, revision, spec)
    files = loadable_files(hub.files(name, revision))
    source = _sized(ModelSource("hub", name, revision, weights_bytes(files)), name, policy)
    folder = hub.snapshot(name, revision, sorted(files))
    return ModelSource("cache", folder, revision, source.weights_bytes)


def _hub_bytes(name: str, revision: str | None, hub: Hub) -> int | None:
    return weights_bytes(loadable_files(hub.files(name, revision)))


def _sized(source: ModelSource, name: str, policy: HostingPolicy) -> ModelSource:
    """``source`` if its weights fit ``policy.max_model_bytes``; unknown sizes do not fit a cap."""
    cap = policy.max_model_bytes
    if cap is None:
        return source
    from workbench.fetch import human_bytes

    if source.weights_bytes is None:
        raise ModelNotFoundError(f"The size of model `{name}` could not be read from the Hub, and this workbench "
                                 f"loads models up to {human_bytes(cap)} only; pick another model.")
    if source.weights_bytes > cap:
        raise ModelNotFoundError(f"Model `{name}` has {human_bytes(source.weights_bytes)} of weights, more than the "
                                 f"{human_bytes(cap)} this workbench loads; pick a smaller model.")
    return source


def _not_reachable(name: str, revision: str | None, spec: TaskSpec) -> ModelNotFoundError:
    at = f" at revision `{revision}`" if revision else ""
    return ModelNotFoundError(
        f"Model `{name}`{at} is not in the local cache and the Hub cannot be reached. "
        f"Available offline for {spec.name}: {', '.join(available_offline(spec)) or 'none'}."
    )


def cached_snapshot(repo_id: str, revision: str | None = None) -> str | None:
    """The HF-cache snapshot folder of ``repo_id`` at ``revision`` (default branch), if complete enough to load."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError, LocalEntryNotFoundError

    try:
        path = snapshot_download(repo_id, revision=revision, local_files_only=True)
    except (LocalEntryNotFoundError, HFValidationError, OSError, ValueError):
        return None
    return path if (Path(path) / "config.json").exists() else None


def available_offline(task: str | TaskSpec) -> list[str]:
    """Model names that load for ``task`` with no network: its offline model and fitting cached models."""
    spec = task if isinstance(task, TaskSpec) else get_task(task)
    names = [f"{OFFLINE_PREFIX}{n}" for n in offline_models(spec.name)]
    return names + [m.repo_id for m in local_models(spec)]


# ---------------------------------------------------------------------------------------------
# Does a model fit a task?


def task_auto_classes(spec: TaskSpec) -> tuple[type, ...]:
    """The transformers Auto* classes that can run ``spec`` (from the pipeline table or the adapter)."""
    if spec.adapter:
        return tuple(adapter_class(spec).auto_classes)
    from transformers.pipelines import SUPPORTED_TASKS

    return tuple(SUPPORTED_TASKS[spec.pipeline_task]["pt"])


def adapter_class(spec: TaskSpec) -> type:
    """Import the adapter class named in ``spec.adapter`` as ``"module:Class"`` (like ``pipeline_class``).

    >>> from workbench.tasks import get_task
    >>> adapter_class(get_task("summarization")).__name__
    'SummarizationAdapter'
    """
    assert spec.adapter, f"{spec.name} runs as a transformers pipeline"
    module, _, cls = spec.adapter.partition(":")
    return getattr(importlib.import_module(module), cls)


#: A base-model (``AutoModel``) task also needs a config of its modality: a config attribute of those.
_BASE_MODEL_NEEDS = {"text": ("vocab_size", "text_config"), "image": ("image_size", "vision_config"),
                     "audio": ("audio_config",)}


def config_fits(config, spec: TaskSpec) -> bool:
    """Whether a loaded ``PretrainedConfig`` has a model class for the task.

    Its config type must be in one of the task's Auto* mappings; and, for tasks with a head, a
    checkpoint that names its ``architectures`` must name one of those head classes (a
    ``BertForSequenceClassification`` checkpoint is no text-generation model, though BERT has an
    LM-head class). Base-model tasks (``AutoModel``: embeddings) take any architecture.
    """
    heads: set[str] = set()
    for auto in task_auto_classes(spec):
        mapping = getattr(auto, "_model_mapping", None)
        if mapping is None or type(config) not in mapping:
            continue
        if auto.__name__ == "AutoModel":
            needs = _BASE_MODEL_NEEDS.get(spec.modality, ())
            return not needs or any(hasattr(config, attr) for attr in needs)
        classes = mapping[type(config)]
        heads.update(c.__name__ for c in (classes if isinstance(classes, (list, tuple)) else [classes]))
    if not heads:
        return False
    archs = getattr(config, "architectures", None)
    return not archs or bool(set(archs) & heads)


def fitting_tasks(config) -> list[str]:
    """Every registered task that this config can run (used to suggest the right tab)."""
    from workbench.tasks import TASKS

    out = []
    for spec in TASKS.values():
        try:
            if config_fits(config, spec):
                out.append(spec.name)
        except ImportError:
            continue
    return out


def check_fits(config, spec: TaskSpec, name: str) -> None:
    """Raise ``ModelTaskMismatchError`` naming the tasks the model *can* do."""
    if config_fits(config, spec):
        if spec.config_check is not None and (problem := spec.config_check(config)):
            raise ModelTaskMismatchError(f"Model `{name}` {problem}")
        return
    arch = ", ".join(getattr(config, "architectures", None) or [type(config).__name__])
    others = [t for t in fitting_tasks(config) if t != spec.name]
    hint = f" It fits: {', '.join(others)}." if others else ""
    raise ModelTaskMismatchError(f"Model `{name}` ({arch}) cannot do {spec.name}.{hint} Pick a {spec.name} model.")


@dataclass(frozen=True)
class CachedModel:
    """A model found in the local HF cache."""

    repo_id: str
    revision: str  # commit hash of the snapshot
    path: str
    size_bytes: int
    architectures: tuple[str, ...]


def local_models(task: str | TaskSpec | None = None) -> list[CachedModel]:
    """Models in the local HF cache (``$HF_HOME``/hub), those that fit ``task`` when given."""
    from huggingface_hub import constants, scan_cache_dir
    from huggingface_hub.errors import CacheNotFound
    from transformers import AutoConfig

    spec = get_task(task) if isinstance(task, str) else task
    try:
        info = scan_cache_dir(constants.HF_HUB_CACHE)  # read now: HF_HUB_CACHE may change at run time
    except (CacheNotFound, OSError):
        return []
    out = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model":
            continue
        for rev in sorted(repo.revisions, key=lambda r: r.last_modified, reverse=True):
            if not (Path(rev.snapshot_path) / "config.json").exists():
                continue
            try:
                config = AutoConfig.from_pretrained(str(rev.snapshot_path), local_files_only=True)
            except Exception:  # an unknown architecture or remote code: not loadable here anyway
                break
            if spec is None or config_fits(config, spec):
                out.append(CachedModel(repo.repo_id, rev.commit_hash, str(rev.snapshot_path), repo.size_on_disk,
                                       tuple(getattr(config, "architectures", None) or ())))
            break
    return out
