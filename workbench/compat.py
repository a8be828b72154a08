"""Shims for what this environment lacks (no torchvision) or transformers gets wrong (bfloat16 outputs
turned into numpy), installed by the manager before a load.

SAM's ``post_process_for_mask_generation`` calls ``torchvision.ops.batched_nms``, and there is no
CPU torchvision here. ``PureTorchSamImageProcessor`` does the same non-maximum suppression in plain
torch; ``register_sam_processor`` makes ``AutoImageProcessor`` (hence ``pipeline()``) hand it to
every SAM checkpoint whenever the PIL backend is picked — always the case without torchvision.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.models.sam import image_processing_pil_sam as _sam

# ---- SAM ----------------------------------------------------------------------------------------

def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """``torchvision.ops.batched_nms`` in plain torch: the indices of the boxes kept, by decreasing
    score. Boxes are ``(x0, y0, x1, y1)``; a box is dropped when its IoU with a higher-scoring box of
    the same ``idxs`` category exceeds ``iou_threshold``.

    >>> b = torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
    >>> batched_nms(b, torch.tensor([0.9, 0.8, 0.7]), torch.zeros(3), 0.5).tolist()
    [0, 2]
    """
    if boxes.numel() == 0:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    boxes = boxes.float()
    # Offset each category far apart so boxes of different categories never overlap.
    boxes = boxes + (idxs.to(boxes) * (boxes.max() + 1))[:, None]
    area = (boxes[:, 2] - boxes[:, 0]).clamp(min=0) * (boxes[:, 3] - boxes[:, 1]).clamp(min=0)
    order = scores.argsort(descending=True)
    keep: list[torch.Tensor] = []
    while order.numel():
        i, rest = order[0], order[1:]
        keep.append(i)
        top_left = torch.maximum(boxes[i, :2], boxes[rest, :2])
        bottom_right = torch.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = (bottom_right - top_left).clamp(min=0).prod(dim=1)
        iou = inter / (area[i] + area[rest] - inter)
        order = rest[iou <= iou_threshold]
    return torch.stack(keep)


class PureTorchSamImageProcessor(_sam.SamImageProcessorPil):
    """``SamImageProcessorPil`` whose ``post_process_for_mask_generation`` needs no torchvision."""

    def post_process_for_mask_generation(self, all_masks, all_scores, all_boxes, crops_nms_thresh):
        keep = batched_nms(all_boxes, all_scores, torch.zeros(all_boxes.shape[0]), crops_nms_thresh)
        rle_masks = [all_masks[i] for i in keep]
        return [_sam._rle_to_mask(rle) for rle in rle_masks], all_scores[keep], rle_masks, all_boxes[keep]


# AutoImageProcessor turns the saved type "SamImageProcessor" into the class *name*
# "SamImageProcessorPil" and looks that name up among registered classes before its own, so the
# subclass answers to the upstream name (and what it saves stays the standard type).
PureTorchSamImageProcessor.__name__ = "SamImageProcessorPil"


def register_sam_processor() -> None:
    """Make ``AutoImageProcessor`` (hence ``pipeline()``) give SAM checkpoints the pure-torch
    processor whenever it picks the PIL backend, which is always the case without torchvision.
    With torchvision installed its own (torchvision-backed) processor stays the default. Idempotent."""
    from transformers import AutoImageProcessor, SamConfig
    from transformers.utils import is_torchvision_available

    backends = ("pil",) if is_torchvision_available() else ("pil", "torchvision")  # the latter falls back to PIL
    AutoImageProcessor.register(SamConfig, image_processor_classes=dict.fromkeys(backends, PureTorchSamImageProcessor),
                                exist_ok=True)



# ---- half-precision outputs ---------------------------------------------------------------------

def _float32(value: Any) -> Any:
    """``value`` with every bfloat16/float16 tensor in it (tuples, lists, dicts) made float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() and value.dtype != torch.float32 else value
    if isinstance(value, dict):  # a ModelOutput too: its keys are set again
        for key in list(value.keys()):
            value[key] = _float32(value[key])
        return value
    if isinstance(value, (tuple, list)):
        return type(value)(_float32(v) for v in value)
    return value


#: Pipelines whose postprocess turns model outputs into numpy, which has no bfloat16 ("Got
#: unsupported ScalarType BFloat16"): depth maps, TAPAS's cell logits.
FLOAT_POSTPROCESS = ("transformers.pipelines.depth_estimation:DepthEstimationPipeline",
                     "transformers.pipelines.table_question_answering:TableQuestionAnsweringPipeline")


def float_outputs_to_postprocess() -> None:
    """Make the outputs of ``FLOAT_POSTPROCESS`` pipelines float32 before their postprocess (the
    model still runs in bfloat16; only what is turned into numpy changes). Idempotent."""
    import importlib

    for target in FLOAT_POSTPROCESS:
        module, _, name = target.partition(":")
        cls = getattr(importlib.import_module(module), name)
        original = cls.postprocess
        if getattr(original, "_workbench_float32", False):
            continue

        def postprocess(self, model_outputs, *args, _original=original, **kwargs):
            return _original(self, _float32(model_outputs), *args, **kwargs)

        postprocess._workbench_float32 = True  # type: ignore[attr-defined]
        cls.postprocess = postprocess


def install() -> None:
    """Install every shim (idempotent, cheap): called by ``PipelineManager`` before each load."""
    register_sam_processor()
    float_outputs_to_postprocess()
