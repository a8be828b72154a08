"""Any-to-any (transformers' ``any-to-any`` pipeline, ``AutoModelForMultimodalLM``), as this
workbench offers it: a sound (speech, music, noise) and a text prompt in, text out.

transformers' pipeline also takes images and videos, but for a model that reads either it
requires torchvision at construction (``AnyToAnyPipeline.__init__``), which this project does not
install; so the tab sends what every audio-language model (Qwen2-Audio, Granite Speech, Voxtral…)
takes without it: the clip, resampled to the model's rate, and the prompt, as one chat message.

>>> ANY_TO_ANY.snippet(["audio", "text"], {"audio": "audio", "text": "'What is it?'"}, {"max_new_tokens": 8})[-1]
'result = pipe(text=messages, return_full_text=False, max_new_tokens=8)'
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from workbench.calls import Audio, Decoded, kwargs_code


def answers(output: Any) -> list[dict[str, Any]]:
    """The pipeline's results without their ``input_text`` (the chat again, the clip's samples in it)."""
    items = output if isinstance(output, list) else [output]
    return [{k: v for k, v in r.items() if k != "input_text"} if isinstance(r, dict) else r for r in items]


class AnyToAny(Audio):
    """The clip at the model's rate (``Audio.prepare``) and the prompt, as a chat message:
    ``pipe(text=messages, return_full_text=False, **kw)``."""

    def __call__(self, pipe: Any, x: Decoded, kw: dict[str, Any], post: dict[str, Any]) -> Any:
        from workbench.inputs import audio_chat

        return answers(pipe(text=audio_chat(x["audio"], x["text"]), return_full_text=False, **kw))

    def snippet(self, inputs: Sequence[str], exprs: Mapping[str, str], kwargs: Mapping[str, Any]) -> list[str]:
        return ['messages = [{"role": "user", "content": [{"type": "audio", "audio": ' + exprs["audio"] + '}, '
                '{"type": "text", "text": ' + exprs["text"] + "}]}]",
                f"result = pipe(text=messages, return_full_text=False{kwargs_code(kwargs)})"]

    def backend(self, pipe: Any, params: dict[str, Any]) -> Any:
        from workbench.task_backends import AnyToAnyBackend

        return AnyToAnyBackend(pipe, params)


ANY_TO_ANY = AnyToAny()
