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
while the model lives. In half precision the same mode also runs attention as plain matmuls and a
softmax, a few batch rows at a time, where SDPA's CPU flash kernel is slower (1.2-1.6× on BERT-like
shapes).

int8 models (``workbench.quantize``: torchao's ``Int8Tensor`` weights, dynamic per-token int8
activations) run their linear layers, in plain torchao, through ``torch._int_mm``, which on a CPU
without AVX-512 VNNI is a plain C++ loop (0.4-0.7 GOP/s here, 40× slower than float32). The same
mode can route them to oneDNN's int8 linear (``torch.ops.onednn.qlinear_pointwise``: AVX2's
``vpmaddubsw``, VNNI or AMX, whatever the CPU has) with the activations quantized by torchao's own
function: the int32 sums are the same, so the outputs equal plain torchao's to float rounding
(``INT8_TOLERANCE``). ``int8_kernel_choice`` measures both once per process and picks.

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
from typing import Any, Callable, ContextManager

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
#: In half precision attention runs as matmuls and a softmax (``half_attention``) in chunks of
#: about this many bytes of scores...
ATTENTION_CHUNK_BYTES = 2 << 20
#: ... where one batch row's scores (heads × queries × keys) take at most this many bytes.
ATTENTION_ROW_BYTES = 8 << 20
HALF = (torch.bfloat16, torch.float16)
#: Weights are packed into oneDNN's blocked layout once, for batches of about this many rows.
PACK_ROWS = 1024
#: The int8 probes (rows, in, out): small, because plain torchao may run at 0.4 GOP/s on this CPU.
INT8_PROBE_SHAPES = ((64, 384, 1536), (256, 1536, 384))
#: The oneDNN int8 route is used only when its outputs are within this of plain torchao's (the
#: largest absolute difference over the largest absolute output: float rounding of the scales).
INT8_TOLERANCE = 1e-4
_EPS = torch.finfo(torch.float32).eps


@dataclass(frozen=True)
class KernelChoice:
    """What ``auto`` picked for one dtype, and the GFLOP/s each kernel reached on the probes
    (geometric mean)."""

    kernel: str
    torch_gflops: float
    onednn_gflops: float | None


@dataclass(frozen=True)
class Int8Choice:
    """What ``auto`` picked for int8 linear layers: ``onednn-int8`` or ``torchao`` (plain), the
    GOP/s of each on the probes (geometric mean), and the oneDNN route's relative difference."""

    kernel: str
    torchao_gops: float
    onednn_gops: float | None
    relative_difference: float | None


_choices: dict[torch.dtype, KernelChoice] = {}
_int8_choices: dict[bool, Int8Choice] = {}
_lock = threading.Lock()
#: A model weight -> {transposed: (its version when packed, the packed copy)}; gone with the weight.
_packed: WeakIdKeyDictionary = WeakIdKeyDictionary()
#: An int8 weight (torchao ``Int8Tensor``) -> (oneDNN's packed int8 weight, its scales, zero points).
_packed_int8: WeakIdKeyDictionary = WeakIdKeyDictionary()


def onednn_linear_available() -> bool:
    """Whether this torch build has oneDNN's linear op and its weight packing."""
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
            and hasattr(torch.ops.mkldnn, "_reorder_linear_weight"))


def onednn_dtype_supported(dtype: torch.dtype) -> bool:
    """Whether oneDNN has a linear path for ``dtype`` on this CPU (bfloat16/float16 need AVX-512 or
    AVX-NE-CONVERT; without them packing a weight raises)."""
    if dtype == torch.bfloat16:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    if dtype == torch.float16:
        return bool(torch.ops.mkldnn._is_mkldnn_fp16_supported())
    return True


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


def _gflops(fn: Any, flops: float, seconds: float = 0.1, device: torch.device | None = None, *,
            check: Callable[[], None] = lambda: None) -> float:
    """GFLOP/s of ``fn`` (doing ``flops``): its best time over ``seconds`` of calls after one warm-up
    (each call synchronised on an accelerator ``device``; ``check()`` called before each, untimed)."""
    def timed() -> None:
        fn()
        if device is not None and device.type == "cuda":
            torch.cuda.synchronize(device)
        elif device is not None and device.type == "mps":
            torch.mps.synchronize()

    check()
    timed()
    best, start = float("inf"), time.perf_counter()
    while time.perf_counter() - start < seconds or best == float("inf"):
        check()
        t = time.perf_counter()
        timed()
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


def _plain(t: Any) -> bool:
    """A plain tensor or parameter, not a tensor subclass (a torchao quantized weight reports its
    original dtype but must not be packed as a float weight)."""
    return type(t) in (torch.Tensor, torch.nn.Parameter)


def _int8_weight(weight: Any) -> bool:
    """A torchao int8 weight with dynamic per-token symmetric int8 activations and one scale per
    output row: what ``workbench.quantize`` makes for ``int8`` and ``int8_linear`` computes."""
    from workbench.quantize import is_int8_dynamic

    return is_int8_dynamic(weight)


def _packed_int8_weight(weight: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    with _lock:
        hit = _packed_int8.get(weight)
    if hit is None:
        qdata = weight.qdata.contiguous()
        scales = weight.scale.reshape(-1).to(torch.float32).contiguous()
        hit = (torch.ops.onednn.qlinear_prepack(qdata, None), scales,
               torch.zeros(qdata.shape[0], dtype=torch.long))
        with _lock:
            _packed_int8[weight] = hit
    return hit


def int8_linear(x: torch.Tensor, weight: Any, bias: torch.Tensor | None) -> torch.Tensor:
    """``F.linear`` for a torchao int8 weight (``_int8_weight``) on a float32 CPU ``x``, through
    oneDNN's int8 linear: the activations are quantized per token (``quantize_tokens``: torchao's
    symmetric per-token int8, in two fused passes), as unsigned bytes with zero point 128 (oneDNN's
    u8 × s8), multiplied with the int8 weight into int32 sums, scaled by the weight's row scales,
    then by each token's scale, and the bias added in the same pass. Without VNNI the CPU's
    ``vpmaddubsw`` saturates pairs of products past int16, so the weights must be 7-bit there
    (torchao's ``reduce_range``, which ``workbench.quantize`` sets on such CPUs)."""
    packed, w_scales, w_zeros = _packed_int8_weight(weight)
    flat = x.reshape(-1, x.shape[-1])
    unsigned, scale = quantize_tokens(flat, weight.act_quant_kwargs)
    y = torch.ops.onednn.qlinear_pointwise(unsigned, 1.0, 128, packed, w_scales, w_zeros, None, 1.0, 0,
                                            torch.float32, "none", [], "")
    y = torch.addcmul(bias, y, scale) if bias is not None else y.mul_(scale)
    return y.reshape(*x.shape[:-1], y.shape[-1])


def quantize_tokens(flat: torch.Tensor, act_quant_kwargs: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ``flat`` quantized as torchao's dynamic symmetric per-token int8 does
    (``choose_qparams_affine`` and ``quantize_affine``: scale = max |x| / 127.5, at least float32's
    eps; q = clamp(round(x * (1 / scale)), -128, 127)), returned as ``q + 128`` in unsigned bytes
    with the scales as a column — the same bytes, in plain in-place tensor ops, without torchao's
    tensor subclass, whose Python dispatch per layer and call cost more than the arithmetic at small
    batch sizes. Activations with torchao's ``reduce_range`` (7 bits) go through torchao itself."""
    if getattr(act_quant_kwargs, "reduce_range", False):
        from torchao.quantization.quantize_.common import _choose_quant_func_and_quantize_tensor

        q = _choose_quant_func_and_quantize_tensor(flat, act_quant_kwargs)
        return torch.bitwise_xor(q.qdata.view(torch.uint8), 128), q.scale.reshape(-1, 1).to(torch.float32)
    scale = torch.linalg.vector_norm(flat, ord=float("inf"), dim=1, keepdim=True).div_(127.5).clamp_(min=_EPS)
    q = torch.mul(flat, scale.reciprocal()).round_().add_(128).clamp_(0, 255)
    return q.to(torch.uint8), scale


def onednn_int8_available() -> bool:
    """Whether this torch build has oneDNN's int8 linear op and its weight packing."""
    return (torch.backends.mkldnn.is_available() and hasattr(torch.ops.onednn, "qlinear_pointwise")
            and hasattr(torch.ops.onednn, "qlinear_prepack"))


def int8_kernel_choice(reduce_range: bool) -> Int8Choice:
    """Measure plain torchao's int8 linear and the oneDNN route (``int8_linear``) once per process
    (per activation range), on ``INT8_PROBE_SHAPES``; pick oneDNN when it is ``MIN_GAIN``× faster
    (geometric mean) and within ``INT8_TOLERANCE`` of torchao's outputs."""
    with _lock:
        if reduce_range in _int8_choices:
            return _int8_choices[reduce_range]
    from workbench.quantize import quantize_linear

    gen = torch.Generator().manual_seed(0)
    plain, ours, rel = 1.0, 1.0, 0.0
    available = onednn_int8_available()
    with torch.inference_mode():
        for m, k, n in INT8_PROBE_SHAPES:
            layer = torch.nn.Linear(k, n)
            with torch.no_grad():
                layer.weight.copy_(torch.randn(n, k, generator=gen) * 0.05)
                layer.bias.copy_(torch.randn(n, generator=gen))
            quantize_linear(layer, reduce_range=reduce_range)
            x = torch.randn(m, k, generator=gen)
            ops = 2.0 * m * k * n
            plain *= _gflops(lambda: F.linear(x, layer.weight, layer.bias), ops, 0.05) ** (1 / len(INT8_PROBE_SHAPES))
            if available:
                try:
                    ours *= _gflops(lambda: int8_linear(x, layer.weight, layer.bias), ops, 0.05) ** (
                        1 / len(INT8_PROBE_SHAPES))
                    ref, got = F.linear(x, layer.weight, layer.bias), int8_linear(x, layer.weight, layer.bias)
                    rel = max(rel, float((ref - got).abs().max() / ref.abs().max()))
                except RuntimeError:
                    available = False
    best = "onednn-int8" if available and ours >= MIN_GAIN * plain and rel <= INT8_TOLERANCE else "torchao"
    choice = Int8Choice(best, round(plain, 2), round(ours, 2) if available else None, rel if available else None)
    with _lock:
        return _int8_choices.setdefault(reduce_range, choice)


class CpuKernels(TorchFunctionMode):
    """Routes CPU ``F.linear`` and 2-D ``torch.addmm`` (GPT-2's Conv1D) in ``dtype`` to oneDNN
    when no gradient is being recorded; a model's weights (``nn.Parameter``) are packed once
    (``pack_weight``), other weights are used as they are. In half precision, attention runs as
    matmuls and a softmax over a few batch rows at a time, faster than SDPA's flash kernel
    (``half_attention``). With ``int8``, linear layers with torchao int8 weights run through
    oneDNN's int8 linear (``int8_linear``); ``linear=False`` leaves the float ones to torch. Every
    other call runs as it would."""

    def __init__(self, dtype: torch.dtype, *, linear: bool = True, int8: bool = False) -> None:
        super().__init__()
        self.dtype = dtype
        self.linear = linear and onednn_dtype_supported(dtype)  # else linear layers stay torch's, attention still ours
        self.int8 = int8

    @property
    def name(self) -> str:
        """What the mode routes, as the runner reports it: ``onednn``, ``onednn-int8`` or both."""
        return "+".join(n for n, on in (("onednn", self.linear), ("onednn-int8", self.int8)) if on) or "torch"

    def _fits(self, *tensors: torch.Tensor | None) -> bool:
        return self.linear and all(t is None or (_plain(t) and t.device.type == "cpu" and t.dtype == self.dtype)
                                   for t in tensors)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        if func is F.linear and not torch.is_grad_enabled():
            x, weight = args[0], args[1] if len(args) > 1 else kwargs.get("weight")
            bias = args[2] if len(args) > 2 else kwargs.get("bias")
            if (self.int8 and _int8_weight(weight) and _plain(x) and x.device.type == "cpu"
                    and x.dtype == torch.float32 and (bias is None or bias.dtype == torch.float32)):
                return int8_linear(x, weight, bias)
            if self._fits(x, weight, bias) and x.dim() >= 2 and weight.dim() == 2:
                if isinstance(weight, torch.nn.Parameter):
                    weight = pack_weight(weight)
                return _onednn_linear(x, weight, bias)
        elif func is F.scaled_dot_product_attention and self.dtype in HALF and not torch.is_grad_enabled():
            out = half_attention(*args, **kwargs)
            if out is not None:
                return out
        elif func is torch.addmm and not torch.is_grad_enabled() and len(args) == 3 and not kwargs:
            bias, x, weight = args
            if self._fits(bias, x, weight) and x.dim() == 2 and weight.dim() == 2 and bias.dim() == 1:
                packed = pack_weight(weight, transposed=True) if isinstance(weight, torch.nn.Parameter) else weight.t()
                return _onednn_linear(x, packed, bias)
        return func(*args, **kwargs)


def half_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, attn_mask: torch.Tensor | None = None,
                   dropout_p: float = 0.0, is_causal: bool = False, scale: float | None = None,
                   enable_gqa: bool = False) -> torch.Tensor | None:
    """``F.scaled_dot_product_attention`` for half-precision CPU tensors as
    ``softmax((q·scale)·kᵀ + mask)·v``, a few batch rows at a time so that each chunk's scores
    (about ``ATTENTION_CHUNK_BYTES``) stay in the CPU's cache: 1.2-1.6× faster than SDPA's flash
    kernel on BERT-like shapes (12 heads of 32, 32-512 tokens). The scores are rounded to half
    precision before the softmax (the flash kernel keeps them in float32), which about triples
    attention's error against float32; a half-precision model's linear layers err more (MiniLM's
    embeddings: max abs difference 0.078 against 0.070 with SDPA). None where that does not apply,
    so the caller runs SDPA: dropout, causal, grouped heads, a query row with every key masked, or
    one batch row's scores over ``ATTENTION_ROW_BYTES`` (long sequences)."""
    if dropout_p or is_causal or enable_gqa or query.device.type != "cpu" or query.dtype not in HALF:
        return None
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4 or key.shape[:2] != query.shape[:2]:
        return None
    batch, heads, queries, width = query.shape
    row_bytes = heads * queries * key.shape[-2] * query.element_size()
    if row_bytes > ATTENTION_ROW_BYTES:
        return None
    mask = _attention_mask(attn_mask, query.dtype) if attn_mask is not None else None
    if mask is False:
        return None
    per_batch_mask = mask is not None and mask.dim() == 4 and mask.shape[0] == batch > 1
    # a padding bias masks nothing in the rows of full length (most rows of a length-sorted batch)
    padded = mask.ne(0).flatten(1).any(1) if per_batch_mask and mask.shape[2] == 1 else None
    # one pass each to scale q and lay q, k, v out as plain [batch, heads, tokens, width] matrices
    query = torch.mul(query, scale if scale is not None else width ** -0.5,
                      out=torch.empty(query.shape, dtype=query.dtype))
    key, value = key.contiguous(), value.contiguous()
    # the output in [batch, tokens, heads, width] memory: the caller's transpose(1, 2) is free
    out = torch.empty(batch, queries, heads, value.shape[-1], dtype=query.dtype).transpose(1, 2)
    rows = max(1, ATTENTION_CHUNK_BYTES // row_bytes)
    for start in range(0, batch, rows):
        end = min(batch, start + rows)
        scores = torch.matmul(query[start:end], key[start:end].transpose(-1, -2))
        if mask is not None and (padded is None or bool(padded[start:end].any())):
            part = mask[start:end] if per_batch_mask else mask
            scores = scores.masked_fill_(part, float("-inf")) if part.dtype == torch.bool else scores.add_(part)
        out[start:end] = torch.matmul(torch.softmax(scores, -1), value[start:end])
    return out


#: An attention mask -> its form for ``half_attention``; gone with the mask (the layers of one
#: forward pass share one mask, so it is prepared once per pass).
_masks: WeakIdKeyDictionary = WeakIdKeyDictionary()


def _attention_mask(mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor | bool:
    """``mask`` ready to apply to ``dtype`` scores: False when some query may attend to no key
    (SDPA's business); a ``[batch, 1, 1, keys]`` additive bias when a boolean mask only masks keys
    (padding), the same for every query; else a boolean mask of the blocked positions, or a float
    mask as it is."""
    version = None if mask.is_inference() else mask._version
    with _lock:
        hit = _masks.get(mask)
    if hit is None or hit[:2] != (dtype, version):
        form: torch.Tensor | bool
        if mask.dtype == torch.bool:
            blocked = ~mask
            if bool(blocked.all(-1).any()):
                form = False
            elif mask.dim() == 4 and bool((mask == mask[:, :, :1]).all()):
                form = torch.zeros(mask.shape[0], mask.shape[1], 1, mask.shape[3], dtype=dtype)
                form.masked_fill_(blocked[:, :, :1], float("-inf"))
            else:
                form = blocked
        else:
            form = bool((mask > float("-inf")).any(-1).all())  # True: use the mask as it is
        hit = (dtype, version, form)
        with _lock:
            _masks[mask] = hit
    return mask if hit[2] is True else hit[2]


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
    ``MIN_LINEAR_WEIGHT`` elements: there the mode's per-call Python cost outweighs the gain.
    A CPU model with torchao int8 weights also gets the oneDNN int8 route where
    ``int8_kernel_choice`` picks it (``onednn``: always, where the op exists; ``torch``: never)."""
    params = getattr(model, "parameters", None)
    first = next((p for p in params() if p.is_floating_point() and _plain(p)), None) if callable(params) else None
    if first is None:
        return contextlib.nullcontext()
    int8 = _int8_route(model, first.device, kernels)
    if kernels == "auto" and largest_linear(model) < MIN_LINEAR_WEIGHT:
        kernels = "torch"
    context = linear_kernels(first.device, first.dtype, kernels)
    if not int8:
        return context
    return CpuKernels(first.dtype, linear=isinstance(context, CpuKernels), int8=True)


def _int8_route(model: Any, device: torch.device, kernels: str) -> bool:
    """Whether ``model``'s int8 linear layers should run through ``int8_linear``."""
    if kernels == "torch" or device.type != "cpu" or not onednn_int8_available():
        return False
    if kernels == "auto" and os.environ.get("WORKBENCH_KERNELS", "").strip().lower() == "torch":
        return False
    weight = next((m.weight for m in model.modules() if isinstance(m, torch.nn.Linear) and _int8_weight(m.weight)),
                  None)
    if weight is None:
        return False
    if kernels == "onednn":  # full-range weights saturate without VNNI: never routed there
        return bool(weight.reduce_range) or bool(torch.cpu._is_vnni_supported())
    return int8_kernel_choice(bool(weight.reduce_range)).kernel == "onednn-int8"


def int8_kernels(model: Any) -> ContextManager[Any]:
    """For a single run (a tab, Compare): the oneDNN int8 route for ``model``'s int8 linear layers
    where ``int8_kernel_choice`` picks it, float layers left as they are; else no change."""
    params = getattr(model, "parameters", None)
    first = next((p for p in params() if p.is_floating_point() and _plain(p)), None) if callable(params) else None
    if first is None or not _int8_route(model, first.device, "auto"):
        return contextlib.nullcontext()
    return CpuKernels(first.dtype, linear=False, int8=True)


def kernels_name(context: Any) -> str:
    """How the runner reports a ``model_kernels`` context: ``torch``, ``onednn``, ``onednn-int8``…"""
    return context.name if isinstance(context, CpuKernels) else "torch"


def largest_linear(model: Any) -> int:
    """Elements in the largest weight of ``model``'s linear layers (``nn.Linear``, GPT-2's ``Conv1D``)."""
    sizes = [m.weight.numel() for m in model.modules()
             if (isinstance(m, torch.nn.Linear) or type(m).__name__ == "Conv1D")
             and isinstance(getattr(m, "weight", None), torch.Tensor)]
    return max(sizes, default=0)


def matmul_peaks(device: torch.device | str, dtype: torch.dtype, *, size: int | None = None,
                 seconds: float = 0.6, check: Callable[[], None] = lambda: None) -> dict[str, float]:
    """The FLOP/s of square products in ``dtype`` per kernel a model may use: ``torch`` (``a @ b``),
    ``linear`` (``F.linear``, what ``nn.Linear`` calls: for bf16 on a CPU without native bf16 it
    takes a far faster path than ``a @ b``) and, on a CPU with oneDNN, ``onednn`` (the weight
    packed once, as the runner packs a model's); timed like ``kernel_choice``'s probes (best call).
    The benchmark's MFU divides by the best of them, so no model's layers can beat the peak.
    ``check()`` is called before each product (a benchmark's stop check: it raises to end the
    measurement)."""
    device = torch.device(device)
    # Growing sizes, each kernel until its time share is spent: a kernel with no fast path for the
    # dtype (bf16 ``a @ b`` on a CPU without bf16 instructions: ~1 GFLOP/s) stops at a small size
    # instead of spending a minute on one 2048² product.
    sizes = [size] if size else ([1024, 2048, 4096, 8192] if device.type == "cuda" else [256, 512, 1024, 2048])
    best: dict[str, float] = {}
    spent: dict[str, float] = {}
    share = seconds / 3  # per kernel: torch, linear and (where available) onednn
    with torch.inference_mode():
        for n in sizes:
            a = torch.randn(n, n, device=device).to(dtype)
            b = torch.randn(n, n, device=device).to(dtype)
            products: dict[str, Any] = {"torch": lambda: a @ b, "linear": lambda: F.linear(a, b)}
            if device.type == "cpu" and onednn_linear_available():
                try:  # as in kernel_choice: a CPU without the dtype's instructions has no oneDNN path for it
                    packed = torch.ops.mkldnn._reorder_linear_weight(b, PACK_ROWS)
                    products["onednn"] = lambda: _onednn_linear(a, packed, None)
                except RuntimeError:
                    pass
            for name, product in products.items():
                if spent.get(name, 0.0) >= share:
                    continue
                start = time.perf_counter()
                gflops = _gflops(product, 2.0 * n**3, share / len(sizes), device, check=check)
                best[name] = max(best.get(name, 0.0), 1e9 * gflops)
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
    return best


def matmul_peak(device: torch.device | str, dtype: torch.dtype, *, size: int | None = None,
                seconds: float = 0.6) -> float:
    """The best matmul FLOP/s this device reaches in ``dtype`` (``matmul_peaks``' best kernel)."""
    return max(matmul_peaks(device, dtype, size=size, seconds=seconds).values())


def int8_matmul_peaks(device: torch.device | str, *, seconds: float = 0.6,
                      check: Callable[[], None] = lambda: None) -> dict[str, float]:
    """The OP/s of square int8 products (int32 sums) per kernel an int8 model may use: ``int_mm``
    (``torch._int_mm``, plain torchao's) and, on a CPU with oneDNN's int8 linear, ``onednn-int8``
    (the weight packed once, activations unsigned, as ``int8_linear``). Sizes grow from 256 while
    each kernel's share of ``seconds`` lasts, so a slow fallback (``_int_mm`` without VNNI: under
    1 GOP/s) stops early. The benchmark's MFU of an int8 row divides by the best of them."""
    device = torch.device(device)
    sizes = [1024, 2048, 4096, 8192] if device.type == "cuda" else [256, 512, 1024, 2048]
    best: dict[str, float] = {}
    spent: dict[str, float] = {}
    share = seconds / 2
    with torch.inference_mode():
        for n in sizes:
            a = torch.randint(-127, 128, (n, n), dtype=torch.int8, device=device)
            b = torch.randint(-127, 128, (n, n), dtype=torch.int8, device=device)
            products: dict[str, Any] = {"int_mm": lambda: torch._int_mm(a, b)}
            if device.type == "cpu" and onednn_int8_available():
                packed = torch.ops.onednn.qlinear_prepack(b, None)
                unsigned, scales, zeros = a.view(torch.uint8), torch.ones(n), torch.zeros(n, dtype=torch.long)
                products["onednn-int8"] = lambda: torch.ops.onednn.qlinear_pointwise(
                    unsigned, 1.0, 128, packed, scales, zeros, None, 1.0, 0, torch.float32, "none", [], "")
            for name, product in products.items():
                if spent.get(name, 0.0) >= share:
                    continue
                start = time.perf_counter()
                gops = _gflops(product, 2.0 * n**3, share / len(sizes), device, check=check)
                best[name] = max(best.get(name, 0.0), 1e9 * gops)
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start
    return best
