"""Which server files user input may name: any, locally; only Gradio's uploads, when hosted.

A file a user uploads reaches the workbench as a path inside Gradio's upload cache
(``$GRADIO_TEMP_DIR``, else ``<tempdir>/gradio``, as ``gradio.utils.get_upload_folder`` says). A path
typed into a text box (the image URL box, the model box, an API call) is indistinguishable from it
as a string, so hosted mode accepts a path only when it resolves — symlinks and ``..`` followed — to
a file under that cache. The refusal is the same whether the path exists or not.

>>> from workbench.hosting import HostingPolicy
>>> user_path("/etc/hostname", HostingPolicy.public(), "The image")
Traceback (most recent call last):
...
workbench.errors.InputError: The image must be a file you upload (or an http(s) URL): this public workbench does not read paths on the server, such as `/etc/hostname`.
>>> user_path("notes.txt", HostingPolicy.local(), "The table").name
'notes.txt'
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from workbench.errors import InputError
from workbench.hosting import HostingPolicy

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")


def upload_dir() -> Path:
    """Gradio's upload cache, read at call time (the app may set ``GRADIO_TEMP_DIR`` after import)."""
    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def is_upload(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a regular file inside Gradio's upload cache (after resolving links and ``..``)."""
    real = Path(os.path.realpath(os.fspath(path)))
    root = Path(os.path.realpath(upload_dir()))
    return root in real.parents and real.is_file()


def has_scheme(text: str) -> bool:
    """Whether ``text`` starts like a URL (``scheme://``).

    >>> has_scheme("file:///etc/passwd"), has_scheme("C:/data/cat.png")
    (True, False)
    """
    return bool(_SCHEME.match(text))


def user_path(value: str | os.PathLike, policy: HostingPolicy, what: str) -> Path:
    """The file that a path given by a user names, if ``policy`` lets user input name it.

    Locally any path is returned as given (``~`` expanded; callers say when it does not exist).
    Hosted, only an upload is (``is_upload``); anything else raises ``InputError`` with one message
    for every path, existing or not, so the answer tells nothing about the server's files.
    """
    text = os.fspath(value).strip()
    if policy.allow_local_paths:
        return Path(text).expanduser()
    if text and is_upload(text):
        return Path(os.path.realpath(text))
    raise InputError(f"{what} must be a file you upload (or an http(s) URL): this public workbench does not "
                     f"read paths on the server, such as `{text}`.")
