"""Offline builders for the text tasks (tiny configs, random seeded weights, local tokenizers).

    from workbench.offline import offline_model_path
    from transformers import pipeline; pipeline("fill-mask", offline_model_path("fill-mask"))("[MASK] world")
"""

from __future__ import annotations

import json
import string
import tempfile
from pathlib import Path

from workbench.offline import builder
from workbench.offline.vocab import bert_tokenizer, bpe_tokenizer, word_vocab

TINY_BERT = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                 max_position_embeddings=512)
TINY = "2 layers, hidden 32, random weights"

NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]
NLI_LABELS = ["contradiction", "neutral", "entailment"]
TAPAS_AGGREGATIONS = {0: "NONE", 1: "SUM", 2: "AVERAGE", 3: "COUNT"}


def _save(model, tokenizer, path: Path) -> None:
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)


def _labels(labels: list[str]) -> dict:
    return dict(id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)})


def _bert_config(tok, labels: list[str] | None = None):
    from transformers import BertConfig

    return BertConfig(vocab_size=len(tok), pad_token_id=tok.pad_token_id, **(_labels(labels) if labels else {}),
                      **TINY_BERT)


@builder("text-classification")
def text_classification(path: Path) -> str:
    from transformers import BertForSequenceClassification

    tok = bert_tokenizer()
    _save(BertForSequenceClassification(_bert_config(tok, ["NEGATIVE", "POSITIVE"])).eval(), tok, path)
    return f"tiny BERT classifier, labels NEGATIVE/POSITIVE ({TINY})"


@builder("token-classification")
def token_classification(path: Path) -> str:
    from transformers import BertForTokenClassification

    tok = bert_tokenizer()
    _save(BertForTokenClassification(_bert_config(tok, NER_LABELS)).eval(), tok, path)
    return f"tiny BERT NER tagger, B-/I- PER/LOC/ORG/MISC + O ({TINY})"


@builder("fill-mask")
def fill_mask(path: Path) -> str:
    from transformers import BertForMaskedLM

    tok = bert_tokenizer()
    _save(BertForMaskedLM(_bert_config(tok)).eval(), tok, path)
    return f"tiny BERT masked LM, mask token [MASK] ({TINY})"


@builder("feature-extraction")
def feature_extraction(path: Path) -> str:
    from transformers import BertModel

    tok = bert_tokenizer()
    _save(BertModel(_bert_config(tok)).eval(), tok, path)
    return f"tiny BERT encoder, 32-dim token features ({TINY})"


@builder("zero-shot-classification")
def zero_shot_classification(path: Path) -> str:
    from transformers import BertForSequenceClassification

    tok = bert_tokenizer()
    _save(BertForSequenceClassification(_bert_config(tok, NLI_LABELS)).eval(), tok, path)
    return f"tiny BERT NLI classifier, contradiction/neutral/entailment ({TINY})"


@builder("text-generation")
def text_generation(path: Path) -> str:
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel

    tok = bpe_tokenizer(model_max_length=128)
    eos = tok.eos_token_id
    config = GPT2Config(vocab_size=len(tok), n_positions=128, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=eos, eos_token_id=eos, pad_token_id=tok.pad_token_id)
    model = GPT2LMHeadModel(config).eval()
    model.generation_config = GenerationConfig(do_sample=False, num_beams=1, max_new_tokens=20, bos_token_id=eos,
                                               eos_token_id=eos, pad_token_id=tok.pad_token_id)
    _save(model, tok, path)
    return f"tiny GPT-2 with a locally trained byte-level BPE, greedy, 128 positions ({TINY})"


@builder("table-question-answering")
def table_question_answering(path: Path) -> str:
    from transformers import TapasConfig, TapasForQuestionAnswering, TapasTokenizer

    with tempfile.TemporaryDirectory() as tmp:  # TapasTokenizer is slow-only: it reads a vocab file
        vocab_file = Path(tmp) / "vocab.txt"
        vocab_file.write_text("\n".join(word_vocab(("[EMPTY]",))) + "\n")
        tok = TapasTokenizer(str(vocab_file), model_max_length=512)
    config = TapasConfig(vocab_size=len(tok), pad_token_id=tok.pad_token_id, num_aggregation_labels=4,
                         aggregation_labels=TAPAS_AGGREGATIONS, no_aggregation_label_index=0,
                         use_answer_as_supervision=True, select_one_column=True, **TINY_BERT)
    _save(TapasForQuestionAnswering(config).eval(), tok, path)
    return f"tiny TAPAS table QA with NONE/SUM/AVERAGE/COUNT aggregation ({TINY})"


@builder("text-to-audio")
def text_to_audio(path: Path) -> str:
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    chars = ["<pad>", "<unk>", " ", *string.ascii_lowercase, *string.digits, *".,!?'-"]
    with tempfile.TemporaryDirectory() as tmp:  # VitsTokenizer reads a JSON vocab file
        vocab_file = Path(tmp) / "vocab.json"
        vocab_file.write_text(json.dumps({c: i for i, c in enumerate(chars)}))
        tok = VitsTokenizer(str(vocab_file), phonemize=False)
    config = VitsConfig(vocab_size=len(chars), pad_token_id=0, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        ffn_dim=37, flow_size=16, spectrogram_bins=17, upsample_initial_channel=16,
                        upsample_rates=(4, 4), upsample_kernel_sizes=(8, 8), resblock_kernel_sizes=(3,),
                        resblock_dilation_sizes=((1, 3),), duration_predictor_filter_channels=16,
                        duration_predictor_num_flows=2, prior_encoder_num_flows=2, prior_encoder_num_wavenet_layers=2,
                        posterior_encoder_num_wavenet_layers=2, depth_separable_num_layers=2, sampling_rate=16000)
    _save(VitsModel(config).eval(), tok, path)
    return f"tiny VITS speech synthesiser, character vocabulary, 16 kHz ({TINY})"
