"""Batch-runner backends of the pipelines whose steps the generic ``PipelineBackend`` cannot cut
into batches as they are: keypoint matching (its tensors sit one level down, under
``model_inputs``) and decision (one prompt per question, and a forward pass that loops over them).
Each reuses the pipeline's own ``preprocess`` and ``postprocess``; only the forward pass is batched.
A task's ``spec.call.backend`` picks its backend (``workbench.calls``).
"""

from __future__ import annotations

from typing import Any, Hashable, Mapping, Sequence

import torch

from workbench.batching import Batch, Backend, PipelineBackend, split_parameters
from workbench.features import Features


class KeypointBackend(PipelineBackend):
    """Keypoint matching: the pipeline's ``preprocess`` per pair of images, pairs of one pixel shape
    concatenated into one forward pass, the pipeline's ``postprocess`` per pair. An item is a dict
    holding the two images under ``names`` (the task's inputs) or a pair ``[a, b]``."""

    counts_tokens = False

    def __init__(self, pipe: Any, params: dict[str, Any], names: Sequence[str] = ("image", "image_2")) -> None:
        super().__init__(pipe, params)
        self.names = tuple(names)

    def _pair(self, item: Any) -> list[Any]:
        if isinstance(item, Mapping):
            return [item[n] for n in self.names]
        if isinstance(item, (list, tuple)) and len(item) == 2:
            return list(item)
        raise TypeError(f"keypoint matching takes pairs of images ({{{', '.join(repr(n) + ': ...' for n in self.names)}}} "
                        f"or [a, b]); got {type(item).__name__}")

    def prepare(self, items: Sequence[Any]) -> list[list[Features]]:
        out = []
        for item in items:
            made = self.pipe.preprocess(self._pair(item), **self.pre)
            out.append([{"pixel_values": made["model_inputs"]["pixel_values"], "target_sizes": made["target_sizes"]}])
        return out

    def cost(self, f: Features) -> int:
        return int(f["pixel_values"][0].numel())

    def group(self, f: Features) -> Hashable:
        return tuple(f["pixel_values"].shape[1:]), str(f["pixel_values"].dtype)

    def run(self, passes: Sequence[Features]) -> Batch:
        pixels = torch.cat([p["pixel_values"] for p in passes], dim=0)
        outputs = self.pipe.forward({"model_inputs": {"pixel_values": pixels}, "target_sizes": []}, **self.fwd)
        found = outputs["model_outputs"]
        rows = [{"model_outputs": self.row(found, i, 0, 0, len(passes)), "target_sizes": [p["target_sizes"]]}
                for i, p in enumerate(passes)]
        return Batch(rows, sum(self.cost(p) for p in passes))

    def finish(self, rows: list[Features]) -> Any:
        return self.pipe.postprocess(rows[0], **self.post)


class DecisionBackend(Backend):
    """Decision: the pipeline's ``preprocess`` turns a request into one prompt per question (or one
    for all, as the model's template says); each prompt is a pass. Prompts of text only share a
    right-padded forward pass, and each question's option scores are the logits of its labels
    before its mark, as the pipeline reads them; a decision model (``XxxForDecision``) or a prompt
    with images runs alone through the model's own ``decide`` / forward pass. ``finish`` merges a
    request's answers with the pipeline's ``postprocess``."""

    counts_tokens = True

    def __init__(self, pipe: Any, params: dict[str, Any]) -> None:
        from transformers.decision.modeling_utils import DecisionMixin

        self.pipe, self.model = pipe, pipe.model
        self.pre, self.fwd, self.post = split_parameters(pipe, params)
        self.decides = isinstance(pipe.model, DecisionMixin)
        tok = pipe.tokenizer
        self.pad_id = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)

    def prepare(self, items: Sequence[Any]) -> list[list[Features]]:
        out = []
        for item in items:
            prompts = self.pipe.preprocess(item, **self.pre)["prompts"]
            out.append([{**inputs, "questions": questions} for inputs, questions in prompts])
        return out

    def cost(self, f: Features) -> int:
        return int(f["input_ids"].shape[-1])

    def group(self, f: Features) -> Hashable:
        extra = tuple(sorted(k for k in f if k not in ("input_ids", "marks", "questions")))
        return extra, self.decides

    def run(self, passes: Sequence[Features]) -> Batch:
        from transformers.decision.modeling_utils import process_scores

        config, device = self.pipe.decision_config, self.model.device
        with torch.inference_mode():
            if self.decides or self.group(passes[0])[0]:
                scores = [self._alone(p) for p in passes]
            else:
                lengths = [int(p["input_ids"].shape[-1]) for p in passes]
                width = max(lengths)
                ids = torch.full((len(passes), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(passes), width), dtype=torch.long)
                for i, p in enumerate(passes):
                    ids[i, :lengths[i]], mask[i, :lengths[i]] = p["input_ids"][0], 1
                logits = self.model(input_ids=ids.to(device), attention_mask=mask.to(device), use_cache=False).logits
                scores = []
                for i, p in enumerate(passes):
                    at = logits[i, p["marks"].to(device) - 1]  # the position before each mark
                    labels = [at[j, self.pipe.label_token_ids(tuple(q.labels))] for j, q in enumerate(p["questions"])]
                    scores.append(process_scores(config, p["input_ids"], p["marks"], p["questions"], labels))
        rows = [{"questions": p["questions"], "scores": s} for p, s in zip(passes, scores)]
        return Batch(rows, max(self.cost(p) for p in passes) * len(passes))

    def _alone(self, p: Features) -> list[torch.Tensor]:
        """One prompt through the pipeline's own forward pass (a decision model, images)."""
        inputs = {k: v for k, v in p.items() if k != "questions"}
        out = self.pipe.forward({"prompts": [(inputs, p["questions"])]}, **self.fwd)
        return out["scores"][0]

    def finish(self, rows: list[Features]) -> Any:
        return self.pipe.postprocess({"prompts": [(None, r["questions"]) for r in rows],
                                      "scores": [r["scores"] for r in rows]}, **self.post)


class AnyToAnyBackend(PipelineBackend):
    """Any-to-any with audio: an item ``{"audio": wave at the model's rate, "text": prompt}`` becomes
    the pipeline's chat (one user message with both; a list of messages is a chat already), then
    the generic steps (prompts of one length
    share a ``generate``); results as the pipeline gives them (with ``input_text``)."""

    def __init__(self, pipe: Any, params: dict[str, Any]) -> None:
        super().__init__(pipe, params)
        self.equal_lengths = True

    def prepare(self, items: Sequence[Any]) -> list[list[Features]]:
        from transformers.pipelines.any_to_any import Chat

        from workbench.inputs import audio_chat

        from workbench.audio_inputs import load_audio
        from workbench.calls import sampling_rate

        rate = sampling_rate(self.pipe)

        def chat(item: Any) -> Any:
            if isinstance(item, Chat):
                return item
            if isinstance(item, list):  # the messages of a chat (the benchmark's items)
                return Chat(item)
            wave = item["audio"]
            wave = wave if hasattr(wave, "dtype") else load_audio(wave, rate)  # a file, or {"array", "sampling_rate"}
            return Chat(audio_chat(wave, item["text"]))

        return super().prepare([chat(item) for item in items])
