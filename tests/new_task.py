"""A task the workbench does not ship, written as a user adding one would: one ``register`` call with
its spec, its adapter, its output kind, its presets and its offline model — nothing else edited.

Sentence similarity: two texts in (``source``, ``target``), their cosine similarity out, from a
mean-pooled encoder (any ``AutoModel`` text encoder). No built-in task has these inputs, this
output kind or this adapter. ``tests/test_new_task.py`` registers it and uses it everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import AutoModel

from workbench.adapters.base import Adapter, Features
from workbench.output_kinds import OutputKind
from workbench.spec import BenchSpec, TaskSpec

NAME = "sentence-similarity"


class SentenceSimilarityAdapter(Adapter):
    """``pipe(source="...", target="...")`` -> ``{"similarity": cosine}``; a list of
    ``{"source", "target"}`` items gives a list. Each text is one forward pass."""

    task = NAME
    auto_classes = (AutoModel,)

    def normalize_inputs(self, *args: Any, **kwargs: Any) -> tuple[list[Any], bool, dict[str, Any]]:
        if not args and "source" in kwargs:
            return [{"source": kwargs.pop("source"), "target": kwargs.pop("target")}], True, kwargs
        return super().normalize_inputs(*args, **kwargs)

    def sanitize_parameters(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        return {}, {}, {}

    def preprocess(self, item: Any, **params: Any) -> list[Features]:
        passes = []
        for side in ("source", "target"):
            encoded = self.tokenizer(item[side], truncation=True, return_tensors="pt")
            passes.append({"input_ids": encoded["input_ids"][0], "attention_mask": encoded["attention_mask"][0]})
        return passes

    def _forward(self, batch: dict[str, torch.Tensor], **params: Any) -> dict[str, torch.Tensor]:
        hidden = self.model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return {"embedding": (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)}

    def postprocess(self, passes: list[Features], **params: Any) -> dict[str, float]:
        a, b = passes[0]["embedding"], passes[1]["embedding"]
        return {"similarity": round(float(torch.nn.functional.cosine_similarity(a, b, dim=0)), 6)}


class Similarity(OutputKind):
    """A similarity score: two configurations agree as closely as their scores."""

    def agreement(self, a: Any, b: Any, *, prompt: str | None = None) -> dict[str, Any]:
        return {"similarity": [a["similarity"], b["similarity"]],
                "difference": round(abs(a["similarity"] - b["similarity"]), 6)}

    def top(self, output: Any) -> Any:
        return round(output["similarity"], 3)


OUTPUT = Similarity("similarity", ("The cosine similarity of the two texts' mean-pooled embeddings, from -1 to 1.",))


def build_offline(path: Path) -> str:
    """A tiny random BERT encoder and the workbench's offline tokenizer."""
    from transformers import BertConfig, BertModel

    from workbench.offline.vocab import bert_tokenizer

    tokenizer = bert_tokenizer()
    BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=37, pad_token_id=tokenizer.pad_token_id)).eval().save_pretrained(path)
    tokenizer.save_pretrained(path)
    return "tiny BERT encoder (2 layers, hidden 32, random weights)"


SPEC = TaskSpec(
    NAME, "text", "Text", "similarity", ("source", "target"), "Sentence similarity",
    "How alike two texts are: the cosine similarity of their mean-pooled embeddings.",
    adapter="tests.new_task:SentenceSimilarityAdapter",
    input_labels={"source": "First text", "target": "Second text"},
    bench=BenchSpec(("natural", "file"), item=lambda text, mask: {"source": text, "target": text[::-1]}),
    presets={"models": [], "examples": [{"inputs": {"source": "A cat sits on the mat.",
                                                    "target": "There is a cat on the mat."}}]},
    offline=build_offline,
)
