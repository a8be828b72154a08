"""Chat mode of the text-generation tab: a ``gr.Chatbot`` over ``workbench.chat``.

``render_chat_modes`` puts the tab's usual content (Completion) and a Chat panel in two sub-tabs.
The panel streams answers with time to first token and tokens/s, has Stop, Regenerate and Clear,
shows the prompt the chat template rendered, and registers the API endpoint
``/{api_name}_chat`` (OpenAI-style messages in, the assistant message out).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

import gradio as gr

from components.api_docs import document_endpoint
from components.events import gr_error, session_id
from components.info import timings_markdown
from components.lazy import interactive, when_opened
from components.model_picker import ModelWidgets, build_model_picker
from components.params import ParamWidgets, build_param
from workbench.chat import NOT_FOR_CHAT
from workbench.presets import load_presets
from workbench.tasks import TaskSpec

if TYPE_CHECKING:
    from components.context import TabContext
    from components.task_tab import TaskTab
    from workbench.chat import ChatResult
    from workbench.manager import PipelineManager



def chat_model_choices(spec: TaskSpec) -> list[tuple[str, str]]:
    """The built-in tiny chat model, then the task's instruct presets (those with a chat template)."""
    out = [("offline:chat — built-in tiny chat model (random weights, for trying things out)", "offline:chat")]
    out += [(f"{m.id} — {m.note}" if m.note else m.id, m.id) for m in load_presets(spec.name).models
            if "instruct" in m.id.lower() or "chat" in m.id.lower()]
    return out


def _text(content: Any) -> str:
    """A Chatbot message's content (a string, or Gradio's list of parts) as text."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content or "")


def history_messages(history: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """The Chatbot's value -> plain ``{"role", "content"}`` messages.

    >>> history_messages([{"role": "user", "content": [{"type": "text", "text": "Hi"}]}])
    [{'role': 'user', 'content': 'Hi'}]
    """
    return [{"role": m["role"], "content": _text(m.get("content"))} for m in history or []
            if m.get("role") in ("user", "assistant", "system")]


@dataclass
class ChatPanel:
    """The Chat mode's widgets and callbacks (callable directly in tests)."""

    spec: TaskSpec
    manager: PipelineManager
    chatbot: gr.Chatbot
    message: gr.Textbox
    system: gr.Textbox
    params: ParamWidgets
    picker: ModelWidgets
    send: gr.Button
    stop_button: gr.Button
    regenerate: gr.Button
    clear: gr.Button
    info: gr.Markdown
    use_completion: gr.Button
    prompt: gr.Code
    code: gr.Code
    _stops: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def in_components(self) -> list[gr.components.Component]:
        return [self.chatbot, self.message, self.system, *self.params.components, *self.picker.components]

    @property
    def out_components(self) -> list[gr.components.Component]:
        return [self.chatbot, self.message, self.info, self.use_completion, self.prompt, self.code]

    def _options(self, values: tuple[Any, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
        n = len(self.params.components)
        params = self.params.to_service(dict(zip(self.params.keys, values[:n])))
        model, revision, device, dtype = values[n:n + 4]
        return params, dict(model=(model or "").strip() or None, revision=(revision or "").strip() or None,
                            device=device or "auto", dtype=dtype or "auto")

    def _outputs(self, history: list[dict[str, str]], result: ChatResult, text: str = "") -> list[Any]:

        return [[*history, result.message], text, timings_markdown(result), gr.update(visible=False),
                result.prompt, result.code]

    def respond(self, history: list[dict[str, Any]] | None, text: str, system: str, *values: Any,
                session: str = "") -> Iterator[list[Any]]:
        """Answer ``text`` after ``history``: yields the widgets' values as the answer streams."""
        from workbench.chat import NoChatTemplateError, stream_chat

        past = history_messages(history)
        if not (text or "").strip():  # an empty send changes nothing but the info line
            yield [gr.skip(), gr.skip(), "Write a message first (Enter sends it, Shift+Enter starts a new line).",
                   gr.skip(), gr.skip(), gr.skip()]
            return
        conversation = [*past, {"role": "user", "content": text}]
        params, options = self._options(values)
        event = threading.Event()
        with self._lock:
            self._stops[session] = event
        try:
            for result in stream_chat(self.manager, conversation, params, system_prompt=system, stop_event=event,
                                      task=self.spec.name, **options):
                if event.is_set() and not result.done:
                    continue  # after Stop only the final update is shown
                yield self._outputs(conversation, result)
        except NoChatTemplateError as exc:
            yield [history, text, f"> ⚠ {exc}", gr.update(visible=True), "", ""]
        except Exception as exc:
            # the reason stays on the page in the info line (a toast fades), the message is kept to send again
            reason = gr_error(exc, self.manager.policy).message  # logs what is not the user's to fix
            yield [gr.skip(), text, f"**Error:** {reason}", gr.skip(), gr.skip(), gr.skip()]
        finally:
            with self._lock:
                if self._stops.get(session) is event:
                    del self._stops[session]

    def regenerate_last(self, history: list[dict[str, Any]] | None, text: str, system: str, *values: Any,
                        session: str = "") -> Iterator[list[Any]]:
        """Answer the last user message again (its previous answer is dropped)."""
        past = history_messages(history)
        users = [i for i, m in enumerate(past) if m["role"] == "user"]
        if not users:
            yield [gr.skip(), gr.skip(), "There is no message to answer again yet.", gr.skip(), gr.skip(), gr.skip()]
            return
        last = users[-1]
        for out in self.respond(past[:last], past[last]["content"], system, *values, session=session):
            out[1] = text  # keep whatever the user is typing
            yield out

    def stop(self, session: str = "") -> None:
        """End the answer streaming for ``session`` after its current token."""
        with self._lock:
            event = self._stops.get(session)
        if event is not None:
            event.set()


def build_chat_panel(spec: TaskSpec, manager: PipelineManager, context: TabContext, *,
                     endpoint: bool = True) -> ChatPanel:
    """Create the Chat mode's widgets (ids ``{task}-chat-…``) and wire them (``endpoint``: and add
    the API endpoint, ``chat_endpoint``)."""
    prefix = f"{spec.name}-chat"
    gr.Markdown("Chat with an instruct model: the conversation goes through the model's own chat template "
                "(see *Prompt the model got*). Models without a chat template only continue text: use "
                "Completion for those.", elem_id=f"{prefix}-description")
    # wb-conversation-first: on a phone the conversation comes first and the settings fold away
    # (components.layout), instead of the conversation sitting 1900 px down, under them
    with gr.Row(equal_height=False, elem_classes=["wb-conversation-first"]):
        with gr.Column(scale=1):
            with gr.Accordion("Settings: system prompt, parameters, model", open=True, elem_classes=["wb-fold"],
                              elem_id=f"{prefix}-settings"):
                system = gr.Textbox(label="System prompt (optional)", lines=2,
                                    placeholder="e.g. You are a concise assistant.", elem_id=f"{prefix}-system")
                with gr.Accordion("Parameters", open=True):
                    chosen = [p for p in spec.params if p.name not in NOT_FOR_CHAT]
                    params = ParamWidgets(spec, chosen, [build_param(prefix, p) for p in chosen])
                choices = chat_model_choices(spec)
                picker = build_model_picker(spec, choices=choices, value=choices[0][1], devices=context.devices,
                                            dtypes=context.dtypes, id_prefix=prefix,
                                            local_paths=manager.policy.allow_local_paths)
        with gr.Column(scale=2):
            chatbot = gr.Chatbot(label="Conversation", height=380, elem_id=f"{prefix}-chatbot")
            # lines=1 with room to grow: Gradio sends on Enter and leaves Shift+Enter to the textarea (a
            # new line); with lines=2 it is the other way round
            message = gr.Textbox(label="Message", placeholder="Write a message: Enter sends, Shift+Enter is a new line",
                                 lines=1, max_lines=8, elem_id=f"{prefix}-message",
                                 elem_classes=["wb-send-on-enter"])
            with gr.Row():
                send = gr.Button("Send", variant="primary", elem_id=f"{prefix}-send")
                stop = gr.Button("Stop", variant="stop", elem_id=f"{prefix}-stop")
                regenerate = gr.Button("Regenerate last answer", elem_id=f"{prefix}-regenerate")
                clear = gr.Button("Clear conversation", elem_id=f"{prefix}-clear")
            info = gr.Markdown(elem_id=f"{prefix}-info")
            use_completion = gr.Button("Use Completion mode with this model", visible=False,
                                       elem_id=f"{prefix}-use-completion")
            with gr.Accordion("Prompt the model got (rendered by its chat template)", open=False):
                prompt = gr.Code(language=None, interactive=False, elem_id=f"{prefix}-prompt")
            with gr.Accordion("Code: the same call in Python", open=False):
                code = gr.Code(language="python", interactive=False, elem_id=f"{prefix}-code")
    panel = ChatPanel(spec, manager, chatbot, message, system, params, picker, send, stop, regenerate, clear, info,
                      use_completion, prompt, code)
    _wire(panel, context.concurrency_limit)
    if endpoint:
        chat_endpoint(spec, manager, context.concurrency_limit)
    return panel


def _wire(panel: ChatPanel, concurrency_limit: int) -> None:
    common = dict(inputs=panel.in_components, outputs=panel.out_components, api_visibility="private",
                  concurrency_limit=concurrency_limit, concurrency_id=f"{panel.spec.name}-chat")

    def respond(request: gr.Request, *values: Any) -> Iterator[list[Any]]:
        yield from panel.respond(*values, session=session_id(request))

    def regenerate(request: gr.Request, *values: Any) -> Iterator[list[Any]]:
        yield from panel.regenerate_last(*values, session=session_id(request))

    panel.send.click(respond, **common)
    panel.message.submit(respond, **common)
    panel.regenerate.click(regenerate, **common)
    def stop(request: gr.Request) -> None:
        panel.stop(session_id(request))

    panel.stop_button.click(stop, inputs=None, outputs=None, queue=False, api_visibility="private")
    panel.clear.click(lambda: ([], "", "", gr.update(visible=False), "", ""), outputs=panel.out_components,
                      queue=False, api_visibility="private")


def chat_endpoint(spec: TaskSpec, manager: PipelineManager, concurrency_limit: int) -> None:
    """The API endpoint ``/{api_name}_chat`` (no widgets: ``gr.api``)."""
    endpoint = gr.api(_chat_endpoint(manager, spec.name), api_name=f"{spec.api_name}_chat",
                      api_description="Chat: OpenAI-style messages in, the assistant's message out.",
                      concurrency_limit=concurrency_limit, concurrency_id=f"{spec.name}-chat")
    document_endpoint(endpoint, CHAT_API_PARAMETERS, {"message": "The assistant's answer: {'role': 'assistant', "
                                                                 "'content': ...}."})


CHAT_API_PARAMETERS = {
    "messages": "The conversation so far, OpenAI-style: [{'role': 'user', 'content': 'Hi'}, ...].",
    "system_prompt": "An optional system prompt, put first in the conversation.",
    "max_new_tokens": "The most tokens to generate (default 64).",
    "do_sample": "Sample instead of greedy decoding (default false).",
    "temperature": "Sampling temperature; null: the model's default.",
    "top_p": "Nucleus sampling probability; null: the model's default.",
    "model": "The model: a Hub id, a local folder, or `offline:chat`.",
    "revision": "The model's branch, tag or commit; empty: main.",
    "device": "Where to run: auto, cpu, cuda…",
    "dtype": "The weights' precision: auto, float32, bfloat16…",
}


def _chat_endpoint(manager: PipelineManager, task: str) -> Callable[..., dict[str, str]]:
    def text_generation_chat(messages: list[dict[str, Any]], system_prompt: str = "", max_new_tokens: int = 64,
                             do_sample: bool = False, temperature: float | None = None, top_p: float | None = None,
                             model: str = "offline:chat", revision: str = "", device: str = "auto",
                             dtype: str = "auto") -> dict[str, str]:
        """Answer an OpenAI-style conversation ([{"role": "user", "content": "Hi"}]) with a
        text-generation model through its chat template; returns {"role": "assistant", "content": ...}."""
        from workbench.chat import chat

        params = {"max_new_tokens": max_new_tokens, "do_sample": do_sample, "temperature": temperature,
                  "top_p": top_p}
        try:
            return chat(manager, messages, {k: v for k, v in params.items() if v is not None}, task=task,
                        system_prompt=system_prompt, model=model, revision=revision or None, device=device,
                        dtype=dtype).message
        except Exception as exc:
            raise gr_error(exc, manager.policy) from exc

    return text_generation_chat


def render_chat_modes(spec: TaskSpec, manager: PipelineManager, context: TabContext,
                      build_completion: Callable[[], TaskTab], *, lazy: bool = True) -> TaskTab:
    """Completion (the tab as ``build_completion`` makes it) and Chat, as two sub-tabs. ``lazy``:
    Chat's widgets are built for a session when it first opens Chat (``components.lazy``); its
    endpoint is there from the start."""
    with gr.Tabs(elem_id=f"{spec.name}-modes") as modes:
        with gr.Tab("Completion", id="completion", elem_id=f"tab-{spec.name}-completion"):
            tab = build_completion()
        with gr.Tab("Chat", id="chat", elem_id=f"tab-{spec.name}-chat") as chat_item:
            def build() -> None:
                panel = build_chat_panel(spec, manager, context, endpoint=False)
                interactive([panel.message, panel.system, *panel.params.components, *panel.picker.components])
                panel.use_completion.click(lambda m: (gr.Tabs(selected="completion"), m), inputs=panel.picker.model,
                                           outputs=[modes, tab.picker.model], queue=False, api_visibility="private")

            chat_endpoint(spec, manager, context.concurrency_limit)  # there from the start, widgets or not
            if lazy:
                when_opened([chat_item], build)
            else:
                build()
    return tab
