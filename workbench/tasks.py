"""The task registry: one table of every task the workbench offers.

Tabs, API endpoints, benchmarks and tests are all generated from ``TASKS``. Adding a task is one
``TaskSpec`` entry here plus, at most, one small adapter in ``workbench/adapters``.

>>> get_task("sentiment-analysis").name
'text-classification'
>>> get_task("ner").output
'entities'
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, Mapping

Modality = Literal["text", "image", "video", "audio", "document", "table", "multimodal"]
Group = Literal["Text", "Vision", "Audio", "Documents & multimodal"]
OutputKind = Literal[
    "labels",  # [{"label", "score"}] -> gr.Label
    "entities",  # [{"entity_group"/"entity", "score", "word", "start", "end"}] -> gr.HighlightedText
    "answer",  # {"answer", "score", "start", "end"} -> answer highlighted in its context
    "text",  # [{"generated_text"|"summary_text"|"translation_text"}] or {"text"}
    "embeddings",  # nested lists of floats -> dataframe + similarity matrix
    "table-answer",  # {"answer", "coordinates", "cells", "aggregator"}
    "audio",  # {"audio": np.ndarray, "sampling_rate": int}
    "boxes",  # [{"label", "score", "box": {xmin, ymin, xmax, ymax}}] -> gr.AnnotatedImage
    "masks",  # [{"label", "score", "mask": PIL.Image}] -> gr.AnnotatedImage
    "depth",  # {"predicted_depth": tensor, "depth": PIL.Image}
    "mask-generation",  # {"masks": [...], "scores": [...]}
    "vqa",  # [{"answer", "score"?}]
    "video-labels",  # [{"label", "score"}] -> gr.Label, plus the sampled frames
]


class UnknownTaskError(KeyError):
    """Raised for a task name that is neither a registered task nor an alias."""

    def __str__(self) -> str:  # KeyError quotes its message; we want it plain
        return str(self.args[0])


@dataclass(frozen=True)
class Param:
    """One call-time parameter a task exposes (a keyword of the pipeline call).

    ``kind`` picks the UI control: ``int``/``float`` -> slider or number, ``bool`` -> checkbox,
    ``choice`` -> dropdown of ``choices``, ``text`` -> textbox, ``labels`` -> comma-separated list.
    ``default`` is what the workbench sends when the user changes nothing; ``None`` means the
    keyword is not sent at all and the model's own default applies. ``stage="post"`` marks an
    option the workbench applies to the output (e.g. embedding pooling), never sent to the model.
    """

    name: str
    kind: Literal["int", "float", "bool", "choice", "text", "labels"]
    default: Any = None
    label: str = ""
    info: str = ""
    minimum: float | None = None
    maximum: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()
    required: bool = False
    stage: Literal["call", "post"] = "call"

    def coerce(self, value: Any) -> Any:
        """Turn a UI value into the keyword's Python value (``labels``: "a, b" -> ["a", "b"]).

        >>> Param("candidate_labels", "labels").coerce("sports, politics ,")
        ['sports', 'politics']
        >>> Param("top_k", "int").coerce(3.0)
        3
        """
        if value is None or value == "":
            return None
        if self.kind == "labels":
            items = value if isinstance(value, (list, tuple)) else str(value).split(",")
            return [s.strip() for s in items if str(s).strip()]
        if self.kind == "int":
            return int(value)
        if self.kind == "float":
            return float(value)
        if self.kind == "bool":
            return bool(value)
        return value


@dataclass(frozen=True)
class TaskSpec:
    """Everything the workbench knows about one task.

    ``pipeline_task`` names the transformers 5 pipeline that runs it; ``adapter`` names our own
    implementation as ``"module:Class"`` under ``workbench.adapters`` for the tasks transformers 5
    removed. Exactly one of the two is set. ``inputs`` are the named inputs a call takes, in order
    (``("question", "context")`` for QA); the first one is what a list of inputs iterates over.
    """

    name: str
    modality: Modality
    group: Group
    output: OutputKind
    inputs: tuple[str, ...]
    title: str
    description: str
    pipeline_task: str | None = None
    adapter: str | None = None
    aliases: tuple[str, ...] = ()
    params: tuple[Param, ...] = ()
    load_kwargs: Mapping[str, Any] = field(default_factory=dict)
    batchable: bool = True
    chat: bool = False  # the tab offers a Chat mode (chat template, messages) beside plain calls

    def __post_init__(self) -> None:
        if (self.pipeline_task is None) == (self.adapter is None):
            raise ValueError(f"task {self.name!r}: set exactly one of pipeline_task and adapter")
        object.__setattr__(self, "load_kwargs", MappingProxyType(dict(self.load_kwargs)))

    @property
    def is_adapter(self) -> bool:
        return self.adapter is not None

    @property
    def api_name(self) -> str:
        """The Gradio endpoint name: ``text-classification`` -> ``text_classification``."""
        return self.name.replace("-", "_")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(f"task {self.name!r} has no parameter {name!r}; it has {[p.name for p in self.params]}")

    def call_kwargs(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The keywords to send: each parameter's default, overridden by ``values``; ``None`` dropped.

        >>> get_task("text-classification").call_kwargs({"top_k": 2})
        {'top_k': 2}
        """
        return self._kwargs(values, "call")

    def post_kwargs(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Like ``call_kwargs`` for the options the workbench applies to the output itself."""
        return self._kwargs(values, "post")

    def _kwargs(self, values: Mapping[str, Any] | None, stage: str) -> dict[str, Any]:
        values = dict(values or {})
        unknown = set(values) - {p.name for p in self.params}
        if unknown:
            raise TypeError(
                f"unknown parameter(s) {sorted(unknown)} for task {self.name!r}; "
                f"valid: {[p.name for p in self.params]}"
            )
        out: dict[str, Any] = {}
        for p in self.params:
            if p.stage != stage:
                continue
            v = p.coerce(values[p.name]) if p.name in values else p.default
            if v is not None:
                out[p.name] = v
        return out


def _p(name: str, kind: str, default: Any = None, label: str = "", **kw: Any) -> Param:
    return Param(name, kind, default, label or name.replace("_", " "), **kw)  # type: ignore[arg-type]


TOP_K = _p("top_k", "int", 5, "top k", minimum=1, maximum=50, step=1)
THRESHOLD = _p("threshold", "float", 0.5, "score threshold", minimum=0.0, maximum=1.0, step=0.01)
CANDIDATES = _p("candidate_labels", "labels", None, "candidate labels", info="comma-separated", required=True)
GEN_PARAMS = (
    _p("max_new_tokens", "int", 64, "max new tokens", minimum=1, maximum=1024, step=1),
    _p("num_beams", "int", 1, "beams", minimum=1, maximum=8, step=1),
    _p("do_sample", "bool", False, "sample"),
    _p("temperature", "float", None, "temperature", minimum=0.05, maximum=2.0, step=0.05),
    _p("top_p", "float", None, "top p", minimum=0.05, maximum=1.0, step=0.05),
)

_SPECS: tuple[TaskSpec, ...] = (
    # ---- text ---------------------------------------------------------------------------------
    TaskSpec(
        "text-classification", "text", "Text", "labels", ("text",), "Text classification",
        "Sentiment, topic or any label set a fine-tuned classifier knows.",
        pipeline_task="text-classification", aliases=("sentiment-analysis",),
        params=(_p("top_k", "int", 5, "top k", minimum=1, maximum=50, step=1),
                _p("function_to_apply", "choice", None, "score function", choices=("sigmoid", "softmax", "none"))),
    ),
    TaskSpec(
        "token-classification", "text", "Text", "entities", ("text",), "Named entities",
        "Tag each token: people, places, organisations, parts of speech.",
        pipeline_task="token-classification", aliases=("ner",),
        params=(_p("aggregation_strategy", "choice", "simple", "aggregation",
                   choices=("none", "simple", "first", "average", "max")),),
    ),
    TaskSpec(
        "question-answering", "text", "Text", "answer", ("question", "context"), "Question answering",
        "Extract the span of a context that answers a question.",
        adapter="question_answering:QuestionAnsweringAdapter",
        params=(_p("top_k", "int", 1, "top k", minimum=1, maximum=20, step=1),
                _p("max_answer_len", "int", 15, "max answer length", minimum=1, maximum=512, step=1),
                _p("doc_stride", "int", 128, "doc stride", minimum=8, maximum=512, step=8),
                _p("max_seq_len", "int", 384, "max sequence length", minimum=32, maximum=4096, step=32),
                _p("handle_impossible_answer", "bool", False, "allow no answer")),
    ),
    TaskSpec(
        "fill-mask", "text", "Text", "labels", ("text",), "Fill mask",
        "Predict the masked word; write the model's mask token (e.g. [MASK]) in the text.",
        pipeline_task="fill-mask", params=(TOP_K,),
    ),
    TaskSpec(
        "text-generation", "text", "Text", "text", ("text",), "Text generation",
        "Continue a prompt, streaming tokens as they come.",
        pipeline_task="text-generation", chat=True,
        params=(_p("max_new_tokens", "int", 64, "max new tokens", minimum=1, maximum=2048, step=1),
                _p("do_sample", "bool", False, "sample"),
                _p("temperature", "float", None, "temperature", minimum=0.05, maximum=2.0, step=0.05),
                _p("top_p", "float", None, "top p", minimum=0.05, maximum=1.0, step=0.05),
                _p("return_full_text", "bool", True, "include prompt")),
    ),
    TaskSpec(
        "summarization", "text", "Text", "text", ("text",), "Summarization",
        "Condense a document with a sequence-to-sequence model.",
        adapter="seq2seq:SummarizationAdapter", params=GEN_PARAMS + (
            _p("min_length", "int", None, "min length", minimum=0, maximum=512, step=1),),
    ),
    TaskSpec(
        "translation", "text", "Text", "text", ("text",), "Translation",
        "Translate with a sequence-to-sequence model (Marian, T5, NLLB, M2M100, mBART).",
        adapter="seq2seq:TranslationAdapter", aliases=("translation_en_to_fr", "translation_en_to_de", "translation_en_to_ro"),
        params=GEN_PARAMS + (_p("src_lang", "text", None, "source language", info="e.g. eng_Latn, en"),
                             _p("tgt_lang", "text", None, "target language", info="e.g. fra_Latn, fr")),
    ),
    TaskSpec(
        "text2text-generation", "text", "Text", "text", ("text",), "Text-to-text generation",
        "Any prompt to a sequence-to-sequence model (FLAN-T5, T5, BART): questions, instructions, rewrites.",
        adapter="seq2seq:Text2TextGenerationAdapter",
        params=(_p("max_new_tokens", "int", None, "max new tokens", minimum=1, maximum=1024, step=1,
                   info="default 256, or the model's own max_length"),
                _p("num_beams", "int", None, "beams", minimum=1, maximum=8, step=1, info="default 4"),
                _p("do_sample", "bool", None, "sample"),
                _p("temperature", "float", None, "temperature", minimum=0.05, maximum=2.0, step=0.05),
                _p("top_p", "float", None, "top p", minimum=0.05, maximum=1.0, step=0.05)),
    ),
    TaskSpec(
        "zero-shot-classification", "text", "Text", "labels", ("text",), "Zero-shot classification",
        "Score any labels you name, using an NLI model.",
        pipeline_task="zero-shot-classification",
        params=(CANDIDATES, _p("multi_label", "bool", False, "multi-label"),
                _p("hypothesis_template", "text", None, "hypothesis template", info="default: This example is {}.")),
    ),
    TaskSpec(
        "feature-extraction", "text", "Text", "embeddings", ("text",), "Embeddings & similarity",
        "Sentence embeddings (mean-pooled, normalised) and their cosine similarities.",
        pipeline_task="feature-extraction",
        params=(_p("pooling", "choice", "mean", "pooling", choices=("mean", "cls", "none"), stage="post"),
                _p("normalize", "bool", True, "normalise", stage="post")),
    ),
    TaskSpec(
        "table-question-answering", "table", "Text", "table-answer", ("table", "query"), "Table QA",
        "Ask a question about a table (TAPAS).",
        pipeline_task="table-question-answering", params=(),
        batchable=False,  # transformers 5.23's TAPAS pipeline fails with batch_size > 1
    ),
    TaskSpec(
        "text-to-audio", "text", "Text", "audio", ("text",), "Text to speech",
        "Synthesise speech or audio from text.",
        pipeline_task="text-to-audio", aliases=("text-to-speech",), batchable=False,
    ),
    # ---- vision -------------------------------------------------------------------------------
    TaskSpec(
        "image-classification", "image", "Vision", "labels", ("image",), "Image classification",
        "Label an image.", pipeline_task="image-classification", params=(TOP_K,),
    ),
    TaskSpec(
        "object-detection", "image", "Vision", "boxes", ("image",), "Object detection",
        "Find and box objects.", pipeline_task="object-detection", params=(THRESHOLD,),
    ),
    TaskSpec(
        "image-segmentation", "image", "Vision", "masks", ("image",), "Image segmentation",
        "Semantic, instance or panoptic masks.", pipeline_task="image-segmentation",
        params=(_p("subtask", "choice", None, "subtask", choices=("semantic", "instance", "panoptic")),
                _p("threshold", "float", 0.9, "score threshold", minimum=0.0, maximum=1.0, step=0.01)),
    ),
    TaskSpec(
        "depth-estimation", "image", "Vision", "depth", ("image",), "Depth estimation",
        "Estimate a depth map from one image.", pipeline_task="depth-estimation",
    ),
    TaskSpec(
        "zero-shot-image-classification", "image", "Vision", "labels", ("image",),
        "Zero-shot image classification", "Score any labels you name against an image (CLIP).",
        pipeline_task="zero-shot-image-classification",
        params=(CANDIDATES, _p("hypothesis_template", "text", None, "hypothesis template",
                               info="default: This is a photo of {}.")),
    ),
    TaskSpec(
        "zero-shot-object-detection", "image", "Vision", "boxes", ("image",), "Zero-shot detection",
        "Box the objects you name (OWL-ViT).", pipeline_task="zero-shot-object-detection",
        params=(CANDIDATES, _p("threshold", "float", 0.1, "score threshold", minimum=0.0, maximum=1.0, step=0.01)),
    ),
    TaskSpec(
        "image-feature-extraction", "image", "Vision", "embeddings", ("image",), "Image embeddings",
        "Image embeddings (pooled) and their cosine similarities.",
        pipeline_task="image-feature-extraction", params=(_p("pool", "bool", True, "pool"),),
    ),
    TaskSpec(
        "image-to-text", "image", "Vision", "text", ("image",), "Image captioning",
        "Caption an image (BLIP, GIT, ViT-GPT2), optionally from a text prompt.",
        adapter="captioning:ImageToTextAdapter",
        params=(_p("prompt", "text", None, "prompt", info="optional start of the caption"),
                _p("max_new_tokens", "int", 30, "max new tokens", minimum=1, maximum=256, step=1)),
    ),
    TaskSpec(
        "mask-generation", "image", "Vision", "mask-generation", ("image",), "Mask generation (SAM)",
        "Segment everything with a promptable mask model.", pipeline_task="mask-generation",
        params=(_p("points_per_batch", "int", 64, "points per batch", minimum=1, maximum=256, step=1),
                _p("points_per_crop", "int", None, "points per side", minimum=1, maximum=64, step=1,
                   info="prompt grid is this many points squared; default 32 (1024 points, slow on CPU)"),
                _p("pred_iou_thresh", "float", 0.88, "IoU threshold", minimum=0.0, maximum=1.0, step=0.01),
                _p("stability_score_thresh", "float", 0.95, "stability threshold", minimum=0.0, maximum=1.0, step=0.01)),
        batchable=False,
    ),
    TaskSpec(
        "video-classification", "video", "Vision", "video-labels", ("video",), "Video classification",
        "Label a clip (VideoMAE, TimeSformer, ViViT): frames sampled evenly over the clip, decoded with PyAV.",
        pipeline_task="video-classification", params=(TOP_K,),
        # transformers' pipeline reads only the first num_frames frames; ours samples the whole clip
        load_kwargs={"pipeline_class": "workbench.video_pipeline:VideoClassificationPipeline"},
    ),
    # ---- audio --------------------------------------------------------------------------------
    TaskSpec(
        "automatic-speech-recognition", "audio", "Audio", "text", ("audio",), "Speech recognition",
        "Transcribe speech (Whisper, Wav2Vec2).", pipeline_task="automatic-speech-recognition",
        aliases=("asr",),
        params=(_p("chunk_length_s", "float", None, "chunk length (s)", minimum=0, maximum=30, step=1),
                _p("return_timestamps", "choice", None, "timestamps", choices=("word", "char", True))),
    ),
    TaskSpec(
        "audio-classification", "audio", "Audio", "labels", ("audio",), "Audio classification",
        "Label a sound or a spoken command.", pipeline_task="audio-classification", params=(TOP_K,),
    ),
    TaskSpec(
        "zero-shot-audio-classification", "audio", "Audio", "labels", ("audio",),
        "Zero-shot audio classification", "Score any labels you name against a sound (CLAP).",
        pipeline_task="zero-shot-audio-classification",
        params=(CANDIDATES, _p("hypothesis_template", "text", None, "hypothesis template",
                               info="default: This is a sound of {}.")),
    ),
    # ---- documents & multimodal ---------------------------------------------------------------
    TaskSpec(
        "document-question-answering", "document", "Documents & multimodal", "answer",
        ("image", "question"), "Document QA", "Ask a question about a scanned page (LayoutLM).",
        pipeline_task="document-question-answering",
        params=(_p("top_k", "int", 1, "top k", minimum=1, maximum=20, step=1),
                _p("max_answer_len", "int", 15, "max answer length", minimum=1, maximum=512, step=1)),
    ),
    TaskSpec(
        "visual-question-answering", "multimodal", "Documents & multimodal", "vqa",
        ("image", "question"), "Visual QA", "Ask a question about an image (ViLT, BLIP-VQA).",
        adapter="vqa:VisualQuestionAnsweringAdapter", aliases=("vqa",),
        params=(_p("top_k", "int", 5, "top k", minimum=1, maximum=50, step=1),),
    ),
    TaskSpec(
        "image-text-to-text", "multimodal", "Documents & multimodal", "text", ("image", "text"),
        "Image + text chat", "Chat about an image with a vision-language model.",
        pipeline_task="image-text-to-text",
        params=(_p("max_new_tokens", "int", 64, "max new tokens", minimum=1, maximum=1024, step=1),),
        batchable=False,
    ),
)

TASKS: Mapping[str, TaskSpec] = MappingProxyType({s.name: s for s in _SPECS})
ALIASES: Mapping[str, str] = MappingProxyType({a: s.name for s in _SPECS for a in s.aliases})


def get_task(name: str) -> TaskSpec:
    """The spec of a task, by name or alias; an unknown name lists the valid ones.

    >>> get_task("asr").name
    'automatic-speech-recognition'
    """
    if name in TASKS:
        return TASKS[name]
    if name in ALIASES:
        return TASKS[ALIASES[name]]
    if name.startswith("translation_") and "_to_" in name:
        return TASKS["translation"]
    close = difflib.get_close_matches(name, list(TASKS) + list(ALIASES), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownTaskError(
        f"Unknown task {name!r}.{hint} Valid tasks: {', '.join(sorted(TASKS))}; "
        f"aliases: {', '.join(f'{a} -> {t}' for a, t in sorted(ALIASES.items()))}."
    )


def tasks_by_group() -> dict[str, list[TaskSpec]]:
    """Tasks grouped for the UI's top-level tabs, in registry order."""
    out: dict[str, list[TaskSpec]] = {}
    for spec in _SPECS:
        out.setdefault(spec.group, []).append(spec)
    return out
