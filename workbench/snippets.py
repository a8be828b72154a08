"""The Python code equivalent to a run, shown in the UI's "code" view.

Pipeline tasks get a plain ``from transformers import pipeline`` call; the workbench's adapter
tasks (which transformers 5 no longer ships as pipelines) get the workbench call that runs them.
The call itself comes from the task's ``spec.call`` (``workbench.calls``).
The snippet is runnable as shown (``result`` holds what the run returned, before the UI renders it).

>>> from types import SimpleNamespace as NS
>>> loaded = NS(key=NS(model="org/sentiment", revision="714eb0f"), source=NS(kind="hub", path="org/sentiment"),
...             device="cpu", dtype="float32", description="")
>>> from workbench.tasks import get_task
>>> print(code_snippet(get_task("text-classification"), loaded, {"text": "I love it"}, {"top_k": 2}))
from transformers import pipeline
<BLANKLINE>
pipe = pipeline("text-classification", model="org/sentiment", revision="714eb0f", device="cpu", dtype="float32")
result = pipe('I love it', top_k=2)
"""

from __future__ import annotations

from typing import Any, Mapping

from workbench.kinds import quoted
from workbench.offline import OFFLINE_PREFIX
from workbench.tasks import TaskSpec



def model_expr(loaded: Any) -> tuple[str, list[str]]:
    """The Python expression of the model to load, and the lines it needs before it (an import,
    a comment on where it comes from). An offline model is named by the workbench call that builds
    it, never by its folder (which would show the server's home folder).

    >>> from types import SimpleNamespace as NS
    >>> model_expr(NS(source=NS(kind="offline", path="/home/me/x"), key=NS(model="offline:fill-mask"),
    ...               description="BERT, random weights"))[0]
    'offline_model_path("fill-mask")'
    """
    kind, path, name = loaded.source.kind, loaded.source.path, loaded.key.model
    if kind == "offline":
        note = getattr(loaded, "description", "") or "an offline model"
        which = name.removeprefix(OFFLINE_PREFIX) or loaded.key.task
        return f"offline_model_path({quoted(which)})", [
            "from workbench.offline import offline_model_path", "",
            f"# `{name}`: {note}, built locally by the workbench (python -m workbench offline)"]
    if kind == "local":
        return quoted(path), []
    return quoted(name), []


def _input_exprs(spec: TaskSpec, inputs: Mapping[str, Any], setup: list[str]) -> dict[str, str]:
    return {name: spec.input_kind(name).snippet(inputs.get(name), setup, what=name, page=inputs.get("page"))
            for name in spec.inputs}


def _pipeline_class(spec: TaskSpec, where: str) -> tuple[list[str], str]:
    """The import and keyword for a task the workbench runs with its own pipeline subclass."""
    target = spec.load_kwargs.get("pipeline_class")
    if not isinstance(target, str):
        return [], where
    module, _, name = target.partition(":")
    return [f"from {module} import {name}  # the workbench's subclass: {spec.title.lower()} as in the app"], \
        f"{where}, pipeline_class={name}"


def device_and_dtype(loaded: Any) -> tuple[str, list[str]]:
    """The ``device=…, dtype=…`` keywords of the load, and for a quantized precision the lines
    that quantize ``pipe.model`` after it (a pipeline has no ``dtype="int8"``). An adapter's
    ``PipelineManager().get`` takes ``int8`` itself, so it needs no extra lines.

    >>> from types import SimpleNamespace as NS
    >>> device_and_dtype(NS(device="cpu", dtype="float32"))
    (', device="cpu", dtype="float32"', [])
    """
    from workbench.quantize import is_quantized

    if not is_quantized(loaded.dtype):
        return f', device="{loaded.device}", dtype="{loaded.dtype}"', []
    import torch

    from workbench.quantize import compute_dtype, snippet_lines

    built = str(compute_dtype(loaded.dtype, torch.device(loaded.device))).removeprefix("torch.")
    return f', device="{loaded.device}", dtype="{built}"', snippet_lines(loaded.dtype, loaded.device)


def code_snippet(spec: TaskSpec, loaded: Any, inputs: Mapping[str, Any], kwargs: Mapping[str, Any]) -> str:
    """The code that reproduces a run of ``spec`` with ``loaded`` (a ``manager.Loaded``) on ``inputs``
    (as the UI/API gave them) with the call keywords ``kwargs`` (post-processing options included)."""
    model, comments = model_expr(loaded)
    rev = f", revision={quoted(loaded.key.revision)}" if loaded.key.revision else ""
    where, quantize = device_and_dtype(loaded)
    if spec.is_adapter:
        head = ["from workbench.manager import PipelineManager", "",
                f"# transformers 5 has no {spec.name} pipeline; the workbench runs it with its own adapter",
                *[c for c in comments if c.startswith("#")],
                f"pipe = PipelineManager().get({quoted(spec.name)}, {quoted(loaded.key.model)}{rev}"
                f', device="{loaded.device}", dtype="{loaded.dtype}")']
    else:
        imports, where = _pipeline_class(spec, where)
        head = ["from transformers import pipeline", *imports, "", *comments,
                f"pipe = pipeline({quoted(spec.pipeline_task or spec.name)}, model={model}{rev}{where})", *quantize]
    setup: list[str] = []
    exprs = _input_exprs(spec, inputs, setup)
    body = spec.call.snippet(spec.inputs, exprs, dict(kwargs))
    imports = list(dict.fromkeys(s for s in setup if s.startswith("import ")))
    rest = [s for s in setup if not s.startswith("import ")]
    return "\n".join([*imports, *head, *rest, *body])
