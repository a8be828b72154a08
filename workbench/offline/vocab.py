"""Tokenizers made locally for the offline models (no download, no sentencepiece).

A small English word list covers the presets' examples and the tests' sentences well enough for
tiny models; unknown words fall back to characters (WordPiece ``##x`` pieces / byte-level BPE).
"""

from __future__ import annotations

import json
import string
from functools import lru_cache

WORDS = """
the a an of to in and or is are was were be been it its this that these those on at by for with from
as not no yes but if then than so do does did have has had he she they we you i me my your our their
his her them us who what when where why how which there here all any some many much more most one two
three four five six seven eight nine ten first last new old good bad great small big long short high low
man woman men women person people child someone plays playing play played guitar instrument music song
stock market fell today rose price prices money bank company year years day days time week month city
paris london berlin france germany england europe capital river country world house home car dog cat bird
red green blue black white color image photo picture page document invoice total date name number table
question answer what is love hate happy sad movie film book great terrible awesome wonderful awful like
sky sun moon water fire tree trees park street road sea beach mountain morning evening night rain snow
apple banana food eat ate drink coffee tea cup hello world weather good bad okay fine thanks please
john mary george washington president born lives live lived works work worked at google apple microsoft
summary translate english french german language speak speaks said says say tell told ask asked
""".split()


@lru_cache(maxsize=None)
def word_vocab(extra: tuple[str, ...] = ()) -> dict[str, int]:
    """A WordPiece vocabulary: BERT's special tokens, the word list, and every single character
    (plain and as a ``##`` continuation) so that any ASCII text tokenizes without [UNK]."""
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *extra]
    chars = string.ascii_lowercase + string.digits + string.punctuation
    tokens += list(dict.fromkeys(WORDS))
    tokens += [c for c in chars if c not in tokens]
    tokens += [f"##{c}" for c in string.ascii_lowercase + string.digits]
    return {t: i for i, t in enumerate(dict.fromkeys(tokens))}


def bert_tokenizer(extra: tuple[str, ...] = (), model_max_length: int = 512):
    """An uncased ``BertTokenizer`` over ``word_vocab``.

    >>> tok = bert_tokenizer()
    >>> tok.tokenize("Paris is the capital of France.")
    ['paris', 'is', 'the', 'capital', 'of', 'france', '.']
    """
    from transformers import BertTokenizer

    return BertTokenizer(vocab=dict(word_vocab(tuple(extra))), do_lower_case=True, model_max_length=model_max_length)


#: The text a byte-level BPE is trained on: the word list plus a few ordinary sentences.
BPE_SENTENCES = (
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time, there was a small house by the river.",
    "Paris is the capital of France, and Berlin is the capital of Germany.",
    "A man is playing a guitar. Someone plays an instrument.",
    "The stock market fell today, but prices rose last week.",
    "Hello, my name is Mary and I live in London.",
    "What is the total of the invoice? The answer is 42.50 EUR.",
    "translate English to French: I love music. summarize: The weather was good.",
    " ".join(WORDS),
)


@lru_cache(maxsize=None)
def bpe_vocab(special_tokens: tuple[str, ...] = ("<|endoftext|>",),
              vocab_size: int = 600) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A byte-level BPE ``(vocab, merges)`` trained with the ``tokenizers`` library on
    ``BPE_SENTENCES``. ``special_tokens`` take the first ids, then come all 256 byte symbols (so
    any text encodes without an unknown token), then merged pieces. Deterministic.

    >>> vocab, merges = bpe_vocab()
    >>> vocab["<|endoftext|>"], len(vocab) <= 600, isinstance(merges[0], tuple)
    (0, True, True)
    """
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(special_tokens), show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(BPE_SENTENCES, trainer=trainer)
    data = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in data["merges"]]
    return dict(data["vocab"]), merges


def bpe_tokenizer(tokenizer_class: str = "GPT2Tokenizer", special_tokens: tuple[str, ...] = ("<|endoftext|>",),
                  vocab_size: int = 600, **init_kwargs):
    """A byte-level BPE tokenizer of ``tokenizer_class`` (any transformers class that takes
    ``vocab=`` and ``merges=``: GPT2Tokenizer, RobertaTokenizer, ...) over ``bpe_vocab``.

    The default is GPT-2's: ``<|endoftext|>`` (id 0) as bos/eos/unk, and also as pad. For RoBERTa
    pass its special tokens, e.g. ``bpe_tokenizer("RobertaTokenizer", ("<s>", "<pad>", "</s>",
    "<unk>", "<mask>"))``; ``init_kwargs`` go to the class (``model_max_length=...``).

    >>> tok = bpe_tokenizer()
    >>> tok.decode(tok("Hello world")["input_ids"]), tok.pad_token, tok.eos_token_id
    ('Hello world', '<|endoftext|>', 0)
    """
    import transformers

    cls = getattr(transformers, tokenizer_class)
    vocab, merges = bpe_vocab(tuple(special_tokens), vocab_size)
    if tokenizer_class == "GPT2Tokenizer":
        init_kwargs.setdefault("pad_token", special_tokens[0])
    return cls(vocab=dict(vocab), merges=list(merges), **init_kwargs)
