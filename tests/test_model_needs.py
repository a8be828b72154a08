"""The model-type check: it finds what transformers maps a type to, and catches what is missing
(backends made unavailable to ``requires_backends`` only inside each test)."""

from __future__ import annotations

from workbench.model_needs import check_model_type


def _without(monkeypatch, backend: str) -> None:
    """As if ``backend`` were not installed, for transformers' ``requires_backends``."""
    from transformers.utils import import_utils

    _, message = import_utils.BACKENDS_MAPPING[backend]
    monkeypatch.setitem(import_utils.BACKENDS_MAPPING, backend, (lambda: False, message))


def test_check_finds_the_model_class_and_preprocessing():
    check = check_model_type("zero-shot-image-classification", "clip")
    assert check.ok and check.model_class == "CLIPModel"
    assert {"CLIPTokenizer", "CLIPProcessor"} <= set(check.classes)
    assert any(c.startswith("CLIPImageProcessor") for c in check.classes)


def test_check_catches_a_missing_tokenizer_backend(monkeypatch):
    _without(monkeypatch, "sentencepiece")
    check = check_model_type("translation", "marian")
    assert not check.ok and check.model_class == "MarianMTModel"
    assert any("MarianTokenizer" in p and "sentencepiece" in p for p in check.problems), check.problems
    # T5Tokenizer reads spiece.model (for a repository without tokenizer.json) with sentencepiece
    assert any("T5Tokenizer" in p and "sentencepiece" in p for p in check_model_type("translation", "t5").problems)


def test_check_catches_missing_protobuf(monkeypatch):
    _without(monkeypatch, "protobuf")
    assert any("protobuf" in p for p in check_model_type("summarization", "t5").problems)


def test_check_catches_a_table_entry_emptied_for_a_missing_backend(monkeypatch):
    """transformers leaves an entry empty when its backend is missing (marian's tokenizer without
    sentencepiece; a video processor without torchvision)."""
    from transformers.models.auto import image_processing_auto, tokenization_auto

    monkeypatch.setitem(tokenization_auto.TOKENIZER_MAPPING_NAMES, "bert", None)
    assert not check_model_type("fill-mask", "bert").ok
    monkeypatch.setitem(image_processing_auto.IMAGE_PROCESSOR_MAPPING_NAMES, "vit", {"torchvision": None})
    problems = check_model_type("image-classification", "vit").problems
    assert any("torchvision" in p for p in problems), problems


def test_check_catches_a_processor_part_that_needs_torchvision(monkeypatch):
    _without(monkeypatch, "torchvision")
    problems = check_model_type("image-text-to-text", "qwen3_vl").problems
    assert any("video processor" in p and "torchvision" in p for p in problems), problems


def test_check_catches_a_timm_backbone_and_a_missing_program(monkeypatch):
    _without(monkeypatch, "timm")
    assert any("timm" in p for p in check_model_type("object-detection", "detr").problems)
    monkeypatch.setattr("workbench.model_needs.shutil.which", lambda program: None)
    problems = check_model_type("document-question-answering", "layoutlm").problems
    assert any("tesseract-ocr" in p for p in problems), problems


def test_check_catches_a_type_the_task_cannot_run():
    assert "cannot run translation" in " ".join(check_model_type("translation", "vit").problems)
    assert "not a model type" in " ".join(check_model_type("translation", "no-such-type").problems)
    # a composite model is checked through its parts, which must be given
    assert not check_model_type("image-to-text", "vision-encoder-decoder").ok
    assert check_model_type("image-to-text", "vision-encoder-decoder", ("vit", "gpt2")).ok


def test_layoutlm_check_states_its_ocr_program():
    check = check_model_type("document-question-answering", "layoutlm")
    assert check.programs == ("tesseract",) and "pytesseract" in check.backends
    assert any("Tesseract OCR" in note and "tesseract-ocr" in note for note in check.notes)
