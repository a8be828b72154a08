"""Document QA (LayoutLM v1, with given word boxes and with Tesseract OCR) and image+text chat
(LLaVA) on their tiny offline models.

Weights are random: these tests check output shapes, that answers are spans of the page's words,
and equivalences between ways of calling, never meanings.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from workbench.inputs import image_chat, load_document, load_image, ocr_words
from workbench.presets import load_presets
from workbench.samples import sample_document, sample_image
from workbench.tasks import get_task

QUESTION = "What is the total?"


def _check_answers(answers, words: list[str], top_k: int) -> None:
    assert isinstance(answers, list) and 1 <= len(answers) <= top_k
    scores = [a["score"] for a in answers]
    assert scores == sorted(scores, reverse=True)
    for a in answers:
        assert set(a) == {"score", "answer", "start", "end"}
        assert isinstance(a["score"], (float, np.floating)) and 0.0 <= a["score"] <= 1.0
        assert 0 <= a["start"] <= a["end"] < len(words)
        # the answer is the page's words from start to end (word indices), joined by spaces
        assert a["answer"] == " ".join(words[a["start"]:a["end"] + 1])


# ---- document question answering -----------------------------------------------------------------


def test_document_qa_with_word_boxes(manager):
    spec = get_task("document-question-answering")
    image, word_boxes = sample_document()
    words = [w for w, _ in word_boxes]
    pipe = manager.get(spec.name)
    answers = pipe(image=image, question=QUESTION, word_boxes=word_boxes, **spec.call_kwargs())
    _check_answers(answers, words, top_k=1)
    top3 = pipe(image=image, question=QUESTION, word_boxes=word_boxes, **spec.call_kwargs({"top_k": 3}))
    _check_answers(top3, words, top_k=3)
    assert top3[0] == answers[0]
    # a short max_answer_len bounds the span (in tokens, so at most that many words)
    short = pipe(image=image, question=QUESTION, word_boxes=word_boxes,
                 **spec.call_kwargs({"top_k": 5, "max_answer_len": 1}))
    assert all(a["start"] == a["end"] for a in short)


def test_document_qa_word_boxes_need_no_image(manager):
    """LayoutLM v1 reads only words and boxes: the image is not used when word_boxes are given."""
    image, word_boxes = sample_document()
    pipe = manager.get("document-question-answering")
    blank = image.copy()
    blank.paste((255, 255, 255), (0, 0, *image.size))
    with_page = pipe(image=image, question=QUESTION, word_boxes=word_boxes)
    assert pipe(image=blank, question=QUESTION, word_boxes=word_boxes) == with_page


def test_tesseract_reads_the_sample_invoice():
    import pytesseract

    image, _ = sample_document()
    text = pytesseract.image_to_string(image)
    assert "Invoice" in text and "4711" in text and "Total" in text


def test_document_qa_runs_ocr_when_no_word_boxes(manager):
    spec = get_task("document-question-answering")
    image, _ = sample_document()
    pipe = manager.get(spec.name)
    ocr = ocr_words(image)  # the same Tesseract call the pipeline makes
    words = [w for w, _ in ocr]
    assert "Invoice" in words
    answers = pipe(image=image, question=QUESTION, **spec.call_kwargs({"top_k": 2}))
    _check_answers(answers, words, top_k=2)
    # giving the pipeline our OCR words is the same as letting it run Tesseract
    assert pipe(image=image, question=QUESTION, word_boxes=ocr, **spec.call_kwargs({"top_k": 2})) == answers


def test_document_qa_on_a_pdf_page(manager, tmp_path):
    image, _ = sample_document()
    pdf = tmp_path / "invoice.pdf"
    image.save(pdf, resolution=72)
    page = load_document(pdf, page=0)
    words = [w for w, _ in ocr_words(page)]
    assert "Invoice" in words and "EUR" in words
    answers = manager.get("document-question-answering")(image=page, question=QUESTION)
    _check_answers(answers, words, top_k=1)


# ---- image-text-to-text --------------------------------------------------------------------------


def test_image_text_to_text_chat(manager):
    spec = get_task("image-text-to-text")
    pipe = manager.get(spec.name)
    chat = image_chat(sample_image(), "What is in this picture?")
    out = pipe(text=chat, **spec.call_kwargs({"max_new_tokens": 8}))
    assert isinstance(out, list) and len(out) == 1 and set(out[0]) == {"input_text", "generated_text"}
    turns = out[0]["generated_text"]
    assert turns[:-1] == chat
    assert turns[-1]["role"] == "assistant" and isinstance(turns[-1]["content"], str) and turns[-1]["content"]
    # the reply is what the model's own generate() gives for this prompt, max_new_tokens at most
    prompt = pipe.processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    inputs = pipe.processor(images=sample_image(), text=prompt, return_tensors="pt")
    with torch.no_grad():
        ids = pipe.model.generate(**inputs, max_new_tokens=8, do_sample=False)
    new_ids = ids[0, inputs["input_ids"].shape[1]:]
    assert 0 < len(new_ids) <= 8
    assert pipe.processor.tokenizer.decode(new_ids, skip_special_tokens=True) == turns[-1]["content"]


def test_image_text_to_text_prompt_equals_chat(manager):
    """A chat, and the same prompt written out with the model's <image> token, generate the same reply."""
    spec = get_task("image-text-to-text")
    pipe = manager.get(spec.name)
    image = sample_image()
    chat = image_chat(image, "Describe the house.")
    prompt = pipe.processor.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    assert prompt == "user: <image>\nDescribe the house.\nassistant:"
    kwargs = spec.call_kwargs({"max_new_tokens": 6})
    reply = pipe(text=chat, **kwargs)[0]["generated_text"][-1]["content"]
    full = pipe(images=image, text=prompt, **kwargs)[0]["generated_text"]
    assert full.startswith(prompt)
    continuation = pipe(images=image, text=prompt, return_full_text=False, **kwargs)[0]["generated_text"]
    assert continuation == reply == full[len(prompt):]


def test_image_text_to_text_text_needs_the_image_token(manager):
    """Plain text with images= must contain the model's image token; the chat format never does."""
    pipe = manager.get("image-text-to-text")
    with pytest.raises(ValueError, match="<image> tokens"):
        pipe(images=sample_image(), text="What is this?", max_new_tokens=2)


# ---- presets -------------------------------------------------------------------------------------


def test_document_qa_preset_examples_run(manager):
    spec = get_task("document-question-answering")
    pipe = manager.get(spec.name)
    for example in load_presets(spec.name).examples:
        page = load_document(example.inputs["image"])
        answers = pipe(image=page, question=example.inputs["question"], **spec.call_kwargs(example.params))
        assert answers and {"score", "answer", "start", "end"} == set(answers[0])


def test_image_text_to_text_preset_examples_run(manager):
    spec = get_task("image-text-to-text")
    pipe = manager.get(spec.name)
    for example in load_presets(spec.name).examples:
        chat = image_chat(load_image(example.inputs["image"]), example.inputs["text"])
        out = pipe(text=chat, **spec.call_kwargs({**example.params, "max_new_tokens": 4}))
        assert out[0]["generated_text"][-1]["role"] == "assistant"
