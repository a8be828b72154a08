"""Progress and cancellation of one run, reported from inside the pipeline call.

A ``RunControl`` is shared by the thread that runs a task and the one that watches it (the UI):
the worker says its stage (reading inputs, loading, preprocessing, inference, postprocessing) and
which chunk, batch or input it is at; the watcher reads ``describe()`` and may ``cancel()``.
Cancelling raises ``RunCancelled`` in the worker at its next check: at every stage change, before
every forward pass and before every layer of the model, so even one long forward pass (a
10-minute clip in a single pass) stops within a layer.

``watch(pipe, control)`` installs the hooks on a pipeline (or one of our adapters) once — they
stay, and cost a thread-local look-up when no run is watched — and makes ``control`` the current
thread's for the block. Pipelines call their stages in the calling thread (``num_workers=0``).

>>> control = RunControl()
>>> control.set_stage("inference"); control.expect(4, "chunk"); control.end_pass()
>>> control.describe(), control.fraction()
('inference: chunk 2/4', 0.25)
>>> control.cancel(); control.check()
Traceback (most recent call last):
...
workbench.errors.RunCancelled: Cancelled during inference: chunk 2/4.
"""

from __future__ import annotations

import contextlib
import functools
import math
import threading
import time
from typing import Any, Callable, Iterator

from workbench.errors import RunCancelled

_current = threading.local()
_install_lock = threading.Lock()
_HOOKED = "_workbench_progress_hooks"


class RunControl:
    """The stage and position of one run, and its cancel switch (thread-safe for one worker and
    any number of readers)."""

    def __init__(self, cancel_event: threading.Event | None = None) -> None:
        self.cancel_event = cancel_event or threading.Event()
        self.started = time.monotonic()
        self.stage = "starting"
        self.total: int | None = None  # passes expected (chunks, inputs), when known
        self.unit = "pass"
        self.done = 0  # passes finished
        self.steps = 0  # forward calls of the model in the current pass (generation: one per token)

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        """Ask the worker to stop at its next check."""
        self.cancel_event.set()

    def check(self) -> None:
        """Raise ``RunCancelled`` if the run was cancelled."""
        if self.cancel_event.is_set():
            raise RunCancelled(f"Cancelled during {self.describe()}.")

    def set_stage(self, stage: str) -> None:
        self.check()
        self.stage = stage

    def expect(self, total: int, unit: str) -> None:
        """Passes to come (``4, "chunk"``): progress then reads ``chunk i/4``."""
        self.total, self.unit = max(1, int(total)), unit

    def begin_pass(self) -> None:
        self.stage, self.steps = "inference", 0
        self.check()

    def end_pass(self, passes: int = 1) -> None:
        """``passes`` passes (or inputs) are done; a cancelled run stops here."""
        self.done += passes
        if self.total is not None and self.done > self.total:  # an estimate was short
            self.total = self.done
        self.check()

    def step(self) -> None:
        self.steps += 1
        self.check()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def fraction(self) -> float | None:
        """Share of the expected passes done (``None`` when their number is unknown)."""
        return None if self.total is None else min(1.0, self.done / self.total)

    def describe(self) -> str:
        """``"inference: chunk 3/10 · step 12"``, ``"loading …"``: what the run is doing now."""
        text = self.stage
        if self.stage in ("preprocessing", "inference", "postprocessing") and (self.total or self.done):
            at = self.done + (self.stage != "postprocessing" or self.total is None)
            text += f": {self.unit} {min(at, self.total or at)}" + (f"/{self.total}" if self.total else "")
        if self.stage == "inference" and self.steps > 1:
            text += f" · step {self.steps}"
        return text


def current() -> RunControl | None:
    """The control of the run this thread is doing, if it is watched."""
    return getattr(_current, "control", None)


@contextlib.contextmanager
def running(control: RunControl | None) -> Iterator[None]:
    """Make ``control`` this thread's current run for the block, so that work deep inside it
    (a PDF page's renderer, OCR) can check for Cancel (``current()``)."""
    previous = current()
    _current.control = control
    try:
        yield
    finally:
        _current.control = previous


@contextlib.contextmanager
def watch(pipe: Any, control: RunControl | None) -> Iterator[None]:
    """Report ``pipe``'s stages to ``control`` (and stop it when cancelled) during the block."""
    if control is None:
        yield
        return
    install(pipe)
    with running(control):
        yield


def install(pipe: Any) -> None:
    """Hook ``pipe``'s ``preprocess``/``forward``/``postprocess`` and its model's forward passes
    (once; idempotent). The hooks do nothing in threads without a watched run."""
    with _install_lock:
        if getattr(pipe, _HOOKED, False):
            return
        for name in ("preprocess", "forward", "postprocess"):
            method = getattr(pipe, name, None)
            if callable(method):
                setattr(pipe, name, _STAGE_WRAPPERS[name](method, pipe))
        model = getattr(pipe, "model", None)
        if hasattr(model, "register_forward_pre_hook"):
            model.register_forward_pre_hook(_on_model_forward)
            _hook_layers(model)
        setattr(pipe, _HOOKED, True)


def _hook_layers(model: Any) -> None:
    """A cancel check before every layer of every layer stack (``nn.ModuleList``) in ``model``."""
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.ModuleList):
            for layer in module:
                layer.register_forward_pre_hook(_on_layer)


def _on_model_forward(module: Any, args: Any) -> None:
    if (c := current()) is not None:
        c.step()


def _on_layer(module: Any, args: Any) -> None:
    if (c := current()) is not None:
        c.check()


def _wrap_preprocess(method: Callable, pipe: Any) -> Callable:
    @functools.wraps(method)
    def preprocess(inputs: Any, *args: Any, **kwargs: Any) -> Any:
        if (c := current()) is not None:
            c.set_stage("preprocessing")
            if c.total is None and kwargs.get("chunk_length_s"):
                c.expect(audio_chunks(inputs, pipe, kwargs["chunk_length_s"], kwargs.get("stride_length_s")), "chunk")
        return method(inputs, *args, **kwargs)

    return preprocess


def _wrap_forward(method: Callable, pipe: Any) -> Callable:
    @functools.wraps(method)
    def forward(*args: Any, **kwargs: Any) -> Any:
        if (c := current()) is None:
            return method(*args, **kwargs)
        c.begin_pass()
        out = method(*args, **kwargs)
        c.end_pass()
        return out

    return forward


def _wrap_postprocess(method: Callable, pipe: Any) -> Callable:
    @functools.wraps(method)
    def postprocess(*args: Any, **kwargs: Any) -> Any:
        if (c := current()) is not None:
            c.set_stage("postprocessing")
        return method(*args, **kwargs)

    return postprocess


_STAGE_WRAPPERS = {"preprocess": _wrap_preprocess, "forward": _wrap_forward, "postprocess": _wrap_postprocess}


def audio_chunks(inputs: Any, pipe: Any, chunk_length_s: float, stride_length_s: Any = None) -> int:
    """How many chunks the speech-recognition pipeline cuts ``inputs`` (a waveform at the
    pipeline's sampling rate) into, as its ``chunk_iter`` does (strides default to a sixth).

    >>> import numpy as np
    >>> audio_chunks(np.zeros(16000 * 60), None, 30)
    3
    """
    import numpy as np

    if isinstance(inputs, dict):
        inputs = inputs.get("raw", inputs.get("array"))
    fe = getattr(pipe, "feature_extractor", None)
    rate = int(getattr(fe, "sampling_rate", None) or 16000)
    length = len(np.asarray(inputs).reshape(-1)) if inputs is not None else 0
    if stride_length_s is None:
        stride_length_s = chunk_length_s / 6
    left, right = (stride_length_s, stride_length_s) if isinstance(stride_length_s, (int, float)) else stride_length_s
    chunk = int(round(chunk_length_s * rate))
    step = chunk - int(round(left * rate)) - int(round(right * rate))
    if length <= chunk or step <= 0:
        return 1
    return math.ceil((length - chunk) / step) + 1
