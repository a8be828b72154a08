"""The golden parity cases: transformers 4.57's pipelines and our adapters on the same model folders.

``scripts/parity-goldens.sh`` runs ``python -m tests.parity_cases DIR`` with the project's venv
(it builds the folders below under ``DIR`` and writes ``DIR/cases.json``), then
``scripts/parity_457.py`` with a throw-away transformers 4.57.6 venv, which runs the old pipelines
on them and writes ``tests/goldens/parity-4.57.json``. ``tests/test_parity.py`` builds the same
folders and compares our adapters' outputs with that file.

Each case names a model folder (an offline model, or a variant of one with edited settings), the
4.57 pipeline task, the inputs, and the keywords of both calls (they differ only where the old
pipeline took its languages from the task name).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

GOLDENS = Path(__file__).resolve().parent / "goldens" / "parity-4.57.json"
FILLER = "the dog plays in the park and the cat sleeps at home . "
SHORT = "Mary lives in London, and John works at Google in Paris."
#: A long context whose phrases repeat across many windows (answers merge by summed score).
LONG = (FILLER * 3 + "Mary lives in London. " + FILLER * 2 + "John lives in London too. " + FILLER * 3
        + "George Washington was born in 1732. " + FILLER)
NEWS = "The stock market fell today, but prices rose last week."


@dataclass(frozen=True)
class Variant:
    """A copy of an offline model folder with JSON settings edited (``file -> {key: value}``)."""

    base: str
    edits: dict[str, dict[str, Any]]


#: Model folders besides the offline ones: generation settings from each place 4.57 read them.
VARIANTS = {
    # the model's generation_config.json sets max_length (so 4.57 dropped its max_new_tokens=256),
    # min_length and num_beams (which 4.57's own num_beams=4 overrode)
    "t5-generation-config": Variant("summarization", {"generation_config.json": {
        "max_length": 14, "min_length": 6, "num_beams": 2}}),
    # a QA model of 128 tokens: 4.57's own defaults follow it (max_seq_len 128, doc_stride 64)
    "qa-128": Variant("question-answering", {"tokenizer_config.json": {"model_max_length": 128}}),
    # t5-small's kind of task_specific_params: generation settings next to the prefix
    "t5-task-params": Variant("summarization", {"config.json": {"task_specific_params": {
        "summarization": {"prefix": "summarize: ", "num_beams": 2, "max_length": 16, "min_length": 5,
                          "no_repeat_ngram_size": 2, "early_stopping": True, "length_penalty": 2.0}}}}),
}


@dataclass(frozen=True)
class Case:
    """One call: ``pipeline(task_457, model=folder)(*inputs, **kwargs_457)`` against
    ``manager.get(task, folder)(*inputs, **kwargs)``. ``inputs`` are keywords; ``image`` values are
    the sample image."""

    name: str
    task: str
    model: str  # an offline task name or a VARIANTS key
    inputs: dict[str, Any]
    kwargs: dict[str, Any] = field(default_factory=dict)
    task_457: str = ""
    kwargs_457: dict[str, Any] | None = None

    def old_task(self) -> str:
        return self.task_457 or self.task

    def old_kwargs(self) -> dict[str, Any]:
        return self.kwargs if self.kwargs_457 is None else self.kwargs_457


QA = "question-answering"
GREEDY8 = {"num_beams": 1, "max_new_tokens": 8}
CASES: tuple[Case, ...] = (
    Case("qa-short", QA, QA, {"question": "Where does Mary live?", "context": SHORT}),
    Case("qa-top-k-3", QA, QA, {"question": "Where does Mary live?", "context": SHORT}, {"top_k": 3}),
    Case("qa-long-windows", QA, QA, {"question": "Who lives in London?", "context": LONG},
         {"max_seq_len": 48, "doc_stride": 16, "top_k": 4}),
    Case("qa-long-default-windows", QA, QA, {"question": "Who was born?", "context": LONG * 3}, {"top_k": 2}),
    # a context of few spans and a top_k above their number: the null answer ("", 0, 0) is in the list
    Case("qa-impossible", QA, QA, {"question": "Where does Mary live?", "context": "In London."},
         {"handle_impossible_answer": True, "top_k": 12}),
    Case("qa-max-answer-len", QA, QA, {"question": "Who works at Google?", "context": SHORT},
         {"max_answer_len": 2, "top_k": 3}),
    Case("qa-not-aligned", QA, QA, {"question": "Where does Mary live?", "context": SHORT},
         {"align_to_words": False, "top_k": 3}),
    Case("qa-padded-windows", QA, QA, {"question": "Who lives in London?", "context": LONG},
         {"max_seq_len": 64, "doc_stride": 24, "padding": "max_length", "max_question_len": 8}),
    Case("qa-model-length-defaults", QA, "qa-128", {"question": "Who lives in London?", "context": LONG}, {"top_k": 3}),
    Case("qa-list", QA, QA, {"question": ["Where does Mary live?", "Who works at Google?"], "context": [SHORT, LONG]},
         {"top_k": 2}),
    Case("summarization-default", "summarization", "summarization", {"text": NEWS}),
    Case("summarization-greedy", "summarization", "summarization", {"text": NEWS}, GREEDY8),
    Case("summarization-list", "summarization", "summarization",
         {"text": [NEWS, "Paris is the capital of France, and Berlin is the capital of Germany."]}, GREEDY8),
    Case("summarization-generation-config", "summarization", "t5-generation-config", {"text": NEWS}),
    Case("summarization-task-params", "summarization", "t5-task-params", {"text": NEWS}),
    Case("summarization-task-params-caller-wins", "summarization", "t5-task-params", {"text": NEWS},
         {"num_beams": 1, "max_length": 10}),
    # 4.57's defaults (4 beams, up to 256 new tokens) for translation and text2text too
    Case("translation-default", "translation", "translation", {"text": "The weather is good today."},
         {"src_lang": "en", "tgt_lang": "de"}, task_457="translation_en_to_de", kwargs_457={}),
    Case("text2text-default", "text2text-generation", "text2text-generation", {"text": "The dog plays in the park."}),
    # greedy decoding of the tiny T5 repeats the pad token after this prefix: suppress it in both
    Case("translation-greedy", "translation", "translation", {"text": "The weather is good today."},
         {"src_lang": "en", "tgt_lang": "de", **GREEDY8, "suppress_tokens": [0]}, task_457="translation_en_to_de",
         kwargs_457={**GREEDY8, "suppress_tokens": [0]}),
    Case("text2text-greedy", "text2text-generation", "text2text-generation",
         {"text": "The dog plays in the park."}, GREEDY8),
    Case("image-to-text-default", "image-to-text", "image-to-text", {"image": "image"}),
    Case("image-to-text-short", "image-to-text", "image-to-text", {"image": "image"}, {"max_new_tokens": 6}),
    Case("vqa-top-k-3", "visual-question-answering", "visual-question-answering",
         {"image": "image", "question": "What color is the house?"}, {"top_k": 3}),
    Case("vqa-default", "visual-question-answering", "visual-question-answering",
         {"image": "image", "question": "Is there a tree?"}),
)


def build_variant(base_folder: str | Path, dest: Path, variant: Variant) -> Path:
    """Copy ``base_folder`` to ``dest`` and merge ``variant.edits`` into its JSON files."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(base_folder, dest)
    for name, edits in variant.edits.items():
        file = dest / name
        data = json.loads(file.read_text())
        data.update(edits)
        file.write_text(json.dumps(data, indent=2))
    return dest


def model_folders(root: Path) -> dict[str, str]:
    """Every folder the cases use: offline models (in ``$WORKBENCH_OFFLINE_DIR``) and variants under ``root``."""
    from workbench.offline import offline_model_path

    folders = {c.model: offline_model_path(c.model, prefer_real=False) for c in CASES if c.model not in VARIANTS}
    for key, variant in VARIANTS.items():
        base = folders.get(variant.base) or offline_model_path(variant.base, prefer_real=False)
        folders[key] = str(build_variant(base, root / key, variant))
    return folders


def sample_image_file(root: Path) -> str:
    """The sample image as a PNG both versions read (lossless, so the pixels are the same)."""
    from workbench.samples import sample_image

    path = root / "image.png"
    sample_image().save(path)
    return str(path)


def write_cases(root: Path) -> Path:
    """Build the folders under ``root`` and write ``root/cases.json`` for ``scripts/parity_457.py``."""
    root.mkdir(parents=True, exist_ok=True)
    folders = model_folders(root)
    image = sample_image_file(root)
    cases = []
    for case in CASES:
        inputs = {k: image if k == "image" else v for k, v in case.inputs.items()}
        cases.append({**asdict(case), "folder": folders[case.model], "inputs": inputs,
                      "task_457": case.old_task(), "kwargs_457": case.old_kwargs()})
    out = root / "cases.json"
    out.write_text(json.dumps({"cases": cases}, indent=1))
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1])
    os.environ.setdefault("WORKBENCH_OFFLINE_DIR", str(target / "offline"))
    print(write_cases(target))
