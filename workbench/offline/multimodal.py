"""Offline builders for the document and image+text tasks: LayoutLM (v1) and a tiny LLaVA."""

from __future__ import annotations

from pathlib import Path

from workbench.offline import builder
from workbench.offline.vocab import bert_tokenizer, bpe_tokenizer

IMAGE = 32
PATCH = 8
IMAGE_TOKEN = "<image>"

#: A minimal chat template: "user: <image>\nWhat is this?\nassistant:". Message content may be a
#: string or a list of {"type": "image"|"text"} parts, as processors' apply_chat_template expects.
CHAT_TEMPLATE = (  # newlines as {{ '\n' }}: chat templates render with trim_blocks
    "{% for message in messages %}{{ message['role'] }}: "
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}{{ '" + IMAGE_TOKEN + "\\n' }}"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}{{ '\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


@builder("document-question-answering")
def document_question_answering(path: Path) -> str:
    from transformers import LayoutLMConfig, LayoutLMForQuestionAnswering

    # LayoutLM v1 reads only words and their boxes (0-1000): the pipeline takes them from
    # `word_boxes=` or, given just an image, from Tesseract OCR. No image processor is needed.
    tok = bert_tokenizer()
    config = LayoutLMConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=37, max_position_embeddings=512, max_2d_position_embeddings=1024)
    LayoutLMForQuestionAnswering(config).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return "tiny LayoutLM v1 QA (2 layers, hidden 32, BERT tokenizer; words from word_boxes or Tesseract), random weights"


@builder("image-text-to-text")
def image_text_to_text(path: Path) -> str:
    from transformers import (CLIPImageProcessor, CLIPVisionConfig, GenerationConfig, LlamaConfig, LlavaConfig,
                              LlavaForConditionalGeneration, LlavaProcessor)

    tok = bpe_tokenizer("GPT2Tokenizer", model_max_length=512)
    tok.add_special_tokens({"additional_special_tokens": [IMAGE_TOKEN]})
    image_token_id = tok.convert_tokens_to_ids(IMAGE_TOKEN)
    vision = CLIPVisionConfig(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                              image_size=IMAGE, patch_size=PATCH, projection_dim=32)
    text = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=256,
                       bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    # "default" strategy drops CLIP's class token: (32 / 8)^2 = 16 image tokens per image.
    image_seq_length = (IMAGE // PATCH) ** 2
    config = LlavaConfig(vision_config=vision, text_config=text, image_token_index=image_token_id,
                         image_seq_length=image_seq_length, vision_feature_select_strategy="default",
                         vision_feature_layer=-1)
    model = LlavaForConditionalGeneration(config).eval()
    model.generation_config = GenerationConfig(bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                                               pad_token_id=tok.pad_token_id)
    model.save_pretrained(path)
    image_processor = CLIPImageProcessor(size={"shortest_edge": IMAGE}, crop_size={"height": IMAGE, "width": IMAGE})
    processor = LlavaProcessor(image_processor=image_processor, tokenizer=tok, patch_size=PATCH,
                               vision_feature_select_strategy="default", chat_template=CHAT_TEMPLATE,
                               image_token=IMAGE_TOKEN, num_additional_image_tokens=1)
    processor.save_pretrained(path)
    return "tiny LLaVA (CLIP vision 2 layers + Llama 2 layers, hidden 32, 16 image tokens), random weights"


@builder("any-to-any")
def any_to_any(path: Path) -> str:
    """A tiny Qwen2-Audio (Whisper-style audio encoder + Qwen2 decoder) with the chat model's
    tokenizer and Qwen2-Audio's audio tokens: it takes a clip (2 s windows, 16 mel bins) and a
    prompt, as the any-to-any pipeline's audio-language models do, without torchvision."""
    from transformers import (GenerationConfig, Qwen2AudioConfig, Qwen2AudioEncoderConfig,
                              Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor, Qwen2Config,
                              WhisperFeatureExtractor)

    from workbench.offline.chat import chat_tokenizer, unprintable_ids

    tok = chat_tokenizer()
    tok.add_special_tokens({"additional_special_tokens": ["<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>"]},
                           replace_extra_special_tokens=False)
    features = WhisperFeatureExtractor(feature_size=16, chunk_length=2, sampling_rate=16000, hop_length=160, n_fft=400)
    end = tok.convert_tokens_to_ids("<|end|>")
    audio = Qwen2AudioEncoderConfig(num_mel_bins=16, encoder_layers=2, encoder_attention_heads=2, encoder_ffn_dim=32,
                                    d_model=32, max_source_positions=100)
    text = Qwen2Config(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                       num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                       bos_token_id=tok.bos_token_id, eos_token_id=[end, tok.eos_token_id], pad_token_id=tok.pad_token_id)
    model = Qwen2AudioForConditionalGeneration(Qwen2AudioConfig(
        audio_config=audio, text_config=text, audio_token_index=tok.convert_tokens_to_ids("<|AUDIO|>"))).eval()
    model.generation_config = GenerationConfig(do_sample=False, max_new_tokens=32, bos_token_id=tok.bos_token_id,
                                               eos_token_id=[end, tok.eos_token_id], pad_token_id=tok.pad_token_id,
                                               suppress_tokens=unprintable_ids(tok))
    model.save_pretrained(path)
    Qwen2AudioProcessor(feature_extractor=features, tokenizer=tok).save_pretrained(path)
    return "tiny Qwen2-Audio (audio encoder + Qwen2 decoder, 2 layers each, hidden 32, 2 s clips), random weights"
