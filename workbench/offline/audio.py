"""Offline builders for the audio tasks: a tiny Whisper, a Wav2Vec2 classifier and a CLAP (and a
Wav2Vec2 CTC recogniser, ``wav2vec2_ctc``, for the CTC path of speech recognition).

All take 16 kHz mono audio, the rate of ``workbench.samples.sample_waveform``.
"""

from __future__ import annotations

from pathlib import Path

from workbench.offline import builder
from workbench.offline.vocab import bpe_tokenizer, bpe_vocab

SAMPLING_RATE = 16_000

#: The languages the tiny Whisper knows (a multilingual prompt: <|startoftranscript|><|en|><|transcribe|>).
WHISPER_LANGUAGES = ("en", "fr", "de")
#: Whisper's control tokens, in Whisper's order; ``<|notimestamps|>`` must be the last special id,
#: because timestamp tokens start right after it.
WHISPER_CONTROL = ("<|startoftranscript|>", *(f"<|{lang}|>" for lang in WHISPER_LANGUAGES), "<|translate|>",
                   "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>")
#: Timestamp tokens <|0.00|> ... <|30.00|>, one per 20 ms encoder frame, as in Whisper.
WHISPER_TIMESTAMPS = tuple("<|%.2f|>" % (i * 0.02) for i in range(1501))
EOT = "<|endoftext|>"

TINY_WAV2VEC2 = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37,
                     conv_dim=(32, 32), conv_kernel=(10, 8), conv_stride=(5, 4), num_conv_pos_embeddings=16,
                     num_conv_pos_embedding_groups=2, classifier_proj_size=16, do_stable_layer_norm=False,
                     feat_extract_norm="group")


def whisper_tokenizer():
    """A ``WhisperTokenizer`` over the shared byte-level BPE, with Whisper's control and timestamp tokens.

    >>> tok = whisper_tokenizer()
    >>> tok.all_special_ids[-1] == tok.convert_tokens_to_ids("<|notimestamps|>")
    True
    >>> tok.decode(tok("hello world", add_special_tokens=False)["input_ids"])
    'hello world'
    """
    from transformers import WhisperTokenizer

    vocab, merges = bpe_vocab((EOT,), 600)
    vocab = dict(vocab)
    for token in (*WHISPER_CONTROL, *WHISPER_TIMESTAMPS):
        vocab[token] = len(vocab)
    return WhisperTokenizer(vocab=vocab, merges=list(merges), pad_token=EOT,
                            additional_special_tokens=list(WHISPER_CONTROL), model_max_length=448)


@builder("automatic-speech-recognition")
def automatic_speech_recognition(path: Path) -> str:
    import torch
    from transformers import (GenerationConfig, WhisperConfig, WhisperFeatureExtractor,
                              WhisperForConditionalGeneration, WhisperProcessor)

    tok = whisper_tokenizer()
    ids = {t: tok.convert_tokens_to_ids(t) for t in (EOT, *WHISPER_CONTROL)}
    eot, sot = ids[EOT], ids["<|startoftranscript|>"]
    # 30 s windows as in Whisper: 3000 mel frames -> 1500 encoder positions (conv stride 2), 20 ms each.
    config = WhisperConfig(
        vocab_size=len(tok), num_mel_bins=16, d_model=32, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_source_positions=1500, max_target_positions=128, pad_token_id=eot, bos_token_id=eot,
        eos_token_id=eot, decoder_start_token_id=sot, begin_suppress_tokens=None, suppress_tokens=None,
    )
    model = WhisperForConditionalGeneration(config).eval()
    # Timestamp tokens are 1501 of the ~2100 ids: with random weights they would win every step and
    # decode to an empty text. Shrinking their (tied) embeddings makes text tokens win when
    # timestamps are off, as in a trained Whisper; with timestamps on, Whisper's logits processor
    # still forces them where they belong.
    with torch.no_grad():
        model.get_input_embeddings().weight[ids["<|notimestamps|>"] + 1:] *= 0.1
    # Built field by field, not from the model config: Whisper's generate() reads these attributes,
    # and a generation config marked "from model config" is rebuilt from config.json on load.
    # max_length 24 keeps random-weight transcripts short: the ASR pipeline decodes with 5 beams.
    generation = GenerationConfig(
        max_length=24, decoder_start_token_id=sot, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot,
    )
    for key, value in dict(
        no_timestamps_token_id=ids["<|notimestamps|>"], prev_sot_token_id=ids["<|startofprev|>"],
        lang_to_id={f"<|{lang}|>": ids[f"<|{lang}|>"] for lang in WHISPER_LANGUAGES},
        task_to_id={"transcribe": ids["<|transcribe|>"], "translate": ids["<|translate|>"]},
        is_multilingual=True, max_initial_timestamp_index=50, suppress_tokens=[], begin_suppress_tokens=[eot],
        alignment_heads=[[1, 0], [1, 1]],  # cross-attention heads for word-level timestamps
        return_timestamps=False,
    ).items():
        setattr(generation, key, value)
    model.generation_config = generation
    model.save_pretrained(path)
    processor = WhisperProcessor(WhisperFeatureExtractor(feature_size=16, sampling_rate=SAMPLING_RATE), tok)
    processor.save_pretrained(path)
    return "tiny Whisper (2+2 layers, d_model 32, 16 mel bins, en/fr/de), random weights"


def wav2vec2_ctc(path: Path) -> str:
    """A tiny Wav2Vec2 CTC speech recogniser (letters, ``|`` between words) saved to ``path``: the
    pipeline type ``ctc``, which chunks long audio with strides where Whisper chunks in 30 s windows."""
    import json

    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    path.mkdir(parents=True, exist_ok=True)
    letters = ["<pad>", "<s>", "</s>", "<unk>", "|", *"abcdefghijklmnopqrstuvwxyz'"]
    vocab = path / "vocab.json"
    vocab.write_text(json.dumps({c: i for i, c in enumerate(letters)}))
    tok = Wav2Vec2CTCTokenizer(str(vocab), word_delimiter_token="|")
    config = Wav2Vec2Config(vocab_size=len(letters), pad_token_id=0, ctc_loss_reduction="mean", **TINY_WAV2VEC2)
    Wav2Vec2ForCTC(config).eval().save_pretrained(path)
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLING_RATE, padding_value=0.0, do_normalize=True,
                                  return_attention_mask=True)
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(path)
    return "tiny Wav2Vec2 CTC (2 conv + 2 transformer layers, hidden 32, letters), random weights"


@builder("audio-classification")
def audio_classification(path: Path) -> str:
    from transformers import Wav2Vec2Config, Wav2Vec2FeatureExtractor, Wav2Vec2ForSequenceClassification

    labels = ["yes", "no", "up", "down", "silence"]
    config = Wav2Vec2Config(id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
                            **TINY_WAV2VEC2)
    Wav2Vec2ForSequenceClassification(config).eval().save_pretrained(path)
    Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=SAMPLING_RATE, padding_value=0.0, do_normalize=True,
                             return_attention_mask=True).save_pretrained(path)
    return "tiny Wav2Vec2 classifier (2 conv + 2 transformer layers, hidden 32; yes/no/up/down/silence), random weights"


@builder("zero-shot-audio-classification")
def zero_shot_audio_classification(path: Path) -> str:
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor

    tok = bpe_tokenizer("RobertaTokenizer", ("<s>", "<pad>", "</s>", "<unk>", "<mask>"), model_max_length=64)
    # 16 mel bins, spec_size 64 -> the mel image takes up to 64 * (64 // 16) = 256 frames:
    # 2 s at 16 kHz with a 10 ms hop (201 frames).
    audio = dict(num_mel_bins=16, spec_size=64, window_size=4, patch_size=4, patch_stride=(4, 4),
                 depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16, hidden_size=32,
                 projection_dim=32, enable_fusion=False, num_classes=4)
    text = dict(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=37, max_position_embeddings=66, projection_dim=32,
                pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    config = ClapConfig(text_config=text, audio_config=audio, projection_dim=32)
    ClapModel(config).eval().save_pretrained(path)
    # Without fusion, audio longer than max_length_s is cropped at a random offset ("rand_trunc").
    features = ClapFeatureExtractor(feature_size=16, sampling_rate=SAMPLING_RATE, hop_length=160,
                                    fft_window_size=400, max_length_s=2, frequency_max=8000,
                                    truncation="rand_trunc", padding="repeatpad")
    ClapProcessor(features, tok).save_pretrained(path)
    return "tiny CLAP (HTSAT 2 stages + RoBERTa 2 layers, 16 kHz, no fusion), random weights"
