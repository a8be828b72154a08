"""What every tab is told about this machine and its models (``TabContext``): ``make_context``, once per app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from components.runs import Workers


@dataclass(frozen=True)
class TabContext:
    """What every tab shares, computed once by the app: machine and model availability."""

    devices: list[str]
    dtypes: list[str]
    online: bool
    offline_tasks: frozenset[str]
    cached: frozenset[str] = frozenset()  # repo ids in the local HF cache
    local_models: dict[str, list[Any]] = field(default_factory=dict)  # task -> CachedModel list
    concurrency_limit: int = 2
    workers: Workers = field(default_factory=Workers)  # every run's worker until it has really stopped



def make_context(*, concurrency_limit: int = 2, list_local: bool = True,
                 tasks: list[str] | None = None) -> TabContext:
    """The devices, dtypes, Hub reachability, offline models and cached models the tabs offer
    (``list_local=False``, on a public host: the model pickers list no cached or local models;
    ``tasks``: the cached models are matched to these tasks only, default every registered one)."""
    from workbench.devices import available_devices, available_dtypes
    from workbench.hub import hub_reachable
    from workbench.models import local_models
    from workbench.offline import offline_tasks
    from workbench.tasks import TASKS

    cached = local_models()
    names = list(TASKS) if tasks is None else tasks
    per_task = {name: local_models(TASKS[name]) for name in names} if cached and list_local else {}
    return TabContext(devices=available_devices(), dtypes=available_dtypes("auto"), online=hub_reachable(),
                      offline_tasks=frozenset(offline_tasks()), cached=frozenset(m.repo_id for m in cached),
                      local_models=per_task, concurrency_limit=concurrency_limit)
