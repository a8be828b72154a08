"""The generation settings transformers 4.57's pipelines used, rebuilt on transformers 5.

4.57's generating pipelines (summarization, translation, text2text-generation, image-to-text, and
visual QA with a generative model) did not call ``generate`` with the model's settings as they
are. ``LegacyGeneration.for_model(...)`` repeats what they did, in their order:

1. start from the pipeline's own defaults: ``max_new_tokens=256``, and ``num_beams=4`` for the
   text-to-text family (``TEXT2TEXT_DEFAULTS``);
2. take every value the model's ``generation_config.json`` sets where that start is still the
   global default (so the model's ``max_length`` or ``min_length`` count, but the pipeline's
   ``num_beams=4`` and ``max_new_tokens=256`` stay);
3. drop ``max_new_tokens`` when the model sets a ``max_length`` other than 20;
4. apply ``config.task_specific_params[task]`` (its ``prefix`` goes in front of the text);
5. take the pad token from the tokenizer when the model has none;
6. at ``generate`` time, settings still at their global default fall back to the model's again;
7. the caller's keywords win over all of that.

    from transformers import T5Config, T5ForConditionalGeneration
    gen = LegacyGeneration.for_model(model, TEXT2TEXT_DEFAULTS, "summarization")
    model.generate(**inputs, **gen.generate_kwargs({"num_beams": 1}))
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping

from packaging.version import Version

#: The text-to-text pipelines' defaults (summarization, translation, text2text-generation).
TEXT2TEXT_DEFAULTS = {"max_new_tokens": 256, "num_beams": 4}
#: The image-to-text and visual-question-answering pipelines' default.
IMAGE_TEXT_DEFAULTS = {"max_new_tokens": 256}

#: ``GenerationConfig()`` in transformers 4.57: what "a global default" meant there (None otherwise).
GLOBAL_DEFAULTS_457: Mapping[str, Any] = {
    "max_length": 20, "min_length": 0, "early_stopping": False, "do_sample": False, "num_beams": 1,
    "use_cache": True, "temperature": 1.0, "top_k": 50, "top_p": 1.0, "typical_p": 1.0, "epsilon_cutoff": 0.0,
    "eta_cutoff": 0.0, "repetition_penalty": 1.0, "encoder_repetition_penalty": 1.0, "length_penalty": 1.0,
    "no_repeat_ngram_size": 0, "renormalize_logits": False, "remove_invalid_values": False,
    "token_healing": False, "num_return_sequences": 1, "output_attentions": False,
    "output_hidden_states": False, "output_scores": False, "return_dict_in_generate": False,
    "encoder_no_repeat_ngram_size": 0, "is_assistant": False, "num_assistant_tokens": 20,
    "num_assistant_tokens_schedule": "constant", "assistant_confidence_threshold": 0.4,
    "assistant_lookbehind": 10, "target_lookbehind": 10, "disable_compile": False, "diversity_penalty": 0.0,
    "num_beam_groups": 1,
}
_MODEL_DEFAULTS_SINCE = Version("4.50.0")  # 4.57's generate re-applied model defaults for models saved since


@dataclass(frozen=True)
class LegacyGeneration:
    """The settings a 4.57 pipeline would start ``generate`` from, for one model and task."""

    model: Any
    values: Mapping[str, Any]
    prefix: str = ""

    @classmethod
    def for_model(cls, model: Any, defaults: Mapping[str, Any], task: str, *,
                  pad_token_id: int | None = None) -> "LegacyGeneration":
        """Steps 1–6 of the module docstring for ``model`` run as ``task`` (a 4.57 task name such
        as ``summarization`` or ``translation_en_to_fr``, the key of ``task_specific_params``)."""
        own = _model_values(model)
        values: dict[str, Any] = dict(defaults)
        _fill_from_model(values, own)
        length = values.get("max_length", GLOBAL_DEFAULTS_457["max_length"])
        if (defaults.get("max_new_tokens") is not None and values.get("max_new_tokens") == defaults["max_new_tokens"]
                and length is not None and length != GLOBAL_DEFAULTS_457["max_length"]):
            values["max_new_tokens"] = None
        prefix = getattr(model.config, "prefix", None) or ""
        task_params = dict((getattr(model.config, "task_specific_params", None) or {}).get(task) or {})
        if "prefix" in task_params:
            prefix = task_params.pop("prefix") or ""
        values.update(task_params)
        if values.get("pad_token_id") is None and pad_token_id is not None:
            values["pad_token_id"] = pad_token_id
        saved_with = getattr(model.generation_config, "transformers_version", None)
        if saved_with is None or Version(Version(saved_with).base_version) >= _MODEL_DEFAULTS_SINCE:
            _fill_from_model(values, own)
        return cls(model, values, prefix)

    def generate_kwargs(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """``generate`` keywords: a ``generation_config`` holding these settings, plus ``given``.

        The caller's keywords stay keywords (not folded into the config) because ``generate``
        treats a ``max_length`` keyword differently from one in the config. When nothing else
        bounds the length, 4.57 read its default ``max_length`` of 20 as 20 *new* tokens (past the
        decoder's prompt), which transformers 5 does only if no config sets it, so it is passed
        as ``max_new_tokens=20``; any other ``max_length`` counts the whole sequence in both.
        """
        values = dict(self.values)
        default_length = GLOBAL_DEFAULTS_457["max_length"]
        if ("max_length" not in given and given.get("max_new_tokens") is None and values.get("max_new_tokens") is None
                and values.get("max_length", default_length) == default_length):
            values["max_new_tokens"] = default_length
        config = copy.deepcopy(self.model.generation_config)
        config.update(**values)
        return {"generation_config": config, **given}


def _model_values(model: Any) -> dict[str, Any]:
    """The settings ``model``'s generation config holds (transformers 5 leaves the others ``None``)."""
    return {k: v for k, v in model.generation_config.to_dict().items()
            if v is not None and not k.startswith("_") and k != "transformers_version"}


def _fill_from_model(values: dict[str, Any], own: Mapping[str, Any]) -> None:
    """4.57's ``use_model_defaults``: a setting still at its global default takes the model's value."""
    for key, value in own.items():
        if key == "cache_implementation" and value == "hybrid":
            continue
        default = GLOBAL_DEFAULTS_457.get(key)
        if values.get(key, default) == default and value != default:
            values[key] = value
    if values.get("temperature") == 0.0:
        values["do_sample"] = False
