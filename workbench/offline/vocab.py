"""Tokenizers made locally for the offline models (no download, no sentencepiece).

A small English word list covers the presets' examples and the tests' sentences well enough for
tiny models; unknown words fall back to characters (WordPiece ``##x`` pieces / byte-level BPE).
"""

from __future__ import annotations

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
