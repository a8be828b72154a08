"""Causal language models of published sizes with seeded random weights, built locally for the
generation benchmarks: ``random:smollm2-135m`` (SmolLM2-135M-Instruct's config) and
``random:qwen2.5-0.5b`` (Qwen2.5-0.5B-Instruct's). Realistic cost, meaningless text, no download.

The tokenizer is made here: a byte-level BPE trained on the workload corpus (``presets/corpus``,
so prompts cost about as many tokens as an English tokenizer gives them), its vocabulary filled with
placeholder pieces up to the model's size (every id a random model emits decodes to text), the
ChatML special tokens of both models (``<|endoftext|>``, ``<|im_start|>``, ``<|im_end|>``, ids 0–2)
and a ChatML chat template. Padding is on the left, as batched generation needs.

>>> CAUSAL_LMS["random:smollm2-135m"].config["num_hidden_layers"]
30
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

SPECIAL = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
#: SmolLM2's and Qwen2.5's chat format (without their default system prompts).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
#: Pieces the BPE learns from the corpus before the placeholders fill the vocabulary.
BPE_PIECES = 4096


@dataclass(frozen=True)
class CausalLM:
    """A published architecture to build with random weights: its transformers config class and
    the config values that set its cost."""

    config_class: str
    model_class: str
    config: dict[str, Any]
    description: str


CAUSAL_LMS = {
    # HuggingFaceTB/SmolLM2-135M-Instruct's config.json
    "random:smollm2-135m": CausalLM("LlamaConfig", "LlamaForCausalLM", dict(
        vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
        num_key_value_heads=3, max_position_embeddings=8192, rms_norm_eps=1e-5, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 100000.0}),
        "SmolLM2-135M-size Llama (30 layers, hidden 576, 9 heads / 3 KV heads, vocab 49152), random weights"),
    # Qwen/Qwen2.5-0.5B-Instruct's config.json
    "random:qwen2.5-0.5b": CausalLM("Qwen2Config", "Qwen2ForCausalLM", dict(
        vocab_size=151936, hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
        num_key_value_heads=2, max_position_embeddings=32768, rms_norm_eps=1e-6, tie_word_embeddings=True,
        rope_parameters={"rope_type": "default", "rope_theta": 1000000.0}),
        "Qwen2.5-0.5B-size Qwen2 (24 layers, hidden 896, 14 heads / 2 KV heads, vocab 151936), random weights"),
}


@lru_cache(maxsize=None)
def _corpus_bpe(pieces: int) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE ``(vocab, merges)`` trained on the workload corpus: the special tokens
    first, all 256 byte symbols, then up to ``pieces`` in all. Deterministic."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from workbench.offline.vocab import BPE_SENTENCES
    from workbench.workloads import corpus_lines, corpus_sentences

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=pieces, special_tokens=list(SPECIAL), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator([*BPE_SENTENCES, *corpus_sentences(), *corpus_lines()], trainer=trainer)
    data = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in data["merges"]]
    return dict(data["vocab"]), merges


def chatml_tokenizer(vocab_size: int, *, model_max_length: int = 8192):
    """A ``PreTrainedTokenizerFast`` with exactly ``vocab_size`` ids: the corpus BPE, then
    placeholder pieces ``Ġ<n>`` (they decode to `` <n>``; no text encodes to them).

    >>> tok = chatml_tokenizer(5000)
    >>> len(tok), tok.decode(tok("Hello world")["input_ids"]), tok.decode([4999])
    (5000, 'Hello world', ' <4999>')
    >>> tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    '<|im_start|>user\\nHi<|im_end|>\\n<|im_start|>assistant\\n'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    learned, merges = _corpus_bpe(min(BPE_PIECES, vocab_size))
    vocab = dict(learned)
    for i in range(len(vocab), vocab_size):
        piece = f"Ġ<{i}>"  # 'Ġ' is the byte-level symbol of a space
        if piece in vocab:
            raise ValueError(f"placeholder {piece!r} collides with a learned piece")
        vocab[piece] = i
    tok = Tokenizer(models.BPE(vocab=vocab, merges=list(merges)))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>",
                                   pad_token="<|endoftext|>", unk_token=None, model_max_length=model_max_length,
                                   padding_side="left")
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_causal_lm(path: Path, name: str, **overrides: Any) -> str:
    """Write ``name``'s model (``CAUSAL_LMS``; ``overrides`` change config values, e.g. fewer
    layers in tests) with random weights (seeded by the caller) and its tokenizer into ``path``;
    returns the description."""
    import transformers

    spec = CAUSAL_LMS[name]
    values = {**spec.config, **overrides}
    tok = chatml_tokenizer(values["vocab_size"], model_max_length=values["max_position_embeddings"])
    ids = {"bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id, "pad_token_id": tok.pad_token_id}
    config = getattr(transformers, spec.config_class)(**values, **ids)
    model = getattr(transformers, spec.model_class)(config).eval()
    model.generation_config = transformers.GenerationConfig(do_sample=False, **ids)
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return spec.description
