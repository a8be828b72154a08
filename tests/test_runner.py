"""The batch runner on real pipelines with tiny offline models: same results as the unbatched
pipeline for every batchable task, caller order, windows, token budget, progress, OOM back-off.

Weights are random: the tests compare the runner with the pipeline itself, never meanings.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import pytest
import torch
from PIL import Image

from workbench.inputs import audio_chat
from workbench.decision import QUESTIONS as DECISION_QUESTIONS
from workbench.errors import OutOfMemoryError
from workbench.offline import offline_model_path
from workbench.runner import RunStats, iter_batch, plan_batches, run_batch
from workbench.samples import sample_document, sample_image, sample_waveform
from workbench.tasks import TASKS
from workbench.workloads import make_workload

TEXTS = [
    "Paris is the capital of France.",
    "hello",
    "The stock market fell today, but prices rose last week and people in the city talked about it for days.",
    "A man is playing a guitar.",
    "good",
    "What is the total of the invoice? The answer is 42.50 EUR, said Mary, who lives in London.",
    "the sun",
]
CONTEXT = " ".join(["Mary lives in London and works at Google."] * 12 + ["The capital of France is Paris."])


def _images() -> list[Image.Image]:
    img = sample_image()
    return [img, sample_image(96), img.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((160, 120)), sample_image(64),
            img.rotate(90)]


def _waves() -> list[np.ndarray]:
    """Clips of several lengths (two of equal length, so the runner can batch them)."""
    return [sample_waveform(s, freq=f)[0] for s, f in ((1.0, 440.0), (0.5, 220.0), (1.0, 330.0), (0.75, 880.0))]


def _doc_items() -> list[dict]:
    image, boxes = sample_document()
    return [{"image": image, "question": q, "word_boxes": boxes}
            for q in ("What is the total?", "Who is billed?", "What is the invoice number of this page?")]


@dataclass
class Case:
    items: Callable[[], list[Any]]
    params: dict[str, Any] = field(default_factory=dict)
    model: Callable[[], str] | None = None

    def load(self, manager, task: str):
        return manager.get(task, self.model() if self.model else None)


CASES: dict[str, Case] = {
    "text-classification": Case(lambda: TEXTS, {"top_k": 2}),
    "token-classification": Case(lambda: TEXTS, {"aggregation_strategy": "simple"}),
    "question-answering": Case(lambda: [{"question": "Where does Mary live?", "context": CONTEXT},
                                        {"question": "capital?", "context": "The capital of France is Paris."},
                                        {"question": "Who works at Google?", "context": CONTEXT[:300]}],
                               {"max_seq_len": 64, "doc_stride": 16, "top_k": 2}),
    "fill-mask": Case(lambda: [t.replace("the", "[MASK]", 1) if "the" in t else "[MASK] " + t for t in TEXTS],
                      {"top_k": 3}),
    "text-generation": Case(lambda: ["hello world", "the sun", "Paris is the capital of", "a man"],
                            {"max_new_tokens": 4, "do_sample": False}),
    "summarization": Case(lambda: TEXTS[:4], {"max_new_tokens": 5}),
    "translation": Case(lambda: TEXTS[:4], {"max_new_tokens": 5}),
    "text2text-generation": Case(lambda: TEXTS[:4], {"max_new_tokens": 5, "num_beams": 1}),
    "zero-shot-classification": Case(lambda: TEXTS[:4], {"candidate_labels": ["music", "money", "a city"]}),
    "feature-extraction": Case(lambda: TEXTS, {},
                               model=lambda: offline_model_path("feature-extraction", prefer_real=False)),
    "image-classification": Case(_images, {"top_k": 2}),
    "object-detection": Case(_images, {"threshold": 0.0}),
    "image-segmentation": Case(_images, {"threshold": 0.0}),
    "depth-estimation": Case(_images),
    "zero-shot-image-classification": Case(_images, {"candidate_labels": ["a house", "a tree"]}),
    "zero-shot-object-detection": Case(lambda: [{"image": im, "candidate_labels": ["a house", "the sun"]}
                                                for im in _images()[:3]], {"threshold": 0.0}),
    "image-feature-extraction": Case(_images, {"pool": True}),
    "image-to-text": Case(_images, {"max_new_tokens": 4}),
    "automatic-speech-recognition": Case(_waves),
    "audio-classification": Case(_waves, {"top_k": 2}),
    "zero-shot-audio-classification": Case(_waves, {"candidate_labels": ["a dog", "music"]}),
    "document-question-answering": Case(_doc_items, {"top_k": 2}),
    "video-classification": Case(lambda: make_workload("videos", "video-classification", n=4).items, {"top_k": 2}),
    "keypoint-matching": Case(lambda: [[im, im.rotate(12)] for im in _images()[:3]] + [_images()[:2]], {"threshold": 0.0}),
    "decision": Case(lambda: [{"state": t, "questions": DECISION_QUESTIONS} for t in TEXTS[:3]]),
    "any-to-any": Case(lambda: [audio_chat(w, "What is it?") for w in _waves()], {"max_new_tokens": 4}),
    "visual-question-answering": Case(lambda: [{"image": im, "question": q} for im, q in
                                               zip(_images(), ["what is this?", "is it red?", "how many trees are there?",
                                                               "what?", "is there a house?"])], {"top_k": 2}),
}
BATCHABLE = sorted(name for name, spec in TASKS.items() if spec.batchable)


def reference(pipe, items: list[Any], params: dict[str, Any]) -> list[Any]:
    """What the unbatched pipeline (or adapter) gives for each item of a list call."""
    from workbench.batching import is_adapter

    if is_adapter(pipe):
        return pipe.run(items, batch_size=1, **params)
    return pipe(items, batch_size=1, **params)


def same(a: Any, b: Any, tol: float = 1e-4, path: str = "") -> tuple[bool, str]:
    """Compare results: equal strings/ints/labels, floats and arrays within ``tol``; a feature
    array of ours ``[tokens, hidden]`` matches the pipeline's nested list ``[1, tokens, hidden]``."""
    if isinstance(a, torch.Tensor):
        a = a.float().numpy()
    if isinstance(b, torch.Tensor):
        b = b.float().numpy()
    if isinstance(a, Image.Image) or isinstance(b, Image.Image):
        x, y = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
        return (x.shape == y.shape and float(np.abs(x - y).max(initial=0)) <= 1.0), path  # 8-bit rounding
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        if x.shape != y.shape and x.size == y.size:
            x = x.reshape(y.shape)
        if x.shape != y.shape:
            return False, f"{path}: shape {x.shape} != {y.shape}"
        diff = float(np.abs(x - y).max(initial=0))
        return diff <= tol, f"{path}: max abs diff {diff:.2e}"
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return False, f"{path}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            ok, why = same(a[k], b[k], tol, f"{path}.{k}")
            if not ok:
                return ok, why
        return True, path
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        if len(a) != len(b):
            return False, f"{path}: length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            ok, why = same(x, y, tol, f"{path}[{i}]")
            if not ok:
                return ok, why
        return True, path
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or a is None:
        return a == b, f"{path}: {a!r} != {b!r}"
    if isinstance(a, numbers.Number) and isinstance(b, numbers.Number):
        return abs(float(a) - float(b)) <= tol, f"{path}: {a} != {b}"
    return a == b, f"{path}: {a!r} != {b!r}"


# ---- every batchable task ------------------------------------------------------------------------


def test_every_batchable_task_has_a_case():
    assert set(BATCHABLE) <= set(CASES), f"add a Case for {sorted(set(BATCHABLE) - set(CASES))}"


@pytest.mark.parametrize("task", BATCHABLE)
def test_results_equal_the_unbatched_pipeline(manager, task):
    case = CASES[task]
    pipe = case.load(manager, task)
    items = case.items()
    expected = reference(pipe, items, case.params)
    out = run_batch(pipe, items, batch_size=3, **case.params)
    ok, why = same(out.results, expected)
    assert ok, why
    assert out.stats.items == len(items) and out.stats.forward_passes >= 1
    assert max(out.stats.batch_rows) <= 3


def test_feature_extraction_gives_trimmed_arrays_and_pooling(manager):
    pipe = manager.get("feature-extraction", offline_model_path("feature-extraction", prefer_real=False))
    tokens = run_batch(pipe, TEXTS, batch_size=4)
    for text, arr in zip(TEXTS, tokens):
        assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
        assert arr.shape == (len(pipe.tokenizer(text)["input_ids"]), pipe.model.config.hidden_size)
    from workbench.embeddings import pool

    pooled = run_batch(pipe, TEXTS, batch_size=4, pooling="mean", normalize=True)
    for arr, vec in zip(tokens, pooled):
        np.testing.assert_allclose(vec, pool(arr, pooling="mean", normalize=True), atol=1e-5)
        assert abs(float(np.linalg.norm(vec)) - 1.0) < 1e-5
    cls = run_batch(pipe, TEXTS, batch_size=4, pooling="cls")
    np.testing.assert_allclose(cls[2], tokens[2][0], atol=1e-5)
    with pytest.raises(ValueError, match="pooling"):
        run_batch(pipe, TEXTS, pooling="max")


def test_real_minilm_embeddings_match_the_pipeline(manager):
    """The packaged all-MiniLM-L6-v2: identical embeddings on real tokens, truncation on."""
    pipe = manager.get("feature-extraction")
    texts = TEXTS + [" ".join(TEXTS * 12)]  # the last one is truncated at 512 tokens
    expected = pipe(texts, batch_size=1, truncation=True)
    out = run_batch(pipe, texts, batch_size=4, truncation=True)
    assert out[-1].shape[0] == 512
    for arr, ref in zip(out, expected):
        np.testing.assert_allclose(arr, np.asarray(ref)[0], atol=1e-4)
    # plain batching pads every output to its batch's longest input; ours are trimmed
    padded = pipe(texts, batch_size=4, truncation=True)
    assert np.asarray(padded[0]).shape[1] > out[0].shape[0]


# ---- ordering, windows, budget, streaming, progress ---------------------------------------------


@pytest.fixture(scope="module")
def classifier(manager):
    return manager.get("text-classification")


def _labels(results):
    return [r[0]["label"] if isinstance(r, list) else r["label"] for r in results]


def test_results_in_caller_order_whatever_the_batching(classifier):
    texts = TEXTS * 5
    expected = classifier(texts, batch_size=1)
    for kwargs in ({"batch_size": 1}, {"batch_size": 4}, {"batch_size": 64}, {"batch_size": 4, "window": 3},
                   {"batch_size": 8, "max_tokens": 40}, {"batch_size": 4, "sort": False}):
        ok, why = same(run_batch(classifier, texts, **kwargs).results, expected)
        assert ok, (kwargs, why)


def test_sorting_cuts_padding(classifier):
    texts = [TEXTS[2], TEXTS[1], TEXTS[5], TEXTS[4]] * 8
    plain = run_batch(classifier, texts, batch_size=4, sort=False).stats
    ours = run_batch(classifier, texts, batch_size=4).stats
    assert ours.real_cost == plain.real_cost
    assert ours.padding_share < plain.padding_share / 2
    assert ours.forward_passes == plain.forward_passes == 8


def test_token_budget_caps_padded_positions(classifier):
    texts = TEXTS * 4
    stats = run_batch(classifier, texts, batch_size=64, max_tokens=60).stats
    assert stats.forward_passes > 1 and sum(stats.batch_rows) == len(texts)
    assert all(rows == 1 or cost <= 60 for rows, cost in zip(stats.batch_rows, stats.batch_cost))
    assert sum(stats.batch_cost) == stats.padded_cost
    # a single input longer than the budget still runs, alone
    long = run_batch(classifier, [" ".join(TEXTS)], batch_size=8, max_tokens=4)
    assert long.stats.forward_passes == 1 and len(long) == 1


def test_max_padding_cuts_batches_early(classifier):
    texts = [TEXTS[1], TEXTS[4], TEXTS[6], TEXTS[0], TEXTS[3], TEXTS[5], TEXTS[2]] * 2
    loose = run_batch(classifier, texts, batch_size=64, pass_overhead=None).stats
    tight = run_batch(classifier, texts, batch_size=64, pass_overhead=None, max_padding=0.05).stats
    assert loose.forward_passes == 1 and tight.forward_passes > 1
    assert tight.padding_share <= 0.05 < loose.padding_share
    # zero padding allowed: one batch per distinct length
    zero = run_batch(classifier, texts, batch_size=64, max_padding=0.0).stats
    lengths = {len(classifier.tokenizer(t)["input_ids"]) for t in texts}
    assert zero.padding_share == 0.0 and zero.forward_passes == len(lengths)


def _brute_force(costs, batch_size, max_tokens, max_padding, overhead):
    """The least total cost over every way to cut ``costs`` into consecutive batches."""
    n = len(costs)
    best = None
    for mask in range(1 << (n - 1)):
        ends = [i + 1 for i in range(n - 1) if mask >> i & 1] + [n]
        total, begin, ok = 0.0, 0, True
        for end in ends:
            rows, width, real = end - begin, costs[end - 1], sum(costs[begin:end])
            if rows > batch_size or (rows > 1 and max_tokens is not None and rows * width > max_tokens) or (
                    rows > 1 and max_padding is not None and rows * width - real > max_padding * rows * width):
                ok = False
                break
            total += overhead + rows * width
            begin = end
        if ok and (best is None or total < best):
            best = total
    return best


def _plan_cost(costs, ends, overhead):
    begin, total = 0, 0.0
    for end in ends:
        total += overhead + (end - begin) * costs[end - 1]
        begin = end
    return total


@pytest.mark.parametrize("seed", range(12))
def test_planned_batches_cost_least(seed):
    rng = np.random.default_rng(seed)
    costs = sorted(int(c) for c in rng.integers(1, 60, size=int(rng.integers(1, 11))))
    batch_size = int(rng.integers(1, 6))
    max_tokens = [None, 80][seed % 2]
    max_padding = [None, 0.2][seed // 2 % 2]
    overhead = float(rng.choice([0, 10, 48, 500]))
    ends = plan_batches(costs, batch_size=batch_size, max_tokens=max_tokens, max_padding=max_padding,
                        pass_overhead=overhead)
    assert ends[-1] == len(costs) and ends == sorted(set(ends))
    sizes = np.diff([0, *ends])
    assert sizes.max() <= batch_size
    assert _plan_cost(costs, ends, overhead) == pytest.approx(_brute_force(costs, batch_size, max_tokens, max_padding,
                                                                           overhead))


def test_pass_overhead_trades_padding_for_fewer_passes(manager, classifier):
    texts = TEXTS * 6
    expected = classifier(texts, batch_size=1)
    runs = {o: run_batch(classifier, texts, batch_size=64, pass_overhead=o) for o in (0, 16, 10_000)}
    for out in runs.values():
        ok, why = same(out.results, expected)
        assert ok, why
    passes = [runs[o].stats.forward_passes for o in (0, 16, 10_000)]
    padding = [runs[o].stats.padding_share for o in (0, 16, 10_000)]
    assert passes[0] >= passes[1] >= passes[2] == 1
    assert padding[0] == 0.0 <= padding[1] <= padding[2] and padding[2] > 0
    assert runs[16].stats.pass_overhead == 16 and run_batch(classifier, TEXTS).stats.pass_overhead == 48
    half = manager.get("text-classification", dtype="bfloat16")  # cheaper tokens: a pass is worth more of them
    assert run_batch(half, TEXTS).stats.pass_overhead == 128
    with pytest.raises(ValueError, match="pass_overhead"):
        run_batch(classifier, TEXTS, pass_overhead=-1)


def test_generators_stream_in_windows(classifier):
    seen: list[int] = []

    def gen():
        for i, t in enumerate(TEXTS * 3):
            seen.append(i)
            yield t

    stats = RunStats(batch_size=4)
    it = iter_batch(classifier, gen(), batch_size=4, window=5, stats=stats)
    first = next(it)
    assert len(seen) == 5, "only the first window was read"
    rest = list(it)
    assert len(rest) == len(TEXTS) * 3 - 1 and stats.items == len(TEXTS) * 3
    ok, why = same([first, *rest], classifier(TEXTS * 3, batch_size=1))
    assert ok, why


def test_datasets_columns_run_in_order_with_progress(classifier):
    """A real ``datasets.Dataset`` column (a lazy ``Column``, sized but not a list)."""
    import datasets

    column = datasets.Dataset.from_dict({"text": TEXTS * 2})["text"]
    assert not isinstance(column, list)
    calls = []
    out = run_batch(classifier, column, batch_size=2, window=5, progress=lambda done, total: calls.append((done, total)))
    ok, why = same(out.results, classifier(TEXTS * 2, batch_size=1))
    assert ok, why
    assert calls[-1] == (len(TEXTS) * 2, len(TEXTS) * 2)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_progress_reports_per_batch(classifier):
    calls = []
    run_batch(classifier, TEXTS * 2, batch_size=2, progress=lambda done, total: calls.append((done, total)))
    assert len(calls) == 7 and calls[-1] == (14, 14) and all(t == 14 for _, t in calls)
    gen_calls = []
    run_batch(classifier, (t for t in TEXTS), batch_size=2, progress=lambda d, t: gen_calls.append((d, t)))
    assert gen_calls[-1] == (len(TEXTS), None)


def test_chunking_tasks_count_forward_passes(manager):
    """A long QA context gives several windows: batch_size counts those passes, not items."""
    case = CASES["question-answering"]
    qa = case.load(manager, "question-answering")
    items = case.items()
    out = run_batch(qa, items, batch_size=2, **case.params)
    assert out.stats.passes > len(items)
    assert max(out.stats.batch_rows) <= 2
    assert out.stats.forward_passes == sum(1 for _ in out.stats.batch_rows)


def test_long_audio_chunks_count_as_forward_passes(manager):
    """Speech recognition with ``chunk_length_s``: a 3 s clip is several 1 s windows (forward
    passes) of one input; batch_size counts windows, and the transcripts equal the pipeline's."""
    asr = manager.get("automatic-speech-recognition")
    clips = [sample_waveform(3.0, freq=440.0)[0], sample_waveform(1.0, freq=220.0)[0],
             sample_waveform(2.5, freq=330.0)[0]]
    expected = [asr(clip, chunk_length_s=1.0) for clip in clips]
    out = run_batch(asr, clips, batch_size=3, chunk_length_s=1.0)
    assert out.stats.passes >= 3 + 1 + 3 > len(clips)
    assert max(out.stats.batch_rows) <= 3 and sum(out.stats.batch_rows) == out.stats.passes
    ok, why = same(out.results, expected)
    assert ok, why


def test_bad_arguments_fail_loudly(manager, classifier):
    with pytest.raises(ValueError, match="batch_size"):
        run_batch(classifier, TEXTS, batch_size=0)
    with pytest.raises(TypeError, match="list"):
        run_batch(classifier, "one text")
    with pytest.raises(TypeError, match="no_such_option"):  # as the pipeline itself would
        run_batch(manager.get("image-classification"), _images(), no_such_option=1)
    with pytest.raises(TypeError, match="no_such_option"):
        run_batch(manager.get("summarization"), TEXTS, no_such_option=1)
    assert run_batch(classifier, []).results == []


# ---- out of memory ---------------------------------------------------------------------------------


class RowLimit:
    """A torch forward pre-hook that raises torch's own OutOfMemoryError when a batch has more
    than ``limit`` rows: a real OOM as the runner sees one, on a CPU."""

    def __init__(self, model: torch.nn.Module, limit: int, error: type[BaseException] = torch.OutOfMemoryError):
        self.limit, self.error, self.calls = limit, error, []
        self.handle = model.register_forward_pre_hook(self, with_kwargs=True)

    def __call__(self, module, args, kwargs):
        tensor = next(v for v in (*args, *kwargs.values()) if isinstance(v, torch.Tensor))
        self.calls.append(tensor.shape[0])
        if tensor.shape[0] > self.limit:
            raise self.error(f"out of memory: tried to allocate a batch of {tensor.shape[0]} rows")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.remove()


def test_oom_splits_the_batch_and_keeps_the_smaller_size(classifier):
    texts = TEXTS * 4
    expected = classifier(texts, batch_size=1)
    with RowLimit(classifier.model, 3) as limit:
        out = run_batch(classifier, texts, batch_size=16, pass_overhead=None)
    ok, why = same(out.results, expected)
    assert ok, why
    assert out.stats.oom_backoffs >= 1 and out.stats.final_batch_size <= 3
    assert max(out.stats.batch_rows) <= 3
    assert limit.calls[0] == 16 and sum(1 for c in limit.calls if c > 3) == out.stats.oom_backoffs


def test_oom_plans_the_rest_of_the_window_again(classifier):
    texts = TEXTS * 4
    expected = classifier(texts, batch_size=1)
    with RowLimit(classifier.model, 2) as limit:
        out = run_batch(classifier, texts, batch_size=32, pass_overhead=10_000)
    ok, why = same(out.results, expected)
    assert ok, why
    assert out.stats.final_batch_size <= 2 and max(out.stats.batch_rows) <= 2
    # one failed batch, halved until it fits; every later batch was planned within the new size
    assert out.stats.oom_backoffs == sum(1 for c in limit.calls if c > 2) <= 4


def test_oom_at_batch_size_one_says_what_to_do(classifier):
    with RowLimit(classifier.model, 0), pytest.raises(OutOfMemoryError, match="bfloat16"):
        run_batch(classifier, TEXTS, batch_size=4)


def test_other_errors_propagate(classifier):
    with RowLimit(classifier.model, 1, error=ValueError), pytest.raises(ValueError, match="rows"):
        run_batch(classifier, TEXTS, batch_size=4)
