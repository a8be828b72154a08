"""Compare: agreement measures on known values, ``compare`` through the manager on tiny models
(float32 vs bfloat16, two checkpoints), the manager's bound, and the app's Compare endpoint."""

from __future__ import annotations

import gradio as gr
import pytest

from workbench.compare import Config, check_configs, compare
from workbench.output_kinds import box_agreement, embedding_agreement, iou, label_agreement, scored_labels, token_diff
from workbench.errors import InputError, WorkbenchError
from workbench.manager import PipelineManager

F32, BF16 = Config(device="cpu", dtype="float32"), Config(device="cpu", dtype="bfloat16")


# ---------------------------------------------------------------------------------------------
# measures


def test_label_agreement_on_known_outputs():
    a = [{"label": "x", "score": 0.7}, {"label": "y", "score": 0.3}]
    b = [{"label": "y", "score": 0.55}, {"label": "x", "score": 0.45}]
    assert label_agreement(a, b) == {"same_top_label": False, "top_labels": ["x", "y"], "max_score_diff": 0.25}
    zero_shot = {"sequence": "s", "labels": ["b", "a"], "scores": [0.6, 0.4]}
    assert scored_labels(zero_shot) == [("b", 0.6), ("a", 0.4)]
    assert scored_labels([{"token_str": "paris", "score": 0.9}]) == [("paris", 0.9)]


def test_embedding_agreement():
    assert embedding_agreement({"embeddings": [[1, 0], [0, 1]]}, {"embeddings": [[1, 0], [1, 1]]}) == {
        "cosine_min": pytest.approx(0.70711, abs=1e-5), "cosine_mean": pytest.approx(0.85355, abs=1e-5)}
    assert "not comparable" in embedding_agreement([[1, 0]], [[1, 0, 0]])["note"]


def test_token_diff_marks_removed_and_added_tokens():
    d = token_diff("the cat sat down.", "the dog sat down.")
    assert d["first_difference"] == 1 and d["tokens"] == [5, 5] and not d["same_text"]
    assert [t for t in d["diff"] if t[1]] == [("cat", "-"), ("dog", "+")]
    assert token_diff("same", "same") == {"same_text": True, "token_match": 1.0, "first_difference": None,
                                          "tokens": [1, 1], "diff": [("same", None)]}


def test_box_agreement_matches_same_labels_by_iou():
    box = lambda x0, x1: {"xmin": x0, "ymin": 0, "xmax": x1, "ymax": 10}  # noqa: E731
    a = [{"label": "cat", "box": box(0, 10)}, {"label": "dog", "box": box(20, 30)}]
    b = [{"label": "cat", "box": box(5, 15)}, {"label": "cat", "box": box(20, 30)}]
    assert iou(box(0, 10), box(5, 15)) == pytest.approx(1 / 3)
    # the dog has no dog to match (the box at 20-30 is a cat): 1 match of IoU 1/3 over 2 boxes
    assert box_agreement(a, b) == {"boxes": [2, 2], "matched": 1, "mean_iou": round(1 / 6, 4)}


# ---------------------------------------------------------------------------------------------
# compare through the manager


def test_same_model_in_float32_and_bfloat16_agrees_closely(manager):
    result = compare(manager, "text-classification", {"text": "I love this film"}, {"top_k": 2}, [F32, BF16])
    a, b = result.runs
    assert a.result.dtype == "float32" and b.result.dtype == "bfloat16" and a.error is b.error is None
    row = result.agreement[0]
    assert row["pair"] == "A vs B" and row["same_top_label"] and 0 <= row["max_score_diff"] < 0.05
    assert a.weights_mb == pytest.approx(2 * b.weights_mb, rel=0.05)  # bf16 halves the weights
    assert a.peak_mb is not None and a.row()["status"] == "ok" and result.json()["outputs"]["A"]


def test_embeddings_and_generation_agreement(manager):
    emb = compare(manager, "feature-extraction", {"text": "one\ntwo"}, {}, [Config("offline:feature-extraction"),
                                                                               Config("offline:feature-extraction",
                                                                                      dtype="bfloat16")])
    assert emb.agreement[0]["cosine_min"] > 0.95  # the real MiniLM, fp32 vs bf16
    gen = compare(manager, "text-generation", {"text": "Hello there"}, {"max_new_tokens": 6},
                  [Config("offline:text-generation"), Config("offline:chat")])
    row = gen.agreement[0]
    texts = [r.result.output[0]["generated_text"] for r in gen.runs]
    assert texts[0] != texts[1] and not row["same_text"] and row["diff"]  # two checkpoints, two texts


def test_detection_boxes_iou(manager):
    from workbench.samples import sample_file

    result = compare(manager, "object-detection", {"image": sample_file("image.png")}, {"threshold": 0.0},
                     [F32, F32])
    row = result.agreement[0]
    assert row["boxes"][0] == row["boxes"][1] > 0 and row["mean_iou"] == 1.0  # the same run twice


def test_one_failing_configuration_does_not_sink_the_others(manager):
    result = compare(manager, "text-classification", {"text": "fine"}, {}, [F32, Config("/no/such/folder")])
    assert result.runs[0].result is not None and "does not exist" in result.runs[1].error
    assert result.agreement == [] and result.runs[1].row()["status"].startswith("error")


def test_bounds_and_bad_input_are_refused_before_loading(manager):
    small = PipelineManager(max_models=2)
    three = [F32, BF16, Config("offline:chat")]
    with pytest.raises(WorkbenchError, match="keeps at most 2"):
        check_configs(small, "text-generation", three)
    with pytest.raises(InputError, match="at most 3"):
        check_configs(small, "text-generation", three + [F32])
    with pytest.raises(InputError, match="at least one"):
        compare(small, "text-classification", {"text": "x"}, {}, [])
    loads = manager.load_count
    with pytest.raises(InputError, match="empty"):
        compare(manager, "text-classification", {"text": "  "}, {}, [Config("never/loaded")])
    assert manager.load_count == loads and small.load_count == 0


def test_a_byte_bound_the_models_exceed_together_is_reported():
    tight = PipelineManager(max_models=3, max_bytes=200_000)  # the tiny BERT: ~180 kB in float32, ~90 kB in bf16
    result = compare(tight, "text-classification", {"text": "x"}, {}, [F32, BF16])
    assert all(r.result is not None for r in result.runs)
    assert any("A were unloaded to stay within" in n for n in result.notes), result.notes
    assert sum(e.bytes for e in tight.loaded()) <= 200_000


# ---------------------------------------------------------------------------------------------
# the app


@pytest.fixture(scope="module")
def demo(manager):
    from components.context import TabContext
    from components.task_tab import group_tabs
    from workbench.tasks import get_task

    context = TabContext(devices=["auto", "cpu"], dtypes=["auto", "float32", "bfloat16"], online=False,
                         offline_tasks=frozenset({"text-classification", "image-classification"}))
    with gr.Blocks() as demo:
        group_tabs({"Text": [get_task("text-classification")], "Vision": [get_task("image-classification")]},
                   manager, context)
    return demo


@pytest.fixture(scope="module")
def served(demo):
    from tests.app_server import serving

    with serving(demo) as url:
        yield url


def test_widgets_are_built_when_first_opened_and_endpoints_share_hidden_ones(demo):
    """The page holds the first tab's widgets and Compare's accordion, not Compare's widgets; of the
    other tabs (image classification) only the description: a session builds the rest when it opens
    them. Every endpoint is there from the start: those of tabs not built on hidden components, and
    two tasks with the same kind of output (labels) share one set of them, all but the model menus
    (each task's own default)."""
    config = demo.get_config_file()
    ids = {c["props"].get("elem_id") for c in config["components"]}
    assert {"text-classification-run", "text-classification-compare"} <= ids
    assert not {"text-classification-compare-run", "text-classification-compare-model-a"} & ids
    assert "image-classification-description" in ids
    assert not {"image-classification-run", "image-classification-model", "image-classification-compare"} & ids
    endpoints = {d["api_name"]: d for d in config["dependencies"] if d.get("api_name")}
    assert endpoints["image_classification"]["targets"] == [] and endpoints["text_classification"]["targets"]
    text, image = endpoints["text_classification_compare"], endpoints["image_classification_compare"]
    assert text["targets"] == image["targets"] == []  # called by clients only; the page's own events are private
    assert text["outputs"] == image["outputs"]  # summary, runs, raw, three label columns and their infos
    types = {c["id"]: c["type"] for c in config["components"]}
    shared = set(text["inputs"]) & set(image["inputs"])
    # device, dtype and revision of each row, and the reference (both scored by label)
    assert sorted(types[i] for i in shared) == ["dropdown"] * 6 + ["textbox"] * 4


def test_compare_endpoint(served):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    from workbench.samples import sample_file

    client = Client(served, verbose=False)
    out = client.predict(text="I love it", top_k=2, model_a="offline:text-classification", dtype_a="float32",
                         model_b="offline:text-classification", dtype_b="bfloat16", model_c="",
                         api_name="/text_classification_compare")
    summary, runs, raw, label_a, info_a, label_b, info_b, label_c, info_c = out
    assert "A vs B" in summary and "top label the same" in summary
    assert [r[4] for r in runs["data"]] == ["float32", "bfloat16"] and not label_c and "not used" in info_c
    assert len(label_a["confidences"]) == 2 and "peak memory" in info_a and raw["agreement"][0]["same_top_label"]
    vision = client.predict(image=handle_file(sample_file("image.png")), top_k=3,
                            model_a="offline:image-classification", model_b="offline:image-classification",
                            dtype_b="bfloat16", api_name="/image_classification_compare")
    assert "A vs B" in vision[0] and len(vision[3]["confidences"]) == 3
    with pytest.raises(AppError, match="empty"):
        client.predict(text="", model_a="offline:text-classification", api_name="/text_classification_compare")


def test_each_configuration_is_scored_against_a_reference(manager):
    from workbench.errors import InputError
    from workbench.metrics import score

    configs = [Config("offline:automatic-speech-recognition", dtype="float32"),
               Config("offline:automatic-speech-recognition", dtype="bfloat16")]
    from workbench.samples import sample_file

    comparison = compare(manager, "automatic-speech-recognition", {"audio": sample_file("tone.wav")},
                         {}, configs, reference="a tone")
    for run in comparison.runs:
        assert run.score == score("asr", [run.result.output["text"]], ["a tone"]).values
        assert run.row()["score"].startswith("wer ")
    # a label: matched to the model's own names (the reference in another case still scores)
    labelled = compare(manager, "text-classification", {"text": "I love it"}, {},
                       [Config("offline:text-classification")], reference="positive")
    top = labelled.runs[0].result.output[0]["label"]
    assert labelled.runs[0].score["accuracy"] == (100.0 if top == "POSITIVE" else 0.0)
    with pytest.raises(InputError, match="has no metric against a single reference"):
        compare(manager, "text-generation", {"text": "Hi"}, {"max_new_tokens": 2}, [Config()], reference="x")


def test_a_warning_every_configuration_has_is_said_once_above_the_columns(manager):
    """One stand-in in two precisions: its "random-weight stand-in" warning is the same for both,
    so Compare's summary says it once and the columns leave it out."""
    from components.compare import agreement_markdown, shared_warnings

    c = compare(manager, "text-classification", {"text": "I love it"}, {"top_k": 2}, [F32, BF16])
    results = [r.result for r in c.runs]
    shared = shared_warnings(results)
    assert len(shared) == 1 and "random-weight stand-in" in shared[0] and all(shared[0] in r.warnings for r in results)
    assert agreement_markdown(c, shared).count("random-weight stand-in") == 1
    assert shared_warnings(results[:1]) == []  # one configuration: its column says it
