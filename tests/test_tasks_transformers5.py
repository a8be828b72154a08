"""The tasks transformers 5.x added to its ``SUPPORTED_TASKS``: keypoint matching (two images in,
matched keypoints out), decision (typed questions answered with a probability per option) and
any-to-any (here: a sound and a prompt in, text out) — each through the service with its offline
model, its code view, the batch runner's backend, a tiny benchmark sweep and its named API
endpoint. Weights are random: shapes, orderings and equivalences, never meanings.
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from workbench.errors import InputError
from workbench.presets import load_presets
from workbench.samples import sample_file, sample_image
from workbench.service import decode_inputs, run_task
from workbench.tasks import get_task

NEW_TASKS = ("keypoint-matching", "decision", "any-to-any")


def _rounded(x: Any, digits: int = 4) -> Any:
    if isinstance(x, dict):
        return {k: _rounded(v, digits) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v, digits) for v in x]
    return round(float(x), digits) if isinstance(x, float) else x


def _example(task: str) -> tuple[dict[str, Any], dict[str, Any]]:
    example = load_presets(task).examples[0]
    return dict(example.inputs), dict(example.params)


# ---- keypoint matching ------------------------------------------------------------------------------


def test_keypoint_matching_runs_and_its_snippet_gives_the_same_matches(manager):
    inputs, params = _example("keypoint-matching")
    result = run_task(manager, "keypoint-matching", inputs, params)
    assert result.model == "offline:keypoint-matching" and result.random_weights
    matches = result.output
    assert matches and matches == sorted(matches, key=lambda m: -m["score"])
    first, second = Image.open(inputs["image"]).size, Image.open(inputs["image_2"]).size
    for m in matches:
        assert set(m) == {"keypoint_image_0", "keypoint_image_1", "score"} and 0.0 <= m["score"] <= 1.0
        assert 0 <= m["keypoint_image_0"]["x"] < first[0] and 0 <= m["keypoint_image_0"]["y"] < first[1]
        assert 0 <= m["keypoint_image_1"]["x"] < second[0] and 0 <= m["keypoint_image_1"]["y"] < second[1]
    scope: dict[str, Any] = {}
    exec(compile(result.code, "<snippet keypoint-matching>", "exec"), scope)
    assert "pipe([" in result.code and _rounded(scope["result"]) == _rounded(matches)


def test_keypoint_threshold_keeps_the_better_matches(manager):
    spec = get_task("keypoint-matching")
    pipe = manager.get(spec.name)
    x = decode_inputs(spec, _example(spec.name)[0])
    every = spec.call(pipe, x, spec.call_kwargs(), {})
    cut = sorted(m["score"] for m in every)[len(every) // 2]
    kept = spec.call(pipe, x, spec.call_kwargs({"threshold": cut}), {})
    assert kept and len(kept) < len(every) and all(m["score"] >= cut for m in kept)


def test_keypoint_runner_batches_pairs_of_different_sizes_as_one_by_one(manager):
    from workbench.runner import backend_for, run_batch
    from workbench.task_backends import KeypointBackend

    pipe = manager.get("keypoint-matching")
    a, b = sample_image(), sample_image(96)
    items = [{"image": a, "image_2": a.rotate(12)}, {"image": b, "image_2": a}, {"image": a.resize((160, 90)), "image_2": b}]
    assert type(backend_for(pipe, {})) is KeypointBackend
    batched = run_batch(pipe, items, batch_size=4, threshold=0.0).results
    assert _rounded(batched) == _rounded([pipe([i["image"], i["image_2"]], threshold=0.0) for i in items])


def test_matches_are_drawn_on_the_two_images_side_by_side():
    from workbench.keypoints import MATCHES, draw_matches, match_rows

    a, b = sample_image(100), sample_image(50)
    m = [{"keypoint_image_0": {"x": 10, "y": 10}, "keypoint_image_1": {"x": 40, "y": 40}, "score": 0.8},
         {"keypoint_image_0": {"x": 90, "y": 5}, "keypoint_image_1": {"x": 1, "y": 2}, "score": 0.1}]
    drawn = draw_matches(a, b, m, height=100)
    assert drawn.size == (200, 100)  # both at height 100
    plain = draw_matches(a, b, [], height=100)
    assert np.asarray(drawn).tolist() != np.asarray(plain).tolist()  # the lines are drawn
    assert match_rows(m)[0] == [1, 10, 10, 40, 40, 0.8]
    assert MATCHES.agreement(m, m[:1]) == {"matches": [2, 1], "same_matches": 0.5, "max_score_diff": 0.0}
    assert MATCHES.top(m) == 2


# ---- decision --------------------------------------------------------------------------------------


def test_decision_answers_every_question_with_probabilities(manager):
    inputs, params = _example("decision")
    questions = inputs["questions"]
    result = run_task(manager, "decision", {**inputs, "questions": json.dumps(questions)}, params)  # the tab's JSON text
    assert result.model == "offline:decision" and result.random_weights
    out = result.output
    assert set(out) == set(questions)
    assert out["refund"]["type"] == "noul" and 0.0 <= out["refund"]["noul"] <= 1.0
    tone = out["tone"]
    assert tone["choice"] in questions["tone"]["criteria"] and set(tone["probabilities"]) == {"calm", "angry", "neutral"}
    assert tone["choice"] == max(tone["probabilities"], key=tone["probabilities"].get)
    urgency = out["urgency"]
    assert set(urgency["probabilities"]) == {"0", "1", "2"} and 0.0 <= urgency["score"] <= 2.0
    for answer in (tone, urgency):
        assert abs(sum(answer["probabilities"].values()) - 1) < 1e-5 and 0.0 <= answer["confidence"] <= 1.0
    scope: dict[str, Any] = {}
    exec(compile(result.code, "<snippet decision>", "exec"), scope)
    assert _rounded(scope["result"]) == _rounded(out)


def test_decision_refuses_bad_questions_with_what_is_accepted(manager):
    with pytest.raises(InputError, match="must be JSON"):
        run_task(manager, "decision", {"state": "hi", "questions": "{not json"})
    with pytest.raises(Exception, match="must be one of noul, choice, score"):
        run_task(manager, "decision", {"state": "hi", "questions": '{"q": {"type": "maybe"}}'})


def test_decision_runner_batches_prompts_as_the_pipeline_answers(manager):
    from workbench.runner import backend_for, run_batch
    from workbench.task_backends import DecisionBackend

    pipe = manager.get("decision")
    questions = load_presets("decision").examples[0].inputs["questions"]
    items = [{"state": s, "questions": questions} for s in
             ("Short.", "A much longer message about an order that was charged twice and never arrived.", "Refund?")]
    assert type(backend_for(pipe, {})) is DecisionBackend
    batched = run_batch(pipe, items, batch_size=8).results  # nine prompts of three lengths in one pass
    assert _rounded(batched, 3) == _rounded([pipe(item) for item in items], 3)


def test_decision_tables():
    from components.renderers import DecisionRenderer
    from workbench.results import RunResult  # noqa: F401 (the renderer reads result.output only)
    from workbench.decision import DECISION, option_rows

    out = {"q": {"type": "score", "score": 1.6, "legend": {"0": "low", "1": "mid", "2": "high"}, "confidence": 0.5,
                 "probabilities": {"0": 0.1, "1": 0.2, "2": 0.7}}}
    assert option_rows(out) == [["q", "0: low", 0.1], ["q", "1: mid", 0.2], ["q", "2: high", 0.7]]
    assert DECISION.top(out) == {"q": 1.6}
    assert DECISION.agreement(out, out)["same_answers"] == 1.0

    class Result:
        output = out

    answers, options = DecisionRenderer(get_task("decision")).values(Result())
    assert answers.values.tolist() == [["q", "score", "1.6 (≈ high)", 0.5]] and len(options) == 3


# ---- any-to-any ------------------------------------------------------------------------------------


def test_any_to_any_answers_a_sound_and_a_prompt(manager):
    inputs, params = _example("any-to-any")
    result = run_task(manager, "any-to-any", inputs, params)
    assert result.model == "offline:any-to-any" and result.random_weights
    assert isinstance(result.output, list) and set(result.output[0]) == {"generated_text"}
    assert isinstance(result.output[0]["generated_text"], str)
    assert "messages = [" in result.code and '"type": "audio"' in result.code


def test_any_to_any_runner_batches_as_one_by_one(manager):
    from workbench.audio_inputs import load_audio
    from workbench.runner import run_batch
    from workbench.workloads import audio_clips

    spec = get_task("any-to-any")
    pipe = manager.get(spec.name)
    clips = audio_clips(3, seed=1) + [load_audio(sample_file("tone.wav"))]
    items = [{"audio": c, "text": "What is this sound?"} for c in clips]
    batched = run_batch(pipe, items, batch_size=4, max_new_tokens=6, return_full_text=False).results
    single = [spec.call(pipe, i, {"max_new_tokens": 6}, {}) for i in items]  # the tab's call: without input_text
    assert [r[0]["generated_text"] for r in batched] == [r[0]["generated_text"] for r in single]


# ---- every new task: benchmark sweep and named API endpoint ----------------------------------------


@pytest.mark.parametrize("task", NEW_TASKS)
def test_benchmark_sweep(manager, task):
    from workbench.bench import BenchConfig, run_benchmark
    from workbench.bench.sweep import PLAIN_CANNOT_BATCH
    from workbench.workloads import make_workload, workloads_for

    spec = get_task(task)
    workload = workloads_for(task)[0]
    work = make_workload(workload, task, n=4)
    assert len(work.items) == 4  # as the pipeline takes them: a pair of images, a request, a chat
    table = run_benchmark(manager, BenchConfig(task, batch_sizes=(1, 2), n=4, repeats=1, workload=workload)).table
    status = {(r.runner, r.batch_size): r.status for r in table.itertuples()}
    plain_2 = "ok" if spec.bench.plain_batches else PLAIN_CANNOT_BATCH  # transformers' own batching fails there
    assert status == {("plain", 1): "ok", ("plain", 2): plain_2, ("runner", 1): "ok", ("runner", 2): "ok"}, status
    assert table[table.runner == "runner"].items_per_s.notna().all()


def test_named_api_endpoints(manager):
    from gradio_client import Client, handle_file

    from components.context import make_context
    from components.task_tab import build_task_tab
    from tests.app_server import serving

    with gr.Blocks() as demo:
        for task in NEW_TASKS:
            with gr.Tab(get_task(task).title):
                build_task_tab(get_task(task), manager, make_context(tasks=list(NEW_TASKS)))
    with serving(demo) as url:
        client = Client(url, verbose=False)
        drawn, table, raw, info, code = client.predict(
            image=handle_file(sample_file("image.png")), image_2=handle_file(sample_file("image-turned.png")),
            threshold=0.0, api_name="/keypoint_matching")
        assert raw and set(raw[0]) == {"keypoint_image_0", "keypoint_image_1", "score"} and "offline:keypoint-matching" in info
        assert len(table["data"]) == len(raw) and Image.open(drawn).width > Image.open(sample_file("image.png")).width
        questions = load_presets("decision").examples[0].inputs["questions"]
        answers, options, raw, info, code = client.predict(
            state="Please refund me.", questions=json.dumps(questions), api_name="/decision")
        assert set(raw) == set(questions) and len(answers["data"]) == len(questions)
        assert len(options["data"]) == 2 + 3 + 3  # yes/no, three tones, three levels
        text, raw, info, code = client.predict(audio=handle_file(sample_file("tone.wav")), text="What is it?",
                                               max_new_tokens=4, api_name="/any_to_any")
        assert isinstance(text, str) and "offline:any-to-any" in info


@pytest.mark.parametrize("task", NEW_TASKS)
def test_compare_uses_the_tasks_output_kind(manager, task):
    from workbench.compare import Config, compare

    inputs, params = _example(task)
    comparison = compare(manager, task, inputs, params, [Config(dtype="float32"), Config(dtype="bfloat16")])
    keys = {"keypoint-matching": {"matches", "same_matches", "max_score_diff"},
            "decision": {"questions", "same_answers", "max_probability_diff"},
            "any-to-any": {"same_text", "token_match"}}[task]
    assert keys <= set(comparison.agreement[0])
    if task == "decision":
        assert comparison.agreement[0]["questions"] == [3, 3] and comparison.agreement[0]["max_probability_diff"] < 0.05
