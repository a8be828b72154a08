"""Per-task presets: recommended Hub models and example inputs, read from ``presets/<task>.json``.

A preset file looks like::

    {"models": [{"id": "distilbert/distilbert-base-uncased-finetuned-sst-2-english", "revision": "714eb0f",
                 "model_type": "distilbert", "note": "SST-2 sentiment, 67M parameters"}],
     "examples": [{"inputs": {"text": "I love this!"}, "params": {"top_k": 2}}]}

``model_type`` is the model's ``config.model_type`` on the Hub; a composite model (a
``vision-encoder-decoder``) also gives ``parts``, its encoder's and decoder's model types.
``workbench.model_needs.check_model_type`` checks with them that the preset can load here.

An example input that is a string starting with ``sample:`` names a file made by
``workbench.samples.sample_file`` (``sample:image.png``); other relative file paths are taken
from ``presets/files/``.

    load_presets("text-classification").models[0].id
    # -> 'distilbert/distilbert-base-uncased-finetuned-sst-2-english'
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from workbench.samples import sample_file
from workbench.tasks import TASKS, get_task

PRESETS_DIR = Path(__file__).resolve().parent.parent / "presets"
SAMPLE_PREFIX = "sample:"


@dataclass(frozen=True)
class PresetModel:
    id: str
    revision: str | None = None
    note: str = ""
    model_type: str = ""  # the checkpoint's config.model_type
    parts: tuple[str, ...] = ()  # a composite model's encoder and decoder model types


@dataclass(frozen=True)
class Example:
    inputs: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Presets:
    task: str
    models: tuple[PresetModel, ...]
    examples: tuple[Example, ...]


def resolve_example_value(value: Any) -> Any:
    """``sample:NAME`` -> a generated file's path; ``files/...`` -> a path under presets/; a list
    (several images) item by item; else as is."""
    if isinstance(value, list):
        return [resolve_example_value(v) for v in value]
    if isinstance(value, str):
        if value.startswith(SAMPLE_PREFIX):
            return sample_file(value.removeprefix(SAMPLE_PREFIX))
        if value.startswith("files/"):
            return str(PRESETS_DIR / value)
    return value


@lru_cache(maxsize=None)
def load_presets(task: str) -> Presets:
    """The presets of ``task``: its spec's own (``spec.presets``), else ``presets/<task>.json``
    (empty when it has neither)."""
    spec = get_task(task)
    path = PRESETS_DIR / f"{spec.name}.json"
    if spec.presets is not None:
        data = dict(spec.presets)
    else:
        data = json.loads(path.read_text()) if path.exists() else {}
    models = tuple(PresetModel(m["id"], m.get("revision"), m.get("note", ""), m.get("model_type", ""),
                               tuple(m.get("parts", ()))) for m in data.get("models", []))
    examples = tuple(Example({k: resolve_example_value(v) for k, v in e["inputs"].items()}, dict(e.get("params", {})))
                     for e in data.get("examples", []))
    unknown = {k for e in examples for k in e.inputs} - set(spec.inputs)
    if unknown:
        raise ValueError(f"{path}: example inputs {sorted(unknown)} are not inputs of {spec.name} {spec.inputs}")
    for e in examples:
        spec.call_kwargs(e.params)  # raises on an unknown parameter
    return Presets(spec.name, models, examples)


def presets_markdown() -> str:
    """The README's table of every preset model, by task in registry order, with its model type.

    >>> presets_markdown().splitlines()[2]
    '| text-classification | `distilbert/distilbert-base-uncased-finetuned-sst-2-english` at `714eb0f` | `distilbert` |'
    """
    rows = ["| task | model | model type |", "|---|---|---|"]
    for task in TASKS:
        for m in load_presets(task).models:
            at = f" at `{m.revision}`" if m.revision else ""
            parts = f" (`{'` + `'.join(m.parts)}`)" if m.parts else ""
            rows.append(f"| {task} | `{m.id}`{at} | `{m.model_type}`{parts} |")
    return "\n".join(rows)
