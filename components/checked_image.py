"""An image upload that is checked before anything decodes it: ``CheckedImage``.

``gr.Image`` opens every upload with PIL and, unless ``type="filepath"`` and ``image_mode=None``,
decodes and re-encodes it before our code runs: a 20 KB PNG of 13000×13000 pixels cost 790 MB
there. ``CheckedImage`` is ``gr.Image`` (same browser widget) with ``type="filepath"`` and
``image_mode=None``, whose ``preprocess`` first reads only the image's header: a file that is not an
image, or one over ``max_pixels``, is refused with a clear message (``gr.Error``), and an accepted
upload reaches the task as its file path, decoded once, by ``workbench.inputs.load_image``.

A refused upload reaches the run as a ``Refused`` value, not as an error raised in ``preprocess``:
Gradio would end the event there, before the tab knows whose run it was, so the reason would live
only in a toast. The tab's inputs raise it inside the run (``InputWidgets.to_service``), where the
reason is shown under the output and kept there, and API clients get it as the run's error.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import gradio as gr
from PIL import Image, UnidentifiedImageError

from workbench.hosting import HostingPolicy
from workbench.inputs import IMAGE_FORMATS

ACCEPTED = IMAGE_FORMATS  # one list of the formats, workbench.inputs'


def check_image_header(source: str | Path | IO[bytes], *, max_pixels: int, name: str = "The image") -> tuple[int, int]:
    """``(width, height)`` read from the header alone; ``gr.Error`` if it is not an image or is
    larger than ``max_pixels``.

    >>> buf = io.BytesIO(); Image.new("RGB", (40, 30)).save(buf, "PNG"); _ = buf.seek(0)
    >>> check_image_header(buf, max_pixels=10_000)
    (40, 30)
    """
    try:
        with Image.open(source) as img:  # lazy: reads the header, decodes no pixels
            width, height = img.size
    except Image.DecompressionBombError:
        raise gr.Error(f"{name} has far more pixels than allowed (at most {max_pixels / 1e6:g} MP). "
                       "Resize it and try again.", print_exception=False) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise gr.Error(f"{name} could not be read as an image (corrupt, or not an image file). "
                       f"Accepted: {ACCEPTED}.", print_exception=False) from None
    if width * height > max_pixels:
        raise gr.Error(f"{name} is {width}×{height} = {width * height / 1e6:.1f} MP; at most {max_pixels / 1e6:g} MP "
                       "allowed. Resize it and try again.", print_exception=False)
    return width, height


@dataclass(frozen=True)
class Refused:
    """An upload ``CheckedImage`` refused, and why (raised as ``InputError`` inside the run)."""

    reason: str


class CheckedImage(gr.Image):
    """``gr.Image`` that hands the task a file path, after checking the upload's header
    (``check_image_header``) and never decoding it. Takes ``gr.Image``'s keyword arguments except
    ``type`` and ``image_mode``, plus ``max_pixels``."""

    is_template = True  # the browser side is gr.Image's

    def __init__(self, value: Any = None, *, max_pixels: int = HostingPolicy().max_image_pixels,
                 **kwargs: Any) -> None:
        self.max_pixels = max_pixels
        super().__init__(value, type="filepath", image_mode=None, **kwargs)

    def get_config(self, cls: type | None = None) -> dict[str, Any]:
        # Gradio reads a component's props from its class's __init__ signature; ours takes **kwargs,
        # so without this the browser got no `sources`, `height`... and the Image widget crashed.
        return super().get_config(cls or gr.Image)

    def preprocess(self, payload: Any) -> str | Refused | None:
        if payload is None:
            return None
        name = f"The uploaded file `{payload.orig_name}`" if payload.orig_name else "The uploaded image"
        try:
            if payload.url and payload.url.startswith("data:"):
                try:
                    data = base64.b64decode(payload.url.split(",", 1)[1], validate=False)
                except (IndexError, ValueError):
                    raise gr.Error("The image data URI is not valid base64.", print_exception=False) from None
                check_image_header(io.BytesIO(data), max_pixels=self.max_pixels, name="The image data URI")
            elif payload.path:
                check_image_header(payload.path, max_pixels=self.max_pixels, name=name)
        except gr.Error as exc:
            return Refused(exc.message)
        return super().preprocess(payload)
