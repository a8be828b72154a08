"""Continuous batching: transformers' own ``ContinuousBatchingManager`` driven for a list of prompts,
with the pipeline's own pre- and post-processing, so each result is what ``pipe(prompt)`` returns.

``run_continuous(pipe, prompts, max_in_flight=16)`` tokenises every prompt with the pipeline's
``preprocess`` (so the tokens are the pipeline's), hands them all to a manager
(``model.init_continuous_batching``) whose scheduler keeps at most ``max_in_flight`` requests in a
step and ``max_tokens`` tokens per step (``ContinuousBatchingConfig.max_requests_per_batch`` /
``max_batch_tokens``; the paged KV cache gets ``num_blocks`` for that many requests of the longest
prompt plus its new tokens), and as each request finishes turns its tokens into the pipeline's
result (``postprocess``). ``max_new_tokens`` may be one number or one per prompt; ``ignore_eos``
makes every request generate exactly that many. Greedy decoding gives the tokens ``pipe`` gives
(the continuous batch computes each request's attention over its own tokens only).

A stop event ends the run before the next decoding step: a check before every forward pass of the
model in the manager's thread fails the step, the manager stops, and ``RunCancelled`` is raised.

    from transformers import pipeline
    pipe = pipeline("text-generation", offline_model_path("text-generation"))
    out = run_continuous(pipe, ["Hello", "The weather"], max_in_flight=2, max_new_tokens=8)
    out.results[0][0]["generated_text"], out.tokens[0], out.timings[0].ttft_s
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from workbench.errors import RunCancelled, WorkbenchError
from workbench.gen_metrics import RequestTiming

#: The KV cache's page size in tokens (transformers' default is 256: too coarse for short prompts on a CPU).
PAGE_SIZE = 64
_LOGGER = "ContinuousBatchingLogger"


@dataclass
class ContinuousOutput:
    """Results in the caller's order (what the pipeline returns per prompt), each request's
    generated token ids and its timing (``workbench.gen_metrics``; all arrive at the run's start),
    the run's wall time and how many decoding steps (forward passes) it took."""

    results: list[Any]
    tokens: list[list[int]]
    prompt_tokens: list[int]
    timings: list[RequestTiming]
    seconds: float
    steps: int


def supports_continuous(pipe: Any) -> str | None:
    """None when ``pipe`` can run with continuous batching, else why not (in words)."""
    model = getattr(pipe, "model", None)
    if getattr(pipe, "task", None) != "text-generation":
        return (f"continuous batching runs decoder-only text generation; {getattr(pipe, 'task', 'this pipeline')} "
                "is not (transformers' paged KV cache holds no encoder outputs or images)")
    if not callable(getattr(model, "init_continuous_batching", None)):
        return f"{type(model).__name__} has no continuous batching (transformers' ContinuousMixin)"
    return None


def _cancel_check(event: threading.Event | None):
    def check(module: Any, args: Any) -> None:
        if event is not None and event.is_set():
            raise RunCancelled("Cancelled before the next decoding step.")
    return check


def run_continuous(pipe: Any, prompts: Sequence[Any], *, max_in_flight: int = 16, max_tokens: int | None = None,
                   max_new_tokens: int | Sequence[int] | None = None, ignore_eos: bool = False,
                   stop_event: threading.Event | None = None, preprocessed: list[dict[str, Any]] | None = None,
                   on_finished: Callable[[int], None] | None = None, **params: Any) -> ContinuousOutput:
    """Run ``prompts`` through ``pipe``'s model with continuous batching; see the module docstring.
    ``params`` are the pipeline's call keywords (``return_full_text``, ``tokenizer_encode_kwargs``…;
    generation keywords other than ``max_new_tokens`` set the manager's generation config).
    ``preprocessed``: the pipeline's ``preprocess`` of each prompt, when the caller has it already.
    ``on_finished(k)`` is told, in this thread, each time a request finishes (``k`` finished so far)."""
    import torch
    from transformers import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    from workbench.batching import split_parameters

    why = supports_continuous(pipe)
    if why:
        raise WorkbenchError(why[0].upper() + why[1:] + ".")
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be at least 1, got {max_in_flight}")
    params = dict(params)
    model, tokenizer = pipe.model, pipe.tokenizer
    pre, fwd, post = split_parameters(pipe, params)
    gen_kwargs = dict(fwd.get("generate_kwargs") or {})
    gen_kwargs.update({k: v for k, v in fwd.items() if k != "generate_kwargs"})
    if max_new_tokens is None:
        max_new_tokens = gen_kwargs.get("max_new_tokens") or model.generation_config.max_new_tokens or 20
    gen_kwargs.pop("max_new_tokens", None)
    budgets = [int(max_new_tokens)] * len(prompts) if isinstance(max_new_tokens, int) else [int(b) for b in max_new_tokens]
    if len(budgets) != len(prompts):
        raise ValueError(f"max_new_tokens has {len(budgets)} values for {len(prompts)} prompts")
    features = preprocessed if preprocessed is not None else [pipe.preprocess(p, **pre) for p in prompts]
    ids = [f["input_ids"][0].tolist() for f in features]
    if not ids:
        return ContinuousOutput([], [], [], [], 0.0, 0)
    config = GenerationConfig(**{**model.generation_config.to_dict(), **gen_kwargs, "max_new_tokens": max(budgets)})
    eos = -1 if ignore_eos else config.eos_token_id
    if ignore_eos:
        config.eos_token_id = -1
    longest = max(len(i) for i in ids) + max(budgets)
    blocks = max_in_flight * math.ceil(longest / PAGE_SIZE) + 1
    step_tokens = max(max_tokens or longest, max_in_flight)  # a decoding step of every request fits
    cb_config = ContinuousBatchingConfig(page_size=PAGE_SIZE, num_blocks=blocks, max_batch_tokens=step_tokens,
                                         max_requests_per_batch=max_in_flight, allow_block_sharing=False)
    steps = [0]

    def count(module: Any, args: Any) -> None:
        steps[0] += 1

    hooks = [model.register_forward_pre_hook(_cancel_check(stop_event)), model.register_forward_pre_hook(count)]
    quiet = logging.getLogger(_LOGGER)
    level = quiet.level
    done: dict[str, Any] = {}
    manager, started = None, False
    try:
        quiet.setLevel(logging.CRITICAL)  # a cancel fails the step under way: expected, not an error to print
        with torch.inference_mode():
            manager = model.init_continuous_batching(generation_config=config, continuous_batching_config=cb_config)
            manager.start()
            started = True
            start = time.perf_counter()
            rids = [manager.add_request(i, request_id=f"r{n}", max_new_tokens=b, record_timestamps=True,
                                        eos_token_id=eos) for n, (i, b) in enumerate(zip(ids, budgets))]
            while len(done) < len(rids):
                if stop_event is not None and stop_event.is_set():
                    raise RunCancelled("Cancelled during continuous batching.")
                result = manager.get_result(timeout=0.05)
                if result is not None and result.is_finished():
                    if result.error is not None:
                        if stop_event is not None and stop_event.is_set():
                            raise RunCancelled("Cancelled during continuous batching.")
                        raise WorkbenchError(f"Continuous batching failed on request {result.request_id}: "
                                             f"{result.error}")
                    done[result.request_id] = result
                    if on_finished is not None:
                        on_finished(len(done))
                elif result is None and not manager.is_running():
                    raise WorkbenchError("The continuous batching loop stopped before every request finished.")
            seconds = time.perf_counter() - start
    finally:
        for h in hooks:
            h.remove()
        if started:  # also after a failed step: stop() puts the model's attention implementation back
            manager.stop(block=True, hard_stop=bool(stop_event is not None and stop_event.is_set()))
            manager.destroy()
        quiet.setLevel(level)
    results, tokens, timings = [], [], []
    for n, (f, prompt_ids) in enumerate(zip(features, ids)):
        out = done[f"r{n}"]
        generated = list(out.generated_tokens)
        stamps = out.timestamps or []
        timings.append(RequestTiming(start, stamps[0] if stamps else None, stamps[-1] if stamps else None,
                                     len(generated)))
        tokens.append(generated)
        row = {"generated_sequence": torch.tensor([[prompt_ids + generated]]), "input_ids": f["input_ids"],
               "prompt_text": f["prompt_text"]}
        results.append(pipe.postprocess(row, **post))
    return ContinuousOutput(results, tokens, [len(i) for i in ids], timings, seconds, steps[0])
