"""Image captioning (the v4 ``image-to-text`` pipeline) for BLIP, GIT and vision encoder–decoders.

Generation starts from 4.57's default ``max_new_tokens=256``, adjusted by the model's
``generation_config.json`` (see ``legacy_generation``); the caller's keywords come last. Unlike
4.57, any ``generate`` keyword is accepted, and a vision encoder–decoder takes a prompt too.

Chat-style vision-language models (LLaVA, Qwen-VL…) are not captioners: they keep using the
``image-text-to-text`` pipeline, and loading one here says so.

    caption = PipelineManager().get("image-to-text")
    caption(sample_image(), prompt="a picture of")
    # -> [{'generated_text': 'a picture of ...'}]
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from transformers.models.auto.auto_factory import _BaseAutoModelClass, _LazyAutoMapping
from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES
from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES

from workbench.adapters.base import Adapter, Features, generation_kwargs
from workbench.adapters.legacy_generation import IMAGE_TEXT_DEFAULTS, LegacyGeneration
from workbench.inputs import load_image

#: The captioning model types: those of ``AutoModelForImageTextToText`` that caption an image.
CAPTIONING_TYPES = ("vision-encoder-decoder", "blip", "git")


class AutoModelForImageCaptioning(_BaseAutoModelClass):
    """``AutoModelForImageTextToText`` restricted to captioning models (no chat VLMs)."""

    _model_mapping = _LazyAutoMapping(
        CONFIG_MAPPING_NAMES, OrderedDict((t, MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES[t]) for t in CAPTIONING_TYPES))


class ImageToTextAdapter(Adapter):
    """Image (+ optional prompt, the start of the caption) -> ``[{"generated_text"}]``."""

    task = "image-to-text"
    auto_classes = (AutoModelForImageCaptioning,)
    uses_image_processor = True
    batch_equal_lengths = True  # prompts are decoder prefixes: padding them would shift the text

    def sanitize_parameters(self, *, prompt: str | None = None, **generate: Any) -> tuple[dict, dict, dict]:
        legacy = LegacyGeneration.for_model(self.model, IMAGE_TEXT_DEFAULTS, self.task,
                                            pad_token_id=self.tokenizer.pad_token_id)
        return {"prompt": prompt or None}, legacy.generate_kwargs(generation_kwargs(generate, self.task)), {}

    def normalize_inputs(self, *args: Any, **kwargs: Any) -> tuple[list[Any], bool, dict[str, Any]]:
        for name in ("image", "images"):
            if not args and name in kwargs:
                args = (kwargs.pop(name),)
        return super().normalize_inputs(*args, **kwargs)

    def preprocess(self, image: Any, *, prompt: str | None = None) -> list[Features]:
        pixels = self.image_processor(images=load_image(image), return_tensors="pt")
        features: Features = {"pixel_values": pixels["pixel_values"][0]}
        if prompt:
            tok, model_type = self.tokenizer, self.config.model_type
            words = tok(prompt, add_special_tokens=False)["input_ids"]
            if model_type == "git":  # GIT starts text with [CLS], as its processor does
                features["input_ids"] = torch.tensor([tok.cls_token_id, *words])
            elif model_type == "vision-encoder-decoder":  # the prompt continues the decoder's start token
                features["decoder_input_ids"] = torch.tensor([self.config.decoder_start_token_id, *words])
            else:  # BLIP: [CLS] prompt [SEP]; its generate swaps in BOS and drops the [SEP]
                features["input_ids"] = torch.tensor(tok(prompt)["input_ids"])
        return [features]

    def _forward(self, batch: dict[str, torch.Tensor], **generate: Any) -> dict[str, torch.Tensor]:
        sequences = self.model.generate(**batch, **generate)
        n = len(batch["pixel_values"])
        return {"sequences": sequences.reshape(n, -1, sequences.shape[-1])}

    def postprocess(self, passes: list[Features]) -> list[dict[str, str]]:
        return [{"generated_text": self.tokenizer.decode(seq, skip_special_tokens=True)}
                for seq in passes[0]["sequences"]]
