"""The types of the task registry: a task's parameters (``Param``), how the benchmark feeds it
(``BenchSpec``) and everything else the workbench knows about it (``TaskSpec``).

The registry itself, one ``TaskSpec`` per task, is ``workbench/tasks.py``; how each kind of task
is called is ``workbench/calls.py``.

>>> spec = TaskSpec("echo", "text", "Text", "text", ("text",), "Echo", "Says it back.", pipeline_task="text-generation")
>>> spec.call is POSITIONAL, spec.bench.workloads[0], spec.input_label("text")
(True, 'natural', 'Text')
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

from workbench.calls import NAMED, POSITIONAL, Call

if TYPE_CHECKING:
    from workbench.kinds import InputKind
    from workbench.output_kinds import OutputKind as OutputKindSpec

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
    "matches",  # [{"keypoint_image_0": {x, y}, "keypoint_image_1": {x, y}, "score"}] -> drawn pair + table
    "decision",  # {question: {"type", "choice"|"score"|"noul", "probabilities"...}} -> tables
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
    check: Callable[[str], str | None] | None = None  # a text's own rule: the problem in words, or None

    def coerce(self, value: Any) -> Any:
        """Turn a UI or API value into the keyword's Python value (``labels``: "a, b" -> ["a", "b"]),
        checked as the tab's widget would check it: the type, the bounds, the choices, the length.
        This is the one validation every endpoint shares (tabs, chat, Compare, API, jobs); a bad value
        is an ``InputError`` that names the parameter and what it accepts.

        >>> Param("candidate_labels", "labels").coerce("sports, politics ,")
        ['sports', 'politics']
        >>> Param("top_k", "int", minimum=1).coerce(3.0)
        3
        >>> Param("top_p", "float", label="top p", minimum=0.05, maximum=1.0).coerce(5.0)
        Traceback (most recent call last):
        ...
        workbench.errors.InputError: top p must be from 0.05 to 1; got 5.
        """
        from workbench.errors import InputError

        name = self.label or self.name
        if value is None or value == "":
            return None
        if self.kind == "labels":
            items = value if isinstance(value, (list, tuple)) else str(value).split(",")
            labels = [str(s).strip() for s in items if str(s).strip()]
            if len(labels) > MAX_LABELS or any(len(s) > MAX_TEXT_PARAM for s in labels):
                raise InputError(f"{name}: give at most {MAX_LABELS} labels of at most {MAX_TEXT_PARAM} characters.")
            return labels
        if self.kind in ("int", "float"):
            return self._number(value, name)
        if self.kind == "bool":
            if isinstance(value, bool) or value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.strip().lower() in ("true", "false"):
                return value.strip().lower() == "true"
            raise InputError(f"{name} must be true or false, not {value!r}.")
        if self.kind == "choice" and self.choices:
            for choice in self.choices:  # a choice may be any value (True); the API may send its text
                if value == choice and type(value) is type(choice) or str(value) == str(choice):
                    return choice
            raise InputError(f"{name} must be one of {', '.join(map(str, self.choices))}; got {str(value)[:40]!r}.")
        if not isinstance(value, str):
            raise InputError(f"{name} must be text, not a {type(value).__name__}.")
        if len(value) > MAX_TEXT_PARAM:
            raise InputError(f"{name} is {len(value)} characters long; at most {MAX_TEXT_PARAM} are accepted.")
        if self.check is not None and (problem := self.check(value)):
            raise InputError(f"{name}: {problem}")
        return value

    def _number(self, value: Any, name: str) -> int | float:
        import math

        from workbench.errors import InputError

        whole = "a whole number" if self.kind == "int" else "a number"
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise InputError(f"{name} must be {whole}, not a {type(value).__name__}.")
        try:
            number = float(value)
        except ValueError:
            raise InputError(f"{name} must be {whole}, not {str(value)[:40]!r}.") from None
        if not math.isfinite(number) or (self.kind == "int" and not number.is_integer()):
            raise InputError(f"{name} must be {whole}, not {str(value)[:40]!r}.")
        low = self.minimum if self.minimum is not None else -math.inf
        high = self.maximum if self.maximum is not None else math.inf
        if not low <= number <= high:
            bounds = (f"from {low:g} to {high:g}" if math.isfinite(low) and math.isfinite(high)
                      else f"at least {low:g}" if math.isfinite(low) else f"at most {high:g}")
            raise InputError(f"{name} must be {bounds}; got {number:g}.")
        return int(number) if self.kind == "int" else number


#: The most labels a ``labels`` parameter takes, and the longest text parameter (a label, a template).
MAX_LABELS = 64
MAX_TEXT_PARAM = 500


def template_check(text: str) -> str | None:
    """The rule of a hypothesis template: one ``{}`` where the label goes, no other braces.

    >>> template_check("This is {}."), template_check("{0} {1}")
    (None, 'write `{}` once where the label goes, e.g. `This example is about {}.`; got `{0} {1}`.')
    """
    if text.count("{}") == 1 and text.count("{") == 1 and text.count("}") == 1:
        return None
    return f"write `{{}}` once where the label goes, e.g. `This example is about {{}}.`; got `{text[:60]}`."


#: The benchmark workloads that fit each modality, the default first (``workbench.workloads``).
MODALITY_WORKLOADS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "text": ("natural", "uniform", "long-tail", "file"), "image": ("images", "file"),
    "video": ("videos", "file"), "audio": ("audio", "file"), "document": ("file",), "table": ("file",), "multimodal": ("file",),
})
#: The usual UI labels of inputs, by name (a spec's ``input_labels`` override them).
INPUT_LABELS: Mapping[str, str] = MappingProxyType({
    "text": "Text", "question": "Question", "context": "Context", "query": "Question about the table",
    "state": "State", "questions": "Questions",
})


@dataclass(frozen=True)
class BenchSpec:
    """How the benchmark feeds a task (``workbench.workloads.make_workload``).

    ``workloads`` are the workloads that fit it, the default first; ``params`` the call keywords
    every benchmark call gets (``truncation``: natural texts run long); ``item`` turns one
    generated input (a text or a picture) and the tokenizer's mask token into the task's input as
    the pipeline takes it (``None``: the input as it is); ``plain_batches`` see below.

    >>> BenchSpec(("natural",), item=lambda text, mask: {"question": "Why?", "context": text}).make_items(["a"])
    [{'question': 'Why?', 'context': 'a'}]
    """

    workloads: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    item: Callable[[Any, str], Any] | None = None
    #: Whether transformers' own pipeline batches the task (``pipe(items, batch_size=n)``). Where it
    #: cannot (5.25's keypoint-matching and decision pipelines fail for n > 1), the benchmark marks
    #: its plain rows above batch size 1 instead of running them; the runner's rows still run.
    plain_batches: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "params", MappingProxyType(dict(self.params)))

    def make_items(self, values: list[Any], mask_token: str = "[MASK]") -> list[Any]:
        """``values`` as this task's inputs."""
        return [self.item(v, mask_token) for v in values] if self.item else list(values)


@dataclass(frozen=True)
class TaskSpec:
    """Everything the workbench knows about one task.

    ``pipeline_task`` names the transformers 5 pipeline that runs it; ``adapter`` names our own
    implementation as ``"module:Class"`` (``workbench.adapters.seq2seq:SummarizationAdapter`` for
    the tasks transformers 5 removed; any importable module for a task added with ``register``).
    Exactly one of the two is set. ``inputs`` are the named inputs a call takes, in order
    (``("question", "context")`` for QA); the first one is what a list of inputs iterates over.

    The rest says how the task behaves everywhere else, so that nothing outside the registry
    branches on a task's name: ``call`` how a run calls the pipeline, shows it as code, batches it
    and compares its outputs (``workbench.calls``; default: the one input positionally, several by
    name); ``streams`` whether the tab streams text as it is generated (with Stop); ``chat``
    whether it also offers a Chat mode (messages, the model's chat template); ``generative``
    whether the model generates (so the batch runner batches equal lengths only); ``input_labels`` the
    UI labels of its inputs where the default does not fit; ``kinds`` the kind of each input
    (``workbench.kinds``: ``text``, ``lines``, ``image``, ``document``…) where the input's name does
    not say it (default: image, audio, video and table by name, else text); ``bench`` its benchmark
    workloads (default: by modality). ``presets`` are its recommended models and examples, shaped
    like a ``presets/<task>.json`` file (default: that file), and ``offline`` builds its offline
    model (a ``workbench.offline`` builder; default: the built-in one) — so a task added with
    ``workbench.tasks.register`` is one entry. ``config_check(config)`` says, in words, what a model
    that fits the task's Auto classes still lacks for it (zero-shot classification: an entailment
    label), or ``None``. ``metric`` names its standard metric against the user's references
    (``workbench.metrics``; ``None``: quality is agreement with a reference configuration only).
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
    call: Call | None = None
    streams: bool = False
    chat: bool = False  # the tab offers a Chat mode (chat template, messages) beside plain calls
    generative: bool = False
    input_labels: Mapping[str, str] = field(default_factory=dict)
    kinds: Mapping[str, str] = field(default_factory=dict)
    bench: BenchSpec | None = None
    presets: Mapping[str, Any] | None = None  # models and examples, as a presets/<task>.json holds them
    metric: str | None = None  # its standard metric against references (workbench.metrics.METRICS)
    config_check: Callable[[Any], str | None] | None = field(default=None, compare=False)  # what else a model needs
    offline: Callable[[Path], str] | None = field(default=None, compare=False)  # builds offline:<task>

    def __post_init__(self) -> None:
        if (self.pipeline_task is None) == (self.adapter is None):
            raise ValueError(f"task {self.name!r}: set exactly one of pipeline_task and adapter")
        object.__setattr__(self, "load_kwargs", MappingProxyType(dict(self.load_kwargs)))
        object.__setattr__(self, "input_labels", MappingProxyType(dict(self.input_labels)))
        from workbench.kinds import DEFAULT_KINDS, KINDS

        kinds = {name: self.kinds.get(name) or DEFAULT_KINDS.get(name, "text") for name in self.inputs}
        unknown = {k for k in kinds.values() if k not in KINDS}
        if unknown:
            raise ValueError(f"task {self.name!r}: unknown input kind(s) {sorted(unknown)}; known: {sorted(KINDS)}")
        object.__setattr__(self, "kinds", MappingProxyType(kinds))

        if self.call is None:
            object.__setattr__(self, "call", POSITIONAL if len(self.inputs) == 1 else NAMED)
        if self.bench is None:
            object.__setattr__(self, "bench", BenchSpec(MODALITY_WORKLOADS[self.modality]))

    @property
    def output_kind(self) -> OutputKindSpec:
        """The kind of output (``workbench.output_kinds``): its agreement, labels, text, API docs."""
        from workbench.output_kinds import output_kind

        return output_kind(self.output)

    def input_kind(self, name: str) -> InputKind:
        """The kind of input ``name`` (``workbench.kinds``): how it is decoded, described and shown."""
        from workbench.kinds import KINDS

        return KINDS[self.kinds[name]]

    def input_label(self, name: str) -> str:
        """The UI label of input ``name``: the spec's own, else the input's usual one."""
        return self.input_labels.get(name) or INPUT_LABELS.get(name, name.replace("_", " ").capitalize())

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

        >>> from workbench.tasks import get_task
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
