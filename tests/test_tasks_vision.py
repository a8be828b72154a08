"""The vision pipeline tasks on their tiny offline models (ViT, YOLOS, SegFormer, DPT, CLIP, OWL-ViT,
SAM), fed the generated sample picture.

Weights are random: these tests check output shapes, ordering and equivalences, never meanings.
Random detectors and mask generators never cross the default score thresholds, so those tests
send ``threshold=0`` (or SAM's two thresholds at 0) through the task's own ``call_kwargs``.
"""

from __future__ import annotations

import numbers

import numpy as np
import pytest
import torch
from PIL import Image

from workbench.inputs import load_image
from workbench.compat import batched_nms
from workbench.presets import load_presets
from workbench.samples import sample_image
from workbench.tasks import TASKS, get_task

#: The one-image tasks run by transformers pipelines (captioning, our adapter, is in tests/test_adapters.py;
#: video classification in tests/test_video.py; keypoint matching, two images, in
#: tests/test_tasks_transformers5.py), from the registry: a new one is tested here too.
VISION_TASKS = [name for name, s in TASKS.items() if s.modality == "image" and not s.is_adapter and s.inputs == ("image",)]
IMAGE = sample_image()  # 224×224 RGB
CANDIDATES = ["a house", "a tree", "the sun"]
SAM_ALL = {"pred_iou_thresh": 0, "stability_score_thresh": 0, "points_per_crop": 4}  # 16 prompts, keep every mask


def _images() -> list[Image.Image]:
    """Three different pictures of different sizes."""
    return [IMAGE, sample_image(96), IMAGE.transpose(Image.Transpose.FLIP_LEFT_RIGHT).resize((160, 120))]


def _score(x) -> bool:
    return isinstance(x, float) and 0.0 <= x <= 1.0


def _assert_labels(out, labels=None) -> None:
    assert isinstance(out, list) and out
    assert all(set(d) == {"label", "score"} and isinstance(d["label"], str) and _score(d["score"]) for d in out)
    scores = [d["score"] for d in out]
    assert scores == sorted(scores, reverse=True)
    if labels is not None:
        assert sorted(d["label"] for d in out) == sorted(labels)


def _assert_boxes(out, size: tuple[int, int], labels, *, inside: bool = True) -> None:
    """Boxes are dicts of int pixel corners, ``inside`` the image unless told otherwise (OWL-ViT's
    boxes are not clipped: a random model's may stick out of the image or be empty)."""
    width, height = size
    assert isinstance(out, list) and out, "threshold 0 keeps every box"
    for d in out:
        assert set(d) == {"score", "label", "box"} and _score(d["score"]) and d["label"] in labels
        box = d["box"]
        assert set(box) == {"xmin", "ymin", "xmax", "ymax"} and all(type(v) is int for v in box.values())
        assert box["xmin"] <= box["xmax"] and box["ymin"] <= box["ymax"]
        if inside:
            assert 0 <= box["xmin"] and box["xmax"] <= width and 0 <= box["ymin"] and box["ymax"] <= height


@pytest.mark.parametrize("task", VISION_TASKS)
def test_offline_model_is_tiny_and_random(manager, task):
    loaded = manager.load(task)
    assert loaded.source.kind == "offline" and loaded.random_weights
    assert loaded.parameters < 200_000


# ---- classification and embeddings ----------------------------------------------------------------


def test_image_classification_labels_sorted_and_top_k(manager):
    spec = get_task("image-classification")
    pipe = manager.get(spec.name)
    out = pipe(IMAGE, **spec.call_kwargs())
    _assert_labels(out, pipe.model.config.id2label.values())  # 5 labels, top_k 5
    assert pipe(IMAGE, **spec.call_kwargs({"top_k": 2})) == out[:2]


@pytest.mark.parametrize("task", ["image-classification", "image-feature-extraction"])
def test_batched_equals_one_by_one(manager, task):
    spec = get_task(task)
    pipe = manager.get(task)
    kwargs = spec.call_kwargs()
    one_by_one = [pipe(img, **kwargs) for img in _images()]
    batched = pipe(_images(), batch_size=2, **kwargs)
    assert len(batched) == 3
    for single, batch in zip(one_by_one, batched):
        if task == "image-classification":
            assert [d["label"] for d in batch] == [d["label"] for d in single]
            np.testing.assert_allclose([d["score"] for d in batch], [d["score"] for d in single], atol=1e-4)
        else:
            np.testing.assert_allclose(batch, single, atol=1e-4)


def test_image_features_are_nested_floats(manager):
    spec = get_task("image-feature-extraction")
    pipe = manager.get(spec.name)
    hidden = pipe.model.config.hidden_size
    pooled = pipe(IMAGE, **spec.call_kwargs())  # pool=True: one vector per image
    assert len(pooled) == 1 and len(pooled[0]) == hidden
    assert all(isinstance(x, float) for x in pooled[0])
    tokens = pipe(IMAGE, **spec.call_kwargs({"pool": False}))  # CLS + (32/8)² patches
    assert len(tokens) == 1 and len(tokens[0]) == 1 + (32 // 8) ** 2
    assert all(len(row) == hidden and all(isinstance(x, float) for x in row) for row in tokens[0])


# ---- detection and segmentation --------------------------------------------------------------------


def test_object_detection_boxes_inside_the_image(manager):
    spec = get_task("object-detection")
    pipe = manager.get(spec.name)
    out = pipe(IMAGE, **spec.call_kwargs({"threshold": 0}))
    _assert_boxes(out, IMAGE.size, set(pipe.model.config.id2label.values()))
    assert len(out) <= pipe.model.config.num_detection_tokens
    # a higher threshold keeps only the boxes that score above it
    threshold = max(d["score"] for d in out) - 1e-6
    high = pipe(IMAGE, **spec.call_kwargs({"threshold": threshold}))
    assert 1 <= len(high) <= len(out) and all(d["score"] > threshold for d in high)


def test_image_segmentation_masks_are_images_of_the_input_size(manager):
    spec = get_task("image-segmentation")
    pipe = manager.get(spec.name)
    img = IMAGE.resize((200, 120))
    out = pipe(img, **spec.call_kwargs({"threshold": 0}))
    assert isinstance(out, list) and out
    labels = set(pipe.model.config.id2label.values())
    for d in out:
        assert set(d) == {"score", "label", "mask"} and d["label"] in labels
        assert d["score"] is None or _score(d["score"])  # semantic segmentation gives no score
        mask = d["mask"]
        assert isinstance(mask, Image.Image) and mask.size == img.size and mask.mode == "L"
    # semantic masks partition the image: every pixel belongs to exactly one label
    stacked = np.stack([np.array(d["mask"]) > 0 for d in out])
    assert (stacked.sum(axis=0) == 1).all()


def test_depth_estimation_gives_depth_image_and_tensor(manager):
    spec = get_task("depth-estimation")
    img = IMAGE.resize((200, 120))
    out = manager.get(spec.name)(img, **spec.call_kwargs())
    assert set(out) == {"predicted_depth", "depth"}
    assert isinstance(out["depth"], Image.Image) and out["depth"].size == img.size
    depth = out["predicted_depth"]
    assert isinstance(depth, torch.Tensor) and depth.dtype == torch.float32
    assert tuple(depth.shape) == (img.height, img.width) and torch.isfinite(depth).all()


# ---- zero-shot ---------------------------------------------------------------------------------------


def test_zero_shot_image_classification_labels_are_the_candidates(manager):
    spec = get_task("zero-shot-image-classification")
    pipe = manager.get(spec.name)
    out = pipe(IMAGE, **spec.call_kwargs({"candidate_labels": ", ".join(CANDIDATES)}))
    _assert_labels(out, CANDIDATES)
    assert sum(d["score"] for d in out) == pytest.approx(1.0, abs=1e-4)  # softmax over the candidates
    # the hypothesis template changes the text side, so the scores
    templated = pipe(IMAGE, **spec.call_kwargs({"candidate_labels": CANDIDATES, "hypothesis_template": "{}!"}))
    _assert_labels(templated, CANDIDATES)
    assert {d["label"]: d["score"] for d in templated} != {d["label"]: d["score"] for d in out}


def test_zero_shot_object_detection_boxes_carry_the_candidates(manager):
    spec = get_task("zero-shot-object-detection")
    pipe = manager.get(spec.name)
    out = pipe(IMAGE, **spec.call_kwargs({"candidate_labels": CANDIDATES, "threshold": 0}))
    _assert_boxes(out, IMAGE.size, CANDIDATES, inside=False)
    assert {d["label"] for d in out} == set(CANDIDATES), "threshold 0 keeps a box for every query"
    scores = [d["score"] for d in out]
    assert scores == sorted(scores, reverse=True)


# ---- mask generation (SAM) ---------------------------------------------------------------------------


def test_mask_generation_masks_and_scores(manager):
    spec = get_task("mask-generation")
    pipe = manager.get(spec.name)
    img = IMAGE.resize((200, 120))
    out = pipe(img, **spec.call_kwargs(SAM_ALL))
    masks, scores = out["masks"], out["scores"]
    assert len(masks) == len(scores) >= 1
    assert all(isinstance(m, np.ndarray) and m.dtype == bool and m.shape == (img.height, img.width) for m in masks)
    assert isinstance(scores, torch.Tensor) and scores.ndim == 1
    assert scores.tolist() == sorted(scores.tolist(), reverse=True)  # NMS returns masks best first


def test_mask_generation_nms_threshold_one_keeps_every_mask(manager):
    spec = get_task("mask-generation")
    pipe = manager.get(spec.name)
    kept = pipe(IMAGE, **spec.call_kwargs(SAM_ALL))
    every = pipe(IMAGE, crops_nms_thresh=1.0, **spec.call_kwargs(SAM_ALL))
    assert len(every["masks"]) == 4 * 4 * 3 >= len(kept["masks"])  # 16 prompts × 3 masks each


def test_mask_generation_default_thresholds_may_keep_nothing(manager):
    spec = get_task("mask-generation")
    out = manager.get(spec.name)(IMAGE, **spec.call_kwargs({"points_per_crop": 2}))
    assert len(out["masks"]) == len(out["scores"])


def test_pure_torch_nms_is_greedy_nms():
    gen = torch.Generator().manual_seed(0)
    corners = torch.rand(200, 2, 2, generator=gen) * 100
    boxes = torch.cat([corners.min(1).values, corners.max(1).values], dim=1)
    scores = torch.rand(200, generator=gen)
    threshold = 0.3
    keep = batched_nms(boxes, scores, torch.zeros(200), threshold).tolist()

    def iou(a, b) -> float:
        lt, rb = torch.maximum(boxes[a, :2], boxes[b, :2]), torch.minimum(boxes[a, 2:], boxes[b, 2:])
        inter = (rb - lt).clamp(min=0).prod().item()
        area = lambda i: ((boxes[i, 2:] - boxes[i, :2]).prod()).item()  # noqa: E731
        return inter / (area(a) + area(b) - inter)

    assert keep == sorted(keep, key=lambda i: -scores[i].item())
    assert all(iou(a, b) <= threshold for n, a in enumerate(keep) for b in keep[n + 1:])
    for dropped in set(range(200)) - set(keep):  # each dropped box overlaps a better kept one
        assert any(scores[k] >= scores[dropped] and iou(k, dropped) > threshold for k in keep)
    # boxes of different categories never suppress each other
    both = batched_nms(torch.cat([boxes, boxes]), torch.cat([scores, scores]), torch.tensor([0] * 200 + [1] * 200),
                       threshold)
    assert len(both) == 2 * len(keep)
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0), 0.5).tolist() == []


def test_mask_generation_processor_loads_from_the_saved_folder(manager):
    """A plain ``pipeline()`` on the folder gets the pure-torch processor, not torchvision's."""
    from transformers import pipeline

    from workbench.offline import offline_model_path

    pipe = pipeline("mask-generation", model=offline_model_path("mask-generation"))
    assert type(pipe.image_processor).__qualname__ == "PureTorchSamImageProcessor"
    assert len(pipe(IMAGE, **SAM_ALL)["masks"]) >= 1


# ---- presets -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", VISION_TASKS)
def test_preset_examples_run_on_the_offline_model(manager, task):
    spec = get_task(task)
    pipe = manager.get(task)
    for example in load_presets(task).examples:
        given = example.inputs["image"]  # image embeddings: several
        for image in map(load_image, given if isinstance(given, list) else [given]):
            out = pipe(image, **spec.call_kwargs(example.params))
            assert isinstance(out, dict if spec.output in ("depth", "mask-generation") else list)


# ---- image embeddings: several images, their similarities ---------------------------------------------


def test_image_embeddings_of_several_images_and_their_similarities(manager):
    """The tab's run of three images: each embedding is the pipeline's own for that image, the
    similarity matrix is scikit-learn's cosine similarity of them, and the code view reproduces both."""
    from sklearn.metrics.pairwise import cosine_similarity

    from workbench.samples import sample_file
    from workbench.service import run_task

    files = [sample_file("image.png"), sample_file("image-turned.png"), sample_file("document.png")]
    result = run_task(manager, "image-feature-extraction", {"image": files}, {"pool": True})
    pipe = manager.get("image-feature-extraction")
    own = np.stack([np.asarray(pipe(load_image(f), pool=True))[0] for f in files])
    np.testing.assert_allclose(result.output["embeddings"], own, atol=1e-5)
    np.testing.assert_allclose(result.output["similarity"], cosine_similarity(own), atol=1e-5)
    namespace: dict = {}
    exec(compile(result.code, "<snippet image-feature-extraction>", "exec"), namespace)
    np.testing.assert_allclose(namespace["result"], own, atol=1e-5)
    np.testing.assert_allclose(namespace["similarity"], cosine_similarity(own), atol=1e-5)


def test_image_embeddings_without_pooling_or_of_one_image_have_no_similarity(manager):
    from workbench.samples import sample_file
    from workbench.service import run_task

    files = [sample_file("image.png"), sample_file("document.png")]
    patches = run_task(manager, "image-feature-extraction", {"image": files}, {"pool": False})
    hidden = manager.get("image-feature-extraction").model.config.hidden_size
    assert [np.asarray(e).shape for e in patches.output["embeddings"]] == [(1 + (32 // 8) ** 2, hidden)] * 2
    assert patches.output["similarity"] is None
    one = run_task(manager, "image-feature-extraction", {"image": files[0]}, {"pool": True})  # one path: one image
    assert np.asarray(one.output["embeddings"]).shape == (1, hidden) and one.output["similarity"] is None


def test_scores_are_python_floats(manager):
    """Outputs are plain numbers (JSON-able), not numpy or torch scalars."""
    spec = get_task("object-detection")
    out = manager.get(spec.name)(IMAGE, **spec.call_kwargs({"threshold": 0}))
    assert all(isinstance(d["score"], numbers.Real) and type(d["score"]) is float for d in out)


def test_depth_estimation_runs_in_bfloat16(manager):
    """transformers' depth pipeline turned a bfloat16 depth into numpy and failed ("Got unsupported
    ScalarType BFloat16"); the shim makes the depth map float32 while the model runs in bfloat16
    (table QA had the same fault: tests/test_tasks_text.py)."""
    pipe = manager.get("depth-estimation", dtype="bfloat16")
    assert next(pipe.model.parameters()).dtype == torch.bfloat16
    out = pipe(IMAGE.resize((64, 48)))
    assert out["predicted_depth"].dtype == torch.float32 and out["depth"].size == (64, 48)
