"""Every task has a preset file: recommended models and example inputs that load and are complete."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from workbench.model_needs import PROGRAM_PACKAGES, check_model_type, distribution
from workbench.presets import PRESETS_DIR, SAMPLE_PREFIX, load_presets, presets_markdown
from workbench.tasks import TASKS, get_task

ROOT = PRESETS_DIR.parent
PRESET_MODELS = [(task, m) for task in sorted(TASKS) for m in load_presets(task).models]


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_has_presets_that_load(task):
    path = PRESETS_DIR / f"{task}.json"
    assert path.exists(), f"no preset file {path.name}"
    presets = load_presets(task)  # raises on unknown inputs or parameters
    spec = get_task(task)
    assert presets.models, "recommend at least one model"
    for m in presets.models:
        assert m.id.strip() and m.note.strip(), f"model {m.id!r} needs an id and a note"
        assert m.model_type.strip(), f"model {m.id!r} needs its model_type (config.model_type on the Hub)"
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
            several = isinstance(value, list)  # several images: each
            given, files = (value, example.inputs[name]) if several else ([value], [example.inputs[name]])
            for one, file in zip(given, files):
                if isinstance(one, str) and (one.startswith(SAMPLE_PREFIX) or one.startswith("files/")):
                    assert Path(file).is_file(), f"{task}: example file {one!r} does not exist"


@pytest.mark.parametrize("task", sorted(t for t, s in TASKS.items() if "table" in s.inputs))
def test_table_examples_are_columns_of_strings(task):
    for e in load_presets(task).examples:
        table = e.inputs["table"]
        assert isinstance(table, dict) and table
        lengths = {len(column) for column in table.values()}
        assert len(lengths) == 1, "every column needs the same number of rows"
        assert all(isinstance(cell, str) for column in table.values() for cell in column)


# ---- every preset loads here ------------------------------------------------------------------------


@pytest.mark.parametrize(("task", "model"), PRESET_MODELS, ids=[f"{t}:{m.id}" for t, m in PRESET_MODELS])
def test_preset_loads_with_what_setup_installs(task, model):
    """The task has a model class for the preset's model type, and every tokenizer, image processor,
    feature extractor and processor class transformers maps it to works here (backends installed)."""
    check = check_model_type(task, model.model_type, model.parts)
    assert check.ok, f"{model.id} ({model.model_type}) cannot load here:\n" + "\n".join(check.problems)
    assert check.model_class


def test_readme_lists_every_preset_with_its_model_type():
    readme = (ROOT / "README.md").read_text()
    assert presets_markdown() in readme, ("README.md's table of preset models is out of date; replace it with "
                                          "python -c 'from workbench.presets import presets_markdown as p; print(p())'")


def _installed_by(requirements: Path) -> set[str]:
    """The distributions ``pip install -r requirements`` installs: those it names and, from the
    installed packages' metadata, everything they require (extras left out)."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    todo = [Requirement(line.split("#", 1)[0].strip()) for line in requirements.read_text().splitlines()
            if line.split("#", 1)[0].strip()]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in requires(req.name) or ()]
        except PackageNotFoundError:
            continue
    return seen


def test_presets_backends_are_in_requirements():
    """What the presets need comes from requirements.txt (which scripts/setup.sh installs), not from
    whatever else happens to be installed: protobuf, for one, also comes with Ray."""
    from packaging.utils import canonicalize_name

    installed = _installed_by(ROOT / "requirements.txt")
    needed = {b for t, m in PRESET_MODELS for b in check_model_type(t, m.model_type, m.parts).backends}
    missing = sorted(distribution(b) for b in needed if canonicalize_name(distribution(b)) not in installed)
    assert not missing, f"add {missing} to requirements.txt"


def test_presets_programs_are_installed_by_setup():
    programs = {p for t, m in PRESET_MODELS for p in check_model_type(t, m.model_type, m.parts).programs}
    assert programs == {"tesseract"}  # LayoutLM's OCR
    setup, packages = (ROOT / "scripts" / "setup.sh").read_text(), (ROOT / "packages.txt").read_text().split()
    for program in programs:
        assert PROGRAM_PACKAGES[program] in packages and f"command -v {program}" in setup
        assert PROGRAM_PACKAGES[program] in setup


# ---- every example runs as it is clicked -----------------------------------------------------------


@pytest.fixture(scope="module")
def example_widgets():
    """Every task's input and parameter widgets with their ``gr.Examples``, built once."""
    import gradio as gr

    from components.examples import build_examples
    from components.inputs import build_inputs
    from components.params import build_params

    built = {}
    with gr.Blocks():
        for name, spec in TASKS.items():
            inputs, params = build_inputs(spec), build_params(spec)
            built[name] = inputs, params, build_examples(inputs, params)
    return built


def _round_trip(component, payload):
    """What the Run callback receives for a widget that shows ``payload``: the value the browser
    holds, sent back and preprocessed by the component, as Gradio does."""
    from gradio.data_classes import GradioModel, GradioRootModel

    model = getattr(component, "data_model", None)
    if payload is not None and isinstance(model, type) and issubclass(model, (GradioModel, GradioRootModel)):
        payload = model.model_validate(payload)
    return component.preprocess(payload)


EXAMPLE_CASES = [(task, i) for task in sorted(TASKS) for i in range(len(load_presets(task).examples))]


@pytest.mark.parametrize(("task", "index"), EXAMPLE_CASES, ids=[f"{t}-{i}" for t, i in EXAMPLE_CASES])
def test_every_example_runs_as_clicked(example_widgets, manager, task, index):
    """Clicking an example fills the widgets (Gradio's own processing of the example values), Run
    sends them back: the service gets the example's inputs and parameters and runs them."""
    from workbench.service import run_task

    inputs, params, examples = example_widgets[task]
    filled = examples._get_processed_example(examples.non_none_examples[index])  # what a click loads
    values = {key: _round_trip(c, c.value) for key, c in zip(inputs.keys + params.keys,
                                                             inputs.components + params.components)}
    keys = {id(c): k for k, c in zip(inputs.keys + params.keys, inputs.components + params.components)}
    for component, payload in zip(examples.inputs_with_examples, filled):
        values[keys[id(component)]] = _round_trip(component, payload)
    service_inputs, service_params = inputs.to_service(values), params.to_service(values)
    example = load_presets(task).examples[index]
    spec = get_task(task)
    expected = {p.name: v for p in spec.params if (v := example.params.get(p.name, p.default)) is not None}
    assert spec.call_kwargs(service_params) == spec.call_kwargs(expected), "the parameters came back changed"
    result = run_task(manager, task, service_inputs, service_params, model=f"offline:{task}")
    if "table" in example.inputs:
        assert result.inputs["table"].to_dict(orient="list") == example.inputs["table"]
    assert result.output is not None
