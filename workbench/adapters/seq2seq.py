"""Summarization, translation and text2text generation with ``AutoModelForSeq2SeqLM``, as
transformers 4.57's pipelines did them.

Generation starts from 4.57's defaults (``max_new_tokens=256, num_beams=4``, see
``legacy_generation``), which the model's ``generation_config.json`` and then
``config.task_specific_params`` adjust; the caller's keywords come last. T5-style models get their
task prefix (``"summarize: "``, ``"translate English to French: "``) from
``task_specific_params``; multilingual tokenizers (NLLB, M2M100, mBART) take ``src_lang``/``tgt_lang``
codes and the target code becomes the forced first generated token.

Unlike 4.57, input longer than the tokenizer's limit is truncated (4.57 failed in the model);
``truncation=False`` gives the old behaviour.

    translate = PipelineManager().get("translation", "facebook/nllb-200-distilled-600M")
    translate("Hello", src_lang="eng_Latn", tgt_lang="fra_Latn")
    # -> [{'translation_text': 'Bonjour'}]
"""

from __future__ import annotations

import re
from typing import Any

import torch
from transformers import AutoModelForSeq2SeqLM

from workbench.adapters.base import Adapter, Features, generation_kwargs
from workbench.adapters.legacy_generation import TEXT2TEXT_DEFAULTS, LegacyGeneration
from workbench.errors import InputError
from workbench.inputs import require_text

_COMMON_CODES = ("eng_Latn", "fra_Latn", "deu_Latn", "en", "fr", "de", "en_XX", "fr_XX", "de_DE")
_TRANSLATION_TASK = re.compile(r"^translation_(.+)_to_(.+)$")


def languages_from_task(task: str) -> dict[str, str]:
    """``translation_en_to_fr`` -> ``{"src_lang": "en", "tgt_lang": "fr"}``; other names -> ``{}``.

    >>> languages_from_task("translation_en_to_fr")
    {'src_lang': 'en', 'tgt_lang': 'fr'}
    """
    m = _TRANSLATION_TASK.match(task)
    return {"src_lang": m.group(1), "tgt_lang": m.group(2)} if m else {}


class Seq2SeqAdapter(Adapter):
    """Shared by summarization, translation and text2text generation: tokenize (with prefix) ->
    generate -> decode. ``[{"generated_text"}]``, like 4.57's ``text2text-generation``."""

    task = "text2text-generation"
    auto_classes = (AutoModelForSeq2SeqLM,)
    output_key = "generated_text"

    def legacy_generation(self, task: str) -> LegacyGeneration:
        """4.57's starting settings for ``task`` (a ``task_specific_params`` key) on this model."""
        return LegacyGeneration.for_model(self.model, TEXT2TEXT_DEFAULTS, task, pad_token_id=self.tokenizer.pad_token_id)

    def sanitize_parameters(self, *, truncation: bool = True, clean_up_tokenization_spaces: bool = False,
                            stop_sequence: str | None = None, **generate: Any) -> tuple[dict, dict, dict]:
        """Generation keywords go to ``generate``; ``stop_sequence`` stops at its first token, as in 4.57."""
        legacy = self.legacy_generation(self.task)
        return ({"prefix": legacy.prefix, "truncation": truncation}, self._generation(legacy, generate, stop_sequence),
                {"clean_up_tokenization_spaces": clean_up_tokenization_spaces})

    def _generation(self, legacy: LegacyGeneration, given: dict[str, Any],
                    stop_sequence: str | None = None) -> dict[str, Any]:
        """The ``generate`` keywords: 4.57's settings for the model, then the caller's options."""
        given = generation_kwargs(given, self.task)
        if stop_sequence:
            ids = self.tokenizer(stop_sequence, add_special_tokens=False)["input_ids"]
            if not ids:
                raise InputError(f"stop_sequence {stop_sequence!r} has no tokens; give a word or character.")
            given["eos_token_id"] = ids[0]
        return legacy.generate_kwargs(given)

    def preprocess(self, text: str, *, prefix: str = "", src_lang: str | None = None,
                   truncation: bool = True) -> list[Features]:
        text = prefix + require_text(text, "text")
        kwargs: dict[str, Any] = {"truncation": truncation}
        if truncation and self.tokenizer.model_max_length > 1_000_000:  # no limit known: keep all
            kwargs["truncation"] = False
        if src_lang is not None:
            with self._lock:  # multilingual tokenizers keep the source language as state
                self.tokenizer.src_lang = src_lang
                enc = self.tokenizer(text, **kwargs)
        else:
            enc = self.tokenizer(text, **kwargs)
        return [{"input_ids": torch.tensor(enc["input_ids"]),
                 "attention_mask": torch.tensor(enc["attention_mask"])}]

    def _forward(self, batch: dict[str, torch.Tensor], **generate: Any) -> dict[str, torch.Tensor]:
        sequences = self.model.generate(**batch, **generate)
        n = len(batch["input_ids"])
        return {"sequences": sequences.reshape(n, -1, sequences.shape[-1])}

    def postprocess(self, passes: list[Features], *,
                    clean_up_tokenization_spaces: bool = False) -> list[dict[str, str]]:
        return [{self.output_key: self.tokenizer.decode(seq, skip_special_tokens=True,
                                                        clean_up_tokenization_spaces=clean_up_tokenization_spaces)}
                for seq in passes[0]["sequences"]]

    def normalize_inputs(self, *args: Any, **kwargs: Any) -> tuple[list[Any], bool, dict[str, Any]]:
        if not args and "text" in kwargs:
            args = (kwargs.pop("text"),)
        return super().normalize_inputs(*args, **kwargs)

    def merge_list(self, results: list[Any]) -> list[Any]:
        """Like v4: a list of texts with one output each gives a flat list of dicts."""
        return [r[0] for r in results] if all(len(r) == 1 for r in results) else results


class SummarizationAdapter(Seq2SeqAdapter):
    """``[{"summary_text"}]`` from BART, Pegasus, T5 (``summarize:`` prefix from the config)…"""

    task = "summarization"
    output_key = "summary_text"


class TranslationAdapter(Seq2SeqAdapter):
    """``[{"translation_text"}]`` from Marian, T5, NLLB, M2M100, mBART.

    Language choice, by model family:
    - multilingual tokenizers (NLLB ``eng_Latn``, M2M100 ``en``, mBART-50 ``en_XX``): ``src_lang``
      and ``tgt_lang`` are required; the target language token is forced as the first output;
    - T5: the ``translation_{src}_to_{tgt}`` entry of ``config.task_specific_params`` gives the
      prefix (without languages, the first such entry, as the v4 pipeline did);
    - multi-target Marian (``>>fr<<`` tokens): ``tgt_lang`` picks the target token;
    - single-pair models (most opus-mt): languages are fixed, ``src_lang``/``tgt_lang`` are ignored.
    """

    task = "translation"
    output_key = "translation_text"

    @property
    def multilingual(self) -> bool:
        return hasattr(self.tokenizer, "_build_translation_inputs")

    def sanitize_parameters(self, *, src_lang: str | None = None, tgt_lang: str | None = None,
                            truncation: bool = True, clean_up_tokenization_spaces: bool = False,
                            stop_sequence: str | None = None, **generate: Any) -> tuple[dict, dict, dict]:
        src_lang, tgt_lang = (src_lang or "").strip() or None, (tgt_lang or "").strip() or None
        pre: dict[str, Any] = {"truncation": truncation}
        key = f"translation_{src_lang}_to_{tgt_lang}" if src_lang and tgt_lang else "translation"
        if self.multilingual:
            generate["forced_bos_token_id"] = self._language_ids(src_lang, tgt_lang)
            pre["src_lang"] = src_lang
        elif pairs := [k for k in (getattr(self.config, "task_specific_params", None) or {})
                       if k.startswith("translation_")]:
            key = key if src_lang and tgt_lang else pairs[0]  # 4.57's "translation_xx_to_yy" task name
            if key not in pairs:
                raise InputError(f"Model `{self.name}` has no {key} setting; its language pairs are "
                                 f"{', '.join(pairs)} (choose src_lang/tgt_lang from those).")
        legacy = self.legacy_generation(key)
        pre["prefix"] = legacy.prefix
        if not legacy.prefix and tgt_lang and f">>{tgt_lang}<<" in self.tokenizer.get_vocab():
            pre["prefix"] = f">>{tgt_lang}<< "  # multi-target Marian
        return (pre, self._generation(legacy, generate, stop_sequence),
                {"clean_up_tokenization_spaces": clean_up_tokenization_spaces})

    def _language_ids(self, src_lang: str | None, tgt_lang: str | None) -> int:
        """Check both codes against the tokenizer; the target's token id (the forced BOS)."""
        tok = self.tokenizer
        codes = self.language_codes()
        common = [c for c in _COMMON_CODES if c in codes] or codes[:4]
        example = f"{len(codes)} codes such as {', '.join(common)}"
        if not src_lang or not tgt_lang:
            raise InputError(f"Model `{self.name}` translates between many languages: set both src_lang and "
                             f"tgt_lang to its language codes ({example}).")
        mapping = getattr(tok, "lang_code_to_id", None)  # M2M100 and mBART; NLLB codes are plain tokens
        ids = {}
        for lang in (src_lang, tgt_lang):
            token_id = mapping.get(lang) if mapping else tok.convert_tokens_to_ids(lang)
            if token_id is None or token_id == tok.unk_token_id:
                raise InputError(f"`{lang}` is not a language code of model `{self.name}`; it knows {example}.")
            ids[lang] = token_id
        return ids[tgt_lang]

    def language_codes(self) -> list[str]:
        """The language codes the tokenizer knows (NLLB ``eng_Latn``, M2M100 ``en``, mBART ``en_XX``)."""
        tok = self.tokenizer
        if hasattr(tok, "lang_code_to_id"):
            return list(tok.lang_code_to_id)
        specials = getattr(tok, "extra_special_tokens", None) or getattr(tok, "additional_special_tokens", None) or []
        if isinstance(specials, dict):
            specials = list(specials.values())
        return [str(t) for t in specials if re.fullmatch(r"[a-z]{2,3}(_[A-Za-z]{2,4})?", str(t))]


class Text2TextGenerationAdapter(Seq2SeqAdapter):
    """``[{"generated_text"}]`` for any prompt to a seq2seq model (FLAN-T5, T5, BART): the generic
    ``text2text-generation`` task transformers 5 removed, with 4.57's defaults."""

    task = "text2text-generation"
