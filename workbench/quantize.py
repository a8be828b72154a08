"""Quantized precisions, and the precision a loaded model really has.

Two precisions besides the float dtypes, both applied with torchao's ``quantize_`` to the model's
``nn.Linear`` layers right after the build, inside ``exclusive_build()`` (``PipelineManager._build``):

- ``int8``: int8 weights (one scale per output row) with dynamic int8 activations (one scale per
  token, computed at run time: no calibration data) — ``Int8DynamicActivationInt8WeightConfig``.
  CPU and CUDA; the layers that stay in floating point (embeddings, norms, attention's softmax)
  run in float32 on a CPU and bfloat16 on a GPU (``compute_dtype``). On a CPU without AVX-512 VNNI
  the weights use 7 bits (torchao's ``reduce_range``, where ``should_reduce_range`` says so): there
  the CPU's int8 multiply (``vpmaddubsw``) saturates pairs of full-range products past int16, and
  the runner's oneDNN int8 kernel (``workbench.kernels.int8_linear``) needs sums that fit. The
  activations keep all 8 bits (torchao's ``reduce_range`` would cut them too): an unsigned 8-bit
  activation times a 7-bit weight cannot saturate, and on all-MiniLM-L6-v2 (96 natural texts,
  mean-pooled, against float32) 7-bit weights with 8-bit activations reach cosine 0.9958 mean /
  0.9904 min where 7 bits for both reach 0.9920 / 0.9855 (8 bits for both: 0.9973 / 0.9940).
- ``int4``: 4-bit weight-only, groups of 128 (``Int4WeightOnlyConfig``, tinygemm's tile-packed
  layout: ``torch.ops.aten._weight_int4pack_mm``, in torch itself), bfloat16 activations; CUDA only.

The output embeddings (``lm_head``, often tied to the input embeddings) are left in floating point,
as transformers' ``TorchAoConfig`` leaves them. A model whose matrix weights are mostly not
``nn.Linear`` (GPT-2's ``Conv1D``, convolutional vision and audio models) gains little from it and
is refused with the model type and what to choose instead (``QuantizationRefused``).

``precision_of(model)`` reads what the parameters really are after a load — their storage dtypes,
the quantized layers, the attention implementation — and ``mismatch`` says when that is not what
was asked for (transformers has ignored ``dtype=`` for some composite models).

>>> is_quantized("int8"), is_quantized("bfloat16")
(True, False)
>>> import torch
>>> compute_dtype("int8", torch.device("cpu"))
torch.float32
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from workbench.errors import DtypeError

#: The quantized precisions and what each means, for menus, messages and docs.
QUANTIZED: dict[str, str] = {
    "int8": "int8 weights with dynamic int8 activations (torchao)",
    "int4": "4-bit weight-only, groups of 128 (torchao, CUDA)",
}
#: Devices each quantized precision runs on.
DEVICE_TYPES = {"int8": ("cpu", "cuda"), "int4": ("cuda",)}
#: int4's group size: a layer whose input width it does not divide stays in bfloat16.
INT4_GROUP_SIZE = 128
#: A model is refused for a quantized precision when its quantized layers hold less than this share
#: of its matrix weights (linear, Conv1D and convolution layers; embeddings not counted): GPT-2
#: (Conv1D: 0%) and VITS (convolutions: 93%) are refused; the tiny offline Whisper, wav2vec2 and
#: DPT (36%, 47%, 32%: tiny hidden sizes make their convolutions weigh more than in real ones) run.
MIN_COVERAGE = 0.3


class QuantizationRefused(DtypeError):
    """This model cannot be quantized usefully to the precision asked for (says why and what to pick)."""


def is_quantized(name: str | None) -> bool:
    """Whether ``name`` (a canonical precision name) is one of the quantized precisions."""
    return name in QUANTIZED


def check_device(name: str, device: torch.device) -> None:
    """Refuse a quantized precision the device cannot run, or one whose package is missing."""
    if device.type not in DEVICE_TYPES[name]:
        if name == "int4":
            instead = ("`int8` (int8 weights and activations), `bfloat16` or `float32`" if device.type == "cpu"
                       else "`float16` or `float32`")
            raise DtypeError(f"`int4` (4-bit weights) needs a CUDA GPU; on {device.type} choose {instead}.")
        raise DtypeError(f"`{name}` runs on a CPU or a CUDA GPU, not on {device.type}; choose `float16` or `float32`.")
    try:
        import torchao  # noqa: F401
    except ImportError:
        raise DtypeError(f"`{name}` needs the torchao package (pip install torchao); choose `float32` or "
                         "`bfloat16` until it is installed.") from None


def compute_dtype(name: str, device: torch.device) -> torch.dtype:
    """The float dtype a quantized model is built in and computes its other layers in: float32 on
    a CPU (bfloat16 is slow on CPUs without bf16 instructions, and int8's gain is in the linear
    layers), bfloat16 on a GPU that has it (else float16)."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.float32


def reduce_range(device: torch.device) -> bool:
    """Whether int8 uses 7 bits on ``device``: on a CPU without AVX-512 VNNI (torchao's rule)."""
    from torchao.utils import should_reduce_range

    return bool(should_reduce_range(torch.device(device)))


def torchao_config(name: str, device: torch.device) -> Any:
    """torchao's config for ``name`` on ``device`` (what ``quantize_`` applies). Its
    ``set_inductor_config`` is off: it would change torch.compile's settings for the whole process."""
    import torchao.quantization as tq

    if name == "int8":
        return tq.Int8DynamicActivationInt8WeightConfig(reduce_range=reduce_range(device), set_inductor_config=False)
    return tq.Int4WeightOnlyConfig(group_size=INT4_GROUP_SIZE, int4_packing_format="tile_packed_to_4d",
                                   set_inductor_config=False)


def quantize_linear(layer: torch.nn.Linear, *, reduce_range: bool = False) -> torch.nn.Linear:
    """One CPU linear layer quantized to int8 as ``quantize_model`` does (for kernel probes and tests)."""
    import torchao.quantization as tq

    tq.quantize_(layer, tq.Int8DynamicActivationInt8WeightConfig(reduce_range=reduce_range, set_inductor_config=False))
    if reduce_range:
        _full_range_activations(layer.weight)
    return layer


def is_int8_dynamic(weight: Any) -> bool:
    """A torchao int8 weight, one symmetric scale per output row, with dynamic symmetric per-token
    int8 activations and no pre-scaling: what ``int8`` makes (``workbench.kernels.int8_linear``)."""
    if type(weight).__name__ != "Int8Tensor":
        return False
    act = getattr(weight, "act_quant_kwargs", None)
    if act is None or getattr(weight, "act_pre_scale", None) is not None or weight.qdata.dim() != 2:
        return False
    from torchao.quantization.granularity import PerRow
    from torchao.quantization.quant_primitives import MappingType

    rows = list(weight.block_size) == [1, weight.qdata.shape[1]]
    zero = weight.zero_point is None or not bool(weight.zero_point.any())
    return rows and zero and isinstance(act.granularity, PerRow) and act.mapping_type == MappingType.SYMMETRIC


def snippet_lines(name: str, device: str) -> list[str]:
    """The lines that quantize ``pipe.model`` as the workbench does, for the code view."""
    seven = name == "int8" and reduce_range(torch.device(device))
    if name == "int8":
        config = f"Int8DynamicActivationInt8WeightConfig({'reduce_range=True' if seven else ''})"
    else:
        config = f'Int4WeightOnlyConfig(group_size={INT4_GROUP_SIZE}, int4_packing_format="tile_packed_to_4d")'
    cls = config.partition("(")[0]
    head = "lm_head = pipe.model.get_output_embeddings()"
    lines = ["import torch", f"from torchao.quantization import {cls}, quantize_", "",
             f"# {name}: {QUANTIZED[name]}; the output embeddings (lm_head) stay in floating point",
             head,
             f"quantize_(pipe.model, {config},",
             "          filter_fn=lambda m, name: isinstance(m, torch.nn.Linear) and m is not lm_head)"]
    if seven:
        lines += ["# a CPU without AVX-512 VNNI: 7-bit weights, but 8-bit activations, as the workbench runs them",
                  "import dataclasses",
                  "for m in pipe.model.modules():",
                  "    if type(getattr(m, 'weight', None)).__name__ == 'Int8Tensor':",
                  "        m.weight.act_quant_kwargs = dataclasses.replace(m.weight.act_quant_kwargs, reduce_range=False)"]
    return lines


def _is_conv1d(module: torch.nn.Module) -> bool:
    return type(module).__name__ == "Conv1D" and isinstance(getattr(module, "weight", None), torch.Tensor)


def matrix_layers(model: torch.nn.Module) -> list[tuple[str, torch.nn.Module]]:
    """The layers that multiply by a weight matrix: linear, GPT-2's Conv1D, convolutions."""
    kinds = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)
    return [(n, m) for n, m in model.named_modules() if isinstance(m, kinds) or _is_conv1d(m)]


def _output_embeddings(model: torch.nn.Module) -> set[int]:
    """Ids of the output-embedding modules (``lm_head``), which stay in floating point."""
    out = set()
    for m in model.modules():
        get = getattr(m, "get_output_embeddings", None)
        if callable(get):
            try:
                head = get()
            except (AttributeError, NotImplementedError, TypeError):
                continue
            if isinstance(head, torch.nn.Module):
                out.add(id(head))
    return out


def quantize_model(model: torch.nn.Module, name: str, *, model_type: str, device: torch.device | str = "cpu") -> int:
    """Quantize ``model``'s linear layers in place to ``name`` with torchao's ``quantize_``;
    returns how many layers were quantized. Refuses (``QuantizationRefused``, before anything
    changes) a model whose quantizable layers hold less than ``MIN_COVERAGE`` of its matrix weights."""
    from torchao.quantization import quantize_

    heads = _output_embeddings(model)

    def eligible(module: torch.nn.Module) -> bool:
        if not isinstance(module, torch.nn.Linear) or id(module) in heads or module.weight.dim() != 2:
            return False
        return name != "int4" or module.in_features % INT4_GROUP_SIZE == 0

    layers = matrix_layers(model)
    total = sum(m.weight.numel() for _, m in layers)
    chosen = [m for _, m in layers if eligible(m)]
    covered = sum(m.weight.numel() for m in chosen)
    if not chosen or covered < MIN_COVERAGE * total:
        others = sorted({type(m).__name__ for _, m in layers if not eligible(m)} - {"Linear"})
        why = (f"the rest is in {', '.join(others)} layers, which torchao does not quantize" if others else
               f"its linear layers' input widths are not multiples of {INT4_GROUP_SIZE}" if name == "int4"
               else "it has no linear layers")
        share = f"{covered / total:.0%}" if total else "none"
        instead = "`float16`, `bfloat16` or `float32`" if name == "int4" else "`float32` or `bfloat16`"
        raise QuantizationRefused(
            f"`{name}` quantizes linear layers (torchao), but in this `{model_type}` model the layers it can "
            f"quantize hold {share} of the matrix weights ({why}), so {name} would leave most of it unchanged. "
            f"Choose {instead} for this `{model_type}` model.")
    picked = {id(m) for m in chosen}
    config = torchao_config(name, torch.device(device))
    quantize_(model, config, filter_fn=lambda m, fqn: id(m) in picked)
    if getattr(config, "reduce_range", False):
        for m in chosen:  # 7-bit weights, 8-bit activations (see the module docstring)
            _full_range_activations(m.weight)
    return len(chosen)


def _full_range_activations(weight: Any) -> None:
    import dataclasses

    act = getattr(weight, "act_quant_kwargs", None)
    if act is not None and act.reduce_range:
        weight.act_quant_kwargs = dataclasses.replace(act, reduce_range=False)


# ---------------------------------------------------------------------------------------------
# what a loaded model really is


def _inner(t: torch.Tensor) -> list[torch.Tensor]:
    """The plain tensors holding ``t``'s data (a torchao tensor subclass holds several)."""
    flatten = getattr(t, "__tensor_flatten__", None)
    if type(t) in (torch.Tensor, torch.nn.Parameter) or not callable(flatten):
        return [t]
    names, _ = flatten()
    return [x for n in names for x in _inner(getattr(t, n)) if isinstance(getattr(t, n), torch.Tensor)]


def tensor_bytes(t: torch.Tensor) -> int:
    """Bytes ``t`` really takes: a quantized tensor's int8/int4 data and scales, not its logical dtype."""
    return sum(x.numel() * x.element_size() for x in _inner(t))


def model_bytes(model: torch.nn.Module) -> int:
    """Bytes of a model's parameters and buffers, quantized ones at their real size."""
    return sum(tensor_bytes(t) for t in (*model.parameters(), *model.buffers()))


def _quantized_kind(t: torch.Tensor) -> str | None:
    """``"int8"``/``"int4"`` for a torchao quantized weight, None for a plain tensor."""
    if type(t) in (torch.Tensor, torch.nn.Parameter):
        return None
    name = type(t).__name__.lower()
    return "int4" if "int4" in name else "int8" if "int8" in name else name


def attention_implementations(model: Any) -> dict[str, str]:
    """The attention implementation in use per (sub-)config: ``{"": "sdpa"}`` for a plain model,
    ``{"encoder": "sdpa", "decoder": "eager"}`` for a composite one whose parts differ."""
    config = getattr(model, "config", None)
    if config is None:
        return {}
    found = {"": getattr(config, "_attn_implementation", None)}
    for key in getattr(config, "sub_configs", {}) or {}:
        sub = getattr(config, key, None)
        if sub is not None and hasattr(sub, "_attn_implementation"):
            found[key] = sub._attn_implementation
    found = {k: v for k, v in found.items() if v}
    if len(set(found.values())) <= 1:
        return {"": next(iter(found.values()))} if found else {}
    return {k: v for k, v in found.items() if k}


@dataclass(frozen=True)
class Precision:
    """What a loaded model's parameters are: elements per storage dtype (quantized weights under
    ``int8``/``int4``), how many linear layers are quantized of how many, and the attention
    implementation(s) in use."""

    elements: dict[str, int] = field(default_factory=dict)
    quantized_layers: int = 0
    linear_layers: int = 0
    attention: dict[str, str] = field(default_factory=dict)
    reduced_range: bool = False

    @property
    def float_dtype(self) -> str | None:
        """The floating dtype holding most of the unquantized parameters."""
        floats = {k: v for k, v in self.elements.items() if k not in QUANTIZED}
        return max(floats, key=floats.get) if floats else None

    @property
    def quantized(self) -> str | None:
        kinds = [k for k in self.elements if k in QUANTIZED]
        return kinds[0] if kinds else None

    def label(self) -> str:
        """``float32``; ``int8 in 36 of 37 linear layers, float32 elsewhere``; mixed floats listed by
        share (``float32 60% + bfloat16 40%``)."""
        total = sum(self.elements.values()) or 1
        floats = sorted(((v, k) for k, v in self.elements.items() if k not in QUANTIZED), reverse=True)
        float_part = " + ".join(k if v / total > 0.99 or len(floats) == 1 else f"{k} {v / total:.0%}"
                                for v, k in floats)
        if self.quantized:
            bits = " (7-bit weights: CPU without VNNI)" if self.reduced_range else ""
            head = f"{self.quantized} in {self.quantized_layers} of {self.linear_layers} linear layers{bits}"
            return f"{head}, {float_part} elsewhere" if float_part else head
        return float_part or "unknown"

    def attention_label(self) -> str:
        """``sdpa``, or ``encoder sdpa, decoder eager`` when the parts differ; empty when unknown."""
        if list(self.attention) == [""]:
            return self.attention[""]
        return ", ".join(f"{k} {v}" for k, v in self.attention.items())


def precision_of(model: Any) -> Precision:
    """Read a model's real precision after loading (see ``Precision``)."""
    if not isinstance(model, torch.nn.Module):
        return Precision()
    elements: dict[str, int] = {}
    for p in model.parameters():
        kind = _quantized_kind(p)
        if kind is None and not p.is_floating_point():
            continue
        key = kind or str(p.dtype).removeprefix("torch.")
        elements[key] = elements.get(key, 0) + p.numel()
    linear = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    quantized = [m.weight for m in linear if _quantized_kind(m.weight) is not None]
    reduced = any(bool(getattr(w, "reduce_range", False)) for w in quantized)
    return Precision(elements, len(quantized), len(linear), attention_implementations(model), reduced)


def mismatch(asked: str, precision: Precision) -> str | None:
    """A note when the parameters are not in the precision asked for (None when they are)."""
    if not precision.elements:
        return None
    if is_quantized(asked):
        if precision.quantized != asked:
            return f"Asked for {asked}, but no layer was quantized: it ran as {precision.label()}."
        return None
    got = precision.float_dtype
    if got is not None and got != asked:
        return (f"Asked for {asked}, but the weights loaded as {precision.label()}: transformers did not apply "
                f"`dtype={asked}` to this model (seen with some composite models, transformers issue 46459), "
                f"so it ran in {got}.")
    return None
