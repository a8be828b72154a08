"""The ZeroGPU shim: a no-op without the ``spaces`` package; ``spaces.GPU`` with it."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

import workbench.zerogpu as zerogpu


def _double(x: int) -> int:
    return 2 * x


def test_without_spaces_gpu_returns_the_function_itself():
    assert importlib.util.find_spec("spaces") is None  # this machine: not a Space
    assert not zerogpu.spaces_available()
    assert zerogpu.gpu(_double) is _double
    assert zerogpu.gpu(duration=60)(_double) is _double


def test_the_app_marks_runs_for_the_gpu_without_changing_their_api():
    """Decorated handlers keep the named parameters Gradio builds the API from."""
    import inspect

    from components.events import named_signature

    def run(progress=None, **values):
        return values

    wrapped = zerogpu.gpu(named_signature(run, ["text", "model"], request=False))
    assert list(inspect.signature(wrapped).parameters) == ["progress", "text", "model"]


@pytest.fixture()
def fake_spaces(monkeypatch):
    """A stand-in for the third-party ``spaces`` package that records what it decorates."""
    calls: list[tuple] = []
    module = types.ModuleType("spaces")

    def GPU(fn, duration=None):  # noqa: N802 (the package's name)
        calls.append((fn.__name__, duration))

        def on_gpu(*args, **kwargs):
            return ("on gpu", fn(*args, **kwargs))

        return on_gpu

    module.GPU = GPU
    monkeypatch.setitem(sys.modules, "spaces", module)
    yield calls
    monkeypatch.delitem(sys.modules, "spaces")
    importlib.reload(zerogpu)


def test_with_spaces_gpu_uses_spaces_gpu(fake_spaces):
    reloaded = importlib.reload(zerogpu)
    assert reloaded.spaces_available()
    assert reloaded.gpu(_double)(4) == ("on gpu", 8)
    assert reloaded.gpu(duration=120)(_double)(1) == ("on gpu", 2)
    assert fake_spaces == [("_double", None), ("_double", 120)]
