"""Offline builders for the vision tasks: tiny random-weight models on 32×32 images (SAM: 64×64).

Every model here is a few hundred kilobytes and builds in milliseconds; the image processors
resize whatever they get to the model's tiny input size, so any picture works.

Mask generation needs the pure-torch SAM processor of ``workbench.compat`` (no torchvision here);
importing this module registers it, so a plain ``pipeline("mask-generation", model=folder)`` on the
saved folder works too, and the manager installs it before every load.
"""

from __future__ import annotations

import string
from functools import lru_cache
from pathlib import Path

import torch

from workbench.compat import register_sam_processor
from workbench.offline import builder

#: The transformer size shared by every tiny vision model.
TINY_VIT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
IMAGE = 32  # pixels per side
PATCH = 8
LABELS = ["cat", "dog", "house", "tree", "car"]


def _labels(names: list[str]) -> dict[str, dict]:
    return dict(id2label=dict(enumerate(names)), label2id={n: i for i, n in enumerate(names)})


def _save(path: Path, model, *processors) -> None:
    model.eval().save_pretrained(path)
    for p in processors:
        p.save_pretrained(path)


def _vit_processor():
    from transformers import ViTImageProcessor

    return ViTImageProcessor(size={"height": IMAGE, "width": IMAGE})


@builder("image-classification")
def image_classification(path: Path) -> str:
    from transformers import ViTConfig, ViTForImageClassification

    config = ViTConfig(image_size=IMAGE, patch_size=PATCH, **TINY_VIT, **_labels(LABELS))
    _save(path, ViTForImageClassification(config), _vit_processor())
    return f"tiny ViT classifier ({len(LABELS)} labels, 32×32 images, 2 layers, hidden 32), random weights"


@builder("image-feature-extraction")
def image_feature_extraction(path: Path) -> str:
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(image_size=IMAGE, patch_size=PATCH, **TINY_VIT)
    _save(path, ViTModel(config), _vit_processor())
    return "tiny ViT encoder with pooler (32×32 images, 2 layers, hidden 32), random weights"


@builder("object-detection")
def object_detection(path: Path) -> str:
    from transformers import YolosConfig, YolosForObjectDetection, YolosImageProcessor

    config = YolosConfig(image_size=[IMAGE, IMAGE], patch_size=PATCH, num_detection_tokens=5, **TINY_VIT,
                         **_labels(LABELS))
    processor = YolosImageProcessor(size={"shortest_edge": IMAGE, "longest_edge": IMAGE})
    _save(path, YolosForObjectDetection(config), processor)
    return f"tiny YOLOS detector (5 detection tokens, {len(LABELS)} labels, 32×32 images), random weights"


@builder("image-segmentation")
def image_segmentation(path: Path) -> str:
    from transformers import SegformerConfig, SegformerForSemanticSegmentation, SegformerImageProcessor

    names = ["sky", "grass", "house", "tree"]
    config = SegformerConfig(num_encoder_blocks=2, depths=[1, 1], sr_ratios=[2, 1], hidden_sizes=[16, 32],
                             patch_sizes=[7, 3], strides=[4, 2], num_attention_heads=[1, 2], mlp_ratios=[2, 2],
                             decoder_hidden_size=32, **_labels(names))
    processor = SegformerImageProcessor(size={"height": IMAGE, "width": IMAGE})
    _save(path, SegformerForSemanticSegmentation(config), processor)
    return f"tiny SegFormer (2 blocks, {len(names)} labels, 32×32 images), random weights"


@builder("depth-estimation")
def depth_estimation(path: Path) -> str:
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    config = DPTConfig(image_size=IMAGE, patch_size=PATCH, hidden_size=32, num_hidden_layers=4,
                       num_attention_heads=2, intermediate_size=37, backbone_out_indices=[0, 1, 2, 3],
                       neck_hidden_sizes=[8, 16, 32, 32], fusion_hidden_size=16)
    processor = DPTImageProcessor(size={"height": IMAGE, "width": IMAGE})
    _save(path, DPTForDepthEstimation(config), processor)
    return "tiny DPT depth model (4 layers, hidden 32, 32×32 images), random weights"


# ---- CLIP-style text: a character-level BPE vocabulary ------------------------------------------

@lru_cache(maxsize=None)
def clip_char_vocab() -> dict[str, int]:
    """Every printable ASCII character, alone and word-final (``c</w>``), then the two CLIP
    specials. ``<|startoftext|>`` is deliberately not id 0: OWL-ViT masks queries whose first id is 0.

    >>> v = clip_char_vocab(); v["a"], v["a</w>"] > 0, v["<|startoftext|>"] > 0
    (0, True, True)
    """
    chars = string.ascii_lowercase + string.digits + string.punctuation
    tokens = [*chars, *(c + "</w>" for c in chars), "<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}


def clip_tokenizer(model_max_length: int = 77):
    """A ``CLIPTokenizer`` over ``clip_char_vocab`` (no merges: one token per character).

    >>> tok = clip_tokenizer()
    >>> tok.convert_ids_to_tokens(tok("a cat")["input_ids"])
    ['<|startoftext|>', 'a</w>', 'c', 'a', 't</w>', '<|endoftext|>']
    """
    from transformers import CLIPTokenizer

    return CLIPTokenizer(vocab=dict(clip_char_vocab()), merges=[], model_max_length=model_max_length)


def _text_config(tok, max_positions: int) -> dict:
    return dict(vocab_size=len(tok), max_position_embeddings=max_positions, bos_token_id=tok.bos_token_id,
                eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **TINY_VIT)


@builder("zero-shot-image-classification")
def zero_shot_image_classification(path: Path) -> str:
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor

    tok = clip_tokenizer()
    config = CLIPConfig(text_config=_text_config(tok, 77), projection_dim=32,
                        vision_config=dict(image_size=IMAGE, patch_size=PATCH, **TINY_VIT))
    image_processor = CLIPImageProcessor(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE})
    _save(path, CLIPModel(config), CLIPProcessor(image_processor=image_processor, tokenizer=tok))
    return "tiny CLIP (char-level text, 32×32 images, 2+2 layers, hidden 32), random weights"


@builder("zero-shot-object-detection")
def zero_shot_object_detection(path: Path) -> str:
    from transformers import OwlViTConfig, OwlViTForObjectDetection, OwlViTImageProcessor, OwlViTProcessor

    tok = clip_tokenizer(model_max_length=16)
    config = OwlViTConfig(text_config=_text_config(tok, 16), projection_dim=TINY_VIT["hidden_size"],
                          vision_config=dict(image_size=IMAGE, patch_size=PATCH, **TINY_VIT))
    size = {"height": IMAGE, "width": IMAGE}
    image_processor = OwlViTImageProcessor(size=size, crop_size=size)
    _save(path, OwlViTForObjectDetection(config), OwlViTProcessor(image_processor=image_processor, tokenizer=tok))
    return "tiny OWL-ViT (char-level text, 32×32 images, 2+2 layers, hidden 32), random weights"


register_sam_processor()


@builder("mask-generation")
def mask_generation(path: Path) -> str:
    from transformers import SamConfig, SamModel, SamProcessor

    side, patch = 64, 16
    config = SamConfig(
        vision_config=dict(image_size=side, patch_size=patch, hidden_size=32, output_channels=32, num_hidden_layers=2,
                           num_attention_heads=2, window_size=2, global_attn_indexes=[1], mlp_dim=37,
                           num_pos_feats=16),
        prompt_encoder_config=dict(image_size=side, patch_size=patch, hidden_size=32, mask_input_channels=4),
        mask_decoder_config=dict(hidden_size=32, mlp_dim=37, num_hidden_layers=2, num_attention_heads=2,
                                 iou_head_hidden_dim=32),
    )
    mask_side = side // patch * 4  # the decoder upsamples the embedding grid 4×
    from transformers.models.sam.image_processing_pil_sam import SamImageProcessorPil

    image_processor = SamImageProcessorPil(size={"longest_edge": side}, pad_size={"height": side, "width": side},
                                           mask_size={"longest_edge": mask_side},
                                           mask_pad_size={"height": mask_side, "width": mask_side})
    _save(path, SamModel(config), SamProcessor(image_processor=image_processor))
    return "tiny SAM (64×64 images, patch 16, hidden 32), random weights"


@builder("keypoint-matching")
def keypoint_matching(path: Path) -> str:
    """SuperGlue on a tiny SuperPoint (built from its config as SuperGlue's keypoint detector).
    Every keypoint is kept (threshold 0, at most 24 per image) so that random weights still match
    some. (A tiny LightGlue builds too, but its post-processing raised an IndexError on random
    weights with transformers 5.25.)"""
    from transformers import SuperGlueConfig, SuperGlueForKeypointMatching, SuperGlueImageProcessor, SuperPointConfig

    detector = SuperPointConfig(encoder_hidden_sizes=[8, 8, 16, 16], decoder_hidden_size=32, descriptor_decoder_dim=32,
                                keypoint_threshold=0.0, max_keypoints=24, nms_radius=2, border_removal_distance=2)
    config = SuperGlueConfig(keypoint_detector_config=detector, hidden_size=32, keypoint_encoder_sizes=[16, 32],
                             gnn_layers_types=["self", "cross"], num_attention_heads=2, sinkhorn_iterations=10)
    _save(path, SuperGlueForKeypointMatching(config), SuperGlueImageProcessor(size={"height": 64, "width": 64}))
    return "tiny SuperGlue matcher on a tiny SuperPoint detector (64×64 grey images, ≤ 24 keypoints), random weights"
