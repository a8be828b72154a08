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
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import InputError
from workbench.fetch import fetch_url
from workbench.hosting import HostingPolicy
from workbench.media import ACCEPTED as MEDIA_ACCEPTED
from workbench.media import open_media
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
    ``type="filepath"``; wav, flac, mp3, ogg with libsndfile, m4a and webm with FFmpeg), an http(s) URL, raw file bytes,
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
            value = fetch_url(text, policy, accept="audio/*").data
        else:
            path = user_path(text, policy, "The audio")
            if not path.is_file():
                raise InputError(f"Audio file `{text}` does not exist.")
            value = path
    if isinstance(value, (Path, bytes, bytearray)):
        wave, rate = _read_audio_file(value, policy)
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
    if policy.max_audio_samples is not None and wave.size > policy.max_audio_samples:
        raise InputError(f"The audio holds {wave.size / 1e6:.0f} million samples, more than the "
                         f"{policy.max_audio_samples / 1e6:.0f} million this workbench takes; trim it.")
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
    facts = _header(source)
    return facts[0] / facts[1] if facts else None


def _header(source: Path | bytes) -> tuple[int, int, int] | None:
    """``(frames, sampling rate, channels)`` from a file's header via soundfile; ``None`` when
    libsndfile does not know the format (AAC in M4A, Opus in WebM: PyAV reads those)."""
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray)) else str(source))
    except Exception:  # libsndfile raises its own error types, and RuntimeError for unknown formats
        return None
    if not info.samplerate or info.frames < 0:
        return None
    return int(info.frames), int(info.samplerate), int(info.channels)


def _check_cost(frames: int, rate: int, channels: int, policy: HostingPolicy, what: str) -> None:
    """Refuse, before decoding, audio longer than the policy's duration or with more samples than
    it decodes (a 384 kHz file holds 8× the samples of 48 kHz ones of the same length)."""
    _check_duration(frames / rate if rate else None, policy.max_audio_seconds, what)
    cap = policy.max_audio_samples
    if cap is not None and frames * max(channels, 1) > cap:
        raise InputError(f"{what} holds {frames * max(channels, 1) / 1e6:.0f} million samples ({channels} channel(s) "
                         f"at {rate / 1000:g} kHz), more than the {cap / 1e6:.0f} million this workbench decodes; "
                         "trim it, or save it as mono at 16–48 kHz.")


def _read_audio_file(value: Path | bytes | bytearray, policy: HostingPolicy) -> tuple[np.ndarray, int]:
    """Decode a whole file to ``(mono float32 wave, its rate)``: libsndfile (soundfile) for the
    formats it knows, else FFmpeg through ``workbench.media`` (that file only; no playlists). The
    cost is checked on the header first. Never audioread, which runs FFmpeg on any path."""
    import soundfile as sf

    data = bytes(value) if isinstance(value, (bytes, bytearray)) else None
    what = "The uploaded audio" if data is not None else f"The file `{value.name}`"
    if (len(data) if data is not None else value.stat().st_size) == 0:  # type: ignore[union-attr]
        raise InputError(f"{what} is empty (0 bytes).")
    source = data if data is not None else value
    header = _header(source)
    if header is None:
        return _decode_with_ffmpeg(source, policy, what)
    _check_cost(*header, policy, what)
    try:
        wave, rate = sf.read(io.BytesIO(data) if data is not None else str(value), dtype="float32", always_2d=True)
    except Exception as exc:  # a truncated or corrupt file past a valid header
        raise InputError(f"{what} could not be read as audio (corrupt, or not an audio file). "
                         f"{MEDIA_ACCEPTED['audio']}") from exc
    return wave.mean(axis=1) if wave.shape[1] > 1 else wave[:, 0], int(rate)


def _decode_with_ffmpeg(source: Path | bytes, policy: HostingPolicy, what: str) -> tuple[np.ndarray, int]:
    import av

    with open_media(source, "audio") as container:
        if not container.streams.audio:
            raise InputError(f"{what} has no audio stream. {MEDIA_ACCEPTED['audio']}")
        stream = container.streams.audio[0]
        rate = int(stream.rate or stream.codec_context.sample_rate or 0)
        seconds = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                   else (container.duration or 0) / 1e6)
        if not rate:
            raise InputError(f"{what} does not say its sampling rate. {MEDIA_ACCEPTED['audio']}")
        _check_cost(int(seconds * rate), rate, 1, policy, what)  # decoded to mono below
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks, total = [], 0
        limits = [int(policy.max_audio_seconds * rate)] if policy.max_audio_seconds else []
        limit = min(limits + ([policy.max_audio_samples] if policy.max_audio_samples else []), default=None)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    total += chunk.size
                    if limit is not None and total > limit:  # the header undersold it
                        raise InputError(f"{what} is longer than its header said and than this workbench "
                                         "decodes; trim it and try again.")
                    chunks.append(chunk)
        except av.FFmpegError as exc:
            if not chunks:
                raise InputError(f"{what} could not be decoded ({exc.strerror or type(exc).__name__}). "
                                 f"{MEDIA_ACCEPTED['audio']}") from exc
    if not chunks:
        raise InputError(f"{what} holds no audio samples. {MEDIA_ACCEPTED['audio']}")
    return np.concatenate(chunks).astype(np.float32, copy=False), rate


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
