"""Hosted mode in the app: the real ``app.py`` with ``SPACE_ID`` set (the ``hosted_app`` fixture),
driven through ``gradio_client`` — banner, operator-only endpoints refused, the app keeps serving."""

from __future__ import annotations

import json
import urllib.request

import pytest

import app
from components.banner import hosted_banner
from workbench.hosting import HostingPolicy


def _component(config: dict, elem_id: str) -> dict:
    return next(c for c in config["components"] if c["props"].get("elem_id") == elem_id)


@pytest.fixture(scope="module")
def config(hosted_app) -> dict:
    with urllib.request.urlopen(hosted_app.url + "config", timeout=30) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def client(hosted_app):
    from gradio_client import Client

    return Client(hosted_app.url, verbose=False)


def test_hosted_flag_and_env_select_hosted_mode():
    assert app.parse_args([]).hosted is None  # then SPACE_ID / WORKBENCH_HOSTED decide
    assert app.parse_args(["--hosted"]).hosted is True
    assert HostingPolicy.from_env({}, hosted=None).hosted is False
    assert HostingPolicy.from_env({"WORKBENCH_HOSTED": "1"}).hosted is True


def test_banner_says_hosted_mode_and_what_it_limits(config, hosted_app):
    banner = _component(config, "hosted-banner")["props"]
    assert banner["visible"] is not False
    assert "Hosted mode" in banner["value"] and "operator only" in banner["value"]
    assert "3 job(s) at a time per user" in banner["value"] and "25 MB" in banner["value"]
    assert "hosted mode: on" in hosted_app.log_text()
    assert hosted_banner(HostingPolicy.local()) == ""  # locally: nothing changes for the operator


def test_unload_controls_are_hidden(config):
    for elem_id in ("models-which", "models-unload", "models-unload-all"):
        assert _component(config, elem_id)["props"]["visible"] is False, elem_id


def test_unload_endpoints_refuse_and_the_app_keeps_serving(client):
    from gradio_client.exceptions import AppError

    labels = client.predict(text="I love it", top_k=1, model="offline:text-classification",
                            api_name="/text_classification")[0]
    with pytest.raises(AppError, match="operator control"):
        client.predict(api_name="/unload_all_models")
    with pytest.raises(AppError, match="operator control"):
        client.predict("text-classification · offline:text-classification · cpu · float32", api_name="/unload_model")
    again, _, info, _ = client.predict(text="I love it", top_k=1, model="offline:text-classification",
                                       api_name="/text_classification")
    assert again == labels and "already loaded" in info  # nothing was unloaded
