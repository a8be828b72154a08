"""Reading a job's input in chunks of rows, each row numbered by its place in the input.

``open_source(path, format)`` detects the format (``detect_format``) and returns a ``Source``
whose ``frames(rows, skip)`` yields pandas DataFrames of at most ``rows`` rows with the input's
columns plus ``ROW_ID`` (0, 1, 2… over the whole input), skipping the first ``skip`` rows. Memory
stays bounded by one chunk: pandas reads CSV/JSONL in chunks, pyarrow Parquet by record batches,
`datasets` memory-maps a saved dataset and streams ``load_dataset``.

Formats: ``csv``, ``tsv``, ``jsonl``, ``json`` (an array of objects), ``parquet``, ``text`` (one
row a line, column ``text``), ``files`` (a folder of images/audio/videos: column ``path``, sorted
by name), ``disk`` (``datasets.load_from_disk``) and ``datasets`` (``datasets.load_dataset`` on a
local folder or file, streamed; an image/audio folder with a ``metadata.csv`` too). Their ``Image``
and ``Audio`` columns are read undecoded and decoded by the job, as files are.

>>> detect_format("reviews.tsv"), detect_format("lines.txt")
('tsv', 'text')
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd

from workbench.workloads import AUDIO_EXTS, IMAGE_EXTS, VIDEO_EXTS

MEDIA_EXTS = IMAGE_EXTS | AUDIO_EXTS | VIDEO_EXTS

#: The column that numbers rows inside the engines; the output calls it ``id``.
ROW_ID = "__row_id__"
FORMATS = ("csv", "tsv", "jsonl", "json", "parquet", "text", "files", "disk", "datasets")
DATA_EXTS = {".csv", ".tsv", ".json", ".jsonl", ".parquet", ".arrow", ".txt"}


@dataclass
class Source:
    """An input: its path, format, columns, row count (None when unknown without reading it all)
    and how to read it (``frames``)."""

    path: Path
    format: str
    columns: list[str]
    total: int | None
    _chunks: Callable[[int], Iterator[pd.DataFrame]]
    split: str | None = None

    def frames(self, rows: int, skip: int = 0) -> Iterator[pd.DataFrame]:
        """Chunks of at most ``rows`` rows, numbered in ``ROW_ID``, from row ``skip`` on."""
        start = 0
        buffer: list[pd.DataFrame] = []
        held = 0
        for chunk in self._chunks(rows):
            n = len(chunk)
            if start + n <= skip:
                start += n
                continue
            chunk = chunk.reset_index(drop=True)
            chunk[ROW_ID] = range(start, start + n)
            start += n
            if chunk[ROW_ID].iloc[0] < skip:
                chunk = chunk[chunk[ROW_ID] >= skip]
            buffer.append(chunk)
            held += len(chunk)
            while held >= rows:
                frame = pd.concat(buffer, ignore_index=True)
                yield frame.iloc[:rows].reset_index(drop=True)
                rest = frame.iloc[rows:]
                buffer, held = ([rest] if len(rest) else []), len(rest)
        if held:
            yield pd.concat(buffer, ignore_index=True)


def detect_format(path: str | Path) -> str:
    """The format of ``path`` by its suffix or, for a folder, by what it holds."""
    p = Path(path).expanduser()
    if p.is_dir():
        if (p / "dataset_dict.json").exists() or (p / "state.json").exists():
            return "disk"
        files = [f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")]
        if files and all(f.suffix.lower() in MEDIA_EXTS for f in files if f.parent == p) \
                and any(f.parent == p for f in files):
            return "files"
        if any(f.suffix.lower() in DATA_EXTS | MEDIA_EXTS for f in files):
            return "datasets"
        raise ValueError(f"`{path}` holds no data files (CSV, JSON, Parquet, text, images or audio)")
    suffix = p.suffix.lower()
    if suffix == ".json" and p.exists():
        with p.open(encoding="utf-8") as f:
            return "json" if f.read(1).strip() == "[" else "jsonl"
    return {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
            ".parquet": "parquet", ".pq": "parquet"}.get(suffix, "text")


def open_source(path: str | Path, format: str = "auto", *, split: str | None = None) -> Source:
    """The input at ``path``; ``format`` one of ``FORMATS`` or ``auto``."""
    p = Path(path).expanduser()
    if not p.exists():
        raise FileNotFoundError(f"input `{path}` does not exist; give a CSV/JSONL/Parquet/text file, a folder of "
                                "images or audio, or a dataset saved with `datasets`")
    fmt = detect_format(p) if format == "auto" else format
    if fmt not in FORMATS:
        raise ValueError(f"unknown input format {fmt!r}; choose one of {', '.join(FORMATS)} (or auto)")
    return _OPENERS[fmt](p, fmt, split)


def _count_lines(p: Path) -> int:
    with p.open("rb") as f:
        return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def _csv(p: Path, fmt: str, split: str | None) -> Source:
    sep = "\t" if fmt == "tsv" else ","
    columns = list(pd.read_csv(p, sep=sep, nrows=0).columns)
    # Rows counted as lines (an estimate when a quoted cell spans lines): for the progress bar's ETA.
    total = max(0, _count_lines(p) - 1)
    return Source(p, fmt, columns, total, lambda rows: iter(pd.read_csv(p, sep=sep, chunksize=rows)))


def _jsonl(p: Path, fmt: str, split: str | None) -> Source:
    with p.open(encoding="utf-8") as f:
        first = next((line for line in f if line.strip()), None)
    if first is None:
        raise ValueError(f"`{p.name}` is empty")
    columns = list(json.loads(first))
    return Source(p, fmt, columns, _count_lines(p),
                  lambda rows: iter(pd.read_json(p, lines=True, chunksize=rows, dtype=False)))


def _json(p: Path, fmt: str, split: str | None) -> Source:
    frame = pd.DataFrame(json.loads(p.read_text(encoding="utf-8")))
    return Source(p, fmt, list(frame.columns), len(frame),
                  lambda rows: (frame.iloc[i:i + rows] for i in range(0, len(frame), rows)))


def _parquet(p: Path, fmt: str, split: str | None) -> Source:
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(p)
    return Source(p, fmt, list(meta.schema_arrow.names), meta.metadata.num_rows,
                  lambda rows: (b.to_pandas() for b in pq.ParquetFile(p).iter_batches(batch_size=rows)))


def _text(p: Path, fmt: str, split: str | None) -> Source:
    def chunks(rows: int) -> Iterator[pd.DataFrame]:
        with p.open(encoding="utf-8", errors="replace", newline=None) as f:
            lines = (line.rstrip("\n") for line in f)
            while batch := list(itertools.islice(lines, rows)):
                yield pd.DataFrame({"text": batch})

    return Source(p, fmt, ["text"], _count_lines(p), chunks)


def media_files(p: Path) -> list[Path]:
    """The image, audio and video files directly in folder ``p``, sorted by name."""
    return sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in MEDIA_EXTS)


def _files(p: Path, fmt: str, split: str | None) -> Source:
    files = [str(f) for f in media_files(p)]
    if not files:
        raise ValueError(f"`{p}` has no image, audio or video files ({', '.join(sorted(MEDIA_EXTS))})")
    return Source(p, fmt, ["path"], len(files),
                  lambda rows: (pd.DataFrame({"path": files[i:i + rows]}) for i in range(0, len(files), rows)))


def hf_dataset(p: Path, fmt: str, split: str | None, *, streaming: bool = True) -> Any:
    """The `datasets` dataset at ``p``: ``load_from_disk`` (``disk``) or ``load_dataset`` (streamed),
    one split (``split``, else the only or the ``train`` split)."""
    try:
        import datasets
    except ImportError:
        raise ValueError("reading a `datasets` dataset needs the datasets package: pip install datasets") from None
    if fmt == "disk":
        ds = datasets.load_from_disk(str(p))
    else:
        ds = datasets.load_dataset(str(p), streaming=streaming)
    if isinstance(ds, (datasets.DatasetDict, datasets.IterableDatasetDict)):
        names = list(ds)
        chosen = split or (names[0] if len(names) == 1 else "train" if "train" in names else None)
        if chosen not in ds:
            raise ValueError(f"`{p}` has the splits {', '.join(names)}; choose one with --split")
        ds = ds[chosen]
    return undecoded_media(ds)


def undecoded_media(ds: Any) -> Any:
    """``ds`` with its ``Image``, ``Audio`` and ``Video`` columns left as stored (``{"bytes", "path"}``),
    for the engines' own decoding: the same checks and messages as files, one bad row recorded
    rather than fatal, and audio without `datasets`' torchcodec decoder."""
    import datasets

    media = tuple(getattr(datasets, name) for name in ("Image", "Audio", "Video") if hasattr(datasets, name))
    for name, feature in dict(ds.features or {}).items():
        if isinstance(feature, media) and getattr(feature, "decode", False):
            ds = ds.cast_column(name, dataclasses.replace(feature, decode=False))
    return ds


def _datasets(p: Path, fmt: str, split: str | None) -> Source:
    ds = hf_dataset(p, fmt, split)
    columns = list(ds.column_names or ds.features or [])
    total = len(ds) if hasattr(ds, "__len__") else None

    def chunks(rows: int) -> Iterator[pd.DataFrame]:
        for batch in ds.iter(batch_size=rows):
            yield pd.DataFrame(batch)

    return Source(p, fmt, columns, total, chunks, split)


_OPENERS: dict[str, Callable[[Path, str, str | None], Source]] = {
    "csv": _csv, "tsv": _csv, "jsonl": _jsonl, "json": _json, "parquet": _parquet, "text": _text, "files": _files,
    "disk": _datasets, "datasets": _datasets}
