"""A small synchronous MCP client for tests: the ``mcp`` package's own client (``ClientSession``
over streamable HTTP, or SSE) against a running app's ``/gradio_api/mcp/``, one session per call.

    mcp = MCPClient(app.url)
    [t.name for t in mcp.tools()]                      # ['text_classification', ...]
    mcp.call("text_classification", text="I love it")  # a CallToolResult: .isError, .content
"""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any, Awaitable, Callable

import anyio
import httpx

TIMEOUT_S = 300.0  # a tool call on a loaded test machine: a model loads, then runs


class MCPClient:
    """Talks MCP to the app at ``url`` (its root, e.g. ``http://127.0.0.1:7860/``)."""

    def __init__(self, url: str) -> None:
        self.root = url.rstrip("/")
        self.url = f"{self.root}/gradio_api/mcp/"

    def session(self, fn: Callable[[Any], Awaitable[Any]], *, sse: bool = False) -> Any:
        """Run ``await fn(session)`` in a fresh, initialised ``mcp.ClientSession``; returns its result."""
        from mcp import ClientSession

        async def main() -> Any:
            if sse:
                from mcp.client.sse import sse_client

                transport = sse_client(f"{self.root}/gradio_api/mcp/sse", timeout=30, sse_read_timeout=TIMEOUT_S)
                async with transport as (read, write):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        return await fn(session)
            from mcp.client.streamable_http import streamable_http_client

            async with httpx.AsyncClient(timeout=httpx.Timeout(TIMEOUT_S, connect=30)) as http:
                async with streamable_http_client(self.url, http_client=http) as (read, write, _):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        return await fn(session)

        return anyio.run(main)

    def tools(self, *, sse: bool = False) -> list[Any]:
        """The tools the server lists (``mcp.types.Tool``: name, description, inputSchema)."""
        async def list_tools(session: Any) -> list[Any]:
            return (await session.list_tools()).tools

        return self.session(list_tools, sse=sse)

    def call(self, name: str, **arguments: Any) -> Any:
        """Call one tool; returns its ``mcp.types.CallToolResult`` (``isError`` set for an error)."""
        return self.calls([(name, arguments)])[0]

    def calls(self, calls: list[tuple[str, dict[str, Any]]]) -> list[Any]:
        """Call several tools at once (concurrently, in one session); results in the same order."""
        async def call_all(session: Any) -> list[Any]:
            results: list[Any] = [None] * len(calls)

            async def one(i: int, name: str, arguments: dict[str, Any]) -> None:
                results[i] = await session.call_tool(name, arguments, read_timeout_seconds=timedelta(seconds=TIMEOUT_S))

            async with anyio.create_task_group() as group:
                for i, (name, arguments) in enumerate(calls):
                    group.start_soon(one, i, name, arguments)
            return results

        return self.session(call_all)


def text_of(result: Any) -> str:
    """A tool result's text content, joined."""
    return "\n".join(c.text for c in result.content if getattr(c, "type", "") == "text")


def data_uri(data: bytes, mime: str = "image/png") -> str:
    """``data:<mime>;base64,...``: a file's bytes as an MCP tool's file argument."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"
