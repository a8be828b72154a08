"""Shared fixtures: tiny offline models are built once per test session into a temp folder."""

from __future__ import annotations

import os
import tempfile

# Before anything imports workbench: tests never touch the network, and the tiny models of this
# session live in their own folder (built on first use, shared with app.py subprocesses).
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("WORKBENCH_OFFLINE_DIR", tempfile.mkdtemp(prefix="wb-offline-"))
os.environ.setdefault("WORKBENCH_SAMPLES_DIR", tempfile.mkdtemp(prefix="wb-samples-"))

import pytest  # noqa: E402

from workbench.manager import PipelineManager  # noqa: E402


@pytest.fixture(scope="session")
def manager() -> PipelineManager:
    """One manager for the session, large enough that no test evicts another's pipeline."""
    return PipelineManager(max_models=64)


#: The environment of a hosted app in tests: what a Hugging Face Space sets.
HOSTED_ENV = {"SPACE_ID": "tests/pipeline-workbench",
              "WORKBENCH_GRACE_S": "180"}  # a loaded test machine: jobs in flight at SIGTERM get time to finish


@pytest.fixture(scope="module")
def hosted_app(tmp_path_factory):
    """The real app (``python app.py``) in hosted mode (``SPACE_ID`` set) on a free loopback port,
    started once per test module: a ``tests.app_server.RunningApp`` (``.url``, ``.proc``, ``.log``).
    Drive it with ``gradio_client.Client(hosted_app.url)``."""
    from tests.app_server import start_app

    app = start_app(tmp_path_factory.mktemp("hosted-app") / "app.log", env=HOSTED_ENV)
    yield app
    app.stop()


@pytest.fixture(scope="module")
def hosted_app_url(hosted_app) -> str:
    """The URL of the hosted-mode app (see ``hosted_app``)."""
    return hosted_app.url
