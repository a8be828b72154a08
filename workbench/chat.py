"""Chat with instruct models: OpenAI-style messages through the model's own chat template.

No gradio here. ``stream_chat`` validates the messages, renders the prompt with the tokenizer's
chat template (exactly what ``pipeline("text-generation")(messages)`` does), streams the answer
with a working stop event, and yields ``ChatResult``s of plain values; ``chat`` returns the last.

>>> normalize_messages([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
[{'role': 'user', 'content': 'Hi'}]

With a model:

    from workbench.manager import PipelineManager
    chat(PipelineManager(), [{"role": "user", "content": "Hi"}], {"max_new_tokens": 8}).message
    # -> {'role': 'assistant', 'content': '...'}
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from workbench.errors import InputError, WorkbenchError
from workbench.messages import first_line
from workbench.results import RunFacts
from workbench.tasks import TaskSpec, get_task

if TYPE_CHECKING:
    from workbench.manager import PipelineManager

DEFAULT_CHAT_MODEL = "offline:chat"
ROLES = ("system", "user", "assistant")
#: The text-generation parameters that make no sense for chat (the answer never includes the prompt).
NOT_FOR_CHAT = ("return_full_text",)


class NoChatTemplateError(WorkbenchError):
    """The model's tokenizer has no chat template: it continues text, it does not chat."""


@dataclass(kw_only=True)
class ChatResult(RunFacts):
    """One state of a chat answer (plain values, with ``results.RunFacts``' fields): the assistant
    ``message`` so far, the whole conversation with it appended and the ``prompt`` the template
    rendered; ``timings`` add ``time_to_first_token_s``, ``tokens_per_s`` and ``new_tokens``."""

    message: dict[str, str]
    messages: list[dict[str, str]]
    prompt: str


def _content(value: Any, i: int) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):  # [{"type": "text", "text": ...}], Gradio's and OpenAI's parts
        texts = []
        for part in value:
            if isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, str):
                texts.append(part)
            else:
                raise InputError(f"Message {i + 1}: only text content is supported, got a part {str(part)[:60]!r}.")
        return "".join(texts)
    raise InputError(f"Message {i + 1}: `content` must be a string (or a list of text parts), not "
                     f"{type(value).__name__}.")


def normalize_messages(messages: Any) -> list[dict[str, str]]:
    """Check OpenAI-style chat messages and return them as ``[{"role", "content"}]`` with string
    content; a JSON string of such a list is accepted too. The last message must be the user's.

    >>> normalize_messages('[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]')
    [{'role': 'system', 'content': 'Be brief.'}, {'role': 'user', 'content': 'Hi'}]
    >>> normalize_messages([{"role": "bot", "content": "Hi"}])
    Traceback (most recent call last):
    ...
    workbench.errors.InputError: Message 1: role 'bot' is not one of system, user, assistant.
    """
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except json.JSONDecodeError as exc:
            raise InputError(f"The messages are not valid JSON ({exc.msg}); give a list like "
                             '[{"role": "user", "content": "Hello"}].') from exc
    if not isinstance(messages, (list, tuple)) or not messages:
        raise InputError('Give the conversation as a non-empty list of messages, e.g. [{"role": "user", '
                         '"content": "Hello"}].')
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise InputError(f"Message {i + 1} must be an object with `role` and `content`, got {str(m)[:80]!r}.")
        if m["role"] not in ROLES:
            raise InputError(f"Message {i + 1}: role {m['role']!r} is not one of {', '.join(ROLES)}.")
        out.append({"role": m["role"], "content": _content(m["content"], i)})
    if out[-1]["role"] != "user" or not out[-1]["content"].strip():
        raise InputError("The last message must be the user's, and not empty: write a message to answer.")
    return out


def with_system(messages: list[dict[str, str]], system_prompt: str | None) -> list[dict[str, str]]:
    """``messages`` with ``system_prompt`` (if any) as the first message, replacing an earlier one.

    >>> with_system([{"role": "user", "content": "Hi"}], "Be brief.")[0]
    {'role': 'system', 'content': 'Be brief.'}
    """
    rest = [m for m in messages if m["role"] != "system"]
    return [{"role": "system", "content": system_prompt.strip()}, *rest] if (system_prompt or "").strip() else rest


def render_prompt(pipe: Any, messages: list[dict[str, str]], name: str = "the model") -> str:
    """The prompt the model gets: ``messages`` through its tokenizer's chat template, ending with
    the assistant's turn. Raises ``NoChatTemplateError`` for a tokenizer without one."""
    tokenizer = getattr(pipe, "tokenizer", None)
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise NoChatTemplateError(
            f"`{name}` has no chat template, so it continues text rather than chat. Use Completion mode with "
            "this model, or pick an instruct model (e.g. offline:chat, HuggingFaceTB/SmolLM2-360M-Instruct).")
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    except Exception as exc:  # a template may refuse a conversation (e.g. roles that must alternate)
        raise InputError(f"`{name}`'s chat template refused this conversation: {first_line(exc)}") from exc


def chat_snippet(loaded: Any, messages: list[dict[str, str]], kwargs: Mapping[str, Any]) -> str:
    """The code of the same chat call with a plain transformers pipeline."""
    from workbench.kinds import quoted
    from workbench.snippets import device_and_dtype, model_expr

    model, comments = model_expr(loaded)
    rev = f", revision={quoted(loaded.key.revision)}" if loaded.key.revision else ""
    where, quantize = device_and_dtype(loaded)
    lines = ["from transformers import pipeline", "", *comments,
             f'pipe = pipeline("text-generation", model={model}{rev}{where})', *quantize,
             "messages = [", *[f"    {m!r}," for m in messages], "]",
             f"result = pipe(messages{''.join(f', {k}={v!r}' for k, v in kwargs.items())})",
             'answer = result[0]["generated_text"][-1]  # {"role": "assistant", "content": ...}']
    return "\n".join(lines)


def chat_task(task: str | None = None) -> TaskSpec:
    """The task a chat runs as: ``task``, which must offer a Chat mode (``spec.chat``), or the first
    registered task that does.

    >>> chat_task().name
    'text-generation'
    """
    from workbench.errors import WorkbenchError
    from workbench.tasks import TASKS

    if task is not None:
        spec = get_task(task)
        if not spec.chat:
            raise WorkbenchError(f"{spec.name} has no Chat mode; chat with one of: "
                                 f"{', '.join(n for n, s in TASKS.items() if s.chat)}.")
        return spec
    return next(s for s in TASKS.values() if s.chat)


def stream_chat(manager: PipelineManager, messages: Any, params: Mapping[str, Any] | None = None, *,
                system_prompt: str | None = None, model: str | None = None, revision: str | None = None,
                device: str = "auto", dtype: str = "auto", stop_event: threading.Event | None = None,
                task: str | None = None) -> Iterator[ChatResult]:
    """Answer the conversation ``messages`` (OpenAI-style) with a text-generation model, yielding
    the answer as it grows (``done=False``) and a last ``ChatResult`` with ``done=True``.

    ``params`` are the text-generation tab's (``max_new_tokens``, ``do_sample``, ``temperature``,
    ``top_p``); ``system_prompt`` replaces any system message. Messages are checked before any
    model loads. Setting ``stop_event`` ends generation after the current token (``stopped=True``).
    """
    from workbench.generation import stream_generate
    from workbench.load_request import LoadRequest
    from workbench.progress import RunControl
    from workbench.service import _load, _warnings, explained

    spec = chat_task(task)
    conversation = with_system(normalize_messages(messages), system_prompt)
    kwargs = spec.call_kwargs({k: v for k, v in dict(params or {}).items() if k not in NOT_FOR_CHAT})
    for name in NOT_FOR_CHAT:
        kwargs.pop(name, None)
    request = LoadRequest(spec.name, (model or "").strip() or DEFAULT_CHAT_MODEL, revision, device, dtype)
    loaded, load_s = _load(manager, request, RunControl(stop_event))
    prompt = render_prompt(loaded.pipe, conversation, loaded.key.model)
    base = ChatResult.of(loaded, message={"role": "assistant", "content": ""}, messages=conversation, prompt=prompt,
                         timings={"load_s": load_s}, code=chat_snippet(loaded, conversation, kwargs),
                         warnings=_warnings(loaded, check_empty=False), done=False)
    with explained(spec, loaded):
        for update in stream_generate(loaded.pipe, prompt, stop_event=stop_event or threading.Event(), **kwargs):
            timings = {"load_s": load_s, **update.timings()}
            answer = {"role": "assistant", "content": update.text}
            yield replace(base, message=answer, messages=[*conversation, answer], timings=timings, done=update.done,
                          stopped=update.stopped, notes=list(update.notes))


def chat(manager: PipelineManager, messages: Any, params: Mapping[str, Any] | None = None,
         **options: Any) -> ChatResult:
    """``stream_chat`` to the end: the finished answer (``result.message``)."""
    *_, last = stream_chat(manager, messages, params, **options)
    return last
