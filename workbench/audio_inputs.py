"""Decode audio a user gives (an upload's path, an http(s) URL, bytes, Gradio's ``(rate, array)``…)
into the float32 mono waveform pipelines take, within the hosting policy's limits.

Paths and URLs follow ``workbench.uploads`` and ``workbench.fetch``; the duration cap
(``policy.max_audio_seconds``) is read from a file's header before anything is decoded. Re-exported by
``workbench.inputs``. No Gradio here.

>>> wave = load_audio((8000, (np.sin(np.arange(8000) / 5) * 32767).astype("int16")), 16_000)
>>> wave.shape, wave.dtype
((16000,), dtype('float32'))
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import InputError
from workbench.fetch import fetch
from workbench.hosting import HostingPolicy
from workbench.uploads import has_scheme, user_path

#: Audio whose peak is below this (about -80 dBFS) counts as silence.
SILENCE_PEAK = 1e-4
_LOCAL = HostingPolicy.local()


def load_audio(value: Any, sampling_rate: int = 16_000, policy: HostingPolicy | None = None) -> np.ndarray:
    """A float32 mono waveform at ``sampling_rate`` Hz.

    Accepts what ``decode_audio`` does; audio at any other rate is simply resampled (librosa) — a
    wrong rate is not an error. Raises ``InputError`` for anything ``decode_audio`` refuses, or silence.

    >>> load_audio(np.zeros(100, dtype=np.float32))
    Traceback (most recent call last):
    ...
    workbench.errors.InputError: The audio is silent (peak level below -80 dBFS). Record or upload audio with sound in it.
    """
    wave, rate = decode_audio(value, policy, default_rate=sampling_rate)
    if rate != sampling_rate:
        import librosa

        wave = librosa.resample(wave, orig_sr=rate, target_sr=sampling_rate)
    if float(np.abs(wave).max(initial=0.0)) < SILENCE_PEAK:
        raise InputError("The audio is silent (peak level below -80 dBFS). Record or upload audio with sound in it.")
    return np.ascontiguousarray(wave, dtype=np.float32)


def warm_audio() -> float:
    """Decode and resample a short tone once, as a user's first recording would be, so that the
    one-off costs of the audio path are paid before the first request: importing librosa's audio
    module pulls in numba and scipy.signal, and its first ``load`` imports more of librosa lazily
    (about 15 s together on a loaded 2-core machine; the same recording decodes in milliseconds
    afterwards). Returns the seconds it took. Meant for a background thread at app start.

        warm_audio() >= 0
        # -> True
    """
    import time

    import soundfile as sf

    start = time.perf_counter()
    wave = (0.3 * np.sin(np.linspace(0, 2 * np.pi * 440 * 0.1, 4800, dtype=np.float32))).astype(np.float32)
    data = io.BytesIO()
    sf.write(data, wave, 48_000, format="WAV", subtype="PCM_16")  # browsers record at 48 kHz
    load_audio(data.getvalue(), 16_000)
    return time.perf_counter() - start


def decode_audio(value: Any, policy: HostingPolicy | None = None, *,
                 default_rate: int = 16_000) -> tuple[np.ndarray, int]:
    """``(float32 mono waveform, its sampling rate)`` from a file path (an upload's, as Gradio gives with
    ``type="filepath"``; wav, flac, mp3, ogg — decoded with librosa), an http(s) URL, raw file bytes,
    Gradio's numpy audio ``(rate, array)`` with int16/int32/float samples shaped ``[samples]`` or
    ``[samples, channels]``, a dict ``{"array"|"raw": ..., "sampling_rate": ...}``, or a bare ndarray
    (taken to be at ``default_rate``). Stereo is mixed down to mono by averaging.

    ``policy`` (local by default) decides which paths and URLs may be read and caps the duration
    (``policy.max_audio_seconds``): for files it is read from the header, before decoding.

    >>> decode_audio((8000, np.ones(4000, dtype=np.float32)), default_rate=16_000)[1]
    8000
    """
    policy = policy or _LOCAL
    if value is None:
        raise InputError("No audio given: record or upload audio, or give an http(s) URL.")
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value).strip()
        if has_scheme(text):
            value = fetch(text, policy, accept="audio/*").data
        else:
            path = user_path(text, policy, "The audio")
            if not path.is_file():
                raise InputError(f"Audio file `{text}` does not exist.")
            value = path
    if isinstance(value, (Path, bytes, bytearray)):
        wave, rate = _read_audio_file(value, policy.max_audio_seconds)
    elif isinstance(value, tuple) and len(value) == 2 and np.isscalar(value[0]):
        rate, wave = int(value[0]), _channels_last_to_mono(np.asarray(value[1]))
    elif isinstance(value, dict) and ("array" in value or "raw" in value):
        rate = int(value.get("sampling_rate") or default_rate)
        wave = _channels_last_to_mono(np.asarray(value["array"] if "array" in value else value["raw"]))
    elif isinstance(value, np.ndarray):
        rate, wave = default_rate, _channels_last_to_mono(value)
    else:
        raise InputError(f"Cannot use a {type(value).__name__} as audio. Accepted: a file path, (rate, array) "
                         "as Gradio gives, or a numpy array.")
    wave = _to_float(wave)
    if wave.size == 0:
        raise InputError("The audio is empty (0 samples).")
    if not np.isfinite(wave).all():
        raise InputError("The audio contains NaN or infinite samples.")
    if rate <= 0:
        raise InputError(f"The sampling rate must be positive, got {rate}.")
    _check_duration(wave.size / rate, policy.max_audio_seconds, "The audio")
    return wave, rate


def _check_duration(seconds: float | None, max_seconds: float | None, what: str) -> None:
    if seconds is not None and max_seconds is not None and seconds > max_seconds:
        raise InputError(f"{what} is {_clock(seconds)} long, more than the {_clock(max_seconds)} this workbench "
                         "accepts. Trim it and try again.")


def _clock(seconds: float) -> str:
    """``"45 s"``, ``"15 min"``, ``"1 h 30 min"``: a duration for messages."""
    if seconds < 120:
        return f"{seconds:.3g} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


def audio_duration(source: Path | bytes) -> float | None:
    """Seconds of audio in a file, read from its header (soundfile: WAV, FLAC, OGG, MP3); ``None`` if unknown.

    >>> import soundfile as sf; buf = io.BytesIO(); sf.write(buf, np.zeros(8000), 16000, format="WAV")
    >>> audio_duration(buf.getvalue())
    0.5
    """
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else str(source))
    except Exception:  # libsndfile does not know the format (e.g. AAC): librosa/audioread may still decode it
        return None
    return float(info.frames) / info.samplerate if info.samplerate and info.frames >= 0 else None


def _read_audio_file(value: Path | bytes | bytearray, max_seconds: float | None) -> tuple[np.ndarray, int]:
    import librosa

    if isinstance(value, (bytes, bytearray)):
        source: Any = io.BytesIO(bytes(value))
        what = "The uploaded audio"
        if not value:
            raise InputError("The uploaded audio is empty (0 bytes).")
    else:
        if value.stat().st_size == 0:
            raise InputError(f"Audio file `{value.name}` is empty (0 bytes).")
        source, what = str(value), f"The file `{value.name}`"
    if max_seconds is not None:  # from the header, before decoding
        _check_duration(audio_duration(bytes(value) if isinstance(value, bytearray) else value), max_seconds, what)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # librosa warns before falling back to audioread
            wave, rate = librosa.load(source, sr=None, mono=True)
    except Exception as exc:  # soundfile, audioread and librosa raise many unrelated types
        raise InputError(f"{what} could not be read as audio (corrupt, or not an audio file). "
                         "Accepted: WAV, FLAC, MP3, OGG.") from exc
    return wave, int(rate)


def _channels_last_to_mono(wave: np.ndarray) -> np.ndarray:
    """Mix ``[samples, channels]`` (Gradio/soundfile layout) or ``[channels, samples]`` to mono."""
    if wave.ndim == 1 or wave.size == 0:
        return wave.reshape(-1)
    if wave.ndim != 2:
        raise InputError(f"Audio must be 1-D (mono) or 2-D (with channels); got shape {wave.shape}.")
    channel_axis = 1 if wave.shape[1] <= wave.shape[0] else 0
    return _to_float(wave).mean(axis=channel_axis)


def _to_float(wave: np.ndarray) -> np.ndarray:
    if np.issubdtype(wave.dtype, np.integer):
        info = np.iinfo(wave.dtype)
        if info.min == 0:  # unsigned, e.g. 8-bit WAV
            return ((wave.astype(np.float32) - (info.max + 1) / 2) / ((info.max + 1) / 2)).astype(np.float32)
        return (wave.astype(np.float32) / float(-info.min)).astype(np.float32)
    if np.issubdtype(wave.dtype, np.floating):
        return wave.astype(np.float32, copy=False)
    raise InputError(f"Audio samples must be numbers; got dtype {wave.dtype}.")
