"""The full-size random-weight benchmark models: their published sizes (counted on the meta device,
nothing allocated) and a scaled-down build of the same recipe (tokenizer, chat template, generation)."""

from __future__ import annotations

import pytest
import torch

from workbench.offline.random_llm import CAUSAL_LMS, build_causal_lm, chatml_tokenizer
from workbench.offline.random_models import RANDOM_MODELS, resolve_bench_model


@pytest.mark.parametrize(("name", "millions"), [("random:smollm2-135m", 134.5), ("random:qwen2.5-0.5b", 494.0)])
def test_causal_lms_have_the_published_size(name, millions):
    import transformers

    spec = CAUSAL_LMS[name]
    config = getattr(transformers, spec.config_class)(**spec.config)
    with torch.device("meta"):
        model = getattr(transformers, spec.model_class)(config)
    assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(millions, abs=0.5)
    assert model.config.tie_word_embeddings and name in RANDOM_MODELS


def test_other_names_are_left_alone():
    assert resolve_bench_model("offline:chat") == "offline:chat"
    assert resolve_bench_model(None) is None


def test_tokenizer_covers_every_id_the_model_can_emit():
    tok = chatml_tokenizer(6000)
    assert len(tok) == 6000 and tok.padding_side == "left"
    assert tok.convert_ids_to_tokens([0, 1, 2]) == ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    assert all(isinstance(tok.decode([i]), str) for i in (3, 300, 4095, 4096, 5999))
    text = "The stock market fell today, but prices rose last week."
    assert tok.decode(tok(text)["input_ids"]) == text
    assert len(tok(text)["input_ids"]) <= 1.5 * len(text.split())  # trained on the corpus: about a token a word


def test_scaled_down_build_generates_in_batches_and_chats(tmp_path):
    from transformers import pipeline

    torch.manual_seed(0)
    build_causal_lm(tmp_path, "random:smollm2-135m", num_hidden_layers=2, hidden_size=64, intermediate_size=128,
                    num_attention_heads=4, num_key_value_heads=2)
    pipe = pipeline("text-generation", model=str(tmp_path))
    assert pipe.model.config.vocab_size == len(pipe.tokenizer) == 49152
    prompts = ["Hello there", "A much longer prompt about the weather in Paris and in London"]
    batched = pipe(prompts, batch_size=2, max_new_tokens=4, min_new_tokens=4, return_full_text=False)
    alone = [pipe(p, max_new_tokens=4, min_new_tokens=4, return_full_text=False) for p in prompts]
    assert [b[0]["generated_text"] for b in batched] == [a[0]["generated_text"] for a in alone]  # left padding
    chat = pipe([{"role": "user", "content": "Hi"}], max_new_tokens=3)
    assert chat[0]["generated_text"][-1]["role"] == "assistant"
