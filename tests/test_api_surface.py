"""The API as clients see it (``gradio_client``'s ``view_api`` of the app) against a committed record,
``tests/goldens/api_surface.json``: every public endpoint, each parameter's name, default and type,
and each output's label, for a fixed machine (``CONTEXT``). The app builds its tabs when they are
first opened and serves the API on hidden widgets; this is what keeps that invisible to clients.
The record's endpoints are the ones the task registry implies (``registry_endpoints``). After a
deliberate change of the API, write the record again and review its diff:

    HF_HUB_OFFLINE=1 .venv/bin/python -m tests.test_api_surface
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from components.context import TabContext
from workbench.tasks import TASKS

RECORD = Path(__file__).resolve().parent / "goldens" / "api_surface.json"
#: A machine with a CPU only, offline, nothing cached: the tabs' menus are the same everywhere.
CONTEXT = TabContext(devices=["auto", "cpu"], dtypes=["auto", "float32", "bfloat16", "int8"], online=False,
                     offline_tasks=frozenset(TASKS))
#: Parameters whose choices come from the machine itself, not from ``CONTEXT`` (the Benchmark's).
MACHINE = {("/benchmark", "devices"), ("/benchmark", "dtypes")}


def registry_endpoints() -> set[str]:
    """The public endpoints the registry implies: per task its run and Compare, a chat task's chat,
    a streaming task's stop; and the Models and Benchmark tabs' own."""
    names = {"/benchmark", "/export_job", "/unload_model", "/unload_all_models"}
    for spec in TASKS.values():
        names |= {f"/{spec.api_name}", f"/{spec.api_name}_compare"}
        if spec.chat:
            names.add(f"/{spec.api_name}_chat")
        if spec.streams:
            names.add(f"/{spec.api_name}_stop")
    return names


def surface(api: dict[str, Any]) -> dict[str, Any]:
    """``view_api(return_format="dict")`` reduced to what a client's code depends on."""
    out = {}
    for name, endpoint in sorted(api["named_endpoints"].items()):
        params = []
        for p in endpoint["parameters"]:
            machine = (name, p["parameter_name"]) in MACHINE
            params.append({"name": p["parameter_name"], "has_default": p["parameter_has_default"],
                           "default": "(this machine's)" if machine else p["parameter_default"],
                           "type": "(this machine's)" if machine else p["python_type"]["type"]})
        out[name] = {"parameters": params, "returns": [r["label"] for r in endpoint["returns"]]}
    return out


def build(manager: Any) -> Any:
    import app

    return app.build_app(manager, context=CONTEXT)


def view_api(url: str) -> dict[str, Any]:
    from gradio_client import Client

    return Client(url, verbose=False).view_api(print_info=False, return_format="dict")


@pytest.fixture(scope="module")
def demo(manager):
    return build(manager)


@pytest.fixture(scope="module")
def served(demo):
    from tests.app_server import serving

    with serving(demo) as url:
        yield url


def test_the_record_has_the_registry_endpoints():
    recorded = json.loads(RECORD.read_text())
    assert set(recorded) == registry_endpoints(), "a task's endpoint is missing or extra: see the module docstring"


def test_the_api_is_the_recorded_one(served):
    recorded, now = json.loads(RECORD.read_text()), surface(view_api(served))
    assert set(now) == set(recorded)
    for name in recorded:
        assert now[name] == recorded[name], name


def test_no_endpoint_is_callable_undocumented(demo):
    """Nothing a client may call is left out of the API docs: the examples' loaders (``/load_example``)
    and the tabs' renders are private."""
    hidden = set(demo.get_api_info(all_endpoints=True)["named_endpoints"]) - set(demo.get_api_info()["named_endpoints"])
    assert hidden == set()


if __name__ == "__main__":
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from tests.app_server import serving
    from workbench.manager import PipelineManager

    with serving(build(PipelineManager())) as url:
        RECORD.write_text(json.dumps(surface(view_api(url)), indent=1, ensure_ascii=False) + "\n")
    print(f"written {RECORD}")
