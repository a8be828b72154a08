"""oneDNN linear kernels for the runner: same numbers as torch's, used only where asked, in the
calling thread only, never while recording gradients."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile

from workbench.kernels import KernelChoice, CpuKernels, kernel_choice, linear_kernels, onednn_linear_available
from workbench.runner import run_batch

pytestmark = pytest.mark.skipif(not onednn_linear_available(), reason="this torch build has no oneDNN")
ONEDNN_OP = "mkldnn::_linear_pointwise"


def _onednn_calls(prof) -> list[int]:
    """Thread ids of the oneDNN linear calls a profile saw."""
    return [e.thread for e in prof.events() if e.name == ONEDNN_OP]


def test_onednn_linear_gives_torchs_numbers_and_really_runs():
    gen = torch.Generator().manual_seed(0)
    x, w, b = torch.randn(3, 5, 64, generator=gen), torch.randn(32, 64, generator=gen), torch.randn(32, generator=gen)
    conv_w = torch.randn(64, 32, generator=gen)  # GPT-2's Conv1D: addmm(bias, x, weight[in, out])
    with torch.inference_mode():
        expected = (F.linear(x, w, b), F.linear(x, w), torch.addmm(b, x[0], conv_w))
        with profile(activities=[ProfilerActivity.CPU]) as prof, linear_kernels("cpu", torch.float32, "onednn"):
            got = (F.linear(x, w, b), F.linear(x, w), torch.addmm(b, x[0], conv_w))
    for e, g in zip(expected, got):
        assert g.shape == e.shape
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)
    assert len(_onednn_calls(prof)) == 3


def test_model_weights_are_packed_once_per_version():
    from workbench.kernels import pack_weight

    layer = torch.nn.Linear(64, 32)
    conv_weight = torch.nn.Parameter(torch.randn(64, 32))  # GPT-2's Conv1D keeps [in, out]
    x = torch.randn(5, 64)
    with torch.inference_mode():
        first = pack_weight(layer.weight)
        assert pack_weight(layer.weight) is first
        assert pack_weight(conv_weight, transposed=True) is pack_weight(conv_weight, transposed=True)
    with torch.no_grad():
        layer.weight.mul_(2.0)  # changed in place: a new version, packed again
    with torch.inference_mode():
        assert pack_weight(layer.weight) is not first
        with linear_kernels("cpu", torch.float32, "onednn"):
            got, got_conv = layer(x), torch.addmm(layer.bias[:32], x, conv_weight)
        torch.testing.assert_close(got, F.linear(x, layer.weight, layer.bias), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(got_conv, x @ conv_weight + layer.bias[:32], rtol=1e-5, atol=1e-5)


def test_a_model_built_under_inference_mode_runs_with_packed_weights():
    # weights made under inference_mode are inference tensors: they have no version counter
    with torch.inference_mode():
        layer = torch.nn.Linear(64, 32)
        x = torch.randn(5, 64)
        with linear_kernels("cpu", torch.float32, "onednn"):
            first, again = layer(x), layer(x)
        expected = F.linear(x, layer.weight, layer.bias)
    assert layer.weight.is_inference()
    torch.testing.assert_close(first, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(again, expected, rtol=1e-5, atol=1e-5)


FLASH_OP = "aten::_scaled_dot_product_flash_attention_for_cpu"


def _bert_like_qkv(gen: torch.Generator, batch: int = 6, tokens: int = 40, heads: int = 4,
                   dtype: torch.dtype = torch.bfloat16) -> list[torch.Tensor]:
    """q, k, v as a BERT layer hands them to SDPA: [batch, heads, tokens, width] views of
    [batch, tokens, heads × width] projections."""
    return [torch.randn(batch, tokens, heads * 16, generator=gen).view(batch, tokens, heads, 16).transpose(1, 2)
            .to(dtype) for _ in range(3)]


def test_half_precision_attention_skips_the_flash_kernel_and_agrees_with_it(monkeypatch):
    import workbench.kernels as kernels

    gen = torch.Generator().manual_seed(0)
    q, k, v = _bert_like_qkv(gen)
    padding = torch.ones(6, 1, 40, 40, dtype=torch.bool)  # what transformers builds from padding
    padding[0, :, :, -7:] = padding[3, :, :, -20:] = False
    general = torch.rand(6, 1, 40, 40, generator=gen) > 0.3  # a mask that differs from query to query
    general[..., 0] = True
    additive = torch.zeros(6, 1, 1, 40).masked_fill(~padding[:, :, :1], float("-inf")).to(torch.bfloat16)
    finite = torch.zeros(6, 1, 1, 40).masked_fill(~padding[:, :, :1], -1e4).to(torch.bfloat16)  # older models' style
    with torch.inference_mode():
        for mask in (padding, general, additive, finite, None):
            exact_mask = mask.float() if mask is not None and mask.is_floating_point() else mask
            exact = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=exact_mask)
            with profile(activities=[ProfilerActivity.CPU]) as prof, linear_kernels("cpu", torch.bfloat16, "onednn"):
                got = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
            assert not [e for e in prof.events() if e.name == FLASH_OP]
            assert got.shape == q.shape and got.dtype == torch.bfloat16
            torch.testing.assert_close(got.float(), exact, atol=3e-2, rtol=3e-2)
            # one batch row per chunk gives the same numbers
            monkeypatch.setattr(kernels, "ATTENTION_CHUNK_BYTES", 1)
            torch.testing.assert_close(kernels.half_attention(q, k, v, attn_mask=mask), got, atol=0, rtol=0)
            monkeypatch.undo()


def test_half_precision_attention_leaves_the_rest_to_sdpa(monkeypatch):
    import workbench.kernels as kernels

    q, k, v = _bert_like_qkv(torch.Generator().manual_seed(1), batch=2, tokens=8)
    mask = torch.ones(2, 1, 8, 8, dtype=torch.bool)
    with torch.inference_mode():
        assert kernels.half_attention(q, k, v, attn_mask=mask) is not None
        # float32, causal, dropout: SDPA's
        assert kernels.half_attention(q.float(), k.float(), v.float()) is None
        assert kernels.half_attention(q, k, v, is_causal=True) is None
        assert kernels.half_attention(q, k, v, dropout_p=0.1) is None
        # a query that may attend to no key: SDPA decides what that gives
        blocked = mask.clone()
        blocked[1, :, 3, :] = False
        assert kernels.half_attention(q, k, v, attn_mask=blocked) is None
        # long sequences, whose scores would not fit in cache: the flash kernel
        monkeypatch.setattr(kernels, "ATTENTION_ROW_BYTES", 4 * 8 * 8 * 2 - 1)
        assert kernels.half_attention(q, k, v, attn_mask=mask) is None
        with profile(activities=[ProfilerActivity.CPU]) as prof, linear_kernels("cpu", torch.bfloat16, "onednn"):
            F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert len([e for e in prof.events() if e.name == FLASH_OP]) == 1


def test_torch_kernels_and_other_dtypes_are_left_alone():
    x, w = torch.randn(4, 8), torch.randn(2, 8)
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as prof:
        with linear_kernels("cpu", torch.float32, "torch"):
            F.linear(x, w)
        with linear_kernels("cpu", torch.bfloat16, "onednn"):
            F.linear(x, w)  # float32 tensors under a bfloat16 mode: not routed
    assert _onednn_calls(prof) == []
    with pytest.raises(ValueError, match="auto, torch, onednn"):
        linear_kernels("cpu", torch.float32, "fast")


def test_the_mode_acts_in_its_own_thread_only(monkeypatch):
    import workbench.kernels as kernels

    threads: list[int] = []
    real = kernels._onednn_linear

    def spy(*args):
        threads.append(threading.get_ident())
        return real(*args)

    monkeypatch.setattr(kernels, "_onednn_linear", spy)
    x, w = torch.randn(4, 8), torch.randn(2, 8)
    with torch.inference_mode(), linear_kernels("cpu", torch.float32, "onednn"):
        def work() -> None:
            with torch.inference_mode():
                F.linear(x, w)

        worker = threading.Thread(target=work)
        worker.start()
        worker.join()
        F.linear(x, w)
    assert threads == [threading.get_ident()]


def test_gradients_still_flow_under_the_mode():
    layer = torch.nn.Linear(8, 2)
    x = torch.randn(4, 8)
    with linear_kernels("cpu", torch.float32, "onednn"):
        layer(x).sum().backward()
    assert layer.weight.grad is not None and layer.weight.grad.shape == (2, 8)


def test_auto_measures_once_and_can_be_turned_off(monkeypatch):
    choice = kernel_choice(torch.float32)
    assert isinstance(choice, KernelChoice) and choice.kernel in ("torch", "onednn")
    assert choice.torch_gflops > 0 and choice.onednn_gflops is not None
    assert kernel_choice(torch.float32) is choice
    auto = linear_kernels("cpu", torch.float32)
    assert isinstance(auto, CpuKernels) == (choice.kernel == "onednn")
    monkeypatch.setenv("WORKBENCH_KERNELS", "torch")
    assert not isinstance(linear_kernels("cpu", torch.float32), CpuKernels)
    assert not isinstance(linear_kernels("meta", torch.float32, "onednn"), CpuKernels)


def test_auto_keeps_torchs_kernels_for_tiny_models(manager):
    from workbench.kernels import MIN_LINEAR_WEIGHT, largest_linear, model_kernels

    tiny = manager.get("text-classification").model
    minilm = manager.get("feature-extraction").model
    assert largest_linear(tiny) < MIN_LINEAR_WEIGHT <= largest_linear(minilm) == 384 * 1536
    assert not isinstance(model_kernels(tiny), CpuKernels)
    assert isinstance(model_kernels(tiny, "onednn"), CpuKernels)
    assert isinstance(model_kernels(minilm), CpuKernels) == (kernel_choice(torch.float32).kernel == "onednn")


def test_runner_gives_the_same_embeddings_with_either_kernel(manager):
    pipe = manager.get("feature-extraction")  # the real all-MiniLM-L6-v2
    texts = ["A man is playing a guitar.", "hello", "The stock market fell today, but prices rose last week."] * 3
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        ours = run_batch(pipe, texts, batch_size=4, kernels="onednn")
    # per pass: 6 layers × (q, k, v, out, ffn in, ffn out), and the pooler
    assert len(_onednn_calls(prof)) == ours.stats.forward_passes * (6 * 6 + 1)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        theirs = run_batch(pipe, texts, batch_size=4, kernels="torch")
    assert _onednn_calls(prof) == []
    assert ours.stats.kernels == "onednn" and theirs.stats.kernels == "torch"
    for a, b in zip(ours.results, theirs.results):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, atol=1e-4)


def test_minilm_in_bfloat16_with_the_runners_kernels_stays_close_to_float32():
    """The packaged MiniLM in bfloat16 through the runner (oneDNN linear, ``half_attention``)
    against float32 with torch's kernels, on natural-length texts: every token's embedding within
    cosine 0.99, and SDPA's flash kernel never ran."""
    from transformers import pipeline

    from workbench.offline import minilm_path
    from workbench.workloads import natural_texts

    texts = natural_texts(48, seed=3)
    reference = run_batch(pipeline("feature-extraction", model=minilm_path()), texts, batch_size=16,
                          kernels="torch", truncation=True).results
    half = pipeline("feature-extraction", model=minilm_path(), dtype=torch.bfloat16)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        got = run_batch(half, texts, batch_size=16, kernels="onednn", truncation=True).results
    assert not [e for e in prof.events() if e.name == FLASH_OP]
    for a, b in zip(got, reference):
        a, b = np.asarray(a, dtype=np.float64)[0], np.asarray(b, dtype=np.float64)[0]
        assert a.shape == b.shape
        cosine = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
        assert cosine.min() >= 0.99
