"""Offline builders for the text tasks."""

from __future__ import annotations

from pathlib import Path

from workbench.offline import builder
from workbench.offline.vocab import bert_tokenizer

TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                 max_position_embeddings=512)


def _save(model, tokenizer, path: Path) -> None:
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


@builder("text-classification")
def text_classification(path: Path) -> str:
    from transformers import BertConfig, BertForSequenceClassification

    tok = bert_tokenizer()
    labels = ["NEGATIVE", "POSITIVE"]
    config = BertConfig(vocab_size=len(tok), id2label=dict(enumerate(labels)),
                        label2id={l: i for i, l in enumerate(labels)}, **TINY_BERT)
    _save(BertForSequenceClassification(config).eval(), tok, path)
    return "tiny BERT classifier (2 layers, hidden 32), random weights"
