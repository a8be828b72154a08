"""Progress and cancellation of a run (``workbench.progress``) through real pipelines on the tiny
offline models: the stages a run reports, chunk and input counts, and a cancel that really stops
the work between inputs, between chunks and inside one forward pass."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from workbench.errors import RunCancelled
from workbench.progress import RunControl, audio_chunks, watch
from workbench.service import run_task, stream_task

SENTENCES = "\n".join(f"sentence number {i} about tiny models" for i in range(4000))


class Recorder(RunControl):
    """A real ``RunControl`` that also keeps every stage and description it went through."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def set_stage(self, stage: str) -> None:
        super().set_stage(stage)
        self.seen.append(self.describe())

    def end_pass(self, passes: int = 1) -> None:
        super().end_pass(passes)
        self.seen.append(self.describe())


def test_a_run_reports_its_stages_in_order(manager):
    control = Recorder()
    run_task(manager, "text-classification", {"text": "I love it"}, model="offline:text-classification",
             control=control)
    stages = [s.split(":")[0] for s in control.seen]
    order = ["reading inputs", "preprocessing", "inference", "postprocessing", "done"]
    assert [s for s in dict.fromkeys(stages) if not s.startswith("loading")] == order, control.seen
    assert control.done == 1


def test_first_use_reports_loading(tmp_path):
    from workbench.manager import PipelineManager

    control = Recorder()
    run_task(PipelineManager(max_models=1), "fill-mask", {"text": "Paris is the [MASK] of France."},
             model="offline:fill-mask", control=control)
    assert any(s.startswith("loading offline:fill-mask on cpu (first use)") for s in control.seen), control.seen


def test_embeddings_count_their_inputs(manager):
    control = Recorder()
    run_task(manager, "feature-extraction", {"text": "one\ntwo\nthree"}, control=control)
    assert (control.done, control.total) == (3, 3)
    assert any(s.startswith("inference: input 3/3") for s in control.seen), control.seen


def test_chunked_speech_recognition_counts_its_chunks(manager, tmp_path):
    import soundfile as sf

    wave = (0.1 * np.sin(np.linspace(0, 2000, 16000 * 12))).astype(np.float32)
    path = tmp_path / "long.wav"
    sf.write(path, wave, 16000)
    control = Recorder()
    run_task(manager, "automatic-speech-recognition", {"audio": str(path)}, {"chunk_length_s": 3},
             model="offline:automatic-speech-recognition", control=control)
    expected = audio_chunks(wave, None, 3)
    assert expected > 3 and control.done == control.total == expected
    assert any(s.startswith(f"inference: chunk 2/{expected}") for s in control.seen), control.seen


def test_cancel_stops_a_long_run_between_inputs(manager):
    control = RunControl()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            run_task(manager, "feature-extraction", {"text": SENTENCES}, control=control)
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    while control.done < 3 and worker.is_alive():
        worker.join(0.05)
    assert worker.is_alive(), "the run ended before it could be cancelled"
    control.cancel()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the worker kept running after Cancel"
    assert len(errors) == 1 and isinstance(errors[0], RunCancelled)
    assert "Cancelled during" in str(errors[0]) and "/4000" in str(errors[0])
    assert control.done < 4000


def test_a_cancelled_run_stops_inside_the_forward_pass(manager):
    """The layer hooks stop one long forward pass: a cancelled run never reaches the encoder's layers."""
    pipe = manager.get("feature-extraction")
    layers_run = []
    layer = next(m for m in pipe.model.modules() if m.__class__.__name__.endswith("Layer"))
    handle = layer.register_forward_hook(lambda *a: layers_run.append(1))
    control = RunControl()
    try:
        with watch(pipe, control):
            encoded = pipe.tokenizer("a few words", return_tensors="pt")
            control.cancel()
            with pytest.raises(RunCancelled):
                pipe.model.base_model.encoder(pipe.model.base_model.embeddings(encoded["input_ids"]))
    finally:
        handle.remove()
    assert layers_run == []
    with watch(pipe, RunControl()):  # a new run on the same pipeline is not affected
        assert len(pipe("still works")) == 1


def test_hooks_do_nothing_outside_a_watched_run(manager):
    pipe = manager.get("text-classification", "offline:text-classification")
    with watch(pipe, RunControl()):
        pass
    assert pipe("no run is watched in this thread")  # the installed hooks stay, and are inert here


def test_a_cancelled_stream_stops_and_keeps_its_text(manager):
    control = RunControl()
    updates = []
    for result in stream_task(manager, "text-generation", {"text": "Once upon a time"}, {"max_new_tokens": 100},
                              model="offline:text-generation", control=control):
        updates.append(result)
        if len(updates) == 2:
            control.cancel()
    assert updates[-1].done and updates[-1].stopped
    assert updates[-1].timings["new_tokens"] < 100
