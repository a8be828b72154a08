"""MCP: the real app (``python app.py --mcp``) serves every task endpoint as an MCP tool, driven
with the ``mcp`` package's own client on loopback: the tools and their typed, described
parameters, a text task, an image task (by URL from a loopback server, and uploaded as a
``data:`` URI), an image output, and an error returned as an MCP error."""

from __future__ import annotations

import pytest

pytest.importorskip("mcp")

from tests.loopback import HITS, PNG, server  # noqa: E402,F401 (fixture)
from tests.mcp_client import MCPClient, data_uri, text_of  # noqa: E402
from workbench.tasks import TASKS  # noqa: E402


@pytest.fixture(scope="module")
def local_app(tmp_path_factory):
    from tests.app_server import start_app

    app = start_app(tmp_path_factory.mktemp("mcp-app") / "app.log", args=["--mcp"])
    yield app
    app.stop()


@pytest.fixture(scope="module")
def mcp(local_app) -> MCPClient:
    return MCPClient(local_app.url)


@pytest.fixture(scope="module")
def tools(mcp) -> dict:
    return {t.name: t for t in mcp.tools()}


def test_every_task_endpoint_is_a_tool_named_after_it(tools, local_app):
    expected = {spec.api_name for spec in TASKS.values()} | {f"{spec.api_name}_compare" for spec in TASKS.values()}
    assert expected <= set(tools)
    assert {"text_generation_chat", "benchmark", "unload_model"} <= set(tools)
    assert "text_generation_stop" not in tools  # acts on a browser session: an API endpoint only
    assert not any(name.startswith("run") for name in tools)
    assert "Streamable HTTP URL" in local_app.log_text()


def test_tools_carry_the_api_docs_descriptions_and_types(tools):
    for name, tool in tools.items():
        assert tool.description, name
        for param, schema in tool.inputSchema["properties"].items():
            assert schema.get("description"), f"{name}.{param} has no description"
    tc = tools["text_classification"]
    assert tc.description.startswith("Text classification: Sentiment")
    props = tc.inputSchema["properties"]
    assert props["top_k"] == {**props["top_k"], "type": "integer", "minimum": 1, "maximum": 50, "default": 5}
    assert props["function_to_apply"]["enum"] == ["(model default)", "sigmoid", "softmax", "none"]
    assert props["model"]["type"] == "string" and "offline:<task>" in props["model"]["description"]
    image = tools["image_classification"].inputSchema["properties"]["image"]
    assert image["type"] == "string" and "data:" in image["description"]
    temperature = tools["text_generation"].inputSchema["properties"]["temperature"]
    assert {"type": "number", "minimum": 0.05, "maximum": 2.0} in temperature["anyOf"]
    chat = tools["text_generation_chat"].inputSchema
    assert chat["required"] == ["messages"] and chat["properties"]["messages"]["type"] == "array"


def test_the_sse_transport_lists_the_same_tools(mcp, tools):
    assert {t.name for t in mcp.tools(sse=True)} == set(tools)


def test_a_text_task(mcp):
    result = mcp.call("text_classification", text="I love it", top_k=2, model="offline:text-classification")
    assert not result.isError, text_of(result)
    label, raw, info, code = [c.text for c in result.content]
    assert "confidences" in label and "offline:text-classification" in info and "pipeline(" in code


def test_an_image_by_url_from_a_loopback_server_and_uploaded(mcp, server):
    HITS.clear()
    url = f"http://127.0.0.1:{server}/cat.png"
    by_url_box, by_file_url, uploaded = mcp.calls([
        ("image_classification", {"image_url": url, "top_k": 1, "model": "offline:image-classification"}),
        ("image_classification", {"image": url, "top_k": 1, "model": "offline:image-classification"}),
        ("image_classification", {"image": data_uri(PNG), "top_k": 1, "model": "offline:image-classification"}),
    ])
    for result in (by_url_box, by_file_url, uploaded):
        assert not result.isError, text_of(result)
        assert "confidences" in result.content[0].text
    assert HITS.count("/cat.png") == 2  # both URLs fetched by the workbench (Gradio refuses loopback)


def test_an_image_output_comes_back_as_an_image(mcp):
    result = mcp.call("depth_estimation", image=data_uri(PNG), model="offline:depth-estimation")
    assert not result.isError, text_of(result)
    assert result.content[0].type == "image" and result.content[0].mimeType.startswith("image/")


def test_an_error_is_an_mcp_error(mcp):
    result = mcp.call("text_classification", text="", model="offline:text-classification")
    assert result.isError and "text is empty" in text_of(result)
    result = mcp.call("text_classification", text="hi", top_k=100)
    assert result.isError and "100 is greater than the maximum of 50" in text_of(result)  # the schema's bound
    result = mcp.call("image_classification", image="not a url", model="offline:image-classification")
    assert result.isError and "provide a url" in text_of(result)
    assert not mcp.call("text_classification", text="fine", top_k=1).isError  # and the app keeps serving
