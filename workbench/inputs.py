"""Decode what a user gives (a path, a URL, bytes, Gradio's numpy audio...) into what pipelines take.

Used by the UI and the benchmarks; no Gradio here. Every bad input raises ``InputError`` with a
message that says what was wrong and what is accepted. ``policy`` (a ``HostingPolicy``, local by
default) decides which paths and URLs user input may name and caps pixels and downloads. Audio
lives in ``workbench.audio_inputs`` and is re-exported here.

>>> from workbench.samples import sample_image, sample_waveform
>>> load_image(sample_image()).size
(224, 224)
>>> wave, sr = sample_waveform()
>>> load_audio((sr, (wave * 32767).astype("int16")), 8000).shape
(8000,)
>>> require_text("  hello ")
'  hello '
"""

from __future__ import annotations

import base64
import io
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from workbench.audio_inputs import audio_duration, decode_audio, load_audio, warm_audio  # noqa: F401
from workbench.errors import InputError
from workbench.fetch import fetch_url
from workbench.hosting import HostingPolicy
from workbench.uploads import has_scheme, user_path

#: Resolution PDF pages are rendered at (72 dpi x scale).
PDF_SCALE = 2.0
#: The most seconds Tesseract may take on one page.
OCR_TIMEOUT_S = 60.0
#: Accepted image formats, as said in messages.
IMAGE_FORMATS = "PNG, JPEG, GIF, BMP, TIFF, WebP"

PathLike = str | os.PathLike
_LOCAL = HostingPolicy.local()


# ---------------------------------------------------------------------------------------------
# Images


def load_image(value: Any, policy: HostingPolicy | None = None, *, max_pixels: int | None = None,
               name: str | None = None) -> Image.Image:
    """An RGB ``PIL.Image`` from a PIL image, a numpy array (H×W or H×W×C, uint8 or floats in 0–1),
    a file path (an upload's path, as Gradio gives with ``type="filepath"``), raw bytes, a
    ``data:image/...;base64,`` URI, or an http(s) URL.

    ``policy`` (local by default) decides which paths and URLs may be read (``workbench.uploads``,
    ``workbench.fetch``) and caps the pixels (``policy.max_image_pixels``, or ``max_pixels``): the
    size is checked on the file's header, before the pixels are decoded. EXIF rotation is applied
    and transparency is put on white. ``name`` is the file name that messages give for bytes (a
    dataset's image column stores a file's bytes and its name).

    >>> load_image(np.zeros((4, 6, 3), dtype=np.uint8)).size
    (6, 4)
    >>> load_image(b"not an image")
    Traceback (most recent call last):
    ...
    workbench.errors.InputError: The uploaded bytes could not be read as an image (corrupt, or not an image file). Accepted: PNG, JPEG, GIF, BMP, TIFF, WebP.
    """
    policy = policy or _LOCAL
    max_pixels = max_pixels or policy.max_image_pixels
    if value is None:
        raise InputError("No image given: upload an image, or give an http(s) URL.")
    if isinstance(value, Image.Image):
        _check_pixels(value.size, max_pixels, "The image")
        return _to_rgb(value)
    if isinstance(value, np.ndarray):
        return _to_rgb(_array_to_image(value, max_pixels))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _decode_image(bytes(value), f"The file `{name}`" if name else "The uploaded bytes", max_pixels)
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value).strip()
        if text.startswith("data:"):
            return _decode_image(_data_uri(text), "The data URI", max_pixels)
        if has_scheme(text):
            return _decode_image(fetch_image_bytes(text, policy), f"The content at `{text}`", max_pixels)
        path = user_path(text, policy, "The image")
        if not path.is_file():
            raise InputError(f"Image file `{text}` does not exist. Give an existing file path or an http(s) URL.")
        return _decode_image(path, f"The file `{path.name}`", max_pixels)
    raise InputError(f"Cannot use a {type(value).__name__} as an image. Accepted: a PIL image, a numpy array, "
                     "a file path, bytes, or an http(s) URL.")


def fetch_image_bytes(url: str, policy: HostingPolicy | None = None) -> bytes:
    """The bytes at an image URL (``workbench.fetch`` rules), refusing web pages with a hint."""
    got = fetch_url(url, policy, accept="image/*")
    _refuse_web_page(url, got.content_type)
    return got.data


def _refuse_web_page(url: str, ctype: str) -> None:
    if ctype.startswith("text/") or ctype in ("application/json", "application/xhtml+xml"):
        raise InputError(f"The URL `{url}` returned a {ctype} page, not an image. Use the direct link to the "
                         "image file (right-click the image → copy image address).")


def _check_pixels(size: tuple[int, int], max_pixels: int, what: str) -> None:
    width, height = size
    if width * height > max_pixels:
        raise InputError(f"{what} is {width}×{height} = {width * height / 1e6:.1f} megapixels, more than the "
                         f"{max_pixels / 1e6:g} MP allowed. Resize it and try again.")
    if width == 0 or height == 0:
        raise InputError(f"{what} is empty ({width}×{height} pixels).")


def _decode_image(data: bytes | Path, what: str, max_pixels: int) -> Image.Image:
    """Decode ``data`` (bytes, or a file read lazily) after checking its pixel count on the header.

    ``Image.open`` reads only the header; Pillow's own ``Image.MAX_IMAGE_PIXELS`` check (an error
    above twice it) runs there too and is reported as such; ours (``max_pixels``) runs next, before
    ``load()`` decodes anything.
    """
    if (data.stat().st_size if isinstance(data, Path) else len(data)) == 0:
        raise InputError(f"{what} is empty (0 bytes); it is not an image.")
    try:
        with warnings.catch_warnings():
            # We check the size ourselves below; Pillow's warning (> 89 MP) would only repeat it.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(data if isinstance(data, Path) else io.BytesIO(data)) as img:  # reads the header only
                _check_pixels(img.size, max_pixels, what)
                img.load()
                return _to_rgb(img)  # a new image: closing the file is fine
    except Image.DecompressionBombError as exc:
        raise InputError(f"{what} was refused by Pillow's decompression-bomb protection ({exc}). "
                         "It is far too large in pixels; resize it and try again.") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise InputError(f"{what} could not be read as an image (corrupt, or not an image file). "
                         f"Accepted: {IMAGE_FORMATS}.") from exc


def _array_to_image(array: np.ndarray, max_pixels: int) -> Image.Image:
    arr = np.asarray(array)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise InputError(f"An image array must be H×W, H×W×3 or H×W×4; got shape {arr.shape}.")
    _check_pixels((arr.shape[1], arr.shape[0]), max_pixels, "The image array")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all():
            raise InputError("An image array must hold finite numbers (uint8 0–255, or floats 0–1).")
        scale = 255.0 if np.issubdtype(arr.dtype, np.floating) and arr.max(initial=0) <= 1.0 else 1.0
        arr = np.clip(arr * scale, 0, 255).round().astype(np.uint8)
    return Image.fromarray(arr)


def _to_rgb(img: Image.Image) -> Image.Image:
    img = ImageOps.exif_transpose(img)
    if img.mode == "RGB":
        return img
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _data_uri(uri: str) -> bytes:
    header, _, payload = uri.partition(",")
    if ";base64" not in header:
        raise InputError("Only base64 data URIs are accepted (data:image/png;base64,...).")
    try:
        return base64.b64decode(payload, validate=True)
    except ValueError as exc:
        raise InputError("The data URI is not valid base64.") from exc


# ---------------------------------------------------------------------------------------------
# Documents


def load_document(value: Any, page: int = 0, policy: HostingPolicy | None = None, *,
                  scale: float = PDF_SCALE) -> Image.Image:
    """A page image of a document: a PDF (a path, an http(s) URL or bytes; ``page`` counts from 0,
    rendered with pypdfium2 at ``72 × scale`` dpi, less if the page would exceed
    ``policy.max_image_pixels``) or anything ``load_image`` takes. ``policy`` (local by default)
    decides which paths and URLs may be read. Errors number pages from 1, as the UI's page field and
    people do.

    >>> from workbench.samples import sample_document
    >>> load_document(sample_document()[0]).size
    (800, 500)
    """
    policy = policy or _LOCAL
    if value is None:
        raise InputError("No document given: upload a page image or a PDF, or give an http(s) URL of one.")
    what = "The PDF"
    if isinstance(value, (str, os.PathLike)):
        text = os.fspath(value).strip()
        if has_scheme(text) and not text.startswith("data:"):
            got = fetch_url(text, policy, accept="application/pdf, image/*")
            if got.data[:5] != b"%PDF-":
                _refuse_web_page(text, got.content_type)
                return _decode_image(got.data, f"The content at `{text}`", policy.max_image_pixels)
            value, what = got.data, f"The PDF at {text}"
        elif not text.startswith("data:"):
            path = user_path(text, policy, "The document")
            if not path.is_file():
                raise InputError(f"Document file `{text}` does not exist. Give a PDF or an image.")
            with path.open("rb") as f:
                if f.read(5) != b"%PDF-":
                    return load_image(path, policy)
            value, what = path.read_bytes(), f"The PDF `{path.name}`"
    if isinstance(value, (bytes, bytearray)) and bytes(value[:5]) == b"%PDF-":
        return _render_pdf_page(bytes(value), page, scale, what, policy)
    return load_image(value, policy)


def _render_pdf_page(data: bytes, page: int, scale: float, what: str, policy: HostingPolicy) -> Image.Image:
    """One page, rendered in a child process bounded by the policy's time and memory for a page and
    stopped by the run's Cancel (``workbench.pdf_render``)."""
    from workbench.pdf_render import render_page

    return render_page(data, page, scale=scale, max_pixels=policy.max_image_pixels, what=what,
                       timeout_s=policy.pdf_render_s, max_bytes=policy.pdf_render_bytes)


def ocr_words(image: Image.Image, *, lang: str | None = None,
              timeout_s: float = OCR_TIMEOUT_S) -> list[tuple[str, list[int]]]:
    """Words on ``image`` found by Tesseract, each with its box ``[x0, y0, x1, y1]`` on the 0–1000
    scale LayoutLM and the document-question-answering pipeline use (``word_boxes=``). Tesseract
    is stopped after ``timeout_s`` (pytesseract kills it), and a run cancelled meanwhile stops right
    after (``workbench.progress.current``).

        from workbench.samples import sample_document
        [w for w, _ in ocr_words(sample_document()[0])][:3]
        # -> ['INVOICE', 'Invoice', 'number:']
    """
    try:
        import pytesseract
    except ImportError as exc:
        raise InputError("OCR needs pytesseract and Tesseract: `pip install pytesseract` and "
                         "`apt-get install tesseract-ocr`; or give the words and boxes yourself.") from exc
    from workbench.progress import current

    image = load_image(image)
    try:
        data = pytesseract.image_to_data(image, lang=lang, output_type=pytesseract.Output.DICT, timeout=timeout_s)
    except pytesseract.TesseractNotFoundError as exc:
        raise InputError("OCR needs the Tesseract program, which is not installed (or not on PATH). Install it "
                         "with `apt-get install tesseract-ocr` (macOS: `brew install tesseract`).") from exc
    except pytesseract.TesseractError as exc:
        raise InputError(f"Tesseract failed: {exc}") from exc
    except RuntimeError as exc:  # pytesseract's own timeout ("Tesseract process timeout")
        if "timeout" not in str(exc).lower():
            raise
        raise InputError(f"OCR took more than {timeout_s:g} s on this page; try a smaller or sharper page.") from exc
    if (control := current()) is not None:
        control.check()
    width, height = image.size
    words = []
    for text, x, y, w, h in zip(data["text"], data["left"], data["top"], data["width"], data["height"]):
        if text.strip():
            words.append((text.strip(), [int(1000 * x / width), int(1000 * y / height),
                                         int(1000 * (x + w) / width), int(1000 * (y + h) / height)]))
    return words


# ---------------------------------------------------------------------------------------------
# Tables and text


def load_table(value: Any, policy: HostingPolicy | None = None):
    """A ``pandas.DataFrame`` whose cells are all strings (what TAPAS expects), from a DataFrame, a
    dict of columns, Gradio's ``{"headers": [...], "data": [[...]]}``, or a CSV file path (an upload's
    only, when ``policy`` is hosted).

    >>> load_table({"City": ["Paris", "Rome"], "Population": [2100000, 2800000]}).iloc[1, 1]
    '2800000'
    """
    import pandas as pd

    if value is None:
        raise InputError("No table given: give a CSV file, or type the table.")
    if isinstance(value, pd.DataFrame):
        frame = value.copy()
    elif isinstance(value, dict) and set(value) >= {"headers", "data"}:
        rows, headers = value["data"], value["headers"]
        if not isinstance(headers, list) or not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise InputError("A table must be {'headers': [...], 'data': [[...], ...]}: a list of column names and "
                             "one list of cells per row.")
        try:
            frame = pd.DataFrame(rows, columns=headers)
        except (ValueError, TypeError) as exc:
            raise InputError(f"The table's rows must each have one cell per column ({len(headers)}): {exc}") from exc
    elif isinstance(value, dict):
        try:
            frame = pd.DataFrame(value)
        except ValueError as exc:
            raise InputError(f"The table's columns must all have the same length: {exc}") from exc
    elif isinstance(value, (str, os.PathLike)):
        path = user_path(value, policy or _LOCAL, "The table")
        if not path.is_file():
            raise InputError(f"Table file `{os.fspath(value)}` does not exist; give a CSV file.")
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
            raise InputError(f"The file `{path.name}` could not be read as CSV: {exc}") from exc
    else:
        raise InputError(f"Cannot use a {type(value).__name__} as a table. Accepted: a DataFrame, a dict of "
                         "columns, or a CSV file path.")
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.fillna("").astype(str)
    if frame.empty or not len(frame.columns):
        raise InputError("The table is empty: it needs at least one column and one row.")
    return frame.reset_index(drop=True)


def require_text(value: Any, name: str = "text") -> str:
    """``value`` itself if it is a non-blank string; otherwise ``InputError`` naming the input.

    >>> require_text("   ", "question")
    Traceback (most recent call last):
    ...
    workbench.errors.InputError: The question is empty. Type some text.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        raise InputError(f"The {name} is empty. Type some text.")
    if not isinstance(value, str):
        raise InputError(f"The {name} must be text, not a {type(value).__name__}.")
    return value


def image_chat(image: Any, text: str) -> list[dict[str, Any]]:
    """One user turn holding an image and a question, in the chat format every image-text-to-text
    model's template understands (the pipeline inserts the model's own image token).

    >>> image_chat("photo.png", "What is this?")[0]["content"][1]
    {'type': 'text', 'text': 'What is this?'}
    """
    return [{"role": "user", "content": [{"type": "image", "image": image},
                                         {"type": "text", "text": require_text(text)}]}]


def audio_chat(wave: Any, text: str) -> list[dict[str, Any]]:
    """One user turn holding a clip and a prompt, as any-to-any audio-language models take it (the
    processor inserts the model's own audio tokens).

    >>> audio_chat([0.0, 0.1], "What is it?")[0]["content"][0]["type"]
    'audio'
    """
    return [{"role": "user", "content": [{"type": "audio", "audio": wave}, {"type": "text", "text": require_text(text)}]}]
