"""PipelineManager: caching, eviction, unload, single-flight loading and clear errors."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest

from workbench.errors import DeviceError, DtypeError, ModelNotFoundError, ModelTaskMismatchError
from workbench.manager import PipelineManager
from workbench.models import resolve_model
from workbench.offline import offline_model_path
from workbench.tasks import UnknownTaskError

TASK = "text-classification"


def test_same_key_same_object(manager):
    a = manager.get(TASK)
    b = manager.get("sentiment-analysis", f"offline:{TASK}", device="cpu", dtype="float32")
    assert a is b


def test_local_folder_is_a_model_source(manager):
    folder = offline_model_path(TASK)
    pipe = manager.get(TASK, folder)
    assert pipe("I love this")[0]["label"] in {"NEGATIVE", "POSITIVE"}
    assert resolve_model(folder, TASK).kind == "offline"


def test_dtype_is_part_of_the_key():
    m = PipelineManager(max_models=4)
    fp32 = m.get(TASK, dtype="float32")
    bf16 = m.get(TASK, dtype="bf16")
    assert fp32 is not bf16
    assert next(fp32.model.parameters()).dtype.is_floating_point
    assert str(next(bf16.model.parameters()).dtype) == "torch.bfloat16"
    assert {e.dtype for e in m.loaded()} == {"float32", "bfloat16"}
    assert m.load_count == 2


def test_lru_eviction_at_the_limit():
    m = PipelineManager(max_models=2)
    k32 = m.key(TASK, dtype="float32")
    k16 = m.key(TASK, dtype="bfloat16")
    m.get(TASK, dtype="float32")
    m.get(TASK, dtype="bfloat16")
    m.get(TASK, dtype="float32")  # touch: bf16 is now least recently used
    m.get("fill-mask")
    keys = [e.key for e in m.loaded()]
    assert k16 not in keys and k32 in keys and len(keys) == 2


def test_byte_limit_evicts():
    one = PipelineManager().load(TASK).bytes
    m = PipelineManager(max_models=10, max_bytes=int(one * 1.5))
    m.get(TASK, dtype="float32")
    m.get("fill-mask")
    assert [e.key.task for e in m.loaded()] == ["fill-mask"]


def test_a_device_bound_evicts_and_refuses_on_that_device():
    """``device_bytes`` (hosted: half of each GPU's memory) bounds what one device holds, on top of
    ``max_bytes``: here the CPU, since this machine has no other device."""
    from workbench.errors import OutOfMemoryError

    one = PipelineManager().load(TASK).bytes
    m = PipelineManager(max_models=10, device_bytes={"cpu": int(one * 1.5)})
    assert m.max_bytes is None
    m.get(TASK)
    m.get("fill-mask")
    assert [e.key.task for e in m.loaded()] == ["fill-mask"]
    small = PipelineManager(max_models=10, device_bytes={"cpu": one // 2})
    with pytest.raises(OutOfMemoryError, match=r"more than the .* it keeps on cpu"):
        small.get(TASK)
    assert small.load_count == 0
    assert PipelineManager(max_models=10, device_bytes={"cuda:0": one // 2}).load(TASK).device == "cpu"  # not counted


def test_unload_frees_the_pipeline():
    m = PipelineManager()
    loaded = m.load(TASK)
    key = loaded.key
    ref = weakref.ref(loaded.pipe)
    model_ref = weakref.ref(loaded.pipe.model)
    del loaded
    assert m.unload(key) is True
    gc.collect()
    assert ref() is None and model_ref() is None
    assert m.loaded() == [] and m.unload(key) is False


def test_clear_unloads_everything():
    m = PipelineManager()
    m.get(TASK)
    m.get("fill-mask")
    assert m.clear() == 2 and m.loaded() == []


def test_loaded_reports_facts():
    m = PipelineManager()
    row = m.load(TASK).summary()
    assert row["device"] == "cpu" and row["dtype"] == "float32" and row["random_weights"] is True
    assert row["parameters"] > 1000 and row["memory_mb"] > 0 and row["load_s"] >= 0


def test_eight_threads_one_load():
    m = PipelineManager()
    barrier = threading.Barrier(8)
    results, errors = [], []

    def worker():
        barrier.wait()
        try:
            results.append(m.get(TASK))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert m.load_count == 1
    assert len(results) == 8 and all(r is results[0] for r in results)
    loaded, loaded_now = m.acquire(TASK)
    assert loaded.pipe is results[0] and not loaded_now


def test_failed_load_is_not_cached_and_is_retried():
    m = PipelineManager()
    for _ in range(2):
        with pytest.raises(ModelNotFoundError):
            m.get(TASK, "nobody/no-such-model")
    assert m.loaded() == [] and m.load_count == 0


def test_unknown_task_lists_valid_names():
    with pytest.raises(UnknownTaskError) as info:
        PipelineManager().get("sentiment-analysys")
    msg = str(info.value)
    assert "Did you mean 'sentiment-analysis'" in msg and "text-classification" in msg and "fill-mask" in msg


def test_unknown_model_offline_names_what_is_available():
    with pytest.raises(ModelNotFoundError) as info:
        PipelineManager().get(TASK, "nobody/no-such-model")
    msg = str(info.value)
    assert "nobody/no-such-model" in msg and "Hub cannot be reached" in msg and f"offline:{TASK}" in msg


def test_missing_folder_is_clear(tmp_path):
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        PipelineManager().get(TASK, str(tmp_path))
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        PipelineManager().get(TASK, str(tmp_path / "nope"))


def test_model_that_does_not_fit_the_task():
    with pytest.raises(ModelTaskMismatchError) as info:
        PipelineManager().get("text-generation", f"offline:{TASK}")
    msg = str(info.value)
    assert "cannot do text-generation" in msg and "text-classification" in msg


def test_zero_shot_needs_an_nli_model():
    with pytest.raises(ModelTaskMismatchError, match="entailment"):
        PipelineManager().get("zero-shot-classification", f"offline:{TASK}")


def test_fp16_on_cpu_is_refused_with_advice():
    with pytest.raises(DtypeError) as info:
        PipelineManager().get(TASK, dtype="fp16")
    assert "bfloat16" in str(info.value) and "float32" in str(info.value)


@pytest.mark.parametrize("device", ["cuda", "cuda:3"])
def test_cuda_without_cuda(device):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")  # never the case in CI
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        PipelineManager().get(TASK, device=device)


def test_trust_remote_code_is_off_by_default(monkeypatch):
    monkeypatch.delenv("WORKBENCH_TRUST_REMOTE_CODE", raising=False)
    assert PipelineManager().trust_remote_code is False
    monkeypatch.setenv("WORKBENCH_TRUST_REMOTE_CODE", "1")
    assert PipelineManager().trust_remote_code is True


# ---- reliability: broken models fail clearly, nothing is cached, the next load works --------------


def _copy_model(tmp_path, task: str = TASK):
    import shutil

    dest = tmp_path / "my-model"
    shutil.copytree(offline_model_path(task), dest, ignore=shutil.ignore_patterns("workbench_offline.json"))
    return dest


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_corrupt_weights_name_the_model_and_the_file(tmp_path, damage):
    folder = _copy_model(tmp_path)
    weights = folder / "model.safetensors"
    if damage == "truncated":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
    else:
        weights.write_bytes(b"not a safetensors file at all" * 10)
    m = PipelineManager()
    with pytest.raises(ModelNotFoundError, match=rf"Model `{folder}` could not be loaded: its file `model.safetensors` "
                                                 "is corrupt or incomplete"):
        m.get(TASK, str(folder))
    assert m.loaded() == [] and m.memory()["reserved"] == 0
    assert m.get(TASK)("fine")  # the next good load works


def test_a_folder_that_is_not_a_model(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "config.json").write_text('{"holiday": "Rome"}')
    m = PipelineManager()
    with pytest.raises((ModelNotFoundError, ModelTaskMismatchError), match=rf"Model `{folder}`"):
        m.get(TASK, str(folder))
    (folder / "config.json").unlink()
    with pytest.raises(ModelNotFoundError, match="no config.json"):
        m.get(TASK, str(folder))
    assert m.loaded() == [] and m.get(TASK)("fine")


def test_a_model_of_the_wrong_task_is_not_cached(tmp_path):
    m = PipelineManager()
    with pytest.raises(ModelTaskMismatchError, match=r"Model `offline:text-classification` \(BertForSequenceClassification\)"):
        m.get("text-generation", f"offline:{TASK}")
    assert m.loaded() == [] and m.load_count == 0
    assert m.get("text-generation")("Hello", max_new_tokens=2)


# ---- the byte bound under concurrent loads ---------------------------------------------------------


def test_reservation_estimates_the_loaded_bytes():
    import torch
    from transformers import AutoConfig

    from workbench.hub import estimate_bytes

    m = PipelineManager()
    for dtype, torch_dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        loaded = m.load(TASK, dtype=dtype)
        stored = AutoConfig.from_pretrained(loaded.source.path)  # as saved, before the load cast it
        estimate = estimate_bytes(loaded.source.weights_bytes, stored, torch_dtype)
        assert 0.8 * loaded.bytes <= estimate <= 1.25 * loaded.bytes, (dtype, estimate, loaded.bytes)


def test_a_model_larger_than_the_bound_is_refused_before_loading():
    from workbench.errors import OutOfMemoryError

    one = PipelineManager().load(TASK).bytes
    m = PipelineManager(max_bytes=one // 2)
    with pytest.raises(OutOfMemoryError, match=rf"`offline:{TASK}` needs about .* more than the .* this workbench keeps"):
        m.get(TASK)
    assert m.load_count == 0 and m.memory() == {"loaded": 0, "reserved": 0, "loading": 0, "max_bytes": one // 2}


def test_the_byte_bound_holds_under_concurrent_loads_of_different_models():
    """Two models that do not fit together, loaded at once: the second waits for the first and evicts it."""
    sizes = {t: PipelineManager().load(t).bytes for t in (TASK, "fill-mask", "token-classification")}
    bound = int(max(sizes.values()) * 1.5)
    m = PipelineManager(max_models=10, max_bytes=bound)
    samples, stop = [], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(m.memory())

    sampler = threading.Thread(target=sample)
    sampler.start()
    barrier = threading.Barrier(len(sizes))
    errors = []

    def worker(task):
        barrier.wait()
        try:
            m.get(task)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in sizes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    stop.set()
    sampler.join()
    assert not errors and m.load_count == 3
    assert samples and all(s["loaded"] + s["reserved"] <= bound for s in samples)
    assert max(s["loading"] for s in samples) == 1  # never two loads that would not fit together
    assert len(m.loaded()) == 1


#: Eight first loads at once, of different tasks and dtypes (the red team's finding: interleaved
#: builds left models with mixed dtypes or meta tensors, cached for every later user).
_CONCURRENT = [("text-classification", "float32"), ("fill-mask", "bfloat16"), ("token-classification", "bfloat16"),
               ("feature-extraction", "float32"), ("zero-shot-classification", "bfloat16"),
               ("text-generation", "float32"), ("question-answering", "bfloat16"), ("summarization", "float32")]


def test_concurrent_first_loads_of_different_dtypes_do_not_interleave():
    from tests.task_cases import task_case
    from workbench.offline import offline_model_path
    from workbench.service import run_task
    from workbench.tasks import get_task

    for task, _ in _CONCURRENT:  # built beforehand: what must not interleave is the pipelines' loading
        offline_model_path(task, prefer_real=False)
    m = PipelineManager(max_models=64)
    barrier, errors = threading.Barrier(len(_CONCURRENT)), []

    def first_use(task: str, dtype: str) -> None:
        inputs, params = task_case(get_task(task))
        barrier.wait()
        try:
            run_task(m, task, inputs, params, dtype=dtype)
        except Exception as exc:  # collected: every thread's failure is reported, not just the first
            errors.append(f"{task}/{dtype}: {exc!r}")

    threads = [threading.Thread(target=first_use, args=case) for case in _CONCURRENT]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert errors == []
    assert m.load_count == len(_CONCURRENT)
    for entry in m.loaded():  # and every cached pipeline is whole: its dtype, no meta tensors, it runs
        params = list(entry.pipe.model.parameters())
        assert all(p.device.type == "cpu" for p in params), entry.key
        assert {str(p.dtype).removeprefix("torch.") for p in params} == {entry.key.dtype}, entry.key
        inputs, params = task_case(get_task(entry.key.task))
        run_task(m, entry.key.task, inputs, params, dtype=entry.key.dtype)


def test_runs_are_not_disturbed_by_a_build_of_another_dtype():
    """Inference is not held while another model builds: a float32 run gives the same answer while
    transformers has the process's default dtype set to bfloat16 for a build."""
    import torch

    m = PipelineManager(max_models=4)
    pipe = m.get("fill-mask", dtype="float32")
    before = pipe("Paris is the [MASK] of France.")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)  # what `from_pretrained(dtype=torch.bfloat16)` does while it builds
    try:
        during = pipe("Paris is the [MASK] of France.")
    finally:
        torch.set_default_dtype(previous)
    assert during == before


def test_an_adopted_pipeline_is_served_as_it_is_and_never_evicted():
    from transformers import pipeline

    folder = offline_model_path(TASK)
    pipe = pipeline(TASK, model=folder, device="cpu")  # built outside the manager
    m = PipelineManager(max_models=1)
    loaded = m.adopt(pipe)
    assert loaded.key.task == TASK and loaded.key.model == folder and loaded.source.kind == "given"
    assert (loaded.key.device, loaded.key.dtype) == ("cpu", "float32") and m.load_count == 0
    assert m.get("sentiment-analysis", folder, device="cpu", dtype="float32") is pipe
    other = m.get("fill-mask")  # over max_models=1: the LRU entry would go, but not the adopted one
    assert m.get(TASK, folder, device="cpu", dtype="float32") is pipe and other is m.get("fill-mask")
    assert m.unload(loaded.key) and m.get(TASK, folder, device="cpu", dtype="float32") is not pipe  # loaded anew
    named = m.adopt(pipe, model="my-classifier")
    assert m.get(TASK, "my-classifier", device="cpu", dtype="float32") is pipe and named.key.model == "my-classifier"
    with pytest.raises(Exception, match="not a pipeline of a registered task"):
        m.adopt(object())


def test_pipelines_nobody_asks_for_are_unloaded_after_the_idle_time():
    """``idle_unload_s``: what was not acquired for that long goes; what was, and adopted pipelines, stay."""
    import time

    manager = PipelineManager(idle_unload_s=60)
    old = manager.load("text-classification", "offline:text-classification")
    time.sleep(0.05)
    recent = manager.load("fill-mask", "offline:fill-mask")
    given = manager.adopt(old.pipe, model="given-classifier")
    later = time.monotonic() + 60 - 0.01  # the older is 60 s idle, the more recent just under
    assert manager.unload_idle(now=later) == [old.key]
    assert {e.key for e in manager.loaded()} == {recent.key, given.key}
    manager.get("fill-mask", "offline:fill-mask")  # used again: its idle time starts over
    assert manager.unload_idle(now=time.monotonic() + 59) == []
    assert PipelineManager().unload_idle(now=later + 10**6) == []  # locally, by default, never


def test_the_background_sweep_unloads_idle_pipelines():
    import time

    manager = PipelineManager(idle_unload_s=0.2)
    manager.load("text-classification", "offline:text-classification")
    deadline = time.monotonic() + 30
    while manager.loaded():
        assert time.monotonic() < deadline, "the idle pipeline was not unloaded"
        time.sleep(0.05)
    from workbench.hosting import HostingPolicy

    assert PipelineManager(policy=HostingPolicy.public()).idle_unload_s == 900
