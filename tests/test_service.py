"""workbench.service: one run of every task on its offline model, errors said plainly, code that reproduces a run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from workbench.errors import (DtypeError, InputError, ModelNotFoundError, ModelTaskMismatchError, OutOfMemoryError,
                              WorkbenchError)
from tests.task_cases import needs_offline_model, serve_test_files, task_case
from workbench.samples import sample_file, sample_table
from workbench.results import RunResult, to_jsonable
from workbench.service import explain, run_task, stream_task
from workbench.tasks import TASKS

@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_runs_on_its_offline_model(manager, task):
    needs_offline_model(task)
    spec = TASKS[task]
    inputs, params = task_case(spec)
    r = run_task(manager, task, inputs, params)
    assert isinstance(r, RunResult) and r.task == task and r.done
    assert r.model == f"offline:{task}"
    assert r.device == "cpu" and r.dtype == "float32"
    assert set(r.timings) >= {"load_s", "inputs_s", "inference_s"} and r.timings["inference_s"] > 0
    assert r.output is not None
    assert "pipe = " in r.code and "result = pipe" in r.code or "features = " in r.code
    assert r.random_weights == (task != "feature-extraction")
    if r.random_weights:
        assert any("random-weight" in w for w in r.warnings)
    import json

    json.dumps(r.json())  # the raw view is JSON-able whatever the output holds


def test_second_run_reports_no_load_time(manager):
    run_task(manager, "text-classification", {"text": "one"})
    again = run_task(manager, "text-classification", {"text": "two"})
    assert again.timings["load_s"] == 0.0


def test_requests_that_wait_on_another_load_report_no_load_time():
    """Concurrent first requests: one loads, the others wait on its load (single flight) or hit the
    cache; only the loader reports a load time (the manager says which call loaded)."""
    import threading

    from workbench.manager import PipelineManager

    fresh = PipelineManager(max_models=2)
    barrier, results, errors = threading.Barrier(4), [], []

    def request(i: int) -> None:
        barrier.wait()
        try:
            results.append(run_task(fresh, "text-classification", {"text": f"request {i}"}))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=request, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors and len(results) == 4 and fresh.load_count == 1
    loads = sorted(r.timings["load_s"] for r in results)
    assert loads[:3] == [0.0, 0.0, 0.0] and loads[3] > 0


def test_embeddings_pool_and_similarity(manager):
    r = run_task(manager, "feature-extraction", {"text": "A man plays a guitar.\n\nSomeone plays music.\nStocks fell."})
    emb = np.asarray(r.output["embeddings"])
    assert emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, rtol=1e-4)
    sim = np.asarray(r.output["similarity"])
    assert sim.shape == (3, 3)
    np.testing.assert_allclose(np.diag(sim), 1.0, rtol=1e-4)
    assert sim[0, 1] > sim[0, 2]  # the real MiniLM: guitar ~ music, not stocks
    one = run_task(manager, "feature-extraction", {"text": "Only one."}, {"pooling": "none"})
    assert one.output["similarity"] is None and np.asarray(one.output["embeddings"][0]).ndim == 2


def test_token_classification_offsets_index_the_input(manager):
    text = "George Washington lived in Virginia."
    r = run_task(manager, "token-classification", {"text": text}, {"aggregation_strategy": "none"})
    assert r.output and all(text[e["start"]:e["end"]].lower() == e["word"].replace("##", "").lower() for e in r.output)


def test_stream_task_ends_with_the_plain_run(manager):
    params = {"max_new_tokens": 12, "return_full_text": False}
    streamed = list(stream_task(manager, "text-generation", {"text": "Once upon a time"}, params))
    plain = run_task(manager, "text-generation", {"text": "Once upon a time"}, params)
    assert streamed[-1].done and not any(r.done for r in streamed[:-1])
    assert streamed[-1].output == plain.output
    assert "time_to_first_token_s" in streamed[-1].timings


def test_stream_task_full_text_starts_with_the_prompt(manager):
    last = list(stream_task(manager, "text-generation", {"text": "Hello"}, {"max_new_tokens": 4}))[-1]
    assert last.output[0]["generated_text"].startswith("Hello")


# ---------------------------------------------------------------------------------------------
# Errors


def test_empty_text_is_an_input_error(manager):
    with pytest.raises(InputError, match="text is empty"):
        run_task(manager, "text-classification", {"text": "   "})


def test_missing_candidate_labels(manager):
    with pytest.raises(InputError, match="candidate labels"):
        run_task(manager, "zero-shot-classification", {"text": "hello"}, {"candidate_labels": " , "})


@pytest.fixture(scope="module")
def http_server():
    with serve_test_files() as url:
        yield url


def test_document_qa_reads_a_pdf_url_and_numbers_pages_from_1(manager, http_server):
    """The URL field takes PDFs; the page field counts from 1 and so does the error."""
    url = f"{http_server}/invoice.pdf"
    result = run_task(manager, "document-question-answering", {"image": url, "question": "What is the total?",
                                                               "page": 1})
    assert result.inputs["image"].size == (1600, 1000) and result.output  # 800×500 points at 2× scale
    assert "Invoice" in [w for w, _ in result.inputs["word_boxes"]]
    with pytest.raises(InputError, match=f"The PDF at {url} has 1 page; there is no page 2: it has only page 1"):
        run_task(manager, "document-question-answering", {"image": url, "question": "What is the total?", "page": 2})


def test_url_that_is_not_an_image(manager, http_server):
    with pytest.raises(InputError, match="not an image"):
        run_task(manager, "image-classification", {"image": f"{http_server}/page.html"})


def test_image_by_url(manager, http_server):
    needs_offline_model("image-classification")
    r = run_task(manager, "image-classification", {"image": f"{http_server}/photo.png"}, {"top_k": 2})
    assert len(r.output) == 2 and r.inputs["image"].size == (224, 224)
    assert f"{http_server}/photo.png" in r.code


def test_model_that_does_not_exist(manager):
    with pytest.raises(ModelNotFoundError, match="not in the local cache and the Hub cannot be reached"):
        run_task(manager, "text-classification", {"text": "hi"}, model="no-such-user/no-such-model")


def test_fp16_on_cpu(manager):
    with pytest.raises(DtypeError, match="float16"):
        run_task(manager, "text-classification", {"text": "hi"}, device="cpu", dtype="fp16")


def test_model_that_does_not_fit_the_task(manager):
    with pytest.raises(ModelTaskMismatchError, match="cannot do text-classification"):
        run_task(manager, "text-classification", {"text": "hi"}, model="offline:text-generation")


def test_fill_mask_without_mask_token(manager):
    with pytest.raises(InputError, match=r"mask token `\[MASK\]`"):
        run_task(manager, "fill-mask", {"text": "There is no mask here."})


def test_input_longer_than_the_model(manager):
    with pytest.raises(InputError, match="longer than"):
        run_task(manager, "text-classification", {"text": "word " * 2000})


def test_generating_past_the_model_positions_is_lowered_with_a_note(manager):
    """The offline GPT-2 has 128 positions: 400 new tokens are lowered to what is left after the
    prompt, the note says so, and the stream ends (its last update is done)."""
    updates = list(stream_task(manager, "text-generation", {"text": "Hello"}, {"max_new_tokens": 400}))
    last = updates[-1]
    assert last.done and not last.stopped
    prompt = len(manager.get("text-generation").tokenizer("Hello", add_special_tokens=False)["input_ids"])
    assert 0 < last.timings["new_tokens"] <= 128 - prompt
    assert any(f"lowered from 400 to {128 - prompt}" in w for w in last.warnings), last.warnings
    plain = run_task(manager, "text-generation", {"text": "Hello"}, {"max_new_tokens": 400})
    assert plain.output == last.output and plain.warnings == last.warnings


def test_a_prompt_longer_than_the_model_is_refused_before_generating(manager):
    with pytest.raises(InputError, match="shorten the prompt"):
        list(stream_task(manager, "text-generation", {"text": "word " * 300}, {"max_new_tokens": 4}))


def test_bad_inputs_fail_before_any_model_loads(manager):
    before = manager.load_count
    with pytest.raises(InputError):
        run_task(manager, "question-answering", {"question": "", "context": "some context"},
                 model="offline:question-answering")
    assert manager.load_count == before


def test_pdf_page_numbers_count_from_one(manager):
    with pytest.raises(InputError, match="numbered from 1"):
        run_task(manager, "document-question-answering",
                 {"image": sample_file("document.png"), "question": "Total?", "page": 0})


def test_explain_turns_oom_into_a_clear_message(manager):
    loaded = manager.load("text-classification")
    err = explain(RuntimeError("CUDA out of memory."), TASKS["text-classification"], loaded)
    assert isinstance(err, OutOfMemoryError) and "smaller" in str(err)
    assert explain(ZeroDivisionError(), TASKS["text-classification"], loaded) is None
    assert isinstance(explain(ValueError("bad"), TASKS["text-classification"], loaded), WorkbenchError)


# ---------------------------------------------------------------------------------------------
# The code view reproduces the run


@pytest.mark.parametrize("task, inputs, params", [
    ("text-classification", {"text": "I love it"}, {"top_k": 2}),
    ("token-classification", {"text": "Mary lives in London"}, {"aggregation_strategy": "simple"}),
    ("fill-mask", {"text": "Paris is the [MASK] of France."}, {"top_k": 3}),
    ("zero-shot-classification", {"text": "The match ended 2-1."}, {"candidate_labels": "sports, politics"}),
    ("feature-extraction", {"text": "one sentence\nanother one"}, {}),
    ("table-question-answering", {"table": sample_table(), "query": "Which city is in Germany?"}, {}),
    ("question-answering", {"question": "Who?", "context": "Mary lives in London."}, {}),
])
def test_code_snippet_runs_and_gives_the_same_result(manager, task, inputs, params):
    needs_offline_model(task)
    r = run_task(manager, task, inputs, params)
    namespace: dict[str, Any] = {}
    exec(compile(r.code, f"<snippet {task}>", "exec"), namespace)
    got, want = namespace["result"], r.output
    if task == "feature-extraction":
        np.testing.assert_allclose(np.asarray(got), np.asarray(want["embeddings"]), rtol=1e-4, atol=1e-5)
    else:
        assert _rounded(got) == _rounded(want)


def _rounded(x: Any) -> Any:
    x = to_jsonable(x)
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    return x


def test_code_snippet_names_revision_device_dtype(manager):
    r = run_task(manager, "text-classification", {"text": "hi"}, device="cpu", dtype="bf16")
    assert 'device="cpu"' in r.code and 'dtype="bfloat16"' in r.code and r.dtype == "bfloat16"


def test_to_jsonable_summarises_images_and_tensors():
    import torch
    from PIL import Image

    out = to_jsonable({"depth": Image.new("L", (4, 3)), "t": torch.ones(2, 2), "big": torch.zeros(100, 100)})
    assert out == {"depth": {"image": "L 4x3"}, "t": [[1.0, 1.0], [1.0, 1.0]],
                   "big": {"array": [100, 100], "dtype": "float32"}}
