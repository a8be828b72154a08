"""What a model type needs to run a task here, read from transformers' own tables.

``check_model_type(task, model_type)`` looks a model type (``config.model_type``) up where
transformers itself looks when it loads a model:

- the task's Auto* classes (``workbench.models.task_auto_classes``) must map it to a model class;
- ``TOKENIZER_MAPPING_NAMES``, ``IMAGE_PROCESSOR_MAPPING_NAMES``, ``FEATURE_EXTRACTOR_MAPPING_NAMES``
  and ``PROCESSOR_MAPPING_NAMES`` give its preprocessing classes; a processor's parts
  (``get_attributes()``, a video processor among them) must be mapped too;
- each class, taken from ``transformers``, must be a real class whose backends are installed.
  Where a backend is missing, transformers hands out a dummy class that raises on use through
  ``requires_backends``, or leaves the table's entry empty: both are reported, with the backend.

What those tables do not show is stated here (``UNDECLARED``): LayoutLM's words come from
Tesseract OCR (the ``tesseract`` program), a timm backbone (DETR's default) needs timm, and a
tokenizer that reads a sentencepiece vocabulary (``spiece.model``) needs sentencepiece and protobuf.

    check_model_type("translation", "t5").model_class
    # -> 'T5ForConditionalGeneration'
    check_model_type("translation", "marian").problems         # without sentencepiece installed
    # -> ('MarianTokenizer, the tokenizer of marian, needs sentencepiece, which is not installed.',)
"""

from __future__ import annotations

import importlib
import shutil
from dataclasses import dataclass
from typing import Any

from workbench.tasks import TaskSpec, get_task

#: The pip distribution of a transformers backend, where the two names differ.
DISTRIBUTIONS = {"vision": "pillow", "speech": "torchaudio", "cv2": "opencv-python", "sklearn": "scikit-learn",
                 "jinja": "jinja2", "yt_dlp": "yt-dlp"}
#: The Debian package of a program a model calls.
PROGRAM_PACKAGES = {"tesseract": "tesseract-ocr"}


@dataclass(frozen=True)
class Needs:
    """What a model type needs beyond what transformers' tables declare, and why."""

    backends: tuple[str, ...] = ()
    programs: tuple[str, ...] = ()
    why: str = ""


_OCR = "the page's words come from Tesseract OCR, unless the caller gives them"
#: By model type: what transformers checks only when the code runs (``requires_backends`` inside
#: a method) or calls outside Python.
UNDECLARED: dict[str, Needs] = {
    "layoutlm": Needs(("pytesseract",), ("tesseract",), f"LayoutLM has no image processor: {_OCR}"),
    "layoutlmv3": Needs(("pytesseract",), ("tesseract",), f"LayoutLMv3's image processor applies OCR: {_OCR}"),
    "timm_backbone": Needs(("timm",), (), "TimmBackbone builds its network with timm"),
    "timm_wrapper": Needs(("timm",), (), "TimmWrapperModel builds its network with timm"),
}
#: A tokenizers-backed tokenizer whose vocabulary file is a sentencepiece model reads it (for a
#: repository without tokenizer.json) with transformers' ``SentencePieceExtractor``, which requires both.
SENTENCEPIECE_FILE_BACKENDS = ("sentencepiece", "protobuf")
#: Composite model types: no preprocessing of their own, their encoder's and decoder's instead.
COMPOSITE_TYPES = ("vision-encoder-decoder", "encoder-decoder", "speech-encoder-decoder")


@dataclass(frozen=True)
class ModelTypeCheck:
    """The outcome of ``check_model_type``: what was found, what it needs, what is missing."""

    task: str
    model_type: str
    model_class: str | None  # e.g. 'MarianMTModel'
    classes: tuple[str, ...]  # preprocessing classes, e.g. ('MarianTokenizer',)
    backends: tuple[str, ...]  # transformers backend names they declare, e.g. ('sentencepiece',)
    programs: tuple[str, ...]  # programs they call, e.g. ('tesseract',)
    notes: tuple[str, ...]  # the needs transformers' tables do not show, in words
    problems: tuple[str, ...]  # empty when a model of this type can run the task here

    @property
    def ok(self) -> bool:
        return not self.problems


def check_model_type(task: str | TaskSpec, model_type: str, parts: tuple[str, ...] = ()) -> ModelTypeCheck:
    """Whether a model of ``model_type`` can run ``task`` in this environment (see the module doc).

    ``parts`` are the model types of a composite model's encoder and decoder (``config.encoder``,
    ``config.decoder`` of a ``vision-encoder-decoder``): their preprocessing is checked too.

    >>> check_model_type("text-classification", "distilbert").classes
    ('BertTokenizer',)
    >>> check_model_type("text-classification", "no-such-type").problems
    ('no-such-type is not a model type transformers knows (CONFIG_MAPPING_NAMES).',)
    """
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    spec = task if isinstance(task, TaskSpec) else get_task(task)
    found = _Found()
    unknown = [t for t in (model_type, *parts) if t not in CONFIG_MAPPING_NAMES]
    if unknown:
        found.problems += [f"{t} is not a model type transformers knows (CONFIG_MAPPING_NAMES)." for t in unknown]
        return found.result(spec.name, model_type, None)
    if model_type in COMPOSITE_TYPES and len(parts) != 2:
        found.problems.append(f"A {model_type} model uses its encoder's and decoder's preprocessing: name their "
                              "model types (config.encoder.model_type, config.decoder.model_type) as its parts.")
    model_class = _model_class(spec, model_type, found)
    for t in (model_type, *parts):
        _preprocessing(t, found)
        _undeclared(t, t, found)
        _default_backbone(t, found)
    return found.result(spec.name, model_type, model_class)


# ---- the pieces ---------------------------------------------------------------------------------


class _Found:
    """What a check collects as it goes."""

    def __init__(self) -> None:
        self.classes: list[str] = []
        self.backends: list[str] = []
        self.programs: list[str] = []
        self.notes: list[str] = []
        self.problems: list[str] = []

    def add(self, cls: type, role: str) -> bool:
        """Record ``cls`` and its backends; False (and a problem) when one is not installed."""
        backends = _backends_of(cls)
        self.backends += [_label(b) for b in backends if _label(b) not in self.backends]
        problem = _problem(cls, role, backends)
        if problem:
            self.problems.append(problem)
        return problem is None

    def result(self, task: str, model_type: str, model_class: str | None) -> ModelTypeCheck:
        return ModelTypeCheck(task, model_type, model_class, tuple(dict.fromkeys(self.classes)),
                              tuple(self.backends), tuple(self.programs), tuple(dict.fromkeys(self.notes)),
                              tuple(dict.fromkeys(self.problems)))


def _model_class(spec: TaskSpec, model_type: str, found: _Found) -> str | None:
    """The class the task's Auto* classes map ``model_type`` to (the first that works here)."""
    from workbench.models import task_auto_classes

    autos = task_auto_classes(spec)
    names = [n for auto in autos for n in _as_list(auto._model_mapping._model_mapping.get(model_type))]
    if not names:
        found.problems.append(f"{' and '.join(a.__name__ for a in autos)} map no model class to {model_type}: "
                              f"a {model_type} model cannot run {spec.name}.")
        return None
    for name in names:
        cls = _resolve(name)
        if cls is not None and found.add(cls, f"the {spec.name} model of {model_type}"):
            return name
    return None


def _preprocessing(model_type: str, found: _Found) -> None:
    """Every preprocessing class the tables map ``model_type`` to, and the video processor its
    processor loads (transformers maps video processors also to types that only use an image one)."""
    tables = _tables()
    for kind in ("tokenizer", "image processor", "feature extractor", "processor"):
        if model_type in tables[kind]:
            _entry(kind, model_type, tables[kind][model_type], found)
    processor = _resolve(tables["processor"].get(model_type) or "")
    if processor is None or _is_dummy(processor):
        return
    # e.g. ["image_processor", "tokenizer", "video_processor"]; the first two are checked above
    videos = tables["video processor"]
    if "video_processor" in processor.get_attributes() and model_type in videos:
        _entry("video processor", model_type, videos[model_type], found, loaded_by=processor.__name__)


def _entry(kind: str, model_type: str, value: Any, found: _Found, loaded_by: str = "") -> None:
    """One table entry: a class name, ``None`` (emptied for a missing backend), or, for image and
    video processors, ``{backend: class name or None}``, of which one working variant is enough."""
    role = f"the {kind} of {model_type}" + (f" that {loaded_by} loads" if loaded_by else "")
    variants = value if isinstance(value, dict) else {"": value}
    failures: list[str] = []
    for backend, name in variants.items():
        cls = _resolve(name) if name else None
        problem = _empty_entry(kind, model_type, backend) if cls is None else _problem(cls, role, _backends_of(cls))
        if problem is None:
            found.classes.append(cls.__name__)  # the lazy module may hand out the PIL variant for a name
            found.add(cls, role)
            return
        failures.append(problem)
    found.problems.append(failures[0] if len(failures) == 1 else f"No {role} works here: {' '.join(failures)}")


def _empty_entry(kind: str, model_type: str, backend: str) -> str:
    """Why a table names no class: the variant's backend, or what the model's module lacks."""
    if backend:
        needed = ["vision"] if backend == "pil" else [backend]
        return f"The {backend} {kind} of {model_type} needs {_names(needed)}, {_not_installed(needed)}."
    from transformers.models.auto.configuration_auto import model_type_to_module_name

    module = importlib.import_module(f"transformers.models.{model_type_to_module_name(model_type)}")
    suffix = "Tokenizer" if kind == "tokenizer" else "".join(w.capitalize() for w in kind.split())
    for name, backends in getattr(module, "_object_missing_backend", {}).items():
        if name.endswith(suffix):
            return f"{name}, the {kind} of {model_type}, needs {_names(backends)}, {_not_installed(backends)}."
    return f"transformers maps no {kind} class to {model_type} here: a backend it needs is missing."


def _undeclared(model_type: str, owner: str, found: _Found) -> None:
    """The needs of ``UNDECLARED`` for ``model_type`` (a part of ``owner``): a note, and problems."""
    needs = UNDECLARED.get(model_type)
    if needs is None:
        return
    found.backends += [b for b in needs.backends if b not in found.backends]
    found.programs += [p for p in needs.programs if p not in found.programs]
    programs = [f"the {p} program ({PROGRAM_PACKAGES.get(p, p)})" for p in needs.programs]
    found.notes.append(f"{owner}: {needs.why}; needs {' and '.join([_names(needs.backends), *programs])}.")
    missing = _missing(needs.backends)
    if missing:
        found.problems.append(f"{owner}: {needs.why}, and {_names(missing)} {_is_not_installed(missing)}.")
    for program in needs.programs:
        if shutil.which(program) is None:
            found.problems.append(f"{owner}: {needs.why}, and the {program} program is not on PATH: apt-get install "
                                  f"{PROGRAM_PACKAGES.get(program, program)} (scripts/setup.sh does, as root).")


def _default_backbone(model_type: str, found: _Found) -> None:
    """The backbone the type's default config builds, which its checkpoints mostly keep (DETR's
    default is timm's ResNet-50)."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING
    from transformers.models.auto.modeling_auto import MODEL_FOR_BACKBONE_MAPPING_NAMES

    try:
        backbone = getattr(CONFIG_MAPPING[model_type](), "backbone_config", None)
    except Exception:  # noqa: BLE001 (a composite config needs its parts given: no default backbone)
        return
    backbone_type = getattr(backbone, "model_type", None)
    if not backbone_type:
        return
    cls = _resolve(MODEL_FOR_BACKBONE_MAPPING_NAMES.get(backbone_type, ""))
    if cls is not None:
        found.add(cls, f"the default backbone of {model_type}")
    _undeclared(backbone_type, f"{model_type} (its default backbone, {backbone_type})", found)


# ---- transformers' tables, classes and backends ------------------------------------------------------


def _tables() -> dict[str, Any]:
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES
    from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING_NAMES

    return {"tokenizer": TOKENIZER_MAPPING_NAMES, "image processor": IMAGE_PROCESSOR_MAPPING_NAMES,
            "feature extractor": FEATURE_EXTRACTOR_MAPPING_NAMES, "processor": PROCESSOR_MAPPING_NAMES,
            "video processor": VIDEO_PROCESSOR_MAPPING_NAMES}


def _as_list(value: Any) -> list[str]:
    return list(value) if isinstance(value, (list, tuple)) else [value] if value else []


def _resolve(name: str) -> type | None:
    """``transformers.<name>``: the real class, or the dummy that stands in for it."""
    import transformers

    return getattr(transformers, name, None) if name else None


def _is_dummy(cls: type) -> bool:
    from transformers.utils.import_utils import DummyObject

    return isinstance(cls, DummyObject)


def _backends_of(cls: type) -> list[Any]:
    """A dummy's missing backends, or those a real class declares with transformers' ``@requires``,
    plus ``SENTENCEPIECE_FILE_BACKENDS`` for a tokenizer that reads a sentencepiece model."""
    if _is_dummy(cls):
        return list(cls._backends)
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    backends = list(getattr(cls, "__backends", ()))
    vocab = str((getattr(cls, "vocab_files_names", None) or {}).get("vocab_file", ""))
    if issubclass(cls, TokenizersBackend) and vocab.endswith(".model"):
        backends += [b for b in SENTENCEPIECE_FILE_BACKENDS if b not in backends]
    return backends


def _problem(cls: type, role: str, backends: list[Any]) -> str | None:
    missing = _missing(backends)
    return f"{cls.__name__}, {role}, needs {_names(missing)}, {_not_installed(missing)}." if missing else None


def _missing(backends: list[Any] | tuple[Any, ...]) -> list[Any]:
    """The backends that ``requires_backends`` refuses here."""
    from transformers.utils.import_utils import requires_backends

    out = []
    for backend in backends:
        try:
            requires_backends(_missing, [backend])
        except (ImportError, RuntimeError):  # a versioned Backend raises RuntimeError when absent
            out.append(backend)
    return out


def _label(backend: Any) -> str:
    """A backend's name (``"sentencepiece"``; a versioned ``Backend``'s package name)."""
    return backend if isinstance(backend, str) else backend.package_name


def _names(backends: list[Any] | tuple[Any, ...]) -> str:
    return " and ".join(distribution(_label(b)) for b in backends)


def _not_installed(backends: list[Any] | tuple[Any, ...]) -> str:
    return f"which {_is_not_installed(backends)}"


def _is_not_installed(backends: list[Any] | tuple[Any, ...]) -> str:
    return "is not installed" if len(backends) == 1 else "are not installed"


def distribution(backend: str) -> str:
    """The pip distribution that provides a transformers backend.

    >>> distribution("vision"), distribution("sentencepiece")
    ('pillow', 'sentencepiece')
    """
    return DISTRIBUTIONS.get(backend, backend)
