"""How the batch runner drives each kind of pipeline: one small *backend* per kind.

A backend splits a pipeline call into the steps ``workbench.runner`` schedules:

1. ``prepare(items)`` -> for each item, its *passes* (one features dict per forward pass; a QA
   context with several windows, or a zero-shot text with several labels, gives several);
2. ``cost(features)`` -> the pass's length (tokens, audio samples or pixels): what sorting and
   the token budget use; ``group(features)`` -> passes with different groups never share a batch;
3. ``run(passes)`` -> pad-collate, one forward pass, and one output row per pass;
4. ``finish(rows)`` -> one item's rows -> the result the pipeline gives for that item.

Backends: ``PipelineBackend`` (any transformers pipeline, through its own ``preprocess`` /
``forward`` / ``postprocess``), ``EmbeddingBackend`` (text embeddings: whole-window
tokenisation, numpy rows trimmed to real tokens, optional pooling), ``AdapterBackend`` (our
adapters' contract, ``workbench/adapters/base.py``). Which one runs a pipeline is its task's
``spec.call.backend`` (``workbench.calls``).

    from transformers import pipeline
    backend = make_backend(pipeline("text-classification", "x"), {})
    passes = backend.prepare(["short", "a longer text"])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Hashable, Sequence

import numpy as np
import torch

from workbench.features import Features

#: Token-aligned inputs a pipeline may return, and what a padded position holds (None: the pad token).
TOKEN_PAD: dict[str, int | None] = {
    "input_ids": None, "attention_mask": 0, "token_type_ids": 0, "special_tokens_mask": 1, "p_mask": 1,
    "offset_mapping": 0, "bbox": 0, "position_ids": 0,
}
#: Outputs of shape ``[batch, tokens]`` that are per token (3-D outputs ``[batch, tokens, x]`` always are).
TOKEN_OUTPUTS_2D = frozenset({"start_logits", "end_logits"})


@dataclass
class Batch:
    """What ``Backend.run`` reports besides the rows: the padded size, for the padding share."""

    rows: list[Features]
    padded_cost: int


class Backend:
    """The interface ``workbench.runner`` drives; see the module docstring."""

    #: Only passes of equal length share a batch (decoder prompts, inputs without attention masks).
    equal_lengths: bool = False
    #: Whether ``cost`` counts tokens (then tokens/s and the token budget apply).
    counts_tokens: bool = True
    #: The torch model that runs the batches (its device and dtype pick the runner's defaults).
    model: Any = None

    def prepare(self, items: Sequence[Any]) -> list[list[Features]]:
        raise NotImplementedError

    def cost(self, features: Features) -> int:
        raise NotImplementedError

    def group(self, features: Features) -> Hashable:
        return ()

    def run(self, passes: Sequence[Features]) -> Batch:
        raise NotImplementedError

    def finish(self, rows: list[Features]) -> Any:
        raise NotImplementedError


# ---------------------------------------------------------------------------------------------
# transformers pipelines


def split_parameters(pipe: Any, params: dict[str, Any]) -> tuple[dict, dict, dict]:
    """Route call keywords to (preprocess, forward, postprocess) as ``pipe(...)`` does, merged
    with the keywords the pipeline was created with."""
    pre, fwd, post = pipe._sanitize_parameters(**params)
    return ({**pipe._preprocess_params, **pre}, {**pipe._forward_params, **fwd},
            {**pipe._postprocess_params, **post})


class PipelineBackend(Backend):
    """Any transformers pipeline: its ``preprocess`` per item, our pad-collate, its ``forward``
    on the batch, rows un-batched (padding trimmed), its ``postprocess`` per item."""

    def __init__(self, pipe: Any, params: dict[str, Any]) -> None:
        from transformers.pipelines.base import ChunkPipeline

        self.pipe, self.model = pipe, getattr(pipe, "model", None)
        self.pre, self.fwd, self.post = split_parameters(pipe, params)
        self.chunked = isinstance(pipe, ChunkPipeline)
        tok = getattr(pipe, "tokenizer", None)
        self.pad_id = getattr(tok, "pad_token_id", None)
        self.padding_side = getattr(tok, "padding_side", None) or "right"
        self.equal_lengths = generates(pipe)  # make_backend says so from the task's spec when it knows it

    # -- steps ------------------------------------------------------------------------------

    def prepare(self, items: Sequence[Any]) -> list[list[Features]]:
        out = []
        for item in items:
            made = self.pipe.preprocess(item, **self.pre)
            out.append([dict(f) for f in made] if self.chunked else [dict(made)])
        return out

    @staticmethod
    def padded_keys(f: Features) -> list[str]:
        """Keys of ``f`` padded along dimension 1 when passes of different lengths share a batch:
        token-aligned tensors only. Audio and pixels are never padded (a model's convolutions see
        the padding even with a mask), so those passes batch with equal shapes only."""
        return [k for k in TOKEN_PAD if isinstance(f.get(k), torch.Tensor) and f[k].dim() >= 2]

    def cost(self, f: Features) -> int:
        keys = self.padded_keys(f)
        if keys:
            return int(f[keys[0]].shape[1])
        return max((int(v[0].numel()) for v in f.values() if isinstance(v, torch.Tensor) and v.dim() >= 1), default=1)

    def group(self, f: Features) -> Hashable:
        padded = set(self.padded_keys(f))
        shapes = tuple(sorted((k, tuple(v.shape), str(v.dtype)) for k, v in f.items()
                              if isinstance(v, torch.Tensor) and k not in padded))
        others = tuple(sorted(k for k, v in f.items() if not isinstance(v, torch.Tensor)))
        length = self.cost(f) if self.equal_lengths else None
        return shapes, tuple(sorted(padded)), others, length

    def run(self, passes: Sequence[Features]) -> Batch:
        batch, lengths, width = self.collate(passes)
        outputs = self.pipe.forward(batch, **self.fwd)
        rows = [self.row(outputs, i, lengths[i], width, len(passes)) for i in range(len(passes))]
        return Batch(rows, width * len(passes) if width else sum(self.cost(p) for p in passes))

    def finish(self, rows: list[Features]) -> Any:
        return self.pipe.postprocess(rows if self.chunked else rows[0], **self.post)

    # -- collate / un-batch -----------------------------------------------------------------

    def pad_value(self, key: str) -> float:
        if key == "input_ids":
            if self.pad_id is None:
                raise ValueError("this pipeline's tokenizer has no pad token, so texts of different lengths cannot "
                                 "share a batch; set `pipe.tokenizer.pad_token_id` (e.g. to the eos token id)")
            return self.pad_id
        return TOKEN_PAD[key] or 0

    def collate(self, passes: Sequence[Features]) -> tuple[dict[str, Any], list[int], int]:
        """One batch dict (tensors concatenated or padded along dim 1, other values listed), each
        pass's length, and the padded width (0 when nothing needed padding)."""
        first = passes[0]
        padded = set(self.padded_keys(first))
        lengths = [self.cost(p) for p in passes]
        width = max(lengths) if padded else 0
        if padded and min(lengths) == width:
            padded, width = set(), 0  # all the same length: plain concatenation
        batch: dict[str, Any] = {}
        left = self.padding_side == "left"
        for key, value in first.items():
            if not isinstance(value, torch.Tensor):
                batch[key] = [p[key] for p in passes]
            elif key in padded:
                out = torch.full((len(passes), width, *value.shape[2:]), self.pad_value(key), dtype=value.dtype)
                for i, p in enumerate(passes):
                    n = p[key].shape[1]
                    if left:
                        out[i, width - n:] = p[key][0]
                    else:
                        out[i, :n] = p[key][0]
                batch[key] = out
            else:
                batch[key] = torch.cat([p[key] for p in passes], dim=0) if len(passes) > 1 else value
        return batch, lengths, width

    def row(self, outputs: Any, i: int, length: int, width: int, n: int) -> Any:
        """Row ``i`` of a batch's outputs, shaped as a batch of one (like transformers' own
        un-batching), with token positions beyond the pass's own length removed."""
        trim = width and length < width

        def cut(key: str, value: Any) -> Any:
            if isinstance(value, torch.Tensor):
                value = value[i:i + 1]
                if trim and value.dim() >= 2 and value.shape[1] == width and (
                        key in TOKEN_PAD or key in TOKEN_OUTPUTS_2D or value.dim() >= 3):
                    value = value[:, width - length:] if self.padding_side == "left" else value[:, :length]
                return value
            if isinstance(value, np.ndarray):
                return np.expand_dims(value[i], 0)
            return value[i]

        if isinstance(outputs, torch.Tensor):
            return cut("", outputs)
        row: dict[str, Any] = {}
        for key, value in outputs.items():
            if value is None:
                row[key] = None
            elif key == "past_key_values":
                continue
            elif isinstance(value, tuple) and value and isinstance(value[0], (torch.Tensor, np.ndarray)):
                row[key] = tuple(cut(key, v) for v in value)
            elif hasattr(value, "to_tuple"):  # a nested ModelOutput
                row[key] = tuple(cut(key, v) for v in value.to_tuple())
            elif isinstance(value, (torch.Tensor, np.ndarray, list, tuple)) and len(value) == n:
                row[key] = cut(key, value)
            else:
                row[key] = value
        return outputs.__class__(row)


class EmbeddingBackend(PipelineBackend):
    """Text embeddings (feature-extraction), fast: the window is tokenised in one call, batches are
    collated in numpy, and each result is a float32 array ``[tokens, hidden]`` of the input's real tokens —
    or ``[hidden]`` with ``pooling="mean"``/``"cls"`` (``normalize=True`` for unit length).
    ``return_tensors=True`` gives torch tensors instead of arrays."""

    def __init__(self, pipe: Any, params: dict[str, Any]) -> None:
        params = dict(params)
        pooling = params.pop("pooling", None)
        self.pooling = None if pooling in (None, "none") else pooling
        if self.pooling not in (None, "mean", "cls"):
            raise ValueError(f"unknown pooling {pooling!r}; choose mean, cls or none")
        self.normalize = bool(params.pop("normalize", False))
        super().__init__(pipe, params)
        self.as_tensors = bool(self.post.get("return_tensors"))
        self.tokenizer = pipe.tokenizer
        if self.pad_id is None:
            raise ValueError("this tokenizer has no pad token; set `pipe.tokenizer.pad_token_id`")

    def prepare(self, items: Sequence[Any]) -> list[list[Features]]:
        if not all(isinstance(x, str) for x in items):
            raise TypeError(f"{self.pipe.task} takes texts (str); got "
                            f"{sorted({type(x).__name__ for x in items if not isinstance(x, str)})}")
        enc = self.tokenizer(list(items), **self.pre)
        keys = [k for k in enc.keys() if k in TOKEN_PAD]
        return [[{k: np.asarray(enc[k][i], dtype=np.int64) for k in keys}] for i in range(len(items))]

    def cost(self, f: Features) -> int:
        return int(f["input_ids"].shape[0])

    def group(self, f: Features) -> Hashable:
        return ()

    def run(self, passes: Sequence[Features]) -> Batch:
        lengths = [p["input_ids"].shape[0] for p in passes]
        width, n = max(lengths), len(passes)
        batch = {}
        for key in passes[0]:
            arr = np.full((n, width), self.pad_value(key), dtype=np.int64)
            for i, p in enumerate(passes):
                arr[i, :lengths[i]] = p[key]
            batch[key] = torch.from_numpy(arr)
        if "attention_mask" not in batch:
            mask = np.zeros((n, width), dtype=np.int64)
            for i, m in enumerate(lengths):
                mask[i, :m] = 1
            batch["attention_mask"] = torch.from_numpy(mask)
        device = self.pipe.device
        with torch.inference_mode():
            batch = {k: v.to(device) for k, v in batch.items()}
            hidden = self.model(**batch)[0]
            if self.pooling:
                hidden = self.pool(hidden, batch["attention_mask"])
            values = hidden.float().cpu().numpy()
        if self.pooling:
            rows = [{"embedding": values[i]} for i in range(n)]
        else:
            rows = [{"embedding": values[i, :lengths[i]].copy()} for i in range(n)]
        return Batch(rows, width * n)

    def pool(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.pooling == "cls":
            out = hidden[:, 0].float()
        else:
            m = mask.unsqueeze(-1).to(torch.float32)
            out = (hidden.float() * m).sum(1) / m.sum(1).clamp(min=1)
        if self.normalize:
            out = torch.nn.functional.normalize(out, dim=-1)
        return out

    def finish(self, rows: list[Features]) -> Any:
        value = rows[0]["embedding"]
        if self.normalize and not self.pooling:
            value = value / np.maximum(np.linalg.norm(value, axis=-1, keepdims=True), 1e-12)
        return torch.from_numpy(value) if self.as_tensors else value


# ---------------------------------------------------------------------------------------------
# our adapters


class AdapterBackend(Backend):
    """Our adapters (``workbench/adapters/base.py``): their preprocess/collate/forward/split/postprocess."""

    def __init__(self, adapter: Any, params: dict[str, Any]) -> None:
        self.adapter, self.model = adapter, adapter.model
        self.params = dict(params)
        self.pre, self.fwd, self.post = None, None, None
        self.equal_lengths = bool(adapter.batch_equal_lengths)

    def prepare(self, items: Sequence[Any]) -> list[list[Features]]:
        items, _, params = self.adapter.normalize_inputs(list(items), **self.params)
        if self.pre is None:
            self.adapter.check_parameters(params)
            self.pre, self.fwd, self.post = self.adapter.sanitize_parameters(**params)
        return [list(self.adapter.preprocess(item, **self.pre)) for item in items]

    def cost(self, f: Features) -> int:
        n = self.adapter.length(f)
        if n:
            return int(n)
        return max((int(v.numel()) for v in f.values() if isinstance(v, torch.Tensor)), default=1)

    @property
    def counts_tokens(self) -> bool:  # type: ignore[override]
        return self.adapter.tokenizer is not None and not self.adapter.uses_image_processor

    def group(self, f: Features) -> Hashable:
        shapes = tuple(sorted((k, tuple(v.shape)) for k, v in f.items() if isinstance(v, torch.Tensor) and v.dim() > 1))
        keys = tuple(sorted(k for k, v in f.items() if isinstance(v, torch.Tensor)))
        return shapes, keys, (self.adapter.length(f) if self.equal_lengths else None)

    def run(self, passes: Sequence[Features]) -> Batch:
        outputs = self.adapter.forward(self.adapter.collate(list(passes)), **self.fwd)
        rows = [{**self.adapter.metadata(f), **row} for f, row in zip(passes, self.adapter.split(outputs, len(passes)))]
        lengths = [self.cost(p) for p in passes]
        return Batch(rows, max(lengths) * len(passes))

    def finish(self, rows: list[Features]) -> Any:
        return self.adapter.postprocess(rows, **self.post)


def is_adapter(pipe: Any) -> bool:
    from workbench.adapters.base import Adapter

    return isinstance(pipe, Adapter)


def generates(pipe: Any, spec: Any = None) -> bool:
    """Whether ``pipe`` generates (``spec.generative`` when its task's spec is given; else whether
    its model can generate): padding would change what it generates, so such pipelines batch
    equal lengths only."""
    if spec is not None:
        return bool(spec.generative)
    can_generate = getattr(getattr(pipe, "model", None), "can_generate", None)
    return bool(can_generate()) if callable(can_generate) else False


def make_backend(pipe: Any, params: dict[str, Any], spec: Any = None) -> Backend:
    """The backend for ``pipe``: our adapters' own, else the one its task's ``spec.call`` names
    (``workbench.calls``; ``spec`` is the ``TaskSpec`` the caller runs — ``workbench.runner.backend_for``
    finds it from ``pipe.task``), else the generic ``PipelineBackend``."""
    if is_adapter(pipe):
        return AdapterBackend(pipe, params)
    from transformers import Pipeline

    if not isinstance(pipe, Pipeline):
        raise TypeError(f"run_batch takes a transformers Pipeline or a workbench adapter, not {type(pipe).__name__}")
    backend = spec.call.backend(pipe, params) if spec is not None else PipelineBackend(pipe, params)
    if spec is not None and hasattr(backend, "equal_lengths"):
        backend.equal_lengths = generates(pipe, spec)
    return backend
