"""Golden parity: our adapters answer as transformers 4.57's pipelines did on the same model folders.

The reference outputs in ``tests/goldens/parity-4.57.json`` come from 4.57.6 itself
(``scripts/parity-goldens.sh``); the cases are in ``tests/parity_cases.py``. Answers, start/end and
generated text must be equal, scores within 1e-4.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.parity_cases import CASES, GOLDENS, VARIANTS, Case, build_variant, sample_image_file
from workbench.offline import offline_model_path

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def goldens() -> dict[str, Any]:
    return json.loads(GOLDENS.read_text())["outputs"]


@pytest.fixture(scope="module")
def parity_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("parity")


@pytest.fixture(scope="module")
def image_file(parity_dir) -> str:
    return sample_image_file(parity_dir)


def folder(case: Case, parity_dir: Path) -> str:
    """The case's model folder: an offline model, or a variant built next to it (once)."""
    if case.model not in VARIANTS:
        return offline_model_path(case.model, prefer_real=False)
    dest = parity_dir / case.model
    if not dest.exists():
        variant = VARIANTS[case.model]
        build_variant(offline_model_path(variant.base, prefer_real=False), dest, variant)
    return str(dest)


def differences(ours: Any, old: Any, where: str = "output") -> list[str]:
    """Where ``ours`` and ``old`` differ: types, keys, lengths, text, ints exactly, floats by TOLERANCE."""
    if isinstance(old, float) and isinstance(ours, (int, float)):
        return [] if math.isclose(ours, old, rel_tol=0, abs_tol=TOLERANCE) else [f"{where}: {ours} != {old}"]
    if type(ours) is not type(old):
        return [f"{where}: {type(ours).__name__} {ours!r} != {type(old).__name__} {old!r}"]
    if isinstance(old, dict):
        if set(ours) != set(old):
            return [f"{where}: keys {sorted(ours)} != {sorted(old)}"]
        return [d for k in old for d in differences(ours[k], old[k], f"{where}[{k!r}]")]
    if isinstance(old, list):
        if len(ours) != len(old):
            return [f"{where}: {len(ours)} items != {len(old)}: {ours!r} vs {old!r}"]
        return [d for i, (a, b) in enumerate(zip(ours, old)) for d in differences(a, b, f"{where}[{i}]")]
    return [] if ours == old else [f"{where}: {ours!r} != {old!r}"]


def test_every_case_has_a_golden_with_text(goldens):
    assert set(goldens) == {c.name for c in CASES}, "regenerate with scripts/parity-goldens.sh"
    for name, output in goldens.items():
        assert texts(output) and any(t.strip() for t in texts(output)), f"{name}: no text in {output!r}"


def texts(value: Any) -> list[str]:
    """Every answer / generated text in an output."""
    if isinstance(value, list):
        return [t for v in value for t in texts(v)]
    return [v for k, v in value.items() if k == "answer" or k.endswith("_text")]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_adapter_matches_transformers_4_57(case, goldens, manager, parity_dir, image_file):
    adapter = manager.get(case.task, folder(case, parity_dir))
    inputs = {k: image_file if k == "image" else v for k, v in case.inputs.items()}
    if case.task in ("question-answering", "visual-question-answering"):
        ours = adapter(**inputs, **case.kwargs)
    else:
        (value,) = inputs.values()
        ours = adapter(value, **case.kwargs)
    ours = json.loads(json.dumps(ours))  # the same plain JSON values as the golden
    assert differences(ours, goldens[case.name]) == []


def test_the_differences_check_can_fail():
    old = [{"score": 0.5, "start": 1, "end": 4, "answer": "abc"}]
    assert differences([{"score": 0.50005, "start": 1, "end": 4, "answer": "abc"}], old) == []
    assert differences([{"score": 0.5002, "start": 1, "end": 4, "answer": "abc"}], old)
    assert differences([{"score": 0.5, "start": 0, "end": 4, "answer": "abc"}], old)
    assert differences([{"score": 0.5, "start": 1, "end": 4, "answer": "ABC"}], old)
    assert differences({"score": 0.5, "start": 1, "end": 4, "answer": "abc"}, old)  # dict vs list


@pytest.mark.parametrize("name", ["qa-model-length-defaults", "summarization-task-params", "translation-default"])
def test_the_tabs_defaults_are_the_old_pipelines(name, goldens, manager, parity_dir):
    """A tab sends every parameter's default: they must leave 4.57's own defaults in place (QA's
    window follows the model's length, 128 tokens here; a T5's task_specific_params and 4.57's
    4 beams / 256 tokens apply to generation)."""
    from workbench.service import run_task
    from workbench.tasks import get_task

    case = next(c for c in CASES if c.name == name)
    defaults = {p.name: p.default for p in get_task(case.task).params}
    inputs = {"text": case.inputs["text"]} if "text" in case.inputs else case.inputs
    result = run_task(manager, case.task, inputs, {**defaults, **case.kwargs}, model=folder(case, parity_dir))
    assert differences(json.loads(json.dumps(result.output)), goldens[case.name]) == []
