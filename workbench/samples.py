"""Example inputs made by code, so presets and tests need no downloaded files.

>>> sample_image().size
(224, 224)
>>> wave, sr = sample_waveform(); sr, wave.shape
(16000, (16000,))
>>> sample_video_frames().shape
(48, 96, 128, 3)
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

#: Words and their boxes on the sample invoice page, as (word, [x0, y0, x1, y1]) in pixels.
INVOICE_LINES = [
    "INVOICE",
    "Invoice number: 4711",
    "Date: 2024-03-01",
    "Bill to: Mary Smith",
    "Total: 42.50 EUR",
]


def sample_image(size: int = 224) -> Image.Image:
    """A deterministic picture: sky, sun, a red house and a green tree."""
    img = Image.new("RGB", (size, size), (135, 190, 235))
    d = ImageDraw.Draw(img)
    s = size / 224
    d.rectangle([0, 160 * s, size, size], fill=(70, 150, 60))
    d.ellipse([160 * s, 20 * s, 200 * s, 60 * s], fill=(250, 215, 60))
    d.rectangle([40 * s, 100 * s, 120 * s, 170 * s], fill=(190, 40, 40))
    d.polygon([(30 * s, 100 * s), (80 * s, 60 * s), (130 * s, 100 * s)], fill=(110, 60, 40))
    d.rectangle([150 * s, 110 * s, 162 * s, 170 * s], fill=(100, 70, 40))
    d.ellipse([130 * s, 70 * s, 182 * s, 122 * s], fill=(40, 120, 40))
    return img


def _font(size: int) -> ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def sample_document() -> tuple[Image.Image, list[tuple[str, list[int]]]]:
    """A one-page invoice as an image, and its words with boxes on the 0–1000 scale LayoutLM uses."""
    width, height = 800, 500
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    font = _font(28)
    words: list[tuple[str, list[int]]] = []
    y = 40
    for line in INVOICE_LINES:
        x = 50
        for word in line.split():
            x0, y0, x1, y1 = d.textbbox((x, y), word, font=font)
            d.text((x, y), word, fill="black", font=font)
            words.append((word, [int(1000 * x0 / width), int(1000 * y0 / height),
                                 int(1000 * x1 / width), int(1000 * y1 / height)]))
            x = x1 + 14
        y += 80
    return img, words


def sample_waveform(seconds: float = 1.0, sr: int = 16000, freq: float = 440.0) -> tuple[np.ndarray, int]:
    """A float32 mono tone with a little deterministic noise, at ``sr`` Hz."""
    t = np.arange(int(seconds * sr), dtype=np.float32) / sr
    rng = np.random.default_rng(0)
    wave = 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.shape).astype(np.float32)
    return wave.astype(np.float32), sr


def sample_table():
    """A small table of strings, the shape TAPAS expects."""
    import pandas as pd

    return pd.DataFrame({"City": ["Paris", "London", "Berlin"], "Country": ["France", "England", "Germany"],
                         "Population": ["2100000", "8900000", "3600000"]})


def sample_video_frames(n: int = 48, width: int = 128, height: int = 96) -> np.ndarray:
    """``n`` RGB frames (n×H×W×3 uint8) of a red ball crossing a blue sky above green grass.

    >>> sample_video_frames(4).shape
    (4, 96, 128, 3)
    """
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    frames[:] = (135, 190, 235)
    frames[:, height * 2 // 3:] = (70, 150, 60)
    yy, xx = np.mgrid[0:height, 0:width]
    r = height // 8
    for i in range(n):
        cx = r + (width - 2 * r) * i / max(n - 1, 1)
        cy = height / 2 - (height / 4) * np.sin(np.pi * i / max(n - 1, 1))
        frames[i][(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = (200, 40, 40)
    return frames


def write_video(path: str | Path, frames: np.ndarray, fps: int = 24, codec: str = "h264") -> str:
    """Encode RGB ``frames`` (n×H×W×3 uint8, even H and W) into a video file with PyAV (H.264 by
    default: browsers play it, unlike MPEG-4 Part 2, which Chromium refuses as "not playable")."""
    import av

    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        for array in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")))
        container.mux(stream.encode())
    return str(path)


def samples_dir() -> Path:
    """Where generated sample files are written (``$WORKBENCH_SAMPLES_DIR`` or a temp folder)."""
    # v2: clip.mp4 became H.264; a new folder so that no machine keeps serving an older sample
    path = Path(os.environ.get("WORKBENCH_SAMPLES_DIR") or Path(tempfile.gettempdir()) / "pipeline-workbench-samples-v2")
    path.mkdir(parents=True, exist_ok=True)
    return path


@lru_cache(maxsize=None)
def sample_file(name: str) -> str:
    """Write the named sample to a file once and return its path: ``image.png``, ``document.png``,
    ``tone.wav``, ``clip.mp4`` (H.264, 2 s, 24 fps, 128×96). Gradio examples need file paths."""
    import soundfile as sf

    path = samples_dir() / name
    if not path.exists():
        tmp = path.with_suffix(".tmp" + path.suffix)
        if name == "image.png":
            sample_image().save(tmp)
        elif name == "image-turned.png":  # the same scene seen again: turned 12° and cropped (keypoint matching)
            turned = sample_image().rotate(12, resample=Image.Resampling.BICUBIC, fillcolor="white")
            turned.crop((16, 8, 208, 216)).save(tmp)
        elif name == "document.png":
            sample_document()[0].save(tmp)
        elif name == "tone.wav":
            wave, sr = sample_waveform()
            sf.write(tmp, wave, sr)
        elif name == "clip.mp4":
            write_video(tmp, sample_video_frames())
        else:
            raise KeyError(f"no sample named {name!r}; samples: image.png, image-turned.png, document.png, tone.wav, clip.mp4")
        tmp.replace(path)
    return str(path)
