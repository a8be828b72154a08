"""Visual question answering (the v4 ``visual-question-answering`` pipeline).

Classifier models (ViLT) score a fixed answer vocabulary -> ``[{"answer", "score"}]`` (``top_k``
best, sigmoid scores); generative models (BLIP-VQA) write the answer -> ``[{"answer"}]``, starting
from 4.57's ``max_new_tokens=256`` as adjusted by the model's generation config (``legacy_generation``).

Where we differ from 4.57 on purpose: a question longer than the text embeddings take is
truncated (4.57 failed; ``truncation=False`` gives the old behaviour), and a generative model
takes ``generate`` keywords (4.57 ignored them).

    vqa = PipelineManager().get("visual-question-answering")
    vqa(image=sample_image(), question="What color is the house?", top_k=2)
    # -> [{'answer': 'red', 'score': 0.91}, {'answer': 'blue', 'score': 0.02}]
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import torch
from transformers import AutoModelForVisualQuestionAnswering

from workbench.adapters.base import Adapter, Features, generation_kwargs
from workbench.adapters.legacy_generation import IMAGE_TEXT_DEFAULTS, LegacyGeneration
from workbench.errors import InputError
from workbench.inputs import load_image, require_text


class VisualQuestionAnsweringAdapter(Adapter):
    """``{"image", "question"}`` -> answers; items of a list call are such dicts."""

    task = "visual-question-answering"
    auto_classes = (AutoModelForVisualQuestionAnswering,)
    uses_image_processor = True

    @property
    def generative(self) -> bool:
        return bool(self.model.can_generate())

    @property
    def batch_equal_lengths(self) -> bool:  # type: ignore[override]
        """BLIP-VQA's decoder attends to every question position, padding included (its generate
        ignores the question mask), so generative models batch only equal-length questions."""
        return self.generative

    def normalize_inputs(self, *args: Any, **kwargs: Any) -> tuple[list[Any], bool, dict[str, Any]]:
        """Accepts ``(image=, question=)`` (either may be a list: every question is asked about
        every image, as in 4.57), ``(image, question)``, a ``{"image", "question"}`` dict or a list
        of them."""
        image, question = kwargs.pop("image", None), kwargs.pop("question", None)
        if len(args) == 2 and image is None and question is None:
            image, question = args
            args = ()
        if args:
            if len(args) != 1 or image is not None:
                raise TypeError("call with image= and question=, "
                                "or with one {'image', 'question'} dict or a list of them")
            if question is not None:  # (image or images, question=...)
                image, args = args[0], ()
            else:
                single = isinstance(args[0], dict)
                items = [args[0]] if single else list(args[0])
                if not all(isinstance(i, dict) and {"image", "question"} <= set(i) for i in items):
                    raise InputError("Each visual question answering input needs an 'image' and a 'question'.")
                return [{"image": i["image"], "question": i["question"]} for i in items], single, kwargs
        if image is None or question is None:
            raise InputError("Visual question answering needs both an image and a question.")
        single = not isinstance(image, (list, tuple)) and isinstance(question, str)
        images = list(image) if isinstance(image, (list, tuple)) else [image]
        questions = [question] if isinstance(question, str) else list(question)
        if not images or not questions:
            raise InputError("Visual question answering needs at least one image and one question.")
        # as 4.57 did: every question about every image (questions outer), one list of answers each
        return [{"image": i, "question": q} for q in questions for i in images], single, kwargs

    def sanitize_parameters(self, *, top_k: int = 5, truncation: bool = True, padding: bool | str = False,
                            **generate: Any) -> tuple[dict, dict, dict]:
        if top_k < 1:
            raise InputError(f"top_k must be at least 1, got {top_k}.")
        if generate and not self.generative:
            raise TypeError(f"unknown parameter(s) {sorted(generate)} for {self.task} with a classifier model; "
                            "valid: top_k, truncation, padding")
        fwd: dict[str, Any] = {}
        if self.generative:
            legacy = LegacyGeneration.for_model(self.model, IMAGE_TEXT_DEFAULTS, self.task,
                                                pad_token_id=self.tokenizer.pad_token_id)
            fwd = legacy.generate_kwargs(generation_kwargs(generate, self.task))
        return {"truncation": truncation, "padding": padding}, fwd, {"top_k": top_k}

    def text_limit(self) -> int | None:
        """The longest question the text embeddings take (ViLT: 40 tokens)."""
        limits = [self.tokenizer.model_max_length]
        text_config = getattr(self.config, "text_config", None) or self.config
        limits.append(getattr(text_config, "max_position_embeddings", None) or limits[0])
        limit = min(int(x) for x in limits if x)
        return limit if limit < 1_000_000 else None

    def preprocess(self, item: dict[str, Any], *, truncation: bool = True,
                   padding: bool | str = False) -> list[Features]:
        question = require_text(item["question"], "question")
        pixels = self.image_processor(images=load_image(item["image"]), return_tensors="pt")
        limit = self.text_limit() if truncation else None
        text = self.tokenizer(question, truncation=limit is not None, max_length=limit, padding=padding)
        features: Features = {k: v[0] for k, v in pixels.items() if isinstance(v, torch.Tensor)}
        features.update({k: torch.tensor(v) for k, v in text.items()})
        return [{k: v for k, v in features.items() if k in self.model_inputs}]

    @functools.cached_property
    def model_inputs(self) -> frozenset[str]:
        """The keywords the model's forward takes (BLIP-VQA has no token_type_ids, ViLT has)."""
        return frozenset(inspect.signature(self.model.forward).parameters)

    def _forward(self, batch: dict[str, torch.Tensor], **generate: Any) -> dict[str, torch.Tensor]:
        if self.generative:
            sequences = self.model.generate(**batch, **generate)
            n = len(batch["input_ids"])
            return {"sequences": sequences.reshape(n, -1, sequences.shape[-1])}
        return {"logits": self.model(**batch).logits}

    def postprocess(self, passes: list[Features], *, top_k: int = 5) -> list[dict[str, Any]]:
        out = passes[0]
        if "sequences" in out:
            return [{"answer": self.tokenizer.decode(seq, skip_special_tokens=True).strip()}
                    for seq in out["sequences"]]
        probs = out["logits"].sigmoid()
        scores, ids = probs.topk(min(top_k, probs.shape[-1]))
        id2label = self.config.id2label
        return [{"answer": id2label[int(i)], "score": float(s)} for s, i in zip(scores, ids)]
