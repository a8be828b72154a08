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
from types import MappingProxyType
from typing import Any, Mapping

from workbench import output_kinds as _output_kinds
from workbench.any_to_any import ANY_TO_ANY
from workbench.calls import AUDIO, DOCUMENT_QA, IMAGE_CHAT, IMAGE_EMBEDDINGS, TEXT_EMBEDDINGS, VIDEO
from workbench.decision import DECISION, DECISION_CALL, QUESTIONS
from workbench.keypoints import KEYPOINT_MATCHING, MATCHES
from workbench.output_kinds import KINDS as _OUTPUT_KINDS
from workbench.output_kinds import OutputKind as OutputKindSpec
from workbench.spec import (BenchSpec, Group, Modality, OutputKind, Param, TaskSpec,  # noqa: F401 (re-exported)
                            UnknownTaskError, template_check)


def _param(name: str, kind: str, default: Any = None, label: str = "", **kw: Any) -> Param:
    return Param(name, kind, default, label or name.replace("_", " "), **kw)  # type: ignore[arg-type]


TOP_K = _param("top_k", "int", 5, "top k", minimum=1, maximum=50, step=1)
THRESHOLD = _param("threshold", "float", 0.5, "score threshold", minimum=0.0, maximum=1.0, step=0.01)
CANDIDATES = _param("candidate_labels", "labels", None, "candidate labels", info="comma-separated", required=True)
#: The sequence-to-sequence tabs leave length and beams to the model, as 4.57's pipelines did: its
#: generation_config and task_specific_params (t5-small: 4 beams, 30–200 tokens for summaries),
#: else 4 beams and 256 new tokens. A value typed in the tab wins over both.
SEQ2SEQ_PARAMS = (
    _param("max_new_tokens", "int", None, "max new tokens", minimum=1, maximum=1024, step=1),
    _param("num_beams", "int", None, "beams", minimum=1, maximum=8, step=1),
    _param("do_sample", "bool", False, "sample"),
    _param("temperature", "float", None, "temperature", minimum=0.05, maximum=2.0, step=0.05),
    _param("top_p", "float", None, "top p", minimum=0.05, maximum=1.0, step=0.05),
)
#: Labels the benchmark's zero-shot workloads score.
LABELS = ("news", "travel", "food", "technology", "weather")
TEXTS = BenchSpec(("natural", "uniform", "long-tail", "file"), {"truncation": True})
GENERATE16 = BenchSpec(TEXTS.workloads, {"max_new_tokens": 16})


def _nli_check(config: Any) -> str | None:
    """Zero-shot classification needs an NLI model: one with an entailment label."""
    if any(str(label).lower().startswith("entail") for label in (getattr(config, "label2id", None) or {})):
        return None
    return ("has no 'entailment' label, so it is not an NLI model; zero-shot classification needs one "
            "(e.g. facebook/bart-large-mnli).")


def _masked(text: str, mask_token: str) -> str:
    """A text with one word masked, early enough to survive truncation."""
    words = text.split()
    i = min(len(words) // 2, 8)
    return " ".join(words[:i] + [mask_token] + words[i + 1:]) if words else mask_token


def _qa(text: str, mask_token: str) -> dict[str, str]:
    return {"question": "What happened?", "context": text}


def _image_question(image: Any, mask_token: str) -> dict[str, Any]:
    return {"image": image, "question": "What is in the picture?"}


def _image_queries(image: Any, mask_token: str) -> dict[str, Any]:
    return {"image": image, "candidate_labels": ["a house", "a tree"]}


def _image_pair(image: Any, mask_token: str) -> list[Any]:
    """A picture and the same picture turned 12° (a file: itself twice), as the pipeline takes a pair."""
    turned = image.rotate(12, fillcolor="white") if hasattr(image, "rotate") else image
    return [image, turned]


def _audio_prompt(audio: Any, mask_token: str) -> list[dict[str, Any]]:
    """A clip and a prompt as the pipeline's chat (one user message)."""
    from workbench.inputs import audio_chat

    return audio_chat(audio, "What is this sound?")


def _decision(text: str, mask_token: str) -> dict[str, Any]:
    return {"state": text, "questions": QUESTIONS}


_SPECS: tuple[TaskSpec, ...] = (
    # ---- text ---------------------------------------------------------------------------------
    TaskSpec(
        "text-classification", "text", "Text", "labels", ("text",), "Text classification",
        "Sentiment, topic or any label set a fine-tuned classifier knows.",
        pipeline_task="text-classification", aliases=("sentiment-analysis",),
        params=(_param("top_k", "int", 5, "top k", minimum=1, maximum=50, step=1),
                _param("function_to_apply", "choice", None, "score function", choices=("sigmoid", "softmax", "none"))),
        bench=TEXTS,
        metric="classification",
    ),
    TaskSpec(
        "token-classification", "text", "Text", "entities", ("text",), "Named entities",
        "Tag each token: people, places, organisations, parts of speech.",
        pipeline_task="token-classification", aliases=("ner",),
        params=(_param("aggregation_strategy", "choice", "simple", "aggregation",
                   choices=("none", "simple", "first", "average", "max")),),
        metric="entities",
    ),
    TaskSpec(
        "question-answering", "text", "Text", "answer", ("question", "context"), "Question answering",
        "Extract the span of a context that answers a question.",
        adapter="workbench.adapters.question_answering:QuestionAnsweringAdapter",
        params=(_param("top_k", "int", 1, "top k", minimum=1, maximum=20, step=1),
                _param("max_answer_len", "int", 15, "max answer length", minimum=1, maximum=512, step=1),
                # unset by default, as in 4.57: max_seq_len min(384, the model's), doc_stride min(128, half of it)
                _param("doc_stride", "int", None, "doc stride", minimum=8, maximum=512, step=8),
                _param("max_seq_len", "int", None, "max sequence length", minimum=32, maximum=4096, step=32),
                _param("handle_impossible_answer", "bool", False, "allow no answer")),
        bench=BenchSpec(TEXTS.workloads, item=_qa),
        metric="squad",
    ),
    TaskSpec(
        "fill-mask", "text", "Text", "labels", ("text",), "Fill mask",
        "Predict the masked word; write the model's mask token (e.g. [MASK]) in the text.",
        pipeline_task="fill-mask", params=(TOP_K,),
        bench=BenchSpec(TEXTS.workloads, {"tokenizer_kwargs": {"truncation": True}, "top_k": 5}, item=_masked),
        metric="classification",
    ),
    TaskSpec(
        "text-generation", "text", "Text", "text", ("text",), "Text generation",
        "Continue a prompt, streaming tokens as they come.",
        pipeline_task="text-generation", chat=True,
        params=(_param("max_new_tokens", "int", 64, "max new tokens", minimum=1, maximum=2048, step=1),
                _param("do_sample", "bool", False, "sample"),
                _param("temperature", "float", None, "temperature", minimum=0.05, maximum=2.0, step=0.05),
                _param("top_p", "float", None, "top p", minimum=0.05, maximum=1.0, step=0.05),
                _param("return_full_text", "bool", True, "include prompt")),
        streams=True, generative=True, input_labels={"text": "Prompt"},
        bench=BenchSpec(("natural", "chat", "uniform", "long-tail", "file"), {"max_new_tokens": 16, "do_sample": False}),
    ),
    TaskSpec(
        "summarization", "text", "Text", "text", ("text",), "Summarization",
        "Condense a document with a sequence-to-sequence model.",
        adapter="workbench.adapters.seq2seq:SummarizationAdapter", params=SEQ2SEQ_PARAMS + (
            _param("min_length", "int", None, "min length", minimum=0, maximum=512, step=1),),
        generative=True, input_labels={"text": "Document to summarise"}, bench=GENERATE16,
        metric="summary",
    ),
    TaskSpec(
        "translation", "text", "Text", "text", ("text",), "Translation",
        "Translate with a sequence-to-sequence model (Marian, T5, NLLB, M2M100, mBART).",
        adapter="workbench.adapters.seq2seq:TranslationAdapter",
        aliases=("translation_en_to_fr", "translation_en_to_de", "translation_en_to_ro"),
        params=SEQ2SEQ_PARAMS + (_param("src_lang", "text", None, "source language", info="e.g. eng_Latn, en"),
                             _param("tgt_lang", "text", None, "target language", info="e.g. fra_Latn, fr")),
        generative=True, input_labels={"text": "Text to translate"}, bench=GENERATE16,
        metric="translation",
    ),
    TaskSpec(
        "text2text-generation", "text", "Text", "text", ("text",), "Text-to-text generation",
        "Any prompt to a sequence-to-sequence model (FLAN-T5, T5, BART): questions, instructions, rewrites.",
        adapter="workbench.adapters.seq2seq:Text2TextGenerationAdapter", params=SEQ2SEQ_PARAMS,
        generative=True,
        metric="translation",
    ),
    TaskSpec(
        "zero-shot-classification", "text", "Text", "labels", ("text",), "Zero-shot classification",
        "Score any labels you name, using an NLI model.",
        pipeline_task="zero-shot-classification",
        params=(CANDIDATES, _param("multi_label", "bool", False, "multi-label"),
                _param("hypothesis_template", "text", None, "hypothesis template", info="default: This example is {}.",
                   check=template_check)),
        bench=BenchSpec(TEXTS.workloads, {"candidate_labels": list(LABELS)}), config_check=_nli_check,
        metric="classification",
    ),
    TaskSpec(
        "feature-extraction", "text", "Text", "embeddings", ("text",), "Embeddings & similarity",
        "Sentence embeddings (mean-pooled, normalised) and their cosine similarities.",
        pipeline_task="feature-extraction",
        params=(_param("pooling", "choice", "mean", "pooling", choices=("mean", "cls", "none"), stage="post"),
                _param("normalize", "bool", True, "normalise", stage="post")),
        call=TEXT_EMBEDDINGS, kinds={"text": "lines"},
        input_labels={"text": "Sentences (one per line; several give a similarity matrix)"},
        bench=TEXTS,
        metric="similarity",
    ),
    TaskSpec(
        "decision", "text", "Text", "decision", ("state", "questions"), "Decision",
        "Typed questions about a state (choice, score, yes/no), each answered with a probability per option "
        "in one forward pass, by a decision model or any chat model (the logits of the option labels).",
        pipeline_task="decision", call=DECISION_CALL, kinds={"questions": "json"},
        input_labels={"state": "State (the text the questions are about)",
                "questions": "Questions (JSON: name → {type: choice | score | noul, instructions, criteria})"},
        bench=BenchSpec(TEXTS.workloads, item=_decision, plain_batches=False),
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
        generative=True, input_labels={"text": "Text to speak"},
    ),
    # ---- vision -------------------------------------------------------------------------------
    TaskSpec(
        "image-classification", "image", "Vision", "labels", ("image",), "Image classification",
        "Label an image.", pipeline_task="image-classification", params=(TOP_K,),
        metric="classification",
    ),
    TaskSpec(
        "object-detection", "image", "Vision", "boxes", ("image",), "Object detection",
        "Find and box objects.", pipeline_task="object-detection", params=(THRESHOLD,),
    ),
    TaskSpec(
        "image-segmentation", "image", "Vision", "masks", ("image",), "Image segmentation",
        "Semantic, instance or panoptic masks.", pipeline_task="image-segmentation",
        params=(_param("subtask", "choice", None, "subtask", choices=("semantic", "instance", "panoptic")),
                _param("threshold", "float", 0.9, "score threshold", minimum=0.0, maximum=1.0, step=0.01)),
    ),
    TaskSpec(
        "depth-estimation", "image", "Vision", "depth", ("image",), "Depth estimation",
        "Estimate a depth map from one image.", pipeline_task="depth-estimation",
    ),
    TaskSpec(
        "zero-shot-image-classification", "image", "Vision", "labels", ("image",),
        "Zero-shot image classification", "Score any labels you name against an image (CLIP).",
        pipeline_task="zero-shot-image-classification",
        params=(CANDIDATES, _param("hypothesis_template", "text", None, "hypothesis template",
                               info="default: This is a photo of {}.", check=template_check)),
        bench=BenchSpec(("images", "file"), {"candidate_labels": ["a house", "a tree", "the sun", "a dog"]}),
        metric="classification",
    ),
    TaskSpec(
        "zero-shot-object-detection", "image", "Vision", "boxes", ("image",), "Zero-shot detection",
        "Box the objects you name (OWL-ViT).", pipeline_task="zero-shot-object-detection",
        params=(CANDIDATES, _param("threshold", "float", 0.1, "score threshold", minimum=0.0, maximum=1.0, step=0.01)),
        bench=BenchSpec(("images", "file"), {"threshold": 0.1}, item=_image_queries),
    ),
    TaskSpec(
        "image-feature-extraction", "image", "Vision", "embeddings", ("image",), "Image embeddings",
        "Images' embeddings (pooled, or one vector per patch) and, for several images, their cosine similarities.",
        pipeline_task="image-feature-extraction", params=(_param("pool", "bool", True, "pool"),),
        call=IMAGE_EMBEDDINGS, kinds={"image": "images"},
    ),
    TaskSpec(
        "image-to-text", "image", "Vision", "text", ("image",), "Image captioning",
        "Caption an image (BLIP, GIT, ViT-GPT2), optionally from a text prompt.",
        adapter="workbench.adapters.captioning:ImageToTextAdapter",
        params=(_param("prompt", "text", None, "prompt", info="optional start of the caption"),
                _param("max_new_tokens", "int", 30, "max new tokens", minimum=1, maximum=256, step=1)),
        generative=True, bench=BenchSpec(("images", "file"), {"max_new_tokens": 16}),
        metric="translation",
    ),
    TaskSpec(
        "mask-generation", "image", "Vision", "mask-generation", ("image",), "Mask generation (SAM)",
        "Segment everything: the model is prompted with a grid of points over the whole image (points per side).",
        pipeline_task="mask-generation",
        params=(_param("points_per_batch", "int", 64, "points per batch", minimum=1, maximum=256, step=1),
                _param("points_per_crop", "int", None, "points per side", minimum=1, maximum=64, step=1,
                   info="prompt grid is this many points squared; default 32 (1024 points, slow on CPU)"),
                _param("pred_iou_thresh", "float", 0.88, "IoU threshold", minimum=0.0, maximum=1.0, step=0.01),
                _param("stability_score_thresh", "float", 0.95, "stability threshold", minimum=0.0, maximum=1.0, step=0.01)),
        batchable=False,
    ),
    TaskSpec(
        "keypoint-matching", "image", "Vision", "matches", ("image", "image_2"), "Keypoint matching",
        "Match keypoints between two views of a scene (SuperGlue, LightGlue, EfficientLoFTR).",
        pipeline_task="keypoint-matching", call=KEYPOINT_MATCHING, kinds={"image_2": "image"},
        params=(_param("threshold", "float", 0.0, "score threshold", minimum=0.0, maximum=1.0, step=0.01),),
        input_labels={"image": "First image", "image_2": "Second image"},
        bench=BenchSpec(("images", "file"), item=_image_pair, plain_batches=False),
    ),
    TaskSpec(
        "video-classification", "video", "Vision", "video-labels", ("video",), "Video classification",
        "Label a clip (VideoMAE, TimeSformer, ViViT): frames sampled evenly over the clip, decoded with PyAV.",
        pipeline_task="video-classification", params=(TOP_K,), call=VIDEO,
        # transformers' pipeline reads only the first num_frames frames; ours samples the whole clip
        load_kwargs={"pipeline_class": "workbench.video_pipeline:VideoClassificationPipeline"},
        metric="classification",
    ),
    # ---- audio --------------------------------------------------------------------------------
    TaskSpec(
        "automatic-speech-recognition", "audio", "Audio", "text", ("audio",), "Speech recognition",
        "Transcribe speech (Whisper, Wav2Vec2).", pipeline_task="automatic-speech-recognition",
        aliases=("asr",),
        params=(_param("chunk_length_s", "float", None, "chunk length (s)", minimum=0, maximum=30, step=1),
                _param("return_timestamps", "choice", None, "timestamps", choices=("word", "char", True))),
        call=AUDIO, generative=True,
        metric="asr",
    ),
    TaskSpec(
        "audio-classification", "audio", "Audio", "labels", ("audio",), "Audio classification",
        "Label a sound or a spoken command.", pipeline_task="audio-classification", params=(TOP_K,), call=AUDIO,
        metric="classification",
    ),
    TaskSpec(
        "zero-shot-audio-classification", "audio", "Audio", "labels", ("audio",),
        "Zero-shot audio classification", "Score any labels you name against a sound (CLAP).",
        pipeline_task="zero-shot-audio-classification",
        params=(CANDIDATES, _param("hypothesis_template", "text", None, "hypothesis template",
                               info="default: This is a sound of {}.", check=template_check)),
        call=AUDIO, bench=BenchSpec(("audio", "file"), {"candidate_labels": ["speech", "music", "a dog barking"]}),
        metric="classification",
    ),
    # ---- documents & multimodal ---------------------------------------------------------------
    TaskSpec(
        "document-question-answering", "document", "Documents & multimodal", "answer",
        ("image", "question"), "Document QA", "Ask a question about a scanned page (LayoutLM).",
        pipeline_task="document-question-answering",
        params=(_param("top_k", "int", 1, "top k", minimum=1, maximum=20, step=1),
                _param("max_answer_len", "int", 15, "max answer length", minimum=1, maximum=512, step=1)),
        call=DOCUMENT_QA, kinds={"image": "document"},
        metric="squad",
    ),
    TaskSpec(
        "visual-question-answering", "multimodal", "Documents & multimodal", "vqa",
        ("image", "question"), "Visual QA", "Ask a question about an image (ViLT, BLIP-VQA).",
        adapter="workbench.adapters.vqa:VisualQuestionAnsweringAdapter", aliases=("vqa",),
        params=(_param("top_k", "int", 5, "top k", minimum=1, maximum=50, step=1),),
        bench=BenchSpec(("images", "file"), item=_image_question),
        metric="squad",
    ),
    TaskSpec(
        "image-text-to-text", "multimodal", "Documents & multimodal", "text", ("image", "text"),
        "Image + text prompt", "Ask a vision-language model one question about an image (one turn: each Run is "
        "a new prompt; for a conversation use Text generation's Chat).",
        pipeline_task="image-text-to-text",
        params=(_param("max_new_tokens", "int", 64, "max new tokens", minimum=1, maximum=1024, step=1),),
        batchable=False, call=IMAGE_CHAT, generative=True, input_labels={"text": "Prompt"},
    ),
    TaskSpec(
        "any-to-any", "multimodal", "Documents & multimodal", "text", ("audio", "text"), "Any-to-any (audio + text)",
        "Prompt a multimodal model with a sound and a text (Qwen2-Audio, Granite Speech, Voxtral…); text out. "
        "Models that also read images need torchvision in transformers' pipeline, which is not installed here.",
        pipeline_task="any-to-any", call=ANY_TO_ANY,
        params=(_param("max_new_tokens", "int", 64, "max new tokens", minimum=1, maximum=1024, step=1),),
        generative=True, input_labels={"text": "Prompt"},
        bench=BenchSpec(("audio", "file"), {"max_new_tokens": 16}, item=_audio_prompt),
    ),
)

for _kind in (MATCHES, DECISION):  # the kinds whose modules build on workbench.output_kinds
    _output_kinds.register(_kind)
_unknown = sorted({s.output for s in _SPECS} - set(_OUTPUT_KINDS))
if _unknown:  # a typo in the table fails at import, naming the kinds there are
    raise ValueError(f"unknown output kind(s) {_unknown} in the task table; known: {sorted(_OUTPUT_KINDS)}")
_BY_NAME: dict[str, TaskSpec] = {s.name: s for s in _SPECS}
_BY_ALIAS: dict[str, str] = {a: s.name for s in _SPECS for a in s.aliases}
TASKS: Mapping[str, TaskSpec] = MappingProxyType(_BY_NAME)
ALIASES: Mapping[str, str] = MappingProxyType(_BY_ALIAS)
#: The task the Benchmark tab opens on (the real packaged MiniLM runs it offline).
DEFAULT_BENCH_TASK = "feature-extraction"


def register(spec: TaskSpec, *, output_kind: OutputKindSpec | None = None) -> None:
    """Add ``spec`` to the registry (after the built-in tasks): its tab, endpoint, snippet, runner
    backend, benchmark workloads, presets (``spec.presets``) and offline model (``spec.offline``)
    follow from this one entry; ``output_kind`` brings a kind of output no task had
    (``workbench.output_kinds``: drawn as JSON unless ``components.renderers`` has a widget for it).
    A name or alias already taken fails, and so does an output kind nobody registered.

    >>> from dataclasses import replace
    >>> register(replace(get_task("text-classification"), name="my-classification", aliases=()))
    >>> get_task("my-classification").pipeline_task
    'text-classification'
    >>> unregister("my-classification")
    """
    from workbench import offline, output_kinds

    taken = {spec.name, *spec.aliases} & (set(_BY_NAME) | set(_BY_ALIAS))
    if taken:
        raise ValueError(f"task name(s) {sorted(taken)} are already registered; choose another name")
    if output_kind is not None:
        if output_kind.name != spec.output:
            raise ValueError(f"task {spec.name!r} has output {spec.output!r}, not {output_kind.name!r}")
        output_kinds.register(output_kind)
    output_kinds.output_kind(spec.output)  # an unknown kind fails here, naming the known ones
    if spec.offline is not None:
        offline.builder(spec.name)(spec.offline)
    _BY_NAME[spec.name] = spec
    _BY_ALIAS.update({a: spec.name for a in spec.aliases})


def unregister(name: str) -> None:
    """Remove a task added by ``register`` (the built-in tasks stay)."""
    if any(s.name == name for s in _SPECS):
        raise ValueError(f"{name!r} is a built-in task; only tasks added by register() can be removed")
    from workbench import offline

    spec = _BY_NAME.pop(name)
    for alias in spec.aliases:
        _BY_ALIAS.pop(alias, None)
    if spec.offline is not None:
        offline.forget_builder(spec.name)


def pipeline_spec(pipeline_task: str) -> TaskSpec | None:
    """The spec that runs the transformers pipeline task ``pipeline_task`` (a pipeline's ``task``
    attribute), or ``None`` when no registered task does.

    >>> pipeline_spec("text-to-speech").name, pipeline_spec("no-such-pipeline")
    ('text-to-audio', None)
    """
    for spec in _BY_NAME.values():
        if spec.pipeline_task == pipeline_task:
            return spec
    name = _BY_ALIAS.get(pipeline_task)
    return _BY_NAME[name] if name and _BY_NAME[name].pipeline_task else None


def spec_of_pipeline(pipe: Any) -> TaskSpec | None:
    """The registered task that runs ``pipe`` as it is — a transformers pipeline (by its ``task``, as
    ``transformers.pipeline()`` sets it, else by its class) or a workbench adapter — or ``None``.

    >>> from types import SimpleNamespace as NS
    >>> spec_of_pipeline(NS(task="sentiment-analysis")).name, spec_of_pipeline(NS(task="no-such-task"))
    ('text-classification', None)
    """
    name = str(getattr(pipe, "task", "") or "")
    if name and (spec := pipeline_spec(name)) is not None:
        return spec
    if name in _BY_NAME or name in _BY_ALIAS:
        spec = get_task(name)
        if spec.adapter and type(pipe).__name__ == spec.adapter.rpartition(":")[2]:
            return spec  # one of our adapters (transformers 5 has no such pipeline)
    if not name and hasattr(pipe, "model"):  # a pipeline class built by hand: its task is its class's
        try:
            from transformers.pipelines import SUPPORTED_TASKS
        except ImportError:
            return None
        for task, entry in SUPPORTED_TASKS.items():
            if type(pipe) is entry.get("impl") and (spec := pipeline_spec(task)) is not None:
                return spec
    return None


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
    for spec in _BY_NAME.values():
        out.setdefault(spec.group, []).append(spec)
    return out
