"""A file input given as a URL is fetched by the workbench, under the hosting policy: ``fetch_urls_under``.

An API or MCP client may hand a file input (image, audio, video, document) an http(s) URL instead of
an upload: ``gradio_client.handle_file(url)``, or any MCP tool's file argument, which Gradio's MCP
server types as "a http or https url to a file". Gradio downloads such a URL itself (``safehttpx``),
with its own rules: every private address refused, loopback included even on the operator's own
machine; the whole body read into memory with no cap on its size and no deadline for the whole
request (httpx's 5 s apply to each read). ``fetch_urls_under(component, policy)`` makes the component
download it with ``workbench.fetch`` instead, as the URL boxes do: locally any URL works (a file
server on 127.0.0.1 too); hosted, only public addresses, within the policy's deadline and byte cap,
with the same words as the URL boxes when it is refused.
"""

from __future__ import annotations

import mimetypes
import os
from pathlib import PurePosixPath
from typing import Any, TypeVar
from urllib.parse import urlsplit

import gradio as gr

from workbench.hosting import HostingPolicy

C = TypeVar("C", bound=gr.components.Component)


def url_file_name(url: str, content_type: str = "") -> str:
    """The file name to keep a download under: the URL path's last part, with an extension from the
    content type when it has none.

    >>> url_file_name("https://example.com/a/cat.png?x=1"), url_file_name("http://h/get?id=3", "image/png")
    ('cat.png', 'get.png')
    """
    name = PurePosixPath(urlsplit(url).path).name
    name = "".join(c for c in name if c.isalnum() or c in "._-")[:100] or "file"
    if not os.path.splitext(name)[1] and content_type:
        name += mimetypes.guess_extension(content_type) or ""
    return name


def fetch_urls_under(component: C, policy: HostingPolicy) -> C:
    """Have ``component`` (a file input) fetch an http(s) URL it is given with ``workbench.fetch``
    under ``policy`` (see the module docstring); uploads and files are moved to its cache as Gradio
    does. Returns the component, so it can wrap the constructor call."""
    from gradio_client.utils import is_http_url_like

    move = component.async_move_resource_to_block_cache

    def download(url: str) -> str:
        from gradio.processing_utils import save_bytes_to_cache

        from workbench.errors import InputError
        from workbench.fetch import fetch_url

        try:
            fetched = fetch_url(url, policy)
        except InputError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        path = save_bytes_to_cache(fetched.data, url_file_name(fetched.url, fetched.content_type),
                                   cache_dir=component.GRADIO_CACHE)
        component.temp_files.add(path)
        return path

    async def move_or_fetch(url_or_file_path: Any) -> str | None:
        if url_or_file_path is not None and is_http_url_like(str(url_or_file_path)):
            from anyio.to_thread import run_sync

            return await run_sync(download, str(url_or_file_path))
        return await move(url_or_file_path)

    component.async_move_resource_to_block_cache = move_or_fetch  # type: ignore[method-assign]
    return component
