"""Rendering one PDF page in a child process that can be stopped: by a deadline, a memory bound,
or the run's Cancel.

PDFium cannot be interrupted from Python: a page whose content stream inflates to hundreds of MB
keeps a thread busy for minutes, holding gigabytes. So the page is rendered by a small child
process (``python -m workbench.pdf_render``: pypdfium2 and Pillow only, ~0.2 s to start) that
reads the PDF's bytes on stdin and writes the page as PNG on stdout. The parent waits for it while
checking the run's ``RunControl`` (``workbench.progress.current``) and the deadline, and kills it
on either; the child's address space is capped (``RLIMIT_AS``) so a bomb ends there, not here, and
it runs at a lower priority (``CHILD_NICE``) so a costly page does not slow other users' runs.

    image = render_page(open("invoice.pdf", "rb").read(), 0, scale=2.0, max_pixels=50_000_000)
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from typing import Any

from workbench.errors import InputError

#: Exit status of the child for a page that does not exist (it prints the page count).
NO_SUCH_PAGE = 3
#: Exit status for a document PDFium cannot open (it prints the reason).
UNREADABLE = 4


#: The child's niceness: a page render yields the cores to the server's own threads (other users' runs)
#: when they want them, and runs at full speed when they do not.
CHILD_NICE = 10


def _child_limits(max_bytes: int | None) -> Any:
    def limit() -> None:  # runs in the child, before exec
        import os
        import resource

        os.nice(CHILD_NICE)
        if max_bytes:
            resource.setrlimit(resource.RLIMIT_AS, (max_bytes, max_bytes))

    return limit


def render_page(data: bytes, page: int, *, scale: float, max_pixels: int, what: str = "The PDF",
                timeout_s: float | None = None, max_bytes: int | None = None) -> Any:
    """The RGB image of ``page`` (from 0) of the PDF ``data``, rendered at ``72 × scale`` dpi (less
    when the page would exceed ``max_pixels``), in a child process killed after ``timeout_s`` or
    on Cancel, with at most ``max_bytes`` of address space. ``InputError`` for what the user can fix."""
    from PIL import Image

    from workbench.progress import current

    args = json.dumps({"page": page, "scale": scale, "max_pixels": max_pixels})
    child = subprocess.Popen([sys.executable, "-m", "workbench.pdf_render", args], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_child_limits(max_bytes))
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    control = current()
    try:
        out = _communicate(child, data, deadline, control)
    except BaseException:
        child.kill()
        child.wait()
        raise
    if out is None:
        child.kill()
        child.wait()
        raise InputError(f"{what} took more than {timeout_s:g} s to render; this workbench renders a page for at most "
                         "that long. Try a simpler page, or a picture of it.")
    stdout, stderr = out
    if child.returncode == NO_SUCH_PAGE:
        count = int(stdout or 0)
        choose = "it has only page 1" if count == 1 else f"choose a page from 1 to {count}"
        raise InputError(f"{what} has {count} page{'s' * (count != 1)}; there is no page {page + 1}: {choose}.")
    if child.returncode == UNREADABLE:
        raise InputError(f"{what} could not be opened (corrupt, encrypted, or not a PDF): "
                         f"{stderr.decode(errors='replace').strip()[:200]}")
    if child.returncode != 0:  # killed by its memory bound, or PDFium failed
        raise InputError(f"{what} could not be rendered within this workbench's memory for one page; try a simpler "
                         "page, or a picture of it.")
    with Image.open(io.BytesIO(stdout)) as image:
        return image.convert("RGB")


def _communicate(child: subprocess.Popen, data: bytes, deadline: float | None,
                 control: Any) -> tuple[bytes, bytes] | None:
    """Feed ``data`` and collect the child's output, checking the deadline (``None`` once past it)
    and the run's control (``RunCancelled``) every tenth of a second."""
    feed: bytes | None = data  # handed over once; a later communicate() goes on writing it
    while True:
        if control is not None:
            control.check()
        wait = 0.1 if deadline is None else max(0.0, min(0.1, deadline - time.monotonic()))
        try:
            return child.communicate(input=feed, timeout=wait)
        except subprocess.TimeoutExpired:
            feed = None
            if deadline is not None and time.monotonic() >= deadline:
                return None


def _main(argv: list[str]) -> int:
    """The child: render ``argv[0]``'s page of the PDF on stdin to PNG on stdout."""
    import pypdfium2 as pdfium

    options = json.loads(argv[0])
    page, scale, max_pixels = int(options["page"]), float(options["scale"]), int(options["max_pixels"])
    try:
        pdf = pdfium.PdfDocument(sys.stdin.buffer.read())
    except pdfium.PdfiumError as exc:
        sys.stderr.write(str(exc))
        return UNREADABLE
    count = len(pdf)
    if not 0 <= page < count:
        sys.stdout.write(str(count))
        return NO_SUCH_PAGE
    pdf_page = pdf[page]
    width, height = pdf_page.get_size()  # points: the pixels at scale 1
    if width * height * scale * scale > max_pixels:  # a huge page: render it smaller, not refuse it
        scale = (max_pixels / max(width * height, 1.0)) ** 0.5 * 0.999  # stay under the cap after rounding
    image = pdf_page.render(scale=scale).to_pil().convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=1)
    sys.stdout.buffer.write(buffer.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
