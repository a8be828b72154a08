"""Faster CPU kernels for the batch runner: oneDNN's linear layer where it beats torch's default.

torch sends a float32 ``F.linear`` on CPU to MKL's sgemm. On some CPUs MKL takes a code path that
leaves half of the vector width unused (seen here on AMD EPYC with AVX-512: 190 GFLOP/s), while
oneDNN's linear — ``torch.ops.mkldnn._linear_pointwise``, what ``torch.compile`` uses on CPU —
computes the same IEEE float32 product at 430-480 GFLOP/s (bfloat16: 5-15% faster than torch's
call to oneDNN, because the weights are packed into oneDNN's layout once instead of every call).
``linear_kernels(device, dtype)`` measures both once per process and dtype, and gives a context
manager that routes ``F.linear`` and ``torch.addmm`` to the faster one. It is a
``TorchFunctionMode``, so it acts in the calling thread only: a plain pipeline running in another
thread is untouched. The packed weights are a second copy of the linear layers' weights, kept
while the model lives. In half precision the same mode also runs attention over short sequences
(≤ 32 tokens) as plain matmuls, where SDPA's flash kernel is 2-3× slower on a CPU.

>>> import torch
>>> with linear_kernels("cpu", torch.float32, "onednn"):
...     y = torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3))
>>> y.tolist()
[[3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]]
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, ContextManager

import torch
import torch.nn.functional as F
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

KERNELS = ("auto", "torch", "onednn")
#: oneDNN is chosen by ``auto`` only when it is at least this much faster on the probe shapes.
MIN_GAIN = 1.02
#: ``auto`` uses oneDNN only for models with a linear layer at least this big (a 256 × 256 weight).
MIN_LINEAR_WEIGHT = 256 * 256
#: The probes: 256 and 2048 tokens through a small BERT's FFN projections (384 -> 1536 -> 384).
PROBE_SHAPES = ((256, 384, 1536), (2048, 1536, 384))
#: In half precision, attention over at most this many tokens skips SDPA's flash kernel.
SMALL_ATTENTION = 32
HALF = (torch.bfloat16, torch.float16)
#: Weights are packed into oneDNN's blocked layout once, for batches of about this many rows.
PACK_ROWS = 1024


@dataclass(frozen=True)
class KernelChoice:
    """What ``auto`` picked for one dtype, and the GFLOP/s each kernel reached on the probes
    (geometric mean)."""

    kernel: str
    torch_gflops: float
    onednn_gflops: float | None


_choices: dict[torch.dtype, KernelChoice] = {}
_lock = threading.Lock()
#: A model weight -> {transposed: (its version when packed, the packed copy)}; gone with the weight.
_packed: WeakIdKeyDictionary = WeakIdKeyDictionary()


def onednn_linear_available() -> bool:
    """Whether this torch build has oneDNN's linear op and its weight packing."""
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight"))


def _onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def pack_weight(weight: torch.Tensor, *, transposed: bool = False) -> torch.Tensor:
    """``weight`` (``[out, in]``; ``[in, out]`` with ``transposed``) in oneDNN's blocked layout,
    packed once per weight and version: the packed copy lives as long as the weight. A weight made
    under ``torch.inference_mode()`` has no version counter; it is packed once."""
    version = None if weight.is_inference() else weight._version
    with _lock:
        entry = _packed.setdefault(weight, {})
        hit = entry.get(transposed)
        if hit is not None and hit[0] == version:
            return hit[1]
    dense = (weight.t() if transposed else weight).detach().contiguous()
    packed = torch.ops.mkldnn._reorder_linear_weight(dense, PACK_ROWS)
    with _lock:
        _packed.setdefault(weight, {})[transposed] = (version, packed)
    return packed


def _gflops(fn: Any, flops: float, seconds: float = 0.1) -> float:
    fn()
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds or best == float("inf"):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return flops / best / 1e9


def kernel_choice(dtype: torch.dtype) -> KernelChoice:
    """Measure torch's and oneDNN's (packed) CPU linear in ``dtype`` once per process, and pick one.

    oneDNN is picked when it is ``MIN_GAIN``× faster on the probe shapes (geometric mean) and gives
    the same numbers (relative difference ≤ 1e-5 in float32, 1e-2 in bfloat16)."""
    with _lock:
        if dtype in _choices:
            return _choices[dtype]
    gen = torch.Generator().manual_seed(0)
    ours, theirs, rel = 1.0, 1.0, 0.0
    available = onednn_linear_available()
    with torch.inference_mode():
        for m, k, n in PROBE_SHAPES:
            x = torch.randn(m, k, generator=gen).to(dtype)
            w = torch.randn(n, k, generator=gen).to(dtype)
            b = torch.randn(n, generator=gen).to(dtype)
            flops = 2.0 * m * k * n
            ours *= _gflops(lambda: F.linear(x, w, b), flops) ** (1 / len(PROBE_SHAPES))
            if available:
                try:
                    packed = torch.ops.mkldnn._reorder_linear_weight(w, PACK_ROWS)
                    theirs *= _gflops(lambda: _onednn_linear(x, packed, b), flops) ** (1 / len(PROBE_SHAPES))
                    ref, got = F.linear(x, w, b).float(), _onednn_linear(x, packed, b).float()
                    rel = max(rel, float((ref - got).abs().max() / ref.abs().max()))
                except RuntimeError:
                    available = False
    tolerance = 1e-5 if dtype == torch.float32 else 1e-2
    best = "onednn" if available and theirs >= MIN_GAIN * ours and rel <= tolerance else "torch"
    choice = KernelChoice(best, round(ours, 1), round(theirs, 1) if available else None)
    with _lock:
        return _choices.setdefault(dtype, choice)


class CpuKernels(TorchFunctionMode):
    """Routes CPU ``F.linear`` and 2-D ``torch.addmm`` (GPT-2's Conv1D) in ``dtype`` to oneDNN
    when no gradient is being recorded; a model's weights (``nn.Parameter``) are packed once
    (``pack_weight``), other weights are used as they are. In half precision, attention over at
    most ``SMALL_ATTENTION`` tokens runs as two matmuls and a float32 softmax, 2-3× faster there
    than SDPA's flash kernel (``small_attention``). Every other call runs as it would."""

    def __init__(self, dtype: torch.dtype) -> None:
        super().__init__()
        self.dtype = dtype

    def _fits(self, *tensors: torch.Tensor | None) -> bool:
        return all(t is None or (isinstance(t, torch.Tensor) and t.device.type == "cpu" and t.dtype == self.dtype)
                   for t in tensors)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is F.linear and not torch.is_grad_enabled():
            x, weight = args[0], args[1] if len(args) > 1 else kwargs.get("weight")
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            if self._fits(x, weight, bias) and x.dim() >= 2 and weight.dim() == 2:
                if isinstance(weight, torch.nn.Parameter):
                    weight = pack_weight(weight)
                return _onednn_linear(x, weight, bias)
        elif func is F.scaled_dot_product_attention and self.dtype in HALF and not torch.is_grad_enabled():
            out = small_attention(*args, **kwargs)
            if out is not None:
                return out
        elif func is torch.addmm and not torch.is_grad_enabled() and len(args) == 3 and not kwargs:
            bias, x, weight = args
            if self._fits(bias, x, weight) and x.dim() == 2 and weight.dim() == 2 and bias.dim() == 1:
                packed = pack_weight(weight, transposed=True) if isinstance(weight, torch.nn.Parameter) else weight.t()
                return _onednn_linear(x, packed, bias)
        return func(*args, **kwargs)


def small_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attn_mask: torch.Tensor | None = None,
                    dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                    enable_gqa: bool = False) -> torch.Tensor | None:
    """``F.scaled_dot_product_attention`` for short half-precision CPU sequences (at most
    ``SMALL_ATTENTION`` queries and keys) as ``softmax(q·kᵀ·scale + mask)·v`` with a float32
    softmax; None where that does not apply (longer sequences, dropout, causal, grouped heads, a
    query row with every key masked) so the caller runs SDPA."""
    if dropout_p or is_causal or enable_gqa or query.device.type != "cpu" or query.dtype not in HALF:
        return None
    if query.dim() != 4 or query.shape[-2] > SMALL_ATTENTION or key.shape[-2] > SMALL_ATTENTION:
        return None
    if attn_mask is not None:
        allowed = attn_mask if attn_mask.dtype == torch.bool else attn_mask > float("-inf")
        if not bool(allowed.any(-1).all()):
            return None
    scores = torch.matmul(query, key.transpose(-1, -2)) * (scale if scale is not None else query.shape[-1] ** -0.5)
    if attn_mask is not None:
        scores = scores.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else scores + attn_mask
    return torch.matmul(torch.softmax(scores, -1, dtype=torch.float32).to(query.dtype), value)


def linear_kernels(device: torch.device | str, dtype: torch.dtype, kernels: str = "auto") -> ContextManager[Any]:
    """A context in which linear layers use the chosen kernel: ``torch`` (as is), ``onednn``, or
    ``auto`` (the faster of the two on this CPU for ``dtype``; always torch off the CPU).
    ``WORKBENCH_KERNELS=torch`` in the environment turns ``auto`` off."""
    if kernels not in KERNELS:
        raise ValueError(f"unknown kernels {kernels!r}; choose one of {', '.join(KERNELS)}")
    if kernels == "auto" and os.environ.get("WORKBENCH_KERNELS", "").strip().lower() == "torch":
        kernels = "torch"
    if torch.device(device).type != "cpu" or kernels == "torch" or not onednn_linear_available():
        return contextlib.nullcontext()
    if kernels == "auto" and kernel_choice(dtype).kernel != "onednn":
        return contextlib.nullcontext()
    return CpuKernels(dtype)


def model_kernels(model: Any, kernels: str = "auto") -> ContextManager[Any]:
    """``linear_kernels`` for a model's device and the dtype of its first floating parameter.
    ``auto`` keeps torch's kernels for a model whose linear layers are all smaller than
    ``MIN_LINEAR_WEIGHT`` elements: there the mode's per-call Python cost outweighs the gain."""
    params = getattr(model, "parameters", None)
    first = next((p for p in params() if p.is_floating_point()), None) if callable(params) else None
    if first is None:
        return contextlib.nullcontext()
    if kernels == "auto" and largest_linear(model) < MIN_LINEAR_WEIGHT:
        kernels = "torch"
    return linear_kernels(first.device, first.dtype, kernels)


def largest_linear(model: Any) -> int:
    """Elements in the largest weight of ``model``'s linear layers (``nn.Linear``, GPT-2's ``Conv1D``)."""
    sizes = [m.weight.numel() for m in model.modules()
             if (isinstance(m, torch.nn.Linear) or type(m).__name__ == "Conv1D")
             and isinstance(getattr(m, "weight", None), torch.Tensor)]
    return max(sizes, default=0)
