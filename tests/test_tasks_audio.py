"""The audio tasks on their tiny offline models (Whisper, Wav2Vec2, CLAP), fed real 16 kHz waveforms.

Weights are random: these tests check output shapes, ordering and equivalences, never meanings.
"""

from __future__ import annotations

import numpy as np
import pytest

from workbench.inputs import load_audio
from workbench.presets import load_presets
from workbench.samples import sample_waveform
from workbench.tasks import TASKS, get_task

AUDIO_TASKS = [name for name, s in TASKS.items() if s.group == "Audio"]
WAVE, SR = sample_waveform()  # 1 s, 440 Hz, 16 kHz float32


def _score(x) -> bool:
    return isinstance(x, (float, np.floating)) and 0.0 <= float(x) <= 1.0


@pytest.mark.parametrize("task", AUDIO_TASKS)
def test_offline_models_take_16khz(manager, task):
    assert manager.get(task).feature_extractor.sampling_rate == SR


# ---- speech recognition --------------------------------------------------------------------------


def test_asr_returns_text(manager):
    spec = get_task("automatic-speech-recognition")
    asr = manager.get(spec.name)
    out = asr(WAVE, **spec.call_kwargs())
    assert set(out) == {"text"} and isinstance(out["text"], str) and out["text"]
    # the dict form with its sampling rate is the same input
    assert asr({"raw": WAVE, "sampling_rate": SR}, **spec.call_kwargs()) == out


@pytest.fixture(scope="module")
def ctc_model(tmp_path_factory) -> str:
    from workbench.offline.audio import wav2vec2_ctc

    path = tmp_path_factory.mktemp("wav2vec2-ctc")
    wav2vec2_ctc(path)
    return str(path)


def test_long_audio_is_chunked_for_ctc_models(manager, ctc_model):
    """A CTC model (Wav2Vec2) takes any length in one pass, with memory growing with it: past 30 s the
    workbench transcribes in 30 s chunks with strides (transformers' ``chunk_length_s``), exactly as
    the pipeline does when asked to, and says so; a short clip is one pass."""
    from workbench.service import run_task

    t = np.arange(35 * SR) / SR
    wave = (0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 0.7 * t)).astype(np.float32)
    pipe = manager.get("automatic-speech-recognition", ctc_model)
    assert pipe.type == "ctc"
    heard: list[int] = []  # samples per forward pass, seen by a torch hook on the model
    hook = pipe.model.register_forward_pre_hook(lambda m, args, kw: heard.append(kw["input_values"].shape[-1]),
                                                with_kwargs=True)
    try:
        r = run_task(manager, "automatic-speech-recognition", {"audio": (SR, wave)}, model=ctc_model)
    finally:
        hook.remove()
    assert heard and max(heard) <= 30 * SR < len(wave)  # never the whole 35 s at once
    assert r.output == pipe(wave.copy(), chunk_length_s=30)
    assert any("transcribed in chunks (chunk_length_s=30)" in n for n in r.notes) and "chunk_length_s=30" in r.code
    short = run_task(manager, "automatic-speech-recognition", {"audio": (SR, wave[:2 * SR])}, model=ctc_model)
    assert short.output == pipe(wave[:2 * SR].copy())
    assert not any("chunks" in n for n in short.notes) and "chunk_length_s" not in short.code


def test_asr_segment_timestamps(manager):
    spec = get_task("automatic-speech-recognition")
    out = manager.get(spec.name)(WAVE, **spec.call_kwargs({"return_timestamps": True}))
    assert set(out) == {"text", "chunks"} and isinstance(out["text"], str)
    assert out["chunks"], "timestamps give at least one segment"
    for chunk in out["chunks"]:
        assert isinstance(chunk["text"], str)
        start, end = chunk["timestamp"]
        assert 0.0 <= start <= end


def test_asr_word_timestamps_are_monotonic(manager):
    spec = get_task("automatic-speech-recognition")
    out = manager.get(spec.name)(WAVE, **spec.call_kwargs({"return_timestamps": "word"}))
    starts = [c["timestamp"][0] for c in out["chunks"]]
    assert out["chunks"] and starts == sorted(starts)
    assert all(c["timestamp"][0] <= c["timestamp"][1] for c in out["chunks"])
    assert "".join(c["text"] for c in out["chunks"]).strip() == out["text"].strip()


def test_asr_chunked_long_audio_batched_equals_unbatched(manager):
    spec = get_task("automatic-speech-recognition")
    asr = manager.get(spec.name)
    long_wave, _ = sample_waveform(seconds=8.0)
    kwargs = spec.call_kwargs({"chunk_length_s": 4})
    assert kwargs == {"chunk_length_s": 4.0}
    one_by_one = asr(long_wave, **kwargs)
    assert set(one_by_one) == {"text"} and isinstance(one_by_one["text"], str) and one_by_one["text"]
    assert asr(long_wave, batch_size=2, **kwargs) == one_by_one
    with_times = asr(long_wave, **spec.call_kwargs({"chunk_length_s": 4, "return_timestamps": True}))
    assert with_times["chunks"] and all(len(c["timestamp"]) == 2 for c in with_times["chunks"])


def test_asr_on_gradio_stereo_44k_audio_decoded_by_load_audio(manager):
    """What the microphone gives (int16 stereo at 44.1 kHz) becomes the pipeline's 16 kHz mono."""
    wave, _ = sample_waveform(sr=44_100)
    stereo = (np.stack([wave, wave], axis=1) * 32767).astype(np.int16)
    asr = manager.get("automatic-speech-recognition")
    decoded = load_audio((44_100, stereo), asr.feature_extractor.sampling_rate)
    assert decoded.shape == (16_000,)
    assert isinstance(asr(decoded)["text"], str)


# ---- classification ------------------------------------------------------------------------------


def test_audio_classification_labels_and_scores(manager):
    spec = get_task("audio-classification")
    clf = manager.get(spec.name)
    out = clf(WAVE, **spec.call_kwargs())
    labels = set(clf.model.config.id2label.values())
    assert [set(r) for r in out] == [{"label", "score"}] * len(labels)  # top_k 5 = every label here
    assert {r["label"] for r in out} == labels == {"yes", "no", "up", "down", "silence"}
    assert all(_score(r["score"]) for r in out)
    scores = [r["score"] for r in out]
    assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0, abs=1e-5)
    assert clf(WAVE, **spec.call_kwargs({"top_k": 2})) == out[:2]


def test_audio_classification_batched_equals_unbatched(manager):
    clf = manager.get("audio-classification")
    waves = [sample_waveform(freq=f)[0] for f in (220.0, 440.0, 880.0)]
    one_by_one = [clf(w, top_k=2) for w in waves]
    batched = clf(waves, top_k=2, batch_size=3)
    for a, b in zip(one_by_one, batched):
        assert [r["label"] for r in a] == [r["label"] for r in b]
        assert [r["score"] for r in a] == pytest.approx([r["score"] for r in b], abs=1e-4)


def test_zero_shot_audio_labels_are_the_candidates(manager):
    spec = get_task("zero-shot-audio-classification")
    candidates = "a dog barking, a beep, music"
    out = manager.get(spec.name)(WAVE, **spec.call_kwargs({"candidate_labels": candidates}))
    assert [set(r) for r in out] == [{"label", "score"}] * 3
    assert sorted(r["label"] for r in out) == sorted(["a dog barking", "a beep", "music"])
    scores = [r["score"] for r in out]
    assert all(_score(s) for s in scores)
    assert scores == sorted(scores, reverse=True) and sum(scores) == pytest.approx(1.0, abs=1e-5)


def test_zero_shot_audio_template_changes_the_text_side(manager):
    spec = get_task("zero-shot-audio-classification")
    pipe = manager.get(spec.name)
    kwargs = spec.call_kwargs({"candidate_labels": "high, low"})
    default = pipe(WAVE, **kwargs)
    same = pipe(WAVE, hypothesis_template="This is a sound of {}.", **kwargs)
    other = pipe(WAVE, **spec.call_kwargs({"candidate_labels": "high, low", "hypothesis_template": "{} pitch"}))
    assert default == same  # the pipeline's default template
    assert {r["label"] for r in other} == {"high", "low"}
    assert [r["score"] for r in other] != pytest.approx([r["score"] for r in default], abs=1e-9)


# ---- presets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("task", AUDIO_TASKS)
def test_preset_examples_run_on_the_offline_model(manager, task):
    spec = get_task(task)
    pipe = manager.get(task)
    for example in load_presets(task).examples:
        audio = load_audio(example.inputs["audio"], pipe.feature_extractor.sampling_rate)
        out = pipe(audio, **spec.call_kwargs(example.params))
        assert isinstance(out, dict if spec.output == "text" else list)
