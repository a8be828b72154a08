"""What a run gives back, in plain values: ``RunFacts`` (the model that ran, timings, code, warnings,
a stream's state), ``RunResult`` (a task's output and decoded inputs, from ``service.run_task``) —
``chat.ChatResult`` is the other kind — and ``to_jsonable`` for their raw JSON view.
No torch and no gradio here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from workbench.manager import Loaded


@dataclass(kw_only=True)
class RunFacts:
    """What every run reports besides its output: the model that ran (its id, device, dtype, whether
    its weights are random), ``timings`` (``load_s`` is 0 when the pipeline was already loaded), the
    code that reproduces the run, warnings and notes for the info line, and a stream's state
    (``done`` is False for its intermediate results; ``stopped`` when the stop event ended it).
    ``RunResult`` (tasks) and ``chat.ChatResult`` (chat) add their outputs; ``of(loaded, ...)``
    fills the model's fields from the loaded pipeline."""

    model: str
    timings: dict[str, float]
    device: str
    dtype: str
    code: str
    warnings: list[str] = field(default_factory=list)
    random_weights: bool = False
    description: str = ""
    done: bool = True
    stopped: bool = False
    notes: list[str] = field(default_factory=list)  # facts about this run for the info line (frame sampling…)
    precision: str = ""  # what the parameters really were (``Loaded.precision``): "int8 in 36 of 37 linear layers, float32 elsewhere"
    attention: str = ""  # the attention implementation in use: "sdpa", "eager"…

    @classmethod
    def of(cls, loaded: "Loaded", **fields: Any) -> Any:
        """A result of ``loaded``'s pipeline: model, device, dtype, the precision that really ran,
        the attention implementation, random weights and description from it (and its notes, e.g.
        a dtype that transformers did not apply, before the run's own); the other fields as given."""
        notes = [*getattr(loaded, "notes", []), *fields.pop("notes", [])]
        return cls(model=loaded.key.model, device=loaded.device, dtype=loaded.dtype,
                   random_weights=loaded.random_weights, description=loaded.description,
                   precision=getattr(loaded, "precision", ""), attention=getattr(loaded, "attention", ""),
                   notes=notes, **fields)


@dataclass(kw_only=True)
class RunResult(RunFacts):
    """What one run of a task produced, in plain values (with ``RunFacts``' fields).

    ``output`` is the pipeline's output (after the workbench's own post-processing, e.g. pooled
    embeddings); ``inputs`` holds the decoded inputs (a PIL image, the text, the table…) that
    renderers draw the output on. ``timings`` has ``load_s``, ``inputs_s`` (decoding, OCR,
    download) and ``inference_s`` (preprocess + forward + postprocess); generation adds
    ``time_to_first_token_s`` and ``tokens_per_s``.
    """

    task: str
    output: Any
    inputs: dict[str, Any]

    def json(self) -> Any:
        """The output as JSON-able values (images and arrays summarised), for a raw view."""
        return to_jsonable(self.output)


def to_jsonable(value: Any, *, max_items: int = 2048) -> Any:
    """Plain JSON values for a raw view: images become a short description, big arrays their shape.

    >>> import numpy as np
    >>> to_jsonable({"a": np.float32(0.5), "b": (1, 2), "c": np.zeros((100, 100))})
    {'a': 0.5, 'b': [1, 2], 'c': {'array': [100, 100], 'dtype': 'float64'}}
    """
    import numpy as np

    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, max_items=max_items) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, max_items=max_items) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # a torch tensor, without importing torch
        value = value.detach().cpu().float().numpy() if value.is_floating_point() else value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.size <= max_items:
            return value.tolist()
        return {"array": list(value.shape), "dtype": str(value.dtype)}
    if hasattr(value, "size") and hasattr(value, "mode") and hasattr(value, "getpixel"):  # PIL image
        return {"image": f"{value.mode} {value.size[0]}x{value.size[1]}"}
    if hasattr(value, "to_dict") and hasattr(value, "columns"):  # pandas DataFrame
        return value.to_dict(orient="list")
    return repr(value)
