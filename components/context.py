"""What every tab is told about this machine and its models: ``make_context``, once per app."""

from __future__ import annotations

from components.task_tab import TabContext


def make_context(*, concurrency_limit: int = 2, list_local: bool = True,
                 tasks: list[str] | None = None) -> TabContext:
    """The devices, dtypes, Hub reachability, offline models and cached models the tabs offer
    (``list_local=False``, on a public host: the model pickers list no cached or local models;
    ``tasks``: the cached models are matched to these tasks only, default every registered one)."""
    from workbench.devices import available_devices, available_dtypes
    from workbench.models import hub_reachable, local_models
    from workbench.offline import offline_tasks
    from workbench.tasks import TASKS

    cached = local_models()
    names = list(TASKS) if tasks is None else tasks
    per_task = {name: local_models(TASKS[name]) for name in names} if cached and list_local else {}
    return TabContext(devices=available_devices(), dtypes=available_dtypes("auto"), online=hub_reachable(),
                      offline_tasks=frozenset(offline_tasks()), cached=frozenset(m.repo_id for m in cached),
                      local_models=per_task, concurrency_limit=concurrency_limit)
