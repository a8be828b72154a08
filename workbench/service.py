"""One run of a task, as the UI and the API see it: decode inputs, load, call, time, explain.

No gradio here: ``run_task`` returns a ``RunResult`` of plain values (plus the decoded inputs the
renderers draw on), and raises ``WorkbenchError`` subclasses whose messages are shown as they are.

    from workbench.manager import PipelineManager
    r = run_task(PipelineManager(), "text-classification", {"text": "I love it"}, {"top_k": 2})
    r.output, r.timings["inference_s"] > 0
    # -> ([{'label': 'POSITIVE', 'score': 0.51}, {'label': 'NEGATIVE', 'score': 0.49}], True)
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from workbench.errors import InputError, OutOfMemoryError, WorkbenchError
from workbench.hosting import HostingPolicy
from workbench.load_request import LoadKey, LoadRequest
from workbench.memory import is_oom
from workbench.messages import first_line
from workbench.progress import RunControl, running, watch
from workbench.results import RunResult
from workbench.snippets import code_snippet
from workbench.spec import INPUT_LABELS
from workbench.tasks import TaskSpec, get_task

if TYPE_CHECKING:
    from workbench.manager import Loaded, PipelineManager


# ---------------------------------------------------------------------------------------------
# Decoding inputs


def decode_inputs(spec: TaskSpec, inputs: Mapping[str, Any], policy: HostingPolicy | None = None) -> dict[str, Any]:
    """Validate and decode the UI/API values of ``spec.inputs`` under ``policy`` (which paths and URLs
    user input may name, what decoding may cost; local by default), each by its kind
    (``spec.input_kind``). Raises ``InputError`` naming the bad input."""
    policy = policy or HostingPolicy.local()
    unknown = set(inputs) - set(spec.inputs) - {"page"}
    if unknown:
        raise InputError(f"{spec.name} takes the inputs {', '.join(spec.inputs)}; "
                         f"got also {', '.join(sorted(unknown))}.")
    # messages name an input as its field is labelled: "The question about the table is empty", not "The query…"
    return {name: spec.input_kind(name).decode(inputs.get(name), policy, what=INPUT_LABELS.get(name, name).lower(),
                                               page=inputs.get("page"))
            for name in spec.inputs}


def _required(spec: TaskSpec, params: Mapping[str, Any]) -> None:
    kwargs = {**spec.call_kwargs(params), **spec.post_kwargs(params)}
    for p in spec.params:
        if p.required and not kwargs.get(p.name):
            example = " e.g. `sports, politics, music`" if p.kind == "labels" else ""
            how = " (comma-separated)" if p.kind == "labels" else ""
            raise InputError(f"Give the {p.label or p.name}{how};{example}.")


# ---------------------------------------------------------------------------------------------
# Errors that are the user's doing, said plainly


def explain(exc: BaseException, spec: TaskSpec, loaded: Loaded) -> WorkbenchError | None:
    """A ``WorkbenchError`` for a pipeline failure that the user can fix, else ``None``."""
    if isinstance(exc, WorkbenchError):
        return exc
    msg = str(exc)
    name = loaded.key.model
    if is_oom(exc):
        return OutOfMemoryError(
            f"Out of memory running `{name}` on {loaded.device} ({loaded.dtype}). Try a shorter input, a smaller "
            "model, bfloat16, or unload other models in the Models tab.")
    tokenizer = getattr(loaded.pipe, "tokenizer", None)
    if "No mask_token" in msg:
        token = getattr(tokenizer, "mask_token", None) or "[MASK]"
        return InputError(f"Write the mask token `{token}` of `{name}` where a word should be predicted, "
                          f"e.g. `Paris is the {token} of France.`")
    too_long = (isinstance(exc, IndexError) and "index out of range" in msg) or (
        isinstance(exc, RuntimeError) and "must match the size of tensor" in msg)
    if too_long:
        limit = getattr(getattr(loaded.pipe.model, "config", None), "max_position_embeddings", None)
        tokens = f" ({limit} tokens)" if limit else ""
        if any(p.name == "max_new_tokens" for p in spec.params):
            return InputError(f"The prompt plus max new tokens is longer than `{name}` can take{tokens}; lower "
                              "max new tokens or shorten the input.")
        return InputError(f"The input is longer than `{name}` can take{tokens}; shorten it.")
    if type(exc).__name__ in ("PipelineException", "ValueError", "TypeError", "KeyError"):
        return WorkbenchError(f"`{name}` could not run {spec.name} on this input: {first_line(exc)}")
    return None


# ---------------------------------------------------------------------------------------------
# Running


@contextlib.contextmanager
def explained(spec: TaskSpec, loaded: Loaded) -> Iterator[None]:
    """Runs the block, turning a library error that ``explain`` knows into its clear
    ``WorkbenchError``; our own errors and unknown ones propagate as they are."""
    try:
        yield
    except WorkbenchError:
        raise
    except Exception as exc:
        if (err := explain(exc, spec, loaded)) is None:
            raise
        raise err from exc


def _load(manager: PipelineManager, request: LoadRequest, control: RunControl) -> tuple[Loaded, float]:
    """The run's pipeline, and the seconds this run spent loading it (0 when it was loaded already);
    the stage says "loading …" when this run is the one that loads."""
    def announce(key: LoadKey) -> None:
        control.set_stage(f"loading {key.model} on {key.device} (first use)")

    start = time.perf_counter()
    try:
        loaded, loaded_now = manager.acquire(request, on_load=announce)
    except WorkbenchError:
        raise
    except Exception as exc:
        if is_oom(exc):
            raise OutOfMemoryError(f"Out of memory loading `{request.model}` on {request.device}: choose a smaller "
                                   "model, bfloat16, or unload other models in the Models tab.") from exc
        raise
    return loaded, time.perf_counter() - start if loaded_now else 0.0


def _warnings(loaded: Loaded, output: Any = None, kwargs: Mapping[str, Any] | None = None, *,
              check_empty: bool = True) -> list[str]:
    kwargs = kwargs or {}
    out = []
    if loaded.random_weights:
        out.append(f"`{loaded.key.model}` is a random-weight stand-in ({loaded.description}): its outputs have the "
                   "right shape but no meaning. Pick a real model to get real answers.")
    no_masks = isinstance(output, dict) and isinstance(output.get("masks"), list) and not output["masks"]
    empty = check_empty and (output is None or (isinstance(output, (list, dict)) and not output) or no_masks)
    if empty and "threshold" in kwargs:
        out.append(f"Nothing scored above the threshold {kwargs['threshold']}; lower it to see more.")
    elif empty:
        out.append("The model returned nothing for this input.")
    return out


def _kernels(loaded: Loaded) -> tuple[Any, bool]:
    """The int8 route for a quantized CPU model (``workbench.kernels.int8_kernels``) and whether it
    applies; float models run as transformers runs them."""
    from workbench.quantize import is_quantized

    if not is_quantized(loaded.dtype):
        return contextlib.nullcontext(), False
    from workbench.kernels import int8_kernels, kernels_name

    context = int8_kernels(getattr(loaded.pipe, "model", None))
    return context, kernels_name(context) != "torch"


def run(manager: PipelineManager, task: str, inputs: Mapping[str, Any], params: Mapping[str, Any] | None = None,
        *, request: LoadRequest | LoadKey | None = None, control: RunControl | None = None,
        decoded: Mapping[str, Any] | None = None) -> Iterator[RunResult]:
    """The one way a task runs: check ``params``, decode ``inputs`` (before any load, so a bad input
    costs nothing; or take them ``decoded`` already — Compare decodes once for all its runs), load
    ``request`` (default: the task's offline model), then call. Yields a ``RunResult`` per streamed
    piece of text for the tasks that stream (``spec.streams``: ``done=False``) and always a last one
    with ``done=True``. ``control`` follows the run's stage and position and cancels it
    (``RunCancelled`` at the next chunk, batch, layer or token; a stream keeps its text and ends
    ``stopped``). Raises ``WorkbenchError`` subclasses with messages meant for the user."""
    spec = get_task(task)
    control = control or RunControl()
    request = request or LoadRequest(spec.name)
    params = dict(params or {})
    kwargs, post = spec.call_kwargs(params), spec.post_kwargs(params)
    _required(spec, params)
    control.set_stage("reading inputs")
    t0 = time.perf_counter()
    if decoded is None:
        with running(control):  # a PDF page's renderer stops on Cancel too
            decoded = decode_inputs(spec, inputs, manager.policy)
    inputs_s = time.perf_counter() - t0
    loaded, load_s = _load(manager, request, control)
    if spec.streams:
        yield from _stream(spec, loaded, dict(decoded), inputs, kwargs, control, load_s, inputs_s)
        return
    control.set_stage("preprocessing")
    items = [v for v in decoded.values() if isinstance(v, list)]
    if items and len(items[0]) > 1:  # one pipeline call per item (the sentences of the embeddings tab)
        control.expect(len(items[0]), "input")
    t1 = time.perf_counter()
    kernels, routed = _kernels(loaded)
    with explained(spec, loaded), watch(loaded.pipe, control), kernels:
        prepared = spec.call.prepare(loaded.pipe, dict(decoded), kwargs)
        output = spec.call(loaded.pipe, prepared.inputs, prepared.kwargs, dict(post))
    control.set_stage("done")
    inference_s = time.perf_counter() - t1
    notes = list(prepared.notes)
    if routed:
        notes.append("Its int8 linear layers ran through oneDNN's int8 kernel (faster than plain torchao's here; "
                     "the same int32 sums).")
    yield RunResult.of(
        loaded, task=spec.name, output=output, inputs=prepared.inputs,
        timings={"load_s": load_s, "inputs_s": inputs_s, "inference_s": inference_s},
        code=code_snippet(spec, loaded, inputs, {**prepared.kwargs, **post}),
        warnings=_warnings(loaded, output, kwargs), notes=list(prepared.notes))


def _stream(spec: TaskSpec, loaded: Loaded, decoded: dict[str, Any], inputs: Mapping[str, Any],
            kwargs: dict[str, Any], control: RunControl, load_s: float, inputs_s: float) -> Iterator[RunResult]:
    from workbench.generation import stream_generate

    full_text = kwargs.pop("return_full_text", True)
    control.set_stage("generating")
    prompt = decoded["text"]
    base = RunResult.of(loaded, task=spec.name, output=None, inputs=decoded, timings={"load_s": load_s},
                        code=code_snippet(spec, loaded, inputs, {**kwargs, "return_full_text": full_text}),
                        warnings=_warnings(loaded, check_empty=False))
    with explained(spec, loaded):
        for update in stream_generate(loaded.pipe, prompt, stop_event=control.cancel_event, **kwargs):
            timings = {"load_s": load_s, "inputs_s": inputs_s, **update.timings()}
            text = prompt + update.text if full_text else update.text
            yield replace(base, output=[{"generated_text": text}], timings=timings, done=update.done,
                          stopped=update.stopped,
                          warnings=[*base.warnings, *update.notes])


def run_task(manager: PipelineManager, task: str, inputs: Mapping[str, Any], params: Mapping[str, Any] | None = None,
             *, model: str | None = None, revision: str | None = None, device: str = "auto",
             dtype: str = "auto", control: RunControl | None = None) -> RunResult:
    """``run`` to its end: the final ``RunResult`` of ``task`` on ``inputs`` with call-time ``params``,
    loading ``model`` at ``revision`` on ``device`` in ``dtype``."""
    *_, last = run(manager, task, inputs, params, request=LoadRequest(task, model, revision, device, dtype),
                   control=control)
    return last


def stream_task(manager: PipelineManager, task: str, inputs: Mapping[str, Any], params: Mapping[str, Any] | None = None,
                *, model: str | None = None, revision: str | None = None, device: str = "auto", dtype: str = "auto",
                stop_event: threading.Event | None = None, control: RunControl | None = None) -> Iterator[RunResult]:
    """``run``'s updates as they come (a stream for text generation, one result for other tasks);
    setting ``stop_event`` (or cancelling ``control``, which holds it) ends generation early,
    keeping the text so far."""
    return run(manager, task, inputs, params, request=LoadRequest(task, model, revision, device, dtype),
               control=control or RunControl(stop_event))
