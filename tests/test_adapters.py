"""The adapters for tasks transformers 5 removed: QA, summarization, translation, captioning, visual QA.

Tiny random models: tests check offsets, shapes, ordering and equivalences, never meanings. A few
models are made here (a QA model with hand-set weights, NLLB-style, GIT, ViT-BERT, BLIP-VQA) and
loaded from their folders through the manager like any local model.
"""

from __future__ import annotations

import copy
import string
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest
import torch

from workbench.adapters.seq2seq import languages_from_task
from workbench.errors import InputError, ModelTaskMismatchError
from workbench.models import config_fits
from workbench.offline.adapters import VQA_ANSWERS
from workbench.offline.vocab import bert_tokenizer
from workbench.presets import load_presets
from workbench.samples import sample_image
from workbench.tasks import get_task

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=37)
TINY_VISION = dict(TINY, image_size=32, patch_size=8)
FILLER = "the dog plays in the park and the cat sleeps at home . "


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("adapter-models")


@contextmanager
def seeded(seed: int = 0) -> Iterator[None]:
    """Build random weights from a fixed seed, leaving the global RNG as it was."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        yield


# ---- question answering ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def qa(manager):
    return manager.get("question-answering")


def _pointer_qa(manager, path: Path, null_weight: float):
    """A BERT QA model without layers whose logits point at fixed tokens: starts at "george",
    ends at "washington", and the null answer ([CLS]) has logits ``50 * null_weight``."""
    from transformers import BertConfig, BertForQuestionAnswering

    tok = bert_tokenizer()
    with seeded():
        model = BertForQuestionAnswering(BertConfig(vocab_size=len(tok), max_position_embeddings=512,
                                                    **dict(TINY, num_hidden_layers=0))).eval()
    emb = model.bert.embeddings
    with torch.no_grad():
        for table in (emb.word_embeddings, emb.position_embeddings, emb.token_type_embeddings):
            table.weight[:, :3] = 0  # dimensions 0, 1, 2 carry start, end and null
        for token, dim in (("george", 0), ("washington", 1), ("[CLS]", 2)):
            emb.word_embeddings.weight[tok.convert_tokens_to_ids(token)] = 50 * torch.eye(32)[dim]
        model.qa_outputs.weight.zero_()
        model.qa_outputs.bias.zero_()
        model.qa_outputs.weight[0, [0, 2]] = torch.tensor([2.0, null_weight])
        model.qa_outputs.weight[1, [1, 2]] = torch.tensor([2.0, null_weight])
    model.save_pretrained(path)
    tok.save_pretrained(path)
    return manager.get("question-answering", str(path))


@pytest.fixture(scope="session")
def pointer_qa(manager, models_dir):
    """The pointer model whose null answer ([CLS]) beats the span unless it is masked."""
    return _pointer_qa(manager, models_dir / "pointer-qa", null_weight=4.0)


@pytest.fixture(scope="session")
def span_qa(manager, models_dir):
    """The pointer model without a null answer: "George Washington" scores ~1 in each window."""
    return _pointer_qa(manager, models_dir / "span-qa", null_weight=0.0)


def test_an_answer_in_several_windows_adds_its_scores_and_keeps_the_first_offsets(span_qa):
    far = FILLER * 6
    context = far + "In 1732, George Washington was born. " + far + "GEORGE WASHINGTON! " + far
    params = dict(max_seq_len=64, doc_stride=16)
    windows = span_qa.preprocess({"question": "Who?", "context": context}, **params)
    ids = span_qa.tokenizer.convert_tokens_to_ids(["george", "washington"])
    with_phrase = sum(all(i in w["input_ids"].tolist() for i in ids) for w in windows)
    assert with_phrase >= 2 and len(windows) > with_phrase

    best = span_qa(question="Who?", context=context, **params)
    assert best["answer"] == "George Washington" and best["start"] == context.index("George")
    assert best["score"] == pytest.approx(with_phrase, rel=0.05)  # ~1 per window, added (4.57), not the max
    alone = span_qa(question="Who?", context="In 1732, George Washington was born.")
    assert alone["score"] == pytest.approx(1.0, rel=0.05)


def test_answer_only_in_the_second_window_is_found_with_character_offsets(pointer_qa):
    context = FILLER * 4 + "In 1732, George Washington was born. " + FILLER
    question = "Who was born?"
    windows = pointer_qa.preprocess({"question": question, "context": context}, max_seq_len=64, doc_stride=16)
    tok = pointer_qa.tokenizer
    where = [tok.convert_tokens_to_ids("washington") in w["input_ids"].tolist() for w in windows]
    assert len(windows) >= 3 and where == [False, True] + [False] * (len(windows) - 2)

    result = pointer_qa(question=question, context=context, max_seq_len=64, doc_stride=16)
    assert result["answer"] == "George Washington"
    assert context[result["start"]:result["end"]] == result["answer"]
    assert result["start"] == context.index("George")


def test_handle_impossible_answer_returns_the_empty_answer(pointer_qa):
    context = "In 1732, George Washington was born."
    assert pointer_qa(question="Who?", context=context)["answer"] == "George Washington"
    null = pointer_qa(question="Who?", context=context, handle_impossible_answer=True)
    assert null["answer"] == "" and (null["start"], null["end"]) == (0, 0) and null["score"] > 0.9


def test_best_span_equals_brute_force_over_the_logits(qa):
    question, context = "Where does Mary live?", "Mary lives in London, and John works at Google in Paris."
    tok, model = qa.tokenizer, qa.model
    enc = tok(question, context, return_offsets_mapping=True)
    with torch.no_grad():
        out = model(**{k: torch.tensor([v]) for k, v in enc.items() if k != "offset_mapping"})
    start, end = out.start_logits[0].numpy(), out.end_logits[0].numpy()
    ctx = [i for i, s in enumerate(enc.sequence_ids()) if s == 1]
    max_len = 4
    s, e = max(((s, e) for s in ctx for e in ctx if s <= e < s + max_len), key=lambda se: start[se[0]] + end[se[1]])
    softmax_over = [0] + ctx  # the v4 pipeline normalised over the context and [CLS]
    p_start = np.exp(start[s]) / np.exp(start[softmax_over]).sum()
    p_end = np.exp(end[e]) / np.exp(end[softmax_over]).sum()

    result = qa(question=question, context=context, max_answer_len=max_len, align_to_words=False)
    offsets = enc["offset_mapping"]
    assert (result["start"], result["end"]) == (offsets[s][0], offsets[e][1])
    assert result["answer"] == context[offsets[s][0]:offsets[e][1]]
    assert result["score"] == pytest.approx(float(p_start * p_end), rel=1e-4)


def test_top_k_answers_are_distinct_and_ordered_across_windows(qa):
    context = FILLER * 6 + "Mary lives in London."
    answers = qa(question="Where does Mary live?", context=context, top_k=5, max_seq_len=48, doc_stride=24)
    assert isinstance(answers, list) and len(answers) == 5
    spans = [(a["start"], a["end"]) for a in answers]
    assert len(set(spans)) == 5
    scores = [a["score"] for a in answers]
    assert scores == sorted(scores, reverse=True)
    assert all(context[a["start"]:a["end"]] == a["answer"] and a["answer"] for a in answers)


def test_qa_input_forms_and_batched_windows_match_one_by_one(qa):
    long_context = FILLER * 5 + "Mary lives in London."
    items = [{"question": "Where does Mary live?", "context": long_context},
             {"question": "Who plays?", "context": "The dog plays in the park."},
             {"question": "What sleeps at home?", "context": long_context}]
    params = dict(max_seq_len=48, doc_stride=16, top_k=2)
    one_by_one = [qa(**item, **params) for item in items]
    assert _close(qa(items, batch_size=4, **params), one_by_one)
    assert qa(question=[i["question"] for i in items], context=[i["context"] for i in items], **params) == one_by_one
    assert qa(items[1]) == qa(items[1]["question"], items[1]["context"])
    assert isinstance(qa(items[1]), dict) and set(qa(items[1])) == {"score", "start", "end", "answer"}


def _close(a: list, b: list) -> bool:
    flat_a = [x for group in a for x in ([group] if isinstance(group, dict) else group)]
    flat_b = [x for group in b for x in ([group] if isinstance(group, dict) else group)]
    return all((x["start"], x["end"], x["answer"]) == (y["start"], y["end"], y["answer"])
               and x["score"] == pytest.approx(y["score"], rel=1e-4) for x, y in zip(flat_a, flat_b, strict=True))


def test_qa_clear_errors(qa):
    with pytest.raises(InputError, match="context"):
        qa(question="Who?", context="   ")
    with pytest.raises(InputError, match="doc_stride.*larger than max_seq_len"):
        qa(question="Who?", context=FILLER * 10, max_seq_len=32, doc_stride=128)
    with pytest.raises(InputError, match="doc_stride.*smaller than the context part"):
        qa(question="Who?", context=FILLER * 10, max_seq_len=32, doc_stride=30)  # 4.57: a tokenizers panic
    with pytest.raises(InputError, match="max_seq_len.*512 positions"):
        qa(question="Who?", context=FILLER * 10, max_seq_len=1024)
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['topk'\].*top_k"):
        qa(question="Who?", context="Mary.", topk=2)


# ---- summarization and translation -------------------------------------------------------------


def test_summarization_greedy_equals_model_generate(manager):
    summarize = manager.get("summarization")
    text = "The stock market fell today, but prices rose last week."
    gen = dict(max_new_tokens=8, min_new_tokens=4, num_beams=1, do_sample=False)
    result = summarize(text, **gen)
    tok, model = summarize.tokenizer, summarize.model
    ids = model.generate(**tok("summarize: " + text, return_tensors="pt"), **gen)
    assert result == [{"summary_text": tok.decode(ids[0], skip_special_tokens=True)}]
    assert result[0]["summary_text"]


def test_t5_task_prefixes_come_from_the_config(manager):
    summarize, translate = manager.get("summarization"), manager.get("translation")
    text = "I love music."
    pre, _, _ = summarize.sanitize_parameters()
    expected = summarize.tokenizer("summarize: " + text)["input_ids"]
    assert summarize.preprocess(text, **pre)[0]["input_ids"].tolist() == expected
    pre, _, _ = translate.sanitize_parameters(src_lang="en", tgt_lang="fr")
    expected = translate.tokenizer("translate English to French: " + text)["input_ids"]
    assert translate.preprocess(text, **pre)[0]["input_ids"].tolist() == expected
    assert languages_from_task("translation_en_to_de") == {"src_lang": "en", "tgt_lang": "de"}
    assert get_task("translation_en_to_de").name == "translation"
    with pytest.raises(InputError, match="translation_en_to_fr"):
        translate(text, src_lang="en", tgt_lang="xx")


def test_generation_starts_from_4_57_defaults_then_model_then_task_params(manager):
    from types import SimpleNamespace

    from workbench.adapters.legacy_generation import TEXT2TEXT_DEFAULTS, LegacyGeneration

    t5 = manager.get("summarization").model
    plain = LegacyGeneration.for_model(t5, TEXT2TEXT_DEFAULTS, "summarization")
    assert plain.prefix == "summarize: "
    assert {k: plain.values[k] for k in ("max_new_tokens", "num_beams", "pad_token_id")} == {
        "max_new_tokens": 256, "num_beams": 4, "pad_token_id": 0}

    generation = copy.deepcopy(t5.generation_config)
    generation.max_length, generation.min_length, generation.num_beams = 14, 6, 2
    config = copy.deepcopy(t5.config)
    config.task_specific_params = {"summarization": {"prefix": "tl;dr: ", "no_repeat_ngram_size": 3}}
    legacy = LegacyGeneration.for_model(SimpleNamespace(generation_config=generation, config=config),
                                        TEXT2TEXT_DEFAULTS, "summarization")
    # the model's max_length drops the pipeline's max_new_tokens; its num_beams does not beat the pipeline's 4
    assert legacy.prefix == "tl;dr: "
    assert {k: legacy.values.get(k) for k in ("max_new_tokens", "max_length", "min_length", "num_beams",
                                              "no_repeat_ngram_size")} == {
        "max_new_tokens": None, "max_length": 14, "min_length": 6, "num_beams": 4, "no_repeat_ngram_size": 3}
    config = legacy.generate_kwargs({})["generation_config"]
    assert (config.max_new_tokens, config.max_length, config.num_beams) == (None, 14, 4)
    config.max_length = None  # the config handed out is a copy
    unbounded = LegacyGeneration(t5, {"max_new_tokens": None}).generate_kwargs({})["generation_config"]
    assert unbounded.max_new_tokens == 20  # 4.57's default max_length of 20 counted new tokens
    kwargs = legacy.generate_kwargs({"max_length": 10, "num_beams": 1})
    assert kwargs["generation_config"].max_new_tokens is None and (kwargs["max_length"], kwargs["num_beams"]) == (10, 1)
    assert generation.max_length == 14 and t5.generation_config.num_beams is None  # nothing shared was changed


@pytest.fixture(scope="session")
def nllb(manager, models_dir):
    """A tiny M2M100 model with an NLLB tokenizer (language codes as special tokens)."""
    from transformers import M2M100Config, M2M100ForConditionalGeneration, NllbTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "▁": 4}
    for c in string.ascii_letters + string.digits + string.punctuation:
        vocab.setdefault(c, len(vocab))
    tok = NllbTokenizer(vocab=vocab, merges=[], model_max_length=64)
    config = M2M100Config(vocab_size=len(tok), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                          decoder_ffn_dim=32, max_position_embeddings=64, pad_token_id=1, bos_token_id=0,
                          eos_token_id=2, decoder_start_token_id=2)
    path = models_dir / "nllb"
    with seeded():
        M2M100ForConditionalGeneration(config).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return manager.get("translation", str(path))


def test_nllb_language_codes_set_source_token_and_forced_bos(nllb):
    tok = nllb.tokenizer
    fra, eng = tok.convert_tokens_to_ids("fra_Latn"), tok.convert_tokens_to_ids("eng_Latn")
    pre, fwd, post = nllb.sanitize_parameters(src_lang="eng_Latn", tgt_lang="fra_Latn", max_new_tokens=5)
    assert fwd["forced_bos_token_id"] == fra
    passes = nllb.preprocess("hello world", **pre)
    assert passes[0]["input_ids"][0] == eng
    sequences = nllb.forward(nllb.collate(passes), **fwd)["sequences"]
    assert sequences.shape[:2] == (1, 1) and sequences[0, 0, 1] == fra

    result = nllb("hello world", src_lang="eng_Latn", tgt_lang="fra_Latn", max_new_tokens=5)
    direct = nllb.model.generate(passes[0]["input_ids"][None], max_new_tokens=5, num_beams=4,  # 4.57's default
                                 forced_bos_token_id=fra)
    assert result == [{"translation_text": tok.decode(direct[0], skip_special_tokens=True)}]
    with pytest.raises(InputError, match="src_lang and tgt_lang"):
        nllb("hello")
    with pytest.raises(InputError, match="not a language code"):
        nllb("hello", src_lang="eng_Latn", tgt_lang="klingon")


def test_seq2seq_list_batches_like_one_by_one(manager):
    summarize = manager.get("summarization")
    texts = ["The stock market fell today.", "Paris is the capital of France, and Berlin of Germany.", "Hello."]
    gen = dict(max_new_tokens=6, min_new_tokens=3)
    batched = summarize(texts, batch_size=3, **gen)
    assert batched == [summarize(t, **gen)[0] for t in texts]
    assert all(set(r) == {"summary_text"} for r in batched)


def test_a_causal_lm_does_not_fit_summarization(manager, models_dir):
    from transformers import GPT2Config, GPT2LMHeadModel

    path = models_dir / "gpt2"
    GPT2LMHeadModel(GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=64, n_positions=32)).save_pretrained(path)
    with pytest.raises(ModelTaskMismatchError, match="cannot do summarization.*text-generation"):
        manager.get("summarization", str(path))
    from workbench.adapters.seq2seq import SummarizationAdapter

    with pytest.raises(ModelTaskMismatchError):
        SummarizationAdapter.from_pretrained(str(path))


# ---- captioning and visual QA ------------------------------------------------------------------


def _git(path: Path) -> None:
    from transformers import CLIPImageProcessor, GitConfig, GitForCausalLM, GitProcessor

    tok = bert_tokenizer()
    config = GitConfig(vision_config=TINY_VISION, vocab_size=len(tok), max_position_embeddings=64,
                       bos_token_id=tok.cls_token_id, eos_token_id=tok.sep_token_id, pad_token_id=0, **TINY)
    with seeded():
        GitForCausalLM(config).eval().save_pretrained(path)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    GitProcessor(image_processor=processor, tokenizer=tok).save_pretrained(path)


def _vit_bert(path: Path) -> None:
    from transformers import (BertConfig, VisionEncoderDecoderConfig, VisionEncoderDecoderModel, ViTConfig,
                              ViTImageProcessor)

    tok = bert_tokenizer()
    decoder = BertConfig(vocab_size=len(tok), is_decoder=True, add_cross_attention=True, max_position_embeddings=64,
                         **TINY)
    config = VisionEncoderDecoderConfig.from_encoder_decoder_configs(ViTConfig(**TINY_VISION), decoder)
    with seeded():
        model = VisionEncoderDecoderModel(config)
    for cfg in (model.config, model.generation_config):
        cfg.decoder_start_token_id, cfg.pad_token_id, cfg.eos_token_id = tok.cls_token_id, 0, tok.sep_token_id
    model.eval().save_pretrained(path)
    tok.save_pretrained(path)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)


@pytest.fixture(scope="session", params=["offline-blip", "git", "vit-bert"])
def captioner(request, manager, models_dir):
    if request.param == "offline-blip":
        return manager.get("image-to-text")
    path = models_dir / request.param
    if not path.exists():
        {"git": _git, "vit-bert": _vit_bert}[request.param](path)
    return manager.get("image-to-text", str(path))


def test_captioning_shape_prompt_and_batches(captioner):
    result = captioner(sample_image(), max_new_tokens=5)
    assert isinstance(result, list) and len(result) == 1 and isinstance(result[0]["generated_text"], str)
    prompted = captioner(sample_image(), prompt="a picture of", max_new_tokens=5)
    assert prompted[0]["generated_text"].startswith("a picture of")
    images = [sample_image(), sample_image(96).rotate(90), sample_image(64)]
    assert captioner(images, batch_size=3, max_new_tokens=5) == [captioner(i, max_new_tokens=5) for i in images]


def test_chat_vlms_are_not_captioners():
    from transformers import BlipConfig, LlavaConfig

    assert not config_fits(LlavaConfig(), get_task("image-to-text"))
    assert config_fits(BlipConfig(architectures=["BlipForConditionalGeneration"]), get_task("image-to-text"))


def test_vilt_vqa_returns_top_k_scored_answers(manager):
    vqa = manager.get("visual-question-answering")
    result = vqa(image=sample_image(), question="What color is the house?", top_k=3)
    assert [set(r) for r in result] == [{"answer", "score"}] * 3
    assert all(r["answer"] in VQA_ANSWERS and 0 <= r["score"] <= 1 for r in result)
    assert [r["score"] for r in result] == sorted((r["score"] for r in result), reverse=True)
    items = [{"image": sample_image(), "question": "What is it?"},
             {"image": sample_image(120).resize((120, 60)), "question": "What color is the house on the left?"}]
    batched = vqa(items, top_k=2, batch_size=2)
    for got, item in zip(batched, items, strict=True):
        alone = vqa(item, top_k=2)
        assert [r["answer"] for r in got] == [r["answer"] for r in alone]
        assert [r["score"] for r in got] == pytest.approx([r["score"] for r in alone], abs=1e-4)


def test_generative_vqa_returns_answers(manager, models_dir):
    from transformers import BlipConfig, BlipForQuestionAnswering, BlipImageProcessor, BlipProcessor

    path = models_dir / "blip-vqa"
    tok = bert_tokenizer(extra=("[DEC]",))
    tok.bos_token = "[DEC]"
    text = dict(TINY, vocab_size=len(tok), max_position_embeddings=64, bos_token_id=tok.bos_token_id,
                sep_token_id=tok.sep_token_id, pad_token_id=0, eos_token_id=tok.sep_token_id)
    config = BlipConfig(text_config=text, vision_config=TINY_VISION, projection_dim=32)
    with seeded():
        BlipForQuestionAnswering(config).eval().save_pretrained(path)
    image_processor = BlipImageProcessor(size={"height": 32, "width": 32})
    BlipProcessor(image_processor=image_processor, tokenizer=tok).save_pretrained(path)
    vqa = manager.get("visual-question-answering", str(path))
    result = vqa(image=sample_image(), question="What is it?", max_new_tokens=4)
    assert [set(r) for r in result] == [{"answer"}] and isinstance(result[0]["answer"], str)
    items = [{"image": sample_image(), "question": "What is it?"},
             {"image": sample_image(64), "question": "What is this?"},
             {"image": sample_image(64), "question": "Is the sky blue today?"}]
    passes = [vqa.preprocess(i)[0] for i in items]
    assert list(vqa.batches(passes, 3)) == [[0, 1], [2]]  # padded questions would change the answers
    assert vqa(items, batch_size=3, max_new_tokens=4) == [vqa(i, max_new_tokens=4) for i in items]


# ---- registry and presets ----------------------------------------------------------------------


@pytest.mark.parametrize("task", ["question-answering", "summarization", "translation", "text2text-generation",
                                  "image-to-text", "visual-question-answering"])
def test_presets_and_registry_defaults_run(manager, task):
    spec = get_task(task)
    presets = load_presets(task)
    assert presets.models and presets.examples
    adapter = manager.get(task)
    example = presets.examples[0]
    inputs = dict(example.inputs)
    kwargs = spec.call_kwargs(example.params)
    if any(p.name == "max_new_tokens" for p in spec.params):
        kwargs["max_new_tokens"] = 3
    result = adapter(**inputs, **kwargs) if len(spec.inputs) > 1 else adapter(inputs[spec.inputs[0]], **kwargs)
    assert result
