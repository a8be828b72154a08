"""Offline builders for the adapter tasks (QA, summarization, translation, text2text generation,
captioning, visual QA).

All random weights, hidden 32, 2 layers; tokenizers from in-code vocabularies (no sentencepiece).
The folders also load in transformers 4.57 (``scripts/parity-goldens.sh`` runs its pipelines on
them), so a builder that changes must regenerate ``tests/goldens/parity-4.57.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from workbench.offline import builder
from workbench.offline.vocab import WORDS, bert_tokenizer

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
TINY_VISION = dict(TINY, image_size=32, patch_size=8)

#: T5-style task prefixes, as t5-small's config has them.
T5_TASKS = {
    "summarization": {"prefix": "summarize: "},
    "translation_en_to_de": {"prefix": "translate English to German: "},
    "translation_en_to_fr": {"prefix": "translate English to French: "},
    "translation_en_to_ro": {"prefix": "translate English to Romanian: "},
}

#: Answers the tiny ViLT classifies into.
VQA_ANSWERS = ("yes", "no", "one", "two", "red", "green", "blue", "house", "tree", "sun")


@builder("question-answering")
def question_answering(path: Path) -> str:
    from transformers import BertConfig, BertForQuestionAnswering

    tok = bert_tokenizer()
    model = BertForQuestionAnswering(BertConfig(vocab_size=len(tok), max_position_embeddings=512, **TINY))
    model.eval().save_pretrained(path)
    tok.save_pretrained(path)
    return "tiny BERT extractive QA (2 layers, hidden 32), random weights"


def t5_tokenizer():
    """A cased Unigram ``T5Tokenizer`` over the shared word list (whole words, else characters)."""
    import string

    from transformers import T5Tokenizer

    words = set(WORDS) | {w.capitalize() for w in WORDS} | {"summarize:", "translate", "English", "French",
                                                               "German", "Romanian", "to"}
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("▁", -3.0)]
    pieces += [(f"▁{w}", -2.0) for w in sorted(words)]
    chars = string.ascii_letters + string.digits + string.punctuation
    pieces += [(c, -5.0) for c in chars] + [(f"▁{c}", -4.0) for c in chars]
    return T5Tokenizer(vocab=list(dict(pieces).items()), extra_ids=0, model_max_length=512)


def _t5(path: Path) -> str:
    from transformers import T5Config, T5ForConditionalGeneration

    tok = t5_tokenizer()
    config = T5Config(vocab_size=len(tok), d_model=32, d_kv=16, d_ff=37, num_layers=2, num_decoder_layers=2,
                      num_heads=2, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0,
                      task_specific_params=T5_TASKS)
    T5ForConditionalGeneration(config).eval().save_pretrained(path)
    tok.save_pretrained(path)
    portable_tokenizer_config(path)
    return "tiny T5 (2+2 layers, d_model 32) with t5-small's task prefixes, random weights"


def portable_tokenizer_config(path: Path) -> None:
    """Drop the empty ``extra_special_tokens`` list transformers 5 writes: 4.57 expects a dict there
    and fails to load the tokenizer (transformers 5 reads the file the same either way)."""
    file = path / "tokenizer_config.json"
    config = json.loads(file.read_text())
    if config.get("extra_special_tokens") == []:
        del config["extra_special_tokens"]
        file.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n")


@builder("summarization")
def summarization(path: Path) -> str:
    return _t5(path)


@builder("translation")
def translation(path: Path) -> str:
    return _t5(path)


@builder("text2text-generation")
def text2text_generation(path: Path) -> str:
    return _t5(path)


@builder("image-to-text")
def image_to_text(path: Path) -> str:
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    tok = bert_tokenizer(extra=("[DEC]",))
    tok.bos_token = "[DEC]"
    # 512 positions, as BLIP has: 4.57's image-to-text default of 256 new tokens must fit
    text = dict(TINY, vocab_size=len(tok), max_position_embeddings=512, bos_token_id=tok.bos_token_id,
                sep_token_id=tok.sep_token_id, pad_token_id=tok.pad_token_id, eos_token_id=tok.sep_token_id)
    config = BlipConfig(text_config=text, vision_config=TINY_VISION, projection_dim=32)
    BlipForConditionalGeneration(config).eval().save_pretrained(path)
    image_processor = BlipImageProcessor(size={"height": 32, "width": 32})
    BlipProcessor(image_processor=image_processor, tokenizer=tok).save_pretrained(path)
    return "tiny BLIP captioner (ViT 32×32/8 + BERT decoder, hidden 32), random weights"


@builder("visual-question-answering")
def visual_question_answering(path: Path) -> str:
    from transformers import ViltConfig, ViltForQuestionAnswering, ViltImageProcessor, ViltProcessor

    tok = bert_tokenizer(model_max_length=40)
    config = ViltConfig(vocab_size=len(tok), max_position_embeddings=40, id2label=dict(enumerate(VQA_ANSWERS)),
                        label2id={a: i for i, a in enumerate(VQA_ANSWERS)}, **TINY_VISION)
    ViltForQuestionAnswering(config).eval().save_pretrained(path)
    image_processor = ViltImageProcessor(size={"shortest_edge": 32}, size_divisor=8)
    ViltProcessor(image_processor=image_processor, tokenizer=tok).save_pretrained(path)
    return f"tiny ViLT VQA classifier ({len(VQA_ANSWERS)} answers, hidden 32), random weights"
