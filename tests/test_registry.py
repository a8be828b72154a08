"""The task registry, and every registered task running end-to-end on its offline model."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.offline import offline_tasks
from workbench.tasks import ALIASES, TASKS, UnknownTaskError, get_task

ISSUE_TASKS = {
    "text-classification", "token-classification", "question-answering", "fill-mask", "text-generation",
    "summarization", "translation", "zero-shot-classification", "feature-extraction", "table-question-answering",
    "text-to-audio", "image-classification", "object-detection", "image-segmentation", "depth-estimation",
    "zero-shot-image-classification", "zero-shot-object-detection", "image-feature-extraction", "image-to-text",
    "mask-generation", "automatic-speech-recognition", "audio-classification", "zero-shot-audio-classification",
    "document-question-answering", "visual-question-answering", "image-text-to-text",
}


def test_registry_covers_the_issue():
    assert ISSUE_TASKS <= set(TASKS)


def test_aliases():
    assert get_task("sentiment-analysis") is TASKS["text-classification"]
    assert get_task("ner") is TASKS["token-classification"]
    assert get_task("translation_en_to_fr") is TASKS["translation"]
    assert all(alias not in TASKS for alias in ALIASES)


def test_unknown_task_lists_valid_names():
    with pytest.raises(UnknownTaskError) as info:
        get_task("no-such-task")
    assert all(name in str(info.value) for name in TASKS)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_spec_is_consistent(name):
    spec = TASKS[name]
    assert spec.inputs and spec.title and spec.description
    assert len({p.name for p in spec.params}) == len(spec.params)
    defaults = spec.call_kwargs()
    assert all(v is not None for v in defaults.values())
    with pytest.raises(TypeError, match="valid"):
        spec.call_kwargs({"no_such_param": 1})
    if spec.pipeline_task:
        from transformers.pipelines import SUPPORTED_TASKS

        assert spec.pipeline_task in SUPPORTED_TASKS


def test_api_names_are_unique():
    names = [s.api_name for s in TASKS.values()]
    assert len(set(names)) == len(names)


def test_every_task_has_an_offline_model():
    assert set(TASKS) <= set(offline_tasks())


def _call(spec, pipe):
    """Call a pipeline as a run of its task does (its ``spec.call``), on the task's own case: the
    first preset example, else one input of each kind (``tests.task_cases``)."""
    from tests.task_cases import task_case
    from workbench.service import decode_inputs

    inputs, params = task_case(spec)
    prepared = spec.call.prepare(pipe, decode_inputs(spec, inputs), spec.call_kwargs(params))
    return spec.call(pipe, prepared.inputs, prepared.kwargs, spec.post_kwargs(params)), prepared.inputs


def _check_shape(spec, out, inputs):
    kind = spec.output
    if kind in ("labels", "video-labels"):
        if isinstance(out, dict):  # zero-shot text classification: {"sequence", "labels", "scores"}
            assert len(out["labels"]) == len(out["scores"]) > 0
        else:  # [{"label", "score"}]; fill-mask names its label "token_str"
            assert out and all(isinstance(r.get("label", r.get("token_str")), str) and isinstance(r["score"], float)
                               for r in out)
    elif kind == "entities":
        assert isinstance(out, list) and all({"score", "word", "start", "end"} <= set(e) for e in out)
    elif kind == "answer":
        first = out[0] if isinstance(out, list) else out
        assert {"score", "start", "end", "answer"} <= set(first)
    elif kind == "text":
        first = out[0] if isinstance(out, list) else out
        assert isinstance(first, dict) and any(isinstance(v, str) for v in first.values())
    elif kind == "embeddings":
        assert np.asarray(out["embeddings"], dtype=np.float32).ndim >= 1 and out["embeddings"]
    elif kind == "table-answer":
        assert {"answer", "coordinates", "cells", "aggregator"} <= set(out)
    elif kind == "audio":
        assert np.asarray(out["audio"]).size > 0 and out["sampling_rate"] > 0
    elif kind in ("boxes", "masks"):
        assert isinstance(out, list) and all({"label", "score"} <= set(r) for r in out)
    elif kind == "depth":
        assert out["depth"].size == inputs["image"].size
    elif kind == "mask-generation":
        assert "masks" in out and "scores" in out
    elif kind == "vqa":
        assert isinstance(out, list) and all("answer" in r for r in out)
    elif kind == "matches":  # keypoint matching: best first, each keypoint inside its image
        assert isinstance(out, list) and out == sorted(out, key=lambda m: -m["score"])
        for m in out:
            for key, name in (("keypoint_image_0", "image"), ("keypoint_image_1", "image_2")):
                width, height = inputs[name].size
                assert 0 <= m[key]["x"] < width and 0 <= m[key]["y"] < height
    elif kind == "decision":  # answers keyed by question, probabilities that sum to 1
        assert set(out) == set(inputs["questions"])
        for answer in out.values():
            assert answer["type"] in ("choice", "score", "noul")
            if "probabilities" in answer:
                assert abs(sum(answer["probabilities"].values()) - 1) < 1e-4
    else:  # pragma: no cover - a new output kind must be added here
        pytest.fail(f"no shape check for output kind {kind!r}")


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_runs_on_its_offline_model(manager, name):
    spec = TASKS[name]
    pipe = manager.get(name)
    _check_shape(spec, *_call(spec, pipe))
