"""The registry against transformers' own task table: every task ``transformers.pipelines.SUPPORTED_TASKS``
lists is registered (as the pipeline task of one of ours, or an alias of one), or named in
``NOT_OFFERED`` with the reason — so a task a future transformers release adds fails here until it
is offered or explained."""

from __future__ import annotations

from transformers.pipelines import SUPPORTED_TASKS, TASK_ALIASES

from workbench.tasks import ALIASES, TASKS, get_task

#: Tasks transformers offers that the workbench knowingly does not, and why. Empty with transformers
#: 5.25: its 25 tasks are all offered (any-to-any with audio and text in: for models that read
#: images or video its pipeline requires torchvision, which this project does not install).
NOT_OFFERED: dict[str, str] = {}


def test_every_transformers_task_is_offered_or_explained():
    offered = {spec.pipeline_task for spec in TASKS.values() if spec.pipeline_task}
    missing = set(SUPPORTED_TASKS) - offered - set(NOT_OFFERED)
    assert not missing, (f"transformers lists task(s) {sorted(missing)} that the workbench neither registers nor "
                         "explains: register each (workbench/tasks.py) or add it to NOT_OFFERED with the reason")
    assert not set(NOT_OFFERED) & offered, "a task in NOT_OFFERED is registered: remove it from the table"
    assert set(NOT_OFFERED) <= set(SUPPORTED_TASKS), "NOT_OFFERED names a task transformers no longer lists"


def test_registered_pipeline_tasks_exist_in_transformers():
    unknown = {s.name: s.pipeline_task for s in TASKS.values() if s.pipeline_task and s.pipeline_task not in SUPPORTED_TASKS}
    assert not unknown, f"these tasks run a pipeline transformers does not list: {unknown}"


def test_transformers_aliases_resolve_to_the_same_task():
    for alias, task in TASK_ALIASES.items():
        assert get_task(alias).pipeline_task == task, alias
    assert all(alias in ALIASES or alias in TASKS for alias in TASK_ALIASES)


def test_the_tasks_transformers_5_added_are_offered():
    for name in ("keypoint-matching", "decision", "any-to-any"):
        assert get_task(name).pipeline_task == name
