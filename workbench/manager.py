"""The cached pipeline manager behind every tab, endpoint and benchmark.

    manager = PipelineManager(max_models=2)
    pipe = manager.get("text-classification", "offline:text-classification")
    pipe("I love this")
    # -> [{'label': ..., 'score': ...}]
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from workbench.building import exclusive_build
from workbench.devices import resolve_device, resolve_dtype
from workbench.errors import ModelNotFoundError, ModelTaskMismatchError, OutOfMemoryError, WorkbenchError
from workbench.hosting import HostingPolicy
from workbench.hub import Hub, broken_file, estimate_bytes
from workbench.load_request import LoadKey, LoadRequest
from workbench.memory import release_memory, trim_heap
from workbench.messages import first_line
from workbench.models import ModelSource, adapter_class, available_offline, check_fits, resolve_model
from workbench.offline import offline_info
from workbench.quantize import is_quantized, mismatch, model_bytes, precision_of, quantize_model
from workbench.tasks import TaskSpec, get_task


@dataclass
class Loaded:
    """A loaded pipeline and the facts the UI shows about it (plain values except ``pipe``).
    ``dtype`` is the precision asked for (``int8``, ``bfloat16``…); ``precision`` what the parameters
    really are after the load (``workbench.quantize.Precision.label``), ``attention`` the attention
    implementation in use, and ``notes`` say where the two differ."""

    key: LoadKey
    pipe: Any = field(repr=False)
    source: ModelSource
    device: str
    dtype: str
    parameters: int
    bytes: int
    load_seconds: float
    random_weights: bool
    description: str
    precision: str = ""
    attention: str = ""
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """A JSON-able row for tables: task, model, device, dtype, what ran, size, load time…"""
        return {
            "task": self.key.task, "model": self.key.model, "revision": self.key.revision,
            "source": self.source.kind, "device": self.device, "dtype": self.dtype,
            "precision": self.precision, "attention": self.attention,
            "parameters": self.parameters, "memory_mb": round(self.bytes / 2**20, 2),
            "load_s": round(self.load_seconds, 3), "random_weights": self.random_weights,
        }


def _env_int(name: str, default: int | None) -> int | None:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _env_float(name: str, default: float | None) -> float | None:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


#: Share of the machine's memory that a hosted workbench keeps in loaded weights by default.
HOSTED_MEMORY_SHARE = 0.5
#: How long a load waits for other loads to free their reserved bytes before giving up.
RESERVE_WAIT_S = 300.0
#: Hosted, a pipeline nobody has used for this long is unloaded, so a Space's memory goes back near
#: its baseline after a burst of users (``WORKBENCH_IDLE_UNLOAD_S``; locally the operator's models stay).
HOSTED_IDLE_UNLOAD_S = 900.0


def default_max_bytes(policy: HostingPolicy) -> int | None:
    """The byte bound when none is given: none locally; hosted, half the machine's memory (psutil)."""
    if not policy.hosted:
        return None
    import psutil

    return int(psutil.virtual_memory().total * HOSTED_MEMORY_SHARE)


def default_device_bytes(policy: HostingPolicy) -> dict[str, int]:
    """Byte bounds per accelerator when none are given: none locally; hosted, half of each GPU's
    memory (models loaded there count against it as well as against ``max_bytes``).

    >>> default_device_bytes(HostingPolicy.local())
    {}
    """
    if not policy.hosted:
        return {}
    import torch

    if not torch.cuda.is_available():
        return {}
    return {f"cuda:{i}": int(torch.cuda.get_device_properties(i).total_memory * HOSTED_MEMORY_SHARE)
            for i in range(torch.cuda.device_count())}


class PipelineManager:
    """A bounded LRU cache of ready pipelines (and adapters) with single-flight loading.

    ``max_models`` and ``max_bytes`` bound what stays loaded (defaults from
    ``WORKBENCH_MAX_MODELS``/``WORKBENCH_MAX_BYTES``); the least recently used entries are unloaded
    first, never the one just asked for. ``trust_remote_code`` is off unless the operator sets
    ``WORKBENCH_TRUST_REMOTE_CODE=1`` (or passes it here); nothing a user does can turn it on.
    ``policy`` (a ``HostingPolicy``, local by default) says what user input may reach; the service
    and the UI read it from here. Hosted, ``trust_remote_code`` is always off and ``max_bytes``
    defaults to half the machine's memory. ``device_bytes`` bounds, per device (``"cuda:0"``), the
    bytes loaded there too (hosted default: half of each GPU's memory; ``default_device_bytes``).
    ``hub`` is how models are looked up on the Hub (tests pass their own).

    ``idle_unload_s`` (default ``WORKBENCH_IDLE_UNLOAD_S``; hosted 900 s, locally never): a pipeline
    not asked for in that long is unloaded by a background sweep (``unload_idle``); a run that holds
    it finishes with it, and the next request loads it again.

    ``adopt(pipe)`` serves a pipeline built elsewhere (``transformers.pipeline(...)``) under the key
    its own task, model, device and dtype give; an adopted pipeline counts against the bounds but is
    never evicted, since the manager could not load it again as it was given.

    The byte bound holds while several models load at once: each load reserves its estimated bytes
    (from the weight files' sizes, scaled to the dtype) before it starts, evicting least recently
    used pipelines or waiting for other loads to finish, and releases the reservation when it ends.
    """

    def __init__(self, *, max_models: int | None = None, max_bytes: int | None = None,
                 trust_remote_code: bool | None = None, policy: HostingPolicy | None = None,
                 hub: Hub | None = None, device_bytes: Mapping[str, int] | None = None,
                 idle_unload_s: float | None = None) -> None:
        self.policy = policy or HostingPolicy.local()  # what user input may reach; see workbench/hosting.py
        self.hub = hub or Hub()
        self.max_models = max_models if max_models is not None else _env_int("WORKBENCH_MAX_MODELS", 4)
        self.max_bytes = max_bytes if max_bytes is not None else _env_int("WORKBENCH_MAX_BYTES",
                                                                          default_max_bytes(self.policy))
        self.device_bytes = dict(device_bytes if device_bytes is not None else default_device_bytes(self.policy))
        trust = _env_flag("WORKBENCH_TRUST_REMOTE_CODE") if trust_remote_code is None else trust_remote_code
        self.trust_remote_code = trust and not self.policy.hosted  # never custom code from strangers' model ids
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)  # notified when reserved bytes are released
        self._cache: OrderedDict[LoadKey, Loaded] = OrderedDict()
        self._inflight: dict[LoadKey, Future[Loaded]] = {}
        self._reserved: dict[LoadKey, int] = {}  # estimated bytes of loads in progress
        self._adopted: set[LoadKey] = set()  # given by the caller (adopt): never evicted
        self.load_count = 0  # loads actually performed (cache hits and joined loads do not count)
        self._used_at: dict[LoadKey, float] = {}  # time.monotonic() of each entry's last acquire
        self.idle_unload_s = idle_unload_s if idle_unload_s is not None else _env_float(
            "WORKBENCH_IDLE_UNLOAD_S", HOSTED_IDLE_UNLOAD_S if self.policy.hosted else None)
        if self.idle_unload_s:
            every = min(max(self.idle_unload_s / 4, 0.05), 60.0)
            threading.Thread(target=_sweep_idle, args=(weakref.ref(self), every), name="unload-idle",
                             daemon=True).start()

    # -- public API -------------------------------------------------------------------------

    def key(self, task: str | LoadRequest, model: str | None = None, *, revision: str | None = None,
            device: str = "auto", dtype: str = "auto") -> LoadKey:
        """The cache key of a ``LoadRequest`` (or of its five values): ``LoadRequest.key``."""
        return _request(task, model, revision, device, dtype).key()

    def get(self, task: str | LoadRequest, model: str | None = None, *, revision: str | None = None,
            device: str = "auto", dtype: str = "auto") -> Any:
        """A ready pipeline for ``task`` — called like the transformers pipeline of that task."""
        return self.load(task, model, revision=revision, device=device, dtype=dtype).pipe

    def load(self, task: str | LoadRequest, model: str | None = None, *, revision: str | None = None,
             device: str = "auto", dtype: str = "auto") -> Loaded:
        """Like ``get`` but returns the ``Loaded`` record (timings, size, source)."""
        return self.acquire(task, model, revision=revision, device=device, dtype=dtype)[0]

    def acquire(self, task: str | LoadRequest | LoadKey, model: str | None = None, *, revision: str | None = None,
              device: str = "auto", dtype: str = "auto",
              on_load: Callable[[LoadKey], None] | None = None) -> tuple[Loaded, bool]:
        """Like ``load``, and whether this call did the load: ``False`` for a cache hit and for a
        call that waited on another caller's load of the same key (single flight). ``task`` may be a
        ``LoadRequest``, or a ``LoadKey`` already normalised; ``on_load(key)`` is called when this
        call is the one that loads (a run's progress says "loading…")."""
        key = task if isinstance(task, LoadKey) else self.key(task, model, revision=revision, device=device,
                                                                dtype=dtype)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                self._used_at[key] = time.monotonic()
                return self._cache[key], False
            future = self._inflight.get(key)
            owner = future is None
            if owner:
                future = self._inflight[key] = Future()
        if not owner:
            return future.result(), False
        try:
            if on_load is not None:
                on_load(key)
            loaded = self._load(key)
        except BaseException as exc:
            with self._lock:
                del self._inflight[key]
                self._release(key)
            future.set_exception(exc)
            raise
        with self._lock:
            del self._inflight[key]
            self._release(key)
            self._cache[key] = loaded
            self._used_at[key] = time.monotonic()
            self.load_count += 1
            evicted = self._evict(keep=key, device=key.device)
        future.set_result(loaded)
        if evicted:
            del evicted
            release_memory()
        return loaded, True

    def adopt(self, pipe: Any, *, task: str | None = None, model: str | None = None) -> Loaded:
        """Serve ``pipe``, a pipeline (or adapter) built outside the manager, as it is: ``get``/``load``
        with its task, ``model``, device and dtype return this very object. ``task`` defaults to the
        registered task of ``pipe.task`` (``workbench.tasks.spec_of_pipeline``), ``model`` to its
        model's ``name_or_path``. It counts against ``max_models``/``max_bytes`` but is never evicted
        (only ``unload``/``clear`` drop it). Adopting another pipeline under a key in use replaces it.

            pipe = transformers.pipeline("text-classification", model="path/to/model")
            loaded = manager.adopt(pipe)
            manager.get("text-classification", loaded.key.model, device="cpu", dtype="float32") is pipe  # True
        """
        from workbench.tasks import spec_of_pipeline

        spec = get_task(task) if task else spec_of_pipeline(pipe)
        if spec is None:
            raise WorkbenchError(f"`{type(pipe).__name__}` (task {getattr(pipe, 'task', None)!r}) is not a pipeline of "
                                 "a registered task; pass task= to say which task it runs.")
        model_obj = pipe.model
        name = (model or str(getattr(model_obj, "name_or_path", "") or "")).strip() or type(model_obj).__name__
        device = getattr(pipe, "device", None) or next(model_obj.parameters()).device
        key = self.key(spec.name, name, device=str(device), dtype=str(model_obj.dtype))
        params = sum(p.numel() for p in model_obj.parameters())
        nbytes = sum(t.numel() * t.element_size() for t in (*model_obj.parameters(), *model_obj.buffers()))
        loaded = Loaded(key, pipe, ModelSource("given", name), key.device, key.dtype, params, nbytes, 0.0,
                        random_weights=False, description=f"a {type(pipe).__name__} given to the workbench")
        with self._lock:
            self._cache[key] = loaded
            self._cache.move_to_end(key)
            self._adopted.add(key)
            evicted = self._evict(keep=key, device=key.device)
        if evicted:
            del evicted
            release_memory()
        return loaded

    def local_models(self, task: str) -> list[str]:
        """Model names that load for ``task`` with no network: ``offline:<task>`` and fitting HF-cache models."""
        return available_offline(task)

    def memory(self) -> dict[str, int | None]:
        """Bytes of loaded weights, bytes reserved by loads in progress, and the bound (``None``: unbounded)."""
        with self._lock:
            return {"loaded": sum(e.bytes for e in self._cache.values()), "reserved": sum(self._reserved.values()),
                    "loading": len(self._reserved), "max_bytes": self.max_bytes}

    def loaded(self) -> list[Loaded]:
        """What is loaded now, least recently used first."""
        with self._lock:
            return list(self._cache.values())

    def unload(self, key: LoadKey) -> bool:
        """Drop one pipeline and free its memory; False if it was not loaded."""
        with self._lock:
            entry = self._cache.pop(key, None)
            self._adopted.discard(key)
        if entry is None:
            return False
        device = entry.device
        del entry
        release_memory(resolve_device(device))
        return True

    def unload_idle(self, now: float | None = None) -> list[LoadKey]:
        """Unload every pipeline not acquired in the last ``idle_unload_s`` seconds (as of ``now``, a
        ``time.monotonic()`` value), adopted ones excepted; returns their keys. The background sweep
        calls it; nothing happens without ``idle_unload_s``."""
        if not self.idle_unload_s:
            return []
        now = time.monotonic() if now is None else now
        with self._lock:
            stale = [k for k in self._cache
                     if k not in self._adopted and now - self._used_at.get(k, now) >= self.idle_unload_s]
            dropped = [self._cache.pop(k) for k in stale]
            for k in [k for k in self._used_at if k not in self._cache]:  # gone, idle or evicted
                del self._used_at[k]
        if dropped:
            del dropped
            release_memory()
            trim_heap()  # the freed weights' pages back to the system: RSS goes down, not only the heap
        return stale

    def clear(self) -> int:
        """Unload everything; returns how many pipelines were dropped."""
        with self._lock:
            n = len(self._cache)
            self._cache.clear()
            self._adopted.clear()
        release_memory()
        return n

    # -- internals --------------------------------------------------------------------------

    def _evict(self, keep: LoadKey | None, extra: int = 0, device: str | None = None) -> list[Loaded]:
        """Pop least-recently-used entries until within bounds, counting ``extra`` bytes (to be
        loaded on ``device``) and the reservations of loads in progress (caller holds the lock).
        When only ``device``'s own bound is exceeded, only entries on that device are popped."""
        evicted = []

        def over_all() -> bool:
            if self.max_models is not None and len(self._cache) > self.max_models:
                return True
            return self.max_bytes is not None and self._used() + extra > self.max_bytes

        for k in list(self._cache):
            everywhere = over_all()
            if not everywhere and not self._over_device(device, extra):
                break
            if k != keep and k not in self._adopted and (everywhere or k.device == device):
                evicted.append(self._cache.pop(k))
        return evicted

    def _used(self, device: str | None = None) -> int:
        """Bytes of loaded pipelines plus reservations of loads in progress, on ``device`` or on all
        devices (caller holds the lock)."""
        return (sum(e.bytes for k, e in self._cache.items() if device in (None, k.device))
                + sum(n for k, n in self._reserved.items() if device in (None, k.device)))

    def _over_device(self, device: str | None, extra: int) -> bool:
        bound = self.device_bytes.get(device) if device else None
        return bound is not None and self._used(device) + extra > bound

    def _reserve(self, key: LoadKey, nbytes: int | None) -> None:
        """Hold ``nbytes`` of the byte bounds for the load of ``key``: evict least recently used
        pipelines, or wait for other loads, until they fit. Refuses a model larger than a bound."""
        device_bound = self.device_bytes.get(key.device)
        if (self.max_bytes is None and device_bound is None) or not nbytes:
            return
        from workbench.fetch import human_bytes

        for bound, where in ((self.max_bytes, "this workbench keeps loaded"),
                             (device_bound, f"it keeps on {key.device}")):
            if bound is not None and nbytes > bound:
                raise OutOfMemoryError(
                    f"Model `{key.model}` needs about {human_bytes(nbytes)} as {key.dtype}, more than the "
                    f"{human_bytes(bound)} {where}; pick a smaller model, bfloat16 or int8.")
        deadline = time.monotonic() + RESERVE_WAIT_S
        evicted: list[Loaded] = []
        with self._freed:
            while True:
                evicted += self._evict(keep=None, extra=nbytes, device=key.device)
                fits = self.max_bytes is None or self._used() + nbytes <= self.max_bytes
                if fits and not self._over_device(key.device, nbytes):
                    self._reserved[key] = nbytes
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise OutOfMemoryError(f"Other models are loading and fill this workbench's memory; try "
                                           f"`{key.model}` again in a minute.")
                self._freed.wait(left)
        if evicted:
            del evicted
            release_memory()

    def _release(self, key: LoadKey) -> None:
        """End ``key``'s reservation (caller holds the lock) and wake loads waiting for bytes."""
        if self._reserved.pop(key, None) is not None:
            self._freed.notify_all()

    def _load(self, key: LoadKey) -> Loaded:
        import torch

        spec = get_task(key.task)
        source = resolve_model(key.model, spec, key.revision, policy=self.policy, hub=self.hub)
        device = torch.device(key.device)
        dtype = resolve_dtype(key.dtype, device)  # a quantized model is built in its compute dtype
        start = time.perf_counter()
        config = self._checked_config(spec, source, key.model)
        # a quantized model is quantized after its build: the build's peak is the float model's size
        self._reserve(key, estimate_bytes(source.weights_bytes, config, dtype))
        pipe = self._build(spec, source, config, device, dtype, key.model,
                           quantize=key.dtype if is_quantized(key.dtype) else None)
        seconds = time.perf_counter() - start
        model = pipe.model
        if any(t.is_meta for t in (*model.parameters(), *model.buffers())):  # never cache a half-built model
            raise WorkbenchError(f"Model `{key.model}` did not load completely (some weights stayed on the meta "
                                 "device); try again, and report it if it persists.")
        params = sum(p.numel() for p in model.parameters())
        nbytes = model_bytes(model)  # quantized weights at their real size: what the byte bound counts
        info = offline_info(source.path) if source.kind == "offline" else None
        precision = precision_of(model)
        note = mismatch(key.dtype, precision)
        return Loaded(key, pipe, source, str(device), key.dtype, params, nbytes, seconds,
                      random_weights=bool(info and info.random_weights),
                      description=info.description if info else source.path,
                      precision=precision.label(), attention=precision.attention_label(),
                      notes=[note] if note else [])

    def _checked_config(self, spec: TaskSpec, source: ModelSource, name: str) -> Any:
        """The model's config, loaded once and checked to fit the task; handed down to the build."""
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(source.path, revision=source.revision,
                                                local_files_only=source.local_files_only,
                                                trust_remote_code=self.trust_remote_code)
        except OSError as exc:
            raise ModelNotFoundError(f"Model `{name}` could not be found: {first_line(exc)}") from exc
        except ValueError as exc:
            if "trust_remote_code" in str(exc) and self.policy.hosted:
                raise WorkbenchError(f"Model `{name}` needs custom code from its repository, which this public "
                                     "workbench never runs; pick a model that transformers supports.") from exc
            if "trust_remote_code" in str(exc):
                raise WorkbenchError(
                    f"Model `{name}` needs custom code from its repository. The operator can allow that by "
                    "starting the workbench with WORKBENCH_TRUST_REMOTE_CODE=1."
                ) from exc
            raise ModelTaskMismatchError(f"Model `{name}` has a config transformers cannot use: {first_line(exc)}") from exc
        check_fits(config, spec, name)
        return config

    def _build(self, spec: TaskSpec, source: ModelSource, config: Any, device, dtype, name: str, *,
               quantize: str | None = None) -> Any:
        # Every source but "hub" is a folder on disk (a cache hit is its snapshot folder), so nothing
        # here can reach the network except an explicit Hub id.
        common = dict(revision=source.revision, trust_remote_code=self.trust_remote_code)
        from workbench import compat

        compat.install()
        try:
            with exclusive_build():  # transformers' loading sets process-wide state: one build at a time
                if spec.adapter:
                    built = adapter_class(spec).from_pretrained(source.path, config=config, device=device,
                                                                dtype=dtype, **common)
                else:
                    from transformers import pipeline

                    built = pipeline(spec.pipeline_task, model=source.path, device=device, dtype=dtype,
                                     **_resolve_load_kwargs(spec.load_kwargs), **common)
                if quantize:  # int8/int4: torchao's quantize_ on the built model (workbench/quantize.py)
                    quantize_model(built.model, quantize, model_type=getattr(config, "model_type", "") or name,
                                   device=device)
                    from workbench.kernels import int8_kernels

                    int8_kernels(built.model)  # measures, once per process, which int8 kernel runs it
                return built
        except OSError as exc:
            raise ModelNotFoundError(f"Model `{name}` could not be loaded: {first_line(exc)}") from exc
        except Exception as exc:
            if (broken := broken_file(exc, source.path)) is None:
                raise
            raise ModelNotFoundError(f"Model `{name}` could not be loaded: its file `{broken}` is corrupt or "
                                     f"incomplete ({first_line(exc)}). Download it again, or pick another model.") from exc


def _sweep_idle(manager_ref: "weakref.ref[PipelineManager]", every: float) -> None:
    """Every ``every`` seconds, unload the manager's idle pipelines; ends with the manager."""
    while True:
        time.sleep(every)
        manager = manager_ref()
        if manager is None:
            return
        manager.unload_idle()
        del manager


def _request(task: str | LoadRequest, model: str | None, revision: str | None, device: str,
             dtype: str) -> LoadRequest:
    """``task`` as it is when it is a ``LoadRequest``, else the request of the five values."""
    if isinstance(task, LoadRequest):
        return task
    return LoadRequest(task, model, revision, device, dtype)


def _resolve_load_kwargs(kwargs: Any) -> dict[str, Any]:
    """``spec.load_kwargs`` with a ``pipeline_class`` given as ``"module:Class"`` imported (the
    registry names classes as strings so that importing it never imports torch)."""
    import importlib

    out = dict(kwargs)
    if isinstance(out.get("pipeline_class"), str):
        module, _, name = out["pipeline_class"].partition(":")
        out["pipeline_class"] = getattr(importlib.import_module(module), name)
    return out

