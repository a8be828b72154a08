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
