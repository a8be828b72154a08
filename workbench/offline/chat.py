"""Offline builder for chat: a tiny random-weight Llama with a chat template (``offline:chat``).

Its tokenizer is a ``PreTrainedTokenizerFast`` over the shared byte-level BPE plus role tokens,
with a Jinja ``chat_template``: ``<s><|system|>\\n...<|end|>\\n<|user|>\\n...<|end|>\\n<|assistant|>\\n``.
Generation stops at ``<|end|>`` or ``</s>``. Its answers are arbitrary text: it is a stand-in to
try the Chat mode and its API, not a model to talk to.
"""

from __future__ import annotations

from pathlib import Path

from workbench.offline import builder
from workbench.offline.vocab import bpe_vocab

SPECIAL = ("<s>", "</s>", "<pad>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
#: Every message as ``<|role|>\n{content}<|end|>\n``; the prompt ends with ``<|assistant|>\n``.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\\n' + message['content'] + '<|end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\\n' }}{% endif %}"
)


def chat_tokenizer():
    """The tiny chat model's tokenizer (byte-level BPE, role tokens, chat template).

    >>> tok = chat_tokenizer()
    >>> tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    '<s><|user|>\\nHi<|end|>\\n<|assistant|>\\n'
    >>> tok.decode(tok("Hello world", add_special_tokens=False)["input_ids"])
    'Hello world'
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab, merges = bpe_vocab(SPECIAL, 600)
    tok = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges)))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(list(SPECIAL))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>",
                                   additional_special_tokens=list(SPECIAL[3:]), model_max_length=512)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def unprintable_ids(tok) -> list[int]:
    """Ids of pieces that decode to no printable text on their own (lone bytes of multi-byte
    characters, control bytes): a random model would scatter them as � in its answers."""
    special = set(tok.all_special_ids)
    out = []
    for i in range(len(tok)):
        text = tok.decode([i])
        if i not in special and (not text or "\ufffd" in text or not all(c.isprintable() or c == "\n" for c in text)):
            out.append(i)
    return out


@builder("text-generation", name="chat")
def chat(path: Path) -> str:
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tok = chat_tokenizer()
    end = tok.convert_tokens_to_ids("<|end|>")
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tok.bos_token_id, eos_token_id=[end, tok.eos_token_id],
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).eval()
    model.generation_config = GenerationConfig(do_sample=False, max_new_tokens=32, bos_token_id=tok.bos_token_id,
                                               eos_token_id=[end, tok.eos_token_id], pad_token_id=tok.pad_token_id,
                                               suppress_tokens=unprintable_ids(tok))
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return "tiny Llama chat model with a chat template and role tokens (2 layers, hidden 32), random weights"


@builder("decision")
def decision(path: Path) -> str:
    """The chat model's tokenizer and size, with ``Yes`` and ``No`` as single tokens: a model without
    a decision head answers a yes/no question by the logits of those two labels (and a choice or a
    score by those of ``A``, ``B``…, single tokens already)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = chat_tokenizer()
    tok.add_tokens(["Yes", "No"])
    end = tok.convert_tokens_to_ids("<|end|>")
    config = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tok.bos_token_id, eos_token_id=[end, tok.eos_token_id],
                         pad_token_id=tok.pad_token_id, tie_word_embeddings=False)
    LlamaForCausalLM(config).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return "tiny Llama chat model with a chat template, Yes/No single tokens (2 layers, hidden 32), random weights"
