"""Benchmark workloads: deterministic, seeded input lists for each task, and the user's own data.

- ``uniform``: short texts of about the same length (12 words);
- ``natural``: a mix of short lines and spans of consecutive sentences from ``presets/corpus``
  whose lengths are long-tailed (lognormal in sentences), some past a model's maximum length —
  text tasks truncate;
- ``long-tail``: the transformers docs' case: every 64th input is 100× longer than the others;
- ``chat``: the ``natural`` texts as one-message conversations (``[{"role": "user", "content": text}]``),
  for text generation through the model's chat template;
- ``images`` / ``audio`` / ``videos``: generated pictures of several sizes, tones of several
  durations, clips of several lengths (mp4 files, decoded by the video pipeline);
- ``file``: the user's data: a CSV/JSONL column, a text file (one input per line), or a folder
  of files (images, audio, or text files).

Which workloads fit a task, the call keywords its benchmark calls get, and how a generated text
or picture becomes its input (a ``[MASK]`` for fill-mask, ``{"question", "context"}`` for QA…)
are the task's ``spec.bench`` (``workbench.spec.BenchSpec``); nothing here names a task.

>>> w = make_workload("natural", "text-classification", n=8, seed=0)
>>> len(w.items), w.params
(8, {'truncation': True})
>>> make_workload("natural", "text-classification", n=8).items == w.items
True
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from workbench.errors import InputError
from workbench.hosting import HostingPolicy
from workbench.tasks import TaskSpec, get_task
from workbench.uploads import has_scheme, user_path

CORPUS_DIR = Path(__file__).resolve().parent.parent / "presets" / "corpus"
WORKLOADS = ("uniform", "natural", "long-tail", "chat", "images", "audio", "videos", "file")
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
AUDIO_EXTS = {".wav", ".flac", ".mp3", ".ogg", ".m4a"}
VIDEO_EXTS = {".mp4", ".webm", ".mkv", ".mov", ".avi", ".m4v"}


@dataclass(frozen=True)
class Workload:
    """Inputs for one benchmark, the keywords every call gets, and a line describing them."""

    name: str
    items: list[Any] = field(repr=False)
    params: dict[str, Any]
    description: str


# ---------------------------------------------------------------------------------------------
# the corpus


@lru_cache(maxsize=1)
def corpus_sentences() -> tuple[str, ...]:
    """Every sentence of ``presets/corpus/essays.txt``, in order."""
    text = (CORPUS_DIR / "essays.txt").read_text(encoding="utf-8")
    return tuple(s.strip() for s in re.split(r"(?<=[.!?])\s+", text) if s.strip())


@lru_cache(maxsize=1)
def corpus_lines() -> tuple[str, ...]:
    """The short lines of ``presets/corpus/short.txt``."""
    return tuple(x.strip() for x in (CORPUS_DIR / "short.txt").read_text(encoding="utf-8").splitlines() if x.strip())


def _span(rng: np.random.Generator, k: int) -> str:
    sentences = corpus_sentences()
    start = int(rng.integers(len(sentences)))
    return " ".join(sentences[(start + i) % len(sentences)] for i in range(k))


def natural_texts(n: int, seed: int = 0) -> list[str]:
    """A seeded mix: 40% short lines, 60% spans of k sentences with k lognormal (median 2,
    σ 1.0, at most 60), so lengths run from a few tokens to past 512."""
    rng = np.random.default_rng(seed)
    lines = corpus_lines()
    out = []
    for _ in range(n):
        if rng.random() < 0.4:
            out.append(lines[int(rng.integers(len(lines)))])
        else:
            k = int(min(60, max(1, round(rng.lognormal(np.log(2.0), 1.0)))))
            out.append(_span(rng, k))
    return out


def uniform_texts(n: int, seed: int = 0) -> list[str]:
    """Texts of exactly 12 words, cut from the corpus at seeded places."""
    rng = np.random.default_rng(seed)
    words = " ".join(corpus_sentences()).split()
    starts = rng.integers(0, len(words) - 12, size=n)
    return [" ".join(words[s:s + 12]) for s in starts]


def long_tail_texts(n: int, seed: int = 0) -> list[str]:
    """The transformers docs' mix: a short sentence, and every 64th input 100× as long."""
    rng = np.random.default_rng(seed)
    lines = corpus_lines()
    out = []
    for i in range(n):
        line = lines[int(rng.integers(len(lines)))]
        out.append(" ".join([line] * 100) if i % 64 == 0 else line)
    return out


# ---------------------------------------------------------------------------------------------
# images, audio and video


def images(n: int, seed: int = 0) -> list[Any]:
    """Generated scenes of seeded sizes (64–640 px a side, any aspect) and orientations."""
    from PIL import Image

    from workbench.samples import sample_image

    rng = np.random.default_rng(seed)
    base = sample_image(320)
    out = []
    for _ in range(n):
        w, h = (int(v) for v in rng.integers(64, 641, size=2))
        img = base.rotate(int(rng.choice([0, 90, 180, 270])), expand=True)
        if rng.random() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        out.append(img.resize((w, h)))
    return out


def audio_clips(n: int, seed: int = 0, sampling_rate: int = 16000) -> list[np.ndarray]:
    """Tones with a little noise, of seeded durations 0.5–5 s in half-second steps (speech
    datasets cut clips to whole frames; the runner batches clips of equal length)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        seconds = 0.5 * int(rng.integers(1, 11))
        t = np.arange(int(seconds * sampling_rate), dtype=np.float32) / sampling_rate
        wave = 0.3 * np.sin(2 * np.pi * float(rng.uniform(100, 1000)) * t)
        out.append((wave + 0.01 * rng.standard_normal(t.shape)).astype(np.float32))
    return out


def videos(n: int, seed: int = 0) -> list[str]:
    """Paths of generated mp4 clips of seeded lengths (0.5–4 s at 24 fps, 128×96 or 96×128), up to
    eight distinct files reused round-robin (decoding is part of what the video pipeline times)."""
    from workbench.samples import sample_video_frames, samples_dir, write_video

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(min(n, 8)):
        frames = int(rng.integers(1, 9)) * 12
        width, height = (128, 96) if rng.random() < 0.5 else (96, 128)
        path = samples_dir() / f"bench-clip-{seed}-{i}-{frames}-{width}x{height}.mp4"
        if not path.exists():
            tmp = path.with_suffix(".tmp.mp4")
            write_video(tmp, sample_video_frames(frames, width, height))
            tmp.replace(path)
        paths.append(str(path))
    return [paths[i % len(paths)] for i in range(n)]


# ---------------------------------------------------------------------------------------------
# the user's own data


def read_inputs(path: str | Path | list[str], column: str | None = None, n: int | None = None) -> list[Any]:
    """Inputs from the user's file, files or folder.

    - ``.csv`` / ``.tsv`` / ``.jsonl`` / ``.json``: the values of ``column`` (default: the first
      column that holds text);
    - any other file: one input per non-empty line;
    - a folder, or a list of files: the image/audio files as paths (what pipelines accept), or
      the contents of the text files, sorted by name.
    """
    import pandas as pd

    if isinstance(path, (list, tuple)):
        if len(path) == 1:
            return read_inputs(path[0], column, n)
        return _files_inputs(sorted(Path(f) for f in path), n)
    p = Path(path).expanduser()
    if p.is_dir():
        return _files_inputs(sorted(f for f in p.iterdir() if f.is_file() and not f.name.startswith(".")), n)
    elif not p.exists():
        raise FileNotFoundError(f"`{path}` does not exist; give a CSV/JSONL file, a text file or a folder")
    elif p.suffix.lower() in (".csv", ".tsv", ".jsonl", ".json"):
        if p.suffix.lower() == ".jsonl" or (p.suffix.lower() == ".json" and _is_jsonl(p)):
            df = pd.read_json(p, lines=True)
        elif p.suffix.lower() == ".json":
            df = pd.DataFrame(json.loads(p.read_text(encoding="utf-8")))
        else:
            df = pd.read_csv(p, sep="\t" if p.suffix.lower() == ".tsv" else ",")
        if column is None:
            texts = [c for c in df.columns if df[c].dtype == object or pd.api.types.is_string_dtype(df[c])]
            if not texts:
                raise ValueError(f"`{p.name}` has no text column; its columns: {', '.join(map(str, df.columns))}")
            column = texts[0]
        if column not in df.columns:
            raise ValueError(f"`{p.name}` has no column `{column}`; its columns: {', '.join(map(str, df.columns))}")
        items = [v for v in df[column].tolist() if v is not None and v == v and str(v).strip()]
    else:
        items = [line for line in p.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    if not items:
        raise ValueError(f"no inputs found in `{path}`")
    return items[:n] if n else items


def _files_inputs(files: list[Path], n: int | None) -> list[Any]:
    media = [str(f) for f in files if f.suffix.lower() in IMAGE_EXTS | AUDIO_EXTS | VIDEO_EXTS]
    items = media or [f.read_text(encoding="utf-8", errors="replace") for f in files]
    if not items:
        raise ValueError("no inputs found: the folder has no files")
    return items[:n] if n else items


def _is_jsonl(p: Path) -> bool:
    with p.open(encoding="utf-8") as f:
        return not f.read(1).strip().startswith("[")


# ---------------------------------------------------------------------------------------------
# fitting texts to a task


def task_inputs(task: str, texts: list[str], *, mask_token: str = "[MASK]") -> list[Any]:
    """Turn plain texts into the inputs ``task`` takes (its ``spec.bench.item``).

    >>> task_inputs("fill-mask", ["a b c"], mask_token="<mask>")
    ['a <mask> c']
    """
    return get_task(task).bench.make_items(list(texts), mask_token)


def workloads_for(task: str) -> list[str]:
    """The workloads that fit ``task``, the default first (its ``spec.bench.workloads``).

    >>> workloads_for("feature-extraction"), workloads_for("image-classification")
    (['natural', 'uniform', 'long-tail', 'file'], ['images', 'file'])
    """
    return list(get_task(task).bench.workloads)


def decode_items(spec: TaskSpec, items: list[Any], policy: HostingPolicy) -> list[Any]:
    """The user's items decoded by the kind of the task's first input (``spec.input_kind``), up front
    so timings measure the model, and under ``policy``: a path must be one the policy lets user input
    name, a URL goes through the fetcher, media within the policy's caps. On a public host a file's
    items are never fetched (uploads hold the data: one URL each would hold a worker for the fetch
    deadline). Texts stay texts; a bad item is refused with its position."""
    kind = spec.input_kind(spec.inputs[0])
    if kind.name in ("text", "lines", "table"):
        return items
    out = []
    for i, value in enumerate(items, 1):
        if isinstance(value, str) and has_scheme(value.strip()) and not policy.allow_local_paths:
            raise InputError(f"Input {i} of the benchmark's data is a URL; this public workbench benchmarks the files "
                             "you upload and fetches nothing for it.")
        try:
            out.append(kind.item(value, policy, what=f"input {i}"))
        except InputError as exc:
            raise InputError(f"Input {i} of the benchmark's data: {exc}") from exc
    return out


def make_workload(name: str, task: str, *, n: int = 512, seed: int = 0, path: str | list[str] | None = None,
                  column: str | None = None, mask_token: str = "[MASK]",
                  policy: HostingPolicy | None = None) -> Workload:
    """The named workload for ``task``, ``n`` inputs, reproducible from ``seed``; the ``file``
    workload reads ``path`` as ``policy`` allows (hosted: uploads only, media within its caps)."""
    spec = get_task(task)
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; choose one of {', '.join(WORKLOADS)}")
    params = dict(spec.bench.params)
    fits = spec.bench.workloads
    if name == "file":
        if not path:
            raise ValueError("the `file` workload needs a path: a CSV/JSONL file, a text file or a folder")
        policy = policy or HostingPolicy.local()
        paths = [str(user_path(p, policy, "The benchmark's data"))
                 for p in ([path] if isinstance(path, (str, Path)) else path)]
        items = decode_items(spec, read_inputs(paths, column, n), policy)
        if spec.modality != "text" or all(isinstance(x, str) for x in items):
            items = spec.bench.make_items(items if spec.modality != "text" else [str(x) for x in items], mask_token)
        where = Path(paths[0]).name if len(paths) == 1 else f"{len(paths)} files"
        return Workload(name, items, params, f"{len(items)} inputs from {where}")
    if name not in fits:
        generated = [w for w in fits if w != "file"]
        if not generated:
            raise ValueError(f"no generated workload for {spec.name}; use the `file` workload")
        what = {"images": "images", "audio": "audio", "videos": "video clips"}.get(generated[0], "text")
        raise ValueError(f"{spec.name} takes {what}: choose {', '.join(generated)} (or `file` with your own data)")
    if name == "images":
        items, described = images(n, seed), f"{n} generated images, 64–640 px a side (seed {seed})"
    elif name == "audio":
        items, described = audio_clips(n, seed), f"{n} clips of 0.5–5 s at 16 kHz (seed {seed})"
    elif name == "videos":
        items, described = videos(n, seed), f"{n} generated clips of 0.5–4 s at 24 fps (seed {seed})"
    elif name == "chat":
        items = [[{"role": "user", "content": text}] for text in natural_texts(n, seed)]
        described = f"{n} one-message chats of natural-length texts (seed {seed})"
    else:
        maker = {"uniform": uniform_texts, "natural": natural_texts, "long-tail": long_tail_texts}[name]
        items = maker(n, seed)
        described = {"uniform": "texts of 12 words",
                     "natural": "natural-length texts (long-tailed, some past 512 tokens)",
                     "long-tail": "short texts, every 64th 100× longer"}[name]
        described = f"{n} {described} (seed {seed})"
    return Workload(name, spec.bench.make_items(items, mask_token), params, described)
