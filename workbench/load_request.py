"""One load request: what a run asks to load, normalised once into the manager's cache key.

A tab, an API call, Compare, the Benchmark, a job file and the CLI all say what to load with the
same five values — task, model, revision, device, dtype — as a user gave them. ``LoadRequest``
holds them as given; ``key()`` normalises them, once, into a ``LoadKey``: the task's canonical name
(aliases resolved), the model trimmed (empty: the task's offline model), the revision checked as a
git ref, device and dtype resolved for this machine (``auto`` -> ``cpu`` / ``float32``) and named as
the UI names them. Everything downstream — the manager's cache, its byte bounds, the build, the
snippet — trusts the key and never re-normalises.

>>> LoadRequest("sentiment-analysis", "  org/model ", device="auto").key()
LoadKey(task='text-classification', model='org/model', revision=None, device='cpu', dtype='float32')
>>> LoadRequest("fill-mask").key().model
'offline:fill-mask'
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LoadKey:
    """What identifies one loaded pipeline: the same key always gives the same object."""

    task: str
    model: str
    revision: str | None
    device: str
    dtype: str


@dataclass(frozen=True)
class LoadRequest:
    """What to load, as given (see the module docstring); ``key()`` is its normal form."""

    task: str
    model: str | None = None
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"

    def key(self) -> LoadKey:
        """The manager's cache key: every value normalised (``DeviceError``, ``DtypeError`` or a
        revision error for what this machine cannot load)."""
        from workbench.devices import precision_name, resolve_device
        from workbench.hub import check_revision
        from workbench.offline import OFFLINE_PREFIX
        from workbench.tasks import get_task

        spec = get_task(self.task)
        device = resolve_device(self.device or "auto")
        dtype = precision_name(self.dtype or "auto", device)  # int8 stays int8: another entry than float32
        model = (self.model or "").strip() or f"{OFFLINE_PREFIX}{spec.name}"
        return LoadKey(spec.name, model, check_revision(self.revision), str(device), dtype)
