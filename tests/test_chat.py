"""Chat: messages through the tiny offline chat model's template, streaming, Stop on a slow stand-in,
the Chat panel's callbacks (two turns, regenerate, clear), and the chat API through gradio_client."""

from __future__ import annotations

import threading

import gradio as gr
import pytest

from workbench.chat import NoChatTemplateError, chat, normalize_messages, stream_chat, with_system
from workbench.errors import InputError

TURN1 = [{"role": "user", "content": "Hello, who are you?"}]


@pytest.fixture(scope="module")
def chat_pipe(manager):
    return manager.get("text-generation", "offline:chat")


@pytest.fixture(scope="module")
def slow_model(manager, tmp_path_factory) -> str:
    from tests.slow_chat import slow_chat_model

    return slow_chat_model(manager, tmp_path_factory.mktemp("slow"), delay_s=0.05)


# ---------------------------------------------------------------------------------------------
# messages


@pytest.mark.parametrize("messages, message", [
    ([], "non-empty list"),
    ("not json", "not valid JSON"),
    ([{"role": "user"}], "`role` and `content`"),
    ([{"role": "robot", "content": "hi"}], "role 'robot' is not one of"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}], "last message must be the user's"),
    ([{"role": "user", "content": [{"type": "image", "url": "x.png"}]}], "only text content"),
    ([{"role": "user", "content": 3}], "must be a string"),
])
def test_bad_messages_are_refused_clearly(messages, message):
    with pytest.raises(InputError, match=message):
        normalize_messages(messages)


def test_system_prompt_goes_first_and_replaces_an_earlier_one():
    msgs = [{"role": "system", "content": "old"}, *TURN1]
    assert with_system(msgs, "new") == [{"role": "system", "content": "new"}, *TURN1]
    assert with_system(msgs, "  ") == TURN1


# ---------------------------------------------------------------------------------------------
# the core


def test_chat_equals_the_pipeline_called_with_messages(manager, chat_pipe):
    """The answer is what `pipeline("text-generation")(messages)` gives (greedy), and the prompt is
    the tokenizer's own chat template with the assistant's turn opened."""
    system = "You are brief."
    result = chat(manager, TURN1, {"max_new_tokens": 12}, system_prompt=system, model="offline:chat")
    messages = [{"role": "system", "content": system}, *TURN1]
    expected = chat_pipe(messages, max_new_tokens=12)[0]["generated_text"][-1]
    assert result.message == expected and result.message["role"] == "assistant" and result.message["content"]
    assert result.messages == [*messages, expected]
    assert result.prompt == chat_pipe.tokenizer.apply_chat_template(messages, tokenize=False,
                                                                    add_generation_prompt=True)
    assert result.prompt.endswith("<|assistant|>\n") and "<|system|>\nYou are brief.<|end|>" in result.prompt
    assert "pipe(messages, max_new_tokens=12" in result.code and result.random_weights


def test_second_turn_sends_the_whole_conversation(manager, chat_pipe):
    first = chat(manager, TURN1, {"max_new_tokens": 6})
    second_turn = [*first.messages, {"role": "user", "content": "And what can you do?"}]
    second = chat(manager, second_turn, {"max_new_tokens": 6})
    assert second.prompt.count("<|user|>") == 2 and second.prompt.count("<|assistant|>") == 2
    assert first.message["content"] in second.prompt
    assert second.message == chat_pipe(second_turn, max_new_tokens=6)[0]["generated_text"][-1]


def test_streaming_reports_first_token_and_rate(manager):
    updates = list(stream_chat(manager, TURN1, {"max_new_tokens": 10}))
    assert len(updates) >= 2 and [u.done for u in updates].count(True) == 1 and updates[-1].done
    assert updates[-1].timings["new_tokens"] >= len(updates) - 1
    assert updates[-1].timings["time_to_first_token_s"] > 0 and updates[-1].timings["tokens_per_s"] > 0
    texts = [u.message["content"] for u in updates]
    assert all(texts[-1].startswith(t) for t in texts)  # the answer only grows


def test_a_model_without_chat_template_says_so(manager):
    with pytest.raises(NoChatTemplateError, match="no chat template.*Completion mode"):
        chat(manager, TURN1, {"max_new_tokens": 4}, model="offline:text-generation")


def test_bad_messages_cost_no_load(manager):
    loads = manager.load_count
    with pytest.raises(InputError):
        chat(manager, [{"role": "assistant", "content": "hi"}], model="never/loaded")
    assert manager.load_count == loads


def test_stop_ends_the_answer_early(manager, slow_model):
    stop = threading.Event()
    seen = []
    for update in stream_chat(manager, TURN1, {"max_new_tokens": 200}, model=slow_model, stop_event=stop):
        seen.append(update)
        if len(seen) == 2:
            stop.set()
    assert seen[-1].done and seen[-1].stopped
    assert seen[-1].timings["new_tokens"] < 20  # at 50 ms a token, 200 would take 10 s


# ---------------------------------------------------------------------------------------------
# the Chat panel and its API


@pytest.fixture(scope="module")
def context():
    from components.context import TabContext

    return TabContext(devices=["cpu"], dtypes=["float32"], online=False, offline_tasks=frozenset({"text-generation"}))


@pytest.fixture(scope="module")
def panel(manager, context):
    from components.chat import build_chat_panel
    from workbench.tasks import get_task

    with gr.Blocks():
        return build_chat_panel(get_task("text-generation"), manager, context)


def _values(panel, model="offline:chat", max_new_tokens=8):
    values = {"max_new_tokens": max_new_tokens, "do_sample": False, "temperature": None, "top_p": None}
    return [values[p.name] for p in panel.params.params] + [model, "", "cpu", "float32"]


def test_panel_two_turns_and_regenerate(panel):
    *_, first = panel.respond([], "Hello", "Be brief.", *_values(panel))
    history, box, info, _, prompt, code = first
    assert [m["role"] for m in history] == ["user", "assistant"] and box == ""
    assert "first token" in info and "tokens/s" in info and "<|system|>\nBe brief." in prompt and "pipe(messages" in code
    *_, second = panel.respond(history, "Tell me more", "Be brief.", *_values(panel))
    assert [m["role"] for m in second[0]] == ["user", "assistant", "user", "assistant"]
    assert second[4].count("<|user|>") == 2
    *_, again = panel.regenerate_last(second[0], "draft", "Be brief.", *_values(panel))
    assert again[0] == second[0] and again[1] == "draft"  # greedy: the same answer again; the draft kept


def test_panel_offers_completion_for_a_model_without_template(panel):
    *_, out = panel.respond([], "Hello", "", *_values(panel, model="offline:text-generation"))
    assert "no chat template" in out[2] and out[3]["visible"] is True and out[1] == "Hello"


def test_panel_stop(panel, slow_model):
    outs = []
    for out in panel.respond([], "Hello", "", *_values(panel, model=slow_model, max_new_tokens=200), session="s1"):
        outs.append(out)
        if len(outs) == 2:
            panel.stop("s1")
    assert "stopped" in outs[-1][2] and len(outs) <= 4


@pytest.fixture(scope="module")
def served(manager, context):
    """The text-generation tab as the app builds it (Completion and Chat sub-tabs), served."""
    from components.task_tab import group_tabs
    from tests.app_server import serving
    from workbench.tasks import get_task

    with gr.Blocks() as demo:
        group_tabs({"Text": [get_task("text-generation")]}, manager, context)

    with serving(demo) as url:
        yield url


def test_chat_api_takes_messages_and_returns_the_assistant_message(served, manager):
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    client = Client(served, verbose=False)
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/text_generation", "/text_generation_chat"} <= set(endpoints)  # Completion and Chat
    assert endpoints["/text_generation_chat"]["parameters"][0]["parameter_name"] == "messages"
    messages = [{"role": "system", "content": "Be brief."}, *TURN1]
    answer = client.predict(messages=messages, max_new_tokens=8, api_name="/text_generation_chat")
    assert answer == chat(manager, messages, {"max_new_tokens": 8}).message
    with pytest.raises(AppError, match="no chat template"):
        client.predict(messages=TURN1, model="offline:text-generation", api_name="/text_generation_chat")
    with pytest.raises(AppError, match="last message must be the user's"):
        client.predict(messages=[{"role": "assistant", "content": "x"}], api_name="/text_generation_chat")
    assert client.predict(messages=TURN1, max_new_tokens=2, api_name="/text_generation_chat")["role"] == "assistant"
