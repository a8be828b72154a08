"""The task registry, and every registered task running end-to-end on its offline model."""

from __future__ import annotations

import numpy as np
import pytest

from workbench.offline import offline_tasks
from workbench.samples import sample_document, sample_image, sample_table, sample_waveform
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
    """Call a pipeline the way its task expects, with one real input of its modality."""
    kwargs = spec.call_kwargs({"candidate_labels": "house, tree, sky"} if any(p.name == "candidate_labels" for p in spec.params) else {})
    image = sample_image()
    wave, sr = sample_waveform()
    if spec.name == "fill-mask":
        return pipe(f"Paris is the {pipe.tokenizer.mask_token} of France.", **kwargs)
    if spec.name == "question-answering":
        return pipe(question="What is the capital of France?", context="Paris is the capital of France.", **kwargs)
    if spec.name == "table-question-answering":
        return pipe(table=sample_table(), query="Which city is in Germany?", **kwargs)
    if spec.name == "document-question-answering":
        doc, words = sample_document()
        return pipe(image=doc, question="What is the total?", word_boxes=words, **kwargs)
    if spec.name == "visual-question-answering":
        return pipe(image=image, question="What color is the house?", **kwargs)
    if spec.name == "image-text-to-text":
        return pipe(images=image, text="<image> Describe the picture.", **kwargs)
    if spec.name in ("object-detection", "zero-shot-object-detection", "image-segmentation"):
        kwargs["threshold"] = 0.0  # random weights rarely cross real thresholds
    if spec.modality == "audio":
        return pipe(wave, **kwargs)
    if spec.modality == "image":
        return pipe(image, **kwargs)
    if spec.modality == "video":
        from workbench.samples import sample_file

        return pipe(sample_file("clip.mp4"), **kwargs)
    return pipe("I love this movie, it is wonderful.", **kwargs)


def _check_shape(spec, out):
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
        assert np.asarray(out, dtype=np.float32).ndim >= 2
    elif kind == "table-answer":
        assert {"answer", "coordinates", "cells", "aggregator"} <= set(out)
    elif kind == "audio":
        assert np.asarray(out["audio"]).size > 0 and out["sampling_rate"] > 0
    elif kind in ("boxes", "masks"):
        assert isinstance(out, list) and all({"label", "score"} <= set(r) for r in out)
    elif kind == "depth":
        assert out["depth"].size == sample_image().size
    elif kind == "mask-generation":
        assert "masks" in out and "scores" in out
    elif kind == "vqa":
        assert isinstance(out, list) and all("answer" in r for r in out)
    else:  # pragma: no cover - a new output kind must be added here
        pytest.fail(f"no shape check for output kind {kind!r}")


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_runs_on_its_offline_model(manager, name):
    spec = TASKS[name]
    pipe = manager.get(name)
    _check_shape(spec, _call(spec, pipe))
