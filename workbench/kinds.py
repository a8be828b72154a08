"""Input kinds: what one kind of input means, in one object per kind.

A task names its inputs (``spec.inputs``: ``("question", "context")``, ``("image",)``…) and each
input has a kind (``spec.input_kind(name)``): ``text``, ``lines`` (one item per line), ``image``,
``images`` (several in one run), ``document`` (a page image or a PDF page), ``audio``, ``video`` or
``table``. The kind owns decoding a value a user gave — under the hosting policy, which decides
which paths and URLs may be read and what decoding may cost — for a single run (``decode``) and
for one item of a batch (``item``: benchmark workloads, dataset jobs), its API description and its
snippet expression.
The service, the workloads, the jobs and the snippets ask the kind; none of them switches on an
input's name. The widgets of each kind are in ``components/inputs.py`` (no gradio here).

Every media value is decoded by our code (``workbench.inputs``, ``workbench.audio_inputs``,
``workbench.video``): a pipeline is never handed a string it would fetch or open itself.

>>> KINDS["lines"].decode("a\\n\\n b \\n", HostingPolicy.local())
['a', 'b']
>>> KINDS["text"].decode("x" * 6, HostingPolicy(max_text_chars=5))
Traceback (most recent call last):
...
workbench.errors.InputError: The text is 6 characters long, more than the 5 this workbench takes; shorten it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from workbench.errors import InputError
from workbench.hosting import HostingPolicy


def quoted(s: str) -> str:
    """A double-quoted Python string literal.

    >>> print(quoted('say "hi"'))
    "say \\"hi\\""
    """
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def shown_path(value: str) -> str:
    """A path as a snippet shows it: an upload by its file name (its folder is a server's temp folder)."""
    from pathlib import Path

    from workbench.uploads import is_upload

    return Path(value).name if is_upload(value) else value


@dataclass(frozen=True)
class InputKind:
    """One kind of input. ``description`` is what the input means to an API client; subclasses
    decode (``decode``, ``item``) and write the snippet's expression (``snippet``)."""

    name: str
    description: str

    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "input", page: Any = None) -> Any:
        """The value a single run hands to its call, checked and decoded under ``policy``
        (``what``: the input's name, for messages; ``page``: the UI's page number, from 1)."""
        raise NotImplementedError

    def item(self, value: Any, policy: HostingPolicy, *, what: str = "input", rate: int = 16_000,
             stored_as: str | None = None) -> Any:
        """One item of a batch (a workload's, a job's row) as the pipeline takes it: like ``decode``,
        and audio already at ``rate`` Hz. ``stored_as`` is the file name of media stored as bytes."""
        return self.decode(value, policy, what=what)

    def snippet(self, value: Any, setup: list[str], *, what: str, page: Any = None) -> str:
        """A Python expression for ``value`` in the code view, adding the lines it needs to ``setup``."""
        if value is None:
            return "None"
        if isinstance(value, str):
            return repr(shown_path(value))
        if isinstance(value, (list, tuple, dict, int, float, bool)):
            return repr(value)
        setup.append(f"{what} = ...  # your {what} here (uploaded in the UI)")
        return what


@dataclass(frozen=True)
class Text(InputKind):
    """A text, within ``policy.max_text_chars``."""

    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "text", page: Any = None) -> str:
        from workbench.inputs import require_text

        text = require_text(None if isinstance(value, float) and value != value else value, what)
        _check_chars(text, policy, what)
        return text

    def snippet(self, value: Any, setup: list[str], *, what: str, page: Any = None) -> str:
        return repr(value) if isinstance(value, str) else super().snippet(value, setup, what=what)


@dataclass(frozen=True)
class Lines(Text):
    """One item per non-empty line (the sentences of the embeddings tab), within
    ``policy.max_text_lines`` lines and ``max_text_chars`` characters in all."""

    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "text", page: Any = None) -> list[str]:
        lines = [line.strip() for line in super().decode(value, policy, what=what).splitlines() if line.strip()]
        cap = policy.max_text_lines
        if cap is not None and len(lines) > cap:
            raise InputError(f"The {what} has {len(lines)} lines, more than the {cap} this workbench takes in one "
                             "run; run the rest as a dataset job (python -m workbench run) or in several runs.")
        return lines

    def item(self, value: Any, policy: HostingPolicy, *, what: str = "input", rate: int = 16_000,
             stored_as: str | None = None) -> str:
        return Text.decode(self, value, policy, what=what)  # a batch item is one line already

    def snippet(self, value: Any, setup: list[str], *, what: str, page: Any = None) -> str:
        return repr([s.strip() for s in str(value or "").splitlines() if s.strip()])


@dataclass(frozen=True)
class Image(InputKind):
    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "image", page: Any = None) -> Any:
        from workbench.inputs import load_image

        return load_image(value, policy)

    def item(self, value: Any, policy: HostingPolicy, *, what: str = "input", rate: int = 16_000,
             stored_as: str | None = None) -> Any:
        from workbench.inputs import load_image

        return load_image(value, policy, name=stored_as)


@dataclass(frozen=True)
class Images(Image):
    """Several images in one run (Image embeddings: their similarities), at most
    ``policy.max_images``. A run takes a list — of what ``Image`` takes, or of a gallery's
    ``(path, caption)`` pairs — or one text of paths or URLs, one per line; a single image is a
    list of one. A batch item is one image, as ``Image`` decodes it.

    >>> import numpy as np
    >>> [im.size for im in KINDS["images"].decode([np.zeros((4, 6, 3), np.uint8), (np.zeros((2, 2, 3), np.uint8), "")],
    ...                                           HostingPolicy.local())]
    [(6, 4), (2, 2)]
    >>> KINDS["images"].decode(" \\n", HostingPolicy.local())
    Traceback (most recent call last):
    ...
    workbench.errors.InputError: No images given: upload one or more images, or give their http(s) URLs, one per line.
    """

    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "images", page: Any = None) -> list[Any]:
        from workbench.inputs import load_image

        values = _several(value)
        if not values:
            raise InputError("No images given: upload one or more images, or give their http(s) URLs, one per line.")
        cap = policy.max_images
        if cap is not None and len(values) > cap:
            raise InputError(f"{len(values)} images given, more than the {cap} this workbench takes in one run; "
                             "run the rest as a dataset job (python -m workbench run) or in several runs.")
        return [load_image(v, policy) for v in values]

    def snippet(self, value: Any, setup: list[str], *, what: str, page: Any = None) -> str:
        values = _several(value)
        if values and all(isinstance(v, str) for v in values):
            return repr([shown_path(v) for v in values])
        return super().snippet(value, setup, what=what)


def _several(value: Any) -> list[Any]:
    """The items of a several-images value: a list's items (a gallery's ``(image, caption)`` pairs
    as their images), a text's non-empty lines, one image as a list of one; nothing for nothing."""
    if value is None:
        return []
    if isinstance(value, str):
        return [line.strip() for line in value.splitlines() if line.strip()]
    if isinstance(value, (list, tuple)):
        return [v[0] if isinstance(v, (list, tuple)) and len(v) == 2 and isinstance(v[1], (str, type(None))) else v
                for v in value if v is not None]
    return [value]


@dataclass(frozen=True)
class Document(InputKind):
    """A page image, or one page of a PDF (rendered by ``workbench.inputs.load_document``)."""

    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "document", page: Any = None) -> Any:
        from workbench.inputs import load_document

        return load_document(value, page_index(page), policy)

    def item(self, value: Any, policy: HostingPolicy, *, what: str = "input", rate: int = 16_000,
             stored_as: str | None = None) -> Any:
        from workbench.inputs import load_document

        return load_document(value, 0, policy)

    def snippet(self, value: Any, setup: list[str], *, what: str, page: Any = None) -> str:
        if isinstance(value, str) and value.lower().endswith(".pdf"):
            setup += ["import pypdfium2", f"{what} = pypdfium2.PdfDocument({quoted(shown_path(value))})"
                                          f"[{page_index(page)}].render(scale=2).to_pil()"]
            return what
        return super().snippet(value, setup, what=what)


@dataclass(frozen=True)
class Audio(InputKind):
    """Audio decoded at its own rate for a run (``{"array", "sampling_rate"}``: the call resamples it
    to the model's rate once the model is loaded); a batch item at the pipeline's rate."""

    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "audio", page: Any = None) -> dict[str, Any]:
        from workbench.audio_inputs import decode_audio

        if value is None or (isinstance(value, str) and not value.strip()):
            raise InputError("No audio given: record with the microphone or upload a file (wav, flac, mp3, ogg).")
        wave, rate = decode_audio(value, policy)
        return {"array": wave, "sampling_rate": rate}

    def item(self, value: Any, policy: HostingPolicy, *, what: str = "input", rate: int = 16_000,
             stored_as: str | None = None) -> Any:
        from workbench.audio_inputs import load_audio

        return load_audio(value, rate, policy)

    def snippet(self, value: Any, setup: list[str], *, what: str, page: Any = None) -> str:
        if isinstance(value, str):
            setup += ["import librosa", f"{what}, _ = librosa.load({quoted(shown_path(value))}, "
                                        "sr=pipe.feature_extractor.sampling_rate, mono=True)"]
            return what
        return super().snippet(value, setup, what=what)


@dataclass(frozen=True)
class Video(InputKind):
    """A video file, checked (path, container, caps) now and decoded by the video call once the
    model says how many frames it takes (``workbench.video``)."""

    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "video", page: Any = None) -> str:
        from workbench.video import probe_video

        return probe_video(value, policy=policy).path


@dataclass(frozen=True)
class Table(InputKind):
    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "table", page: Any = None) -> Any:
        from workbench.inputs import load_table

        return load_table(value, policy)

    def snippet(self, value: Any, setup: list[str], *, what: str, page: Any = None) -> str:
        setup.insert(0, "import pandas as pd")
        table = value.to_dict(orient="list") if hasattr(value, "to_dict") else value
        return f"pd.DataFrame({table!r})"


@dataclass(frozen=True)
class Json(Text):
    """A JSON value typed as text (or given already parsed by an API client): an object or a list,
    within ``policy.max_text_chars`` characters."""

    def decode(self, value: Any, policy: HostingPolicy, *, what: str = "input", page: Any = None) -> Any:
        import json

        if isinstance(value, (dict, list)):
            value = json.dumps(value)
        text = super().decode(value, policy, what=what)
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"The {what} must be JSON (an object or a list): {exc.msg} at line {exc.lineno}, "
                             f"column {exc.colno}.") from None
        if not isinstance(parsed, (dict, list)):
            raise InputError(f"The {what} must be a JSON object or list, not a {type(parsed).__name__}.")
        return parsed

    def snippet(self, value: Any, setup: list[str], *, what: str, page: Any = None) -> str:
        import json

        try:
            return repr(json.loads(value) if isinstance(value, str) else value)
        except json.JSONDecodeError:
            return repr(value)


#: How an API or MCP client gives a file: an upload, the file's http(s) URL, or its bytes as a ``data:`` URI.
FILE = "`handle_file(path)`, an http(s) URL, or a `data:` URI"
KINDS: Mapping[str, InputKind] = {k.name: k for k in (
    Text("text", "The input text."),
    Lines("lines", "The texts, one per line."),
    Json("json", "A JSON object or list, as text."),
    Image("image", f"The image file ({FILE}); or leave it empty and give `image_url`."),
    Images("images", f"The images, each a file ({FILE}), in a gallery's list; or leave it empty and give "
                     "`image_url`: URLs, one per line."),
    Document("document", f"The document ({FILE}): a page image or a PDF; or give `image_url`."),
    Audio("audio", f"The audio file ({FILE}): wav, flac, mp3, ogg, m4a or webm."),
    Video("video", f"The video clip ({FILE}): mp4, webm, mkv, mov or avi."),
    Table("table", "The table: {'headers': [...], 'data': [[...], ...]} (all cells as text)."),
)}
#: The kind of an input when the task does not say (``TaskSpec.kinds``), by input name.
DEFAULT_KINDS: Mapping[str, str] = {"image": "image", "audio": "audio", "video": "video", "table": "table"}


def page_index(value: Any) -> int:
    """The UI's page number (from 1; empty: 1) -> a page index (from 0).

    >>> page_index(None), page_index("3")
    (0, 2)
    """
    try:
        page = int(value) if value not in (None, "") else 1
    except (TypeError, ValueError):
        raise InputError(f"The page number must be a whole number from 1, not {value!r}.") from None
    if page < 1:
        raise InputError(f"Pages are numbered from 1; got {page}.")
    return page - 1


def _check_chars(text: str, policy: HostingPolicy, what: str) -> None:
    cap = policy.max_text_chars
    if cap is not None and len(text) > cap:
        raise InputError(f"The {what} is {len(text)} characters long, more than the {cap} this workbench takes; "
                         "shorten it.")
