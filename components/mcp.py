"""The workbench's endpoints as MCP tools: ``describe_tools(demo)``.

With ``demo.launch(mcp_server=True)`` (``python app.py --mcp``, or ``GRADIO_MCP_SERVER=True``) Gradio
serves every public API endpoint as an MCP tool at ``/gradio_api/mcp/`` (streamable HTTP) and
``/gradio_api/mcp/sse``. Gradio 6 builds each tool from the endpoint's *function*, not from its API
docs: the tool is named after ``fn.__name__`` (ours are closures called ``run``: ``run``, ``run_1``…),
and each parameter's description comes from an ``Args:`` section of ``fn.__doc__`` — a parameter the
docstring does not name gets an empty description, hiding the one its component carries
(``components.api_docs.document``). Its type comes from the component's API info, as for
``gradio_client``; a file input becomes a string (an http(s) URL or a ``data:`` URI).

``describe_tools(demo)`` (after the ``with gr.Blocks()`` block, before ``launch``) gives each public
endpoint's function the endpoint's name and a docstring written from the API docs we already
write, so an MCP client sees ``text_classification(text, top_k, …)`` with every parameter
described. Endpoints that act on the caller's browser session (a tab's Stop: an MCP client has no
session to stop) are left out of the tool list (``not_a_tool``).

It also works around one Gradio 6.31 bug (``return_each_output``): a tool call whose client asks for
no progress notifications got a multi-output endpoint's outputs back as one text, the Python repr
of their list, so an image output never came back as an image.

>>> import gradio as gr
>>> with gr.Blocks() as demo:
...     box = document(gr.Textbox(label="Text"), "The text to shout.")
...     out = gr.Textbox(label="Shouted")
...     def run(text): return text.upper()
...     _ = box.submit(run, box, out, api_name="shout", api_description="Shout a text.")
>>> describe_tools(demo)
>>> print(run.__name__); print(run.__doc__)
shout
Shout a text.
<BLANKLINE>
Args:
    text: The text to shout.
<BLANKLINE>
Returns:
    Shouted
"""

from __future__ import annotations

import re
from typing import Any, Callable

import gradio as gr

from components.api_docs import document  # noqa: F401 (the doctest's)

#: Gradio lists a function as a tool unless its ``_mcp_type`` says otherwise (``gr.mcp.resource``…).
_NOT_A_TOOL = "not-a-tool"


def not_a_tool(fn: Callable) -> Callable:
    """Keep ``fn``'s endpoint out of the MCP tool list (it stays an API endpoint). Returns ``fn``."""
    fn._mcp_type = _NOT_A_TOOL  # type: ignore[attr-defined]
    return fn


def is_tool(fn: Callable) -> bool:
    """Whether Gradio lists ``fn``'s endpoint as an MCP tool."""
    return getattr(fn, "_mcp_type", "tool") == "tool"


def _line(text: Any) -> str:
    """One line of a docstring: Gradio reads ``name: description`` line by line."""
    return re.sub(r"\s+", " ", str(text or "")).strip()


def tool_docstring(description: str, parameters: list[dict[str, Any]], returns: list[dict[str, Any]]) -> str:
    """The docstring Gradio reads a tool from: ``description``, then ``Args:`` (one ``name: text``
    line per parameter of the endpoint's API info) and ``Returns:`` (one line per output).

    >>> print(tool_docstring("Add.", [{"parameter_name": "a", "python_type": {"description": "A\\nnumber."}}],
    ...                      [{"label": "Sum", "python_type": {"description": ""}}]))
    Add.
    <BLANKLINE>
    Args:
        a: A number.
    <BLANKLINE>
    Returns:
        Sum
    """
    lines = [_line(description) or "An endpoint of this app.", "", "Args:"]
    for p in parameters:
        text = _line(p.get("python_type", {}).get("description")) or _line(p.get("label")) or p["parameter_name"]
        lines.append(f"    {p['parameter_name']}: {text}")
    lines += ["", "Returns:"]
    for r in returns:
        label, text = _line(r.get("label")), _line(r.get("python_type", {}).get("description"))
        lines.append(f"    {label}: {text}" if text else f"    {label}")
    return "\n".join(lines)


def return_each_output() -> None:
    """Make Gradio's MCP server answer every tool call with one content item per output (text,
    or an image for an image output), as it does for clients that ask for progress notifications;
    without them Gradio 6.31 wrapped the whole output tuple into one text. Idempotent."""
    from gradio.mcp import GradioMCPServer

    if getattr(GradioMCPServer._execute_tool_without_progress, "each_output", False):
        return

    async def each_output(self: Any, job: Any) -> list[Any]:
        final = None
        async for update in job:  # what the progress path reads, minus the notifications
            if update.type == "output" and update.final:
                final = update
        if final is None or not final.success:
            from anyio.to_thread import run_sync

            result = await run_sync(job.result)  # raises the app's error, as Gradio's own path does
            return [result]
        return final.outputs["data"]

    each_output.each_output = True  # type: ignore[attr-defined]
    GradioMCPServer._execute_tool_without_progress = each_output  # type: ignore[method-assign]


def describe_tools(demo: gr.Blocks) -> None:
    """Name each public endpoint's function after the endpoint and write its docstring from the
    API docs (see the module docstring). A function shared by two endpoints would get one name
    for both: that is refused, so tool names always equal endpoint names. Also installs
    ``return_each_output`` when the ``mcp`` package is there."""
    import importlib.util

    if importlib.util.find_spec("mcp") is not None:
        return_each_output()
    named = demo.get_api_info()["named_endpoints"]
    seen: dict[int, str] = {}
    for block_fn in demo.fns.values():
        endpoint = f"/{block_fn.api_name}"
        if block_fn.fn is None or endpoint not in named:
            continue
        fn = block_fn.fn
        if id(fn) in seen:
            raise ValueError(f"endpoints {seen[id(fn)]} and {endpoint} share one function: give each its own, "
                             "so that each MCP tool is named after its endpoint")
        seen[id(fn)] = endpoint
        info = named[endpoint]
        fn.__name__ = fn.__qualname__ = block_fn.api_name
        fn.__doc__ = tool_docstring(info.get("description") or "", info["parameters"], info["returns"])
