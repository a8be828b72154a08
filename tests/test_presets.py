"""Every task has a preset file: recommended models and example inputs that load and are complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.presets import PRESETS_DIR, SAMPLE_PREFIX, load_presets
from workbench.tasks import TASKS, get_task


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_has_presets_that_load(task):
    path = PRESETS_DIR / f"{task}.json"
    assert path.exists(), f"no preset file {path.name}"
    presets = load_presets(task)  # raises on unknown inputs or parameters
    spec = get_task(task)
    assert presets.models, "recommend at least one model"
    for m in presets.models:
        assert m.id.strip() and m.note.strip(), f"model {m.id!r} needs an id and a note"
    assert len({m.id for m in presets.models}) == len(presets.models)
    assert len(presets.examples) >= 2, "give at least two examples"
    required = [p.name for p in spec.params if p.required]
    for e in presets.examples:
        assert set(e.inputs) == set(spec.inputs), f"an example must give every input {spec.inputs}"
        assert all(v not in (None, "") for v in e.inputs.values())
        missing = [name for name in required if name not in e.params]
        assert not missing, f"example {e.inputs} lacks required parameter(s) {missing}"


@pytest.mark.parametrize("task", sorted(TASKS))
def test_example_files_exist(task):
    path = PRESETS_DIR / f"{task}.json"
    if not path.exists():
        pytest.skip(f"no preset file {path.name} (reported by test_task_has_presets_that_load)")
    raw = json.loads(path.read_text())
    for raw_example, example in zip(raw.get("examples", []), load_presets(task).examples):
        for name, value in raw_example["inputs"].items():
            if isinstance(value, str) and (value.startswith(SAMPLE_PREFIX) or value.startswith("files/")):
                assert Path(example.inputs[name]).is_file(), f"{task}: example file {value!r} does not exist"


@pytest.mark.parametrize("task", sorted(t for t, s in TASKS.items() if "table" in s.inputs))
def test_table_examples_are_columns_of_strings(task):
    for e in load_presets(task).examples:
        table = e.inputs["table"]
        assert isinstance(table, dict) and table
        lengths = {len(column) for column in table.values()}
        assert len(lengths) == 1, "every column needs the same number of rows"
        assert all(isinstance(cell, str) for column in table.values() for cell in column)
