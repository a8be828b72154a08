"""The shared machinery of our adapters: pipeline-like callables for tasks transformers 5 removed.

An adapter wraps a transformers model loaded with an Auto* class (plus its tokenizer and/or image
processor) and is called like the old pipeline: one input gives one result, a list gives a list.

The contract (stable; the batch runner's ``workbench.batching.AdapterBackend`` relies on it)
------------------------------------------------------------
An *item* is one element of the list you would pass to ``__call__``: a string (summarization,
translation), an image (captioning), ``{"question", "context"}`` (QA) or ``{"image", "question"}``
(visual QA). ``adapter.normalize_inputs(*args, **kwargs)`` turns any call's inputs into
``(items, single, params)``.

1. ``pre, fwd, post = adapter.sanitize_parameters(**params)`` routes every call keyword to exactly
   one stage (a few, like ``tgt_lang``, feed two); an unknown keyword raises ``TypeError`` that
   lists the valid ones (``adapter.check_parameters(params)``). Defaults live in the signatures.
2. ``passes = adapter.preprocess(item, **pre)`` gives a list of *features*, one per forward pass
   (QA gives one per window of a long context). In a features dict, ``torch.Tensor`` values are
   model inputs without a batch dimension; every other value is metadata for ``postprocess``.
3. ``batch = adapter.collate(passes)`` stacks the tensors of any passes (from any items) into a
   batch, padding 1-D token tensors on ``adapter.padding_side`` and larger tensors at their end.
   ``adapter.length(features)`` is a pass's token length (for sorting); when
   ``adapter.batch_equal_lengths`` is true, only passes of equal length may share a batch
   (``adapter.batches`` respects that).
4. ``outputs = adapter.forward(batch, **fwd)`` moves the batch to the device and dtype and runs
   the model without gradients: a dict of tensors whose first dimension is the batch.
5. ``rows = adapter.split(outputs, len(passes))`` gives one CPU output dict per pass.
6. ``result = adapter.postprocess([{**adapter.metadata(f), **row} for f, row in ...], **post)``
   takes an item's passes, in ``preprocess`` order, and returns plain Python values.

``adapter.run(items, batch_size=..., **params)`` does all of this in input order.

    from workbench.manager import PipelineManager
    summarize = PipelineManager().get("summarization")
    summarize("The stock market fell today.", max_new_tokens=8)
    # -> [{'summary_text': '...'}]
"""

from __future__ import annotations

import inspect
import threading
from typing import Any, ClassVar, Iterator, Sequence

import torch

from workbench.features import Features  # noqa: F401 (adapters import it from here)
from workbench.errors import ModelTaskMismatchError


class Adapter:
    """Base class: subclasses set ``task`` and ``auto_classes`` and write the three stages."""

    task: ClassVar[str]
    auto_classes: ClassVar[tuple[type, ...]]
    #: Which preprocessors ``from_pretrained`` loads from the model folder.
    uses_tokenizer: ClassVar[bool] = True
    uses_image_processor: ClassVar[bool] = False
    #: Side on which ``collate`` pads 1-D token tensors.
    padding_side: str = "right"
    #: True when passes of different lengths must not share a batch (decoder prompts).
    batch_equal_lengths: bool = False

    def __init__(self, model: Any, *, tokenizer: Any = None, image_processor: Any = None,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.image_processor = image_processor
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.dtype = dtype or next(model.parameters()).dtype
        self._lock = threading.Lock()  # for tokenizers with mutable state (src_lang)

    # -- loading ----------------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str, *, device: torch.device | str = "cpu", dtype: torch.dtype | None = None,
                        revision: str | None = None, trust_remote_code: bool = False,
                        local_files_only: bool = False, config: Any = None) -> "Adapter":
        """Load the model with the fitting Auto* class, plus its tokenizer / image processor.

        ``config`` is the model's config, loaded and checked to fit by the caller (the
        ``PipelineManager``, which names the tasks a misfit does fit); without it, it is loaded here
        and a model none of ``auto_classes`` takes raises ``ModelTaskMismatchError``.
        """
        from transformers import AutoConfig, AutoImageProcessor, AutoTokenizer

        common = dict(revision=revision, trust_remote_code=trust_remote_code, local_files_only=local_files_only)
        if config is None:
            config = AutoConfig.from_pretrained(path, **common)
        auto = cls.auto_class_for(config, path)
        model = auto.from_pretrained(path, config=config, dtype=dtype, **common).to(device).eval()
        tokenizer = AutoTokenizer.from_pretrained(path, **common) if cls.uses_tokenizer else None
        image_processor = AutoImageProcessor.from_pretrained(path, **common) if cls.uses_image_processor else None
        adapter = cls(model, tokenizer=tokenizer, image_processor=image_processor, device=device,
                      dtype=dtype or model.dtype)
        adapter.check_model()
        return adapter

    @classmethod
    def auto_class_for(cls, config: Any, name: str = "model") -> type:
        """The first of ``auto_classes`` that has a model class for ``config`` (checked to fit)."""
        for auto in cls.auto_classes:
            if type(config) in auto._model_mapping:
                return auto
        raise ModelTaskMismatchError(f"Model `{name}` cannot do {cls.task}; pick a {cls.task} model.")

    def check_model(self) -> None:
        """Raise ``ModelTaskMismatchError`` when the loaded model cannot run this adapter (hook)."""

    @property
    def config(self) -> Any:
        return self.model.config

    @property
    def name(self) -> str:
        return str(getattr(self.config, "_name_or_path", "") or type(self.model).__name__)

    # -- calling ----------------------------------------------------------------------------

    def __call__(self, *args: Any, batch_size: int = 1, **kwargs: Any) -> Any:
        """Run like the old pipeline: a single input gives one result, a list gives a list."""
        items, single, params = self.normalize_inputs(*args, **kwargs)
        results = self.run(items, batch_size=batch_size, **params)
        return results[0] if single else self.merge_list(results)

    def normalize_inputs(self, *args: Any, **kwargs: Any) -> tuple[list[Any], bool, dict[str, Any]]:
        """``(items, single, params)`` from a call: one positional input, or a list of them."""
        if len(args) != 1:
            raise TypeError(f"{type(self).__name__} takes one input or a list of inputs, "
                            f"got {len(args)} positional arguments")
        inputs = args[0]
        if isinstance(inputs, (list, tuple)):
            return list(inputs), False, kwargs
        return [inputs], True, kwargs

    def merge_list(self, results: list[Any]) -> list[Any]:
        """How a list call returns its results (hook; seq2seq flattens single records like v4 did)."""
        return results

    def run(self, items: Sequence[Any], *, batch_size: int = 1, **params: Any) -> list[Any]:
        """Results of ``items``, in order, batching up to ``batch_size`` forward passes at a time."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.check_parameters(params)
        pre, fwd, post = self.sanitize_parameters(**params)
        owners: list[int] = []
        passes: list[Features] = []
        for i, item in enumerate(items):
            for features in self.preprocess(item, **pre):
                owners.append(i)
                passes.append(features)
        rows: list[Features] = [{} for _ in passes]
        for group in self.batches(passes, batch_size):
            outputs = self.forward(self.collate([passes[j] for j in group]), **fwd)
            for j, row in zip(group, self.split(outputs, len(group))):
                rows[j] = {**self.metadata(passes[j]), **row}
        per_item: list[list[Features]] = [[] for _ in items]
        for owner, row in zip(owners, rows):
            per_item[owner].append(row)
        return [self.postprocess(item_rows, **post) for item_rows in per_item]

    def check_parameters(self, params: dict[str, Any]) -> None:
        """Fail loudly on a keyword ``sanitize_parameters`` does not name (unless it takes ``**kwargs``)."""
        accepted = inspect.signature(self.sanitize_parameters).parameters
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
            return
        unknown = sorted(set(params) - set(accepted))
        if unknown:
            raise TypeError(f"unknown parameter(s) {unknown} for {self.task}; valid: {', '.join(accepted)}")

    # -- the three stages (subclasses) --------------------------------------------------------

    def sanitize_parameters(self, **params: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """Route call keywords to ``(preprocess, forward, postprocess)``."""
        raise NotImplementedError

    def preprocess(self, item: Any, **params: Any) -> list[Features]:
        """One item -> one features dict per forward pass (tensors unbatched)."""
        raise NotImplementedError

    def _forward(self, batch: dict[str, torch.Tensor], **params: Any) -> dict[str, torch.Tensor]:
        """The model call on a batch already on the device; returns batch-first tensors."""
        raise NotImplementedError

    def postprocess(self, passes: list[Features], **params: Any) -> Any:
        """One item's passes (metadata + outputs) -> the pipeline-shaped result."""
        raise NotImplementedError

    # -- shared batching helpers ------------------------------------------------------------

    def forward(self, batch: dict[str, torch.Tensor], **params: Any) -> dict[str, torch.Tensor]:
        """Move ``batch`` to the model's device (floats to its dtype) and run ``_forward`` without grad."""
        moved = {k: v.to(self.device, dtype=self.dtype if v.is_floating_point() else None) for k, v in batch.items()}
        with torch.inference_mode():
            return self._forward(moved, **params)

    @staticmethod
    def metadata(features: Features) -> Features:
        """The non-tensor entries of a features dict (what ``postprocess`` needs besides outputs)."""
        return {k: v for k, v in features.items() if not isinstance(v, torch.Tensor)}

    @staticmethod
    def length(features: Features) -> int:
        """A pass's token length: the longest 1-D tensor in it (0 for image-only passes)."""
        return max((v.shape[0] for v in features.values() if isinstance(v, torch.Tensor) and v.dim() == 1), default=0)

    def pad_value(self, key: str) -> int | float:
        """What ``collate`` pads ``key`` with: the pad token for ids, 0 for masks and pixels."""
        if key.endswith("input_ids") and self.tokenizer is not None and self.tokenizer.pad_token_id is not None:
            return self.tokenizer.pad_token_id
        return 0

    def collate(self, passes: Sequence[Features]) -> dict[str, torch.Tensor]:
        """Stack the tensors of ``passes`` into one batch, padding to the longest (CPU tensors)."""
        keys = [k for k, v in passes[0].items() if isinstance(v, torch.Tensor)]
        batch = {}
        for key in keys:
            tensors = [p[key] for p in passes]
            shape = [max(t.shape[d] for t in tensors) for d in range(tensors[0].dim())]
            padded = []
            for t in tensors:
                pad: list[int] = []
                for d in reversed(range(t.dim())):  # F.pad lists the last dimension first
                    missing = shape[d] - t.shape[d]
                    left = t.dim() == 1 and self.padding_side == "left"
                    pad += [missing, 0] if left else [0, missing]
                padded.append(torch.nn.functional.pad(t, pad, value=self.pad_value(key)) if any(pad) else t)
            batch[key] = torch.stack(padded)
        return batch

    @staticmethod
    def split(outputs: dict[str, torch.Tensor], n: int) -> list[Features]:
        """Batch outputs -> one dict per pass, on the CPU, half floats widened to float32."""
        rows: list[Features] = [{} for _ in range(n)]
        for key, value in outputs.items():
            value = value.detach().cpu()
            if value.is_floating_point():
                value = value.float()
            for i in range(n):
                rows[i][key] = value[i]
        return rows

    def batches(self, passes: Sequence[Features], batch_size: int) -> Iterator[list[int]]:
        """Consecutive groups of pass indices, at most ``batch_size`` each (equal lengths if required)."""
        group: list[int] = []
        for i, features in enumerate(passes):
            if group and (len(group) == batch_size or (
                    self.batch_equal_lengths and self.length(features) != self.length(passes[group[0]]))):
                yield group
                group = []
            group.append(i)
        if group:
            yield group


# -- helpers shared by the adapters -----------------------------------------------------------


def generation_kwargs(params: dict[str, Any], task: str) -> dict[str, Any]:
    """Check that ``params`` are ``generate`` options; an unknown one raises ``TypeError``."""
    from transformers import GenerationConfig

    valid = set(GenerationConfig().to_dict()) | {"max_new_tokens", "min_new_tokens", "forced_bos_token_id"}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise TypeError(f"unknown parameter(s) {unknown} for {task}; it takes generation options such as "
                        "max_new_tokens, num_beams, min_length, do_sample, temperature, top_p")
    return dict(params)
