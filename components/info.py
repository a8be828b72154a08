"""The info line under a run's output: what ran, how long each stage took, the notes; and the
line while it works. Shared by the task tabs, Chat and Compare."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.progress import RunControl
    from workbench.results import RunFacts

#: The info line between Cancel and the run's own "Cancelled." (at its next chunk, batch or layer).
CANCELLING = "⏳ cancelling…"


def timings_markdown(result: RunFacts, notes: list[str] | tuple[str, ...] = ()) -> str:
    """The info line under an output: model, device/dtype (and the precision that really ran, with
    the attention implementation), timings, notes."""
    t = result.timings
    ran = f" — ran as {result.precision}" if result.precision and result.precision != result.dtype else ""
    attention = f" · attention `{result.attention}`" if result.attention else ""
    parts = [f"**{result.model}** on `{result.device}` · `{result.dtype}`{ran}{attention}",
             f"load {t.get('load_s', 0):.2f} s" + (" (already loaded)" if not t.get("load_s") else "")]
    if "inputs_s" in t:
        parts.append(f"inputs {t['inputs_s']:.2f} s")
    if "inference_s" in t:
        parts.append(f"preprocess + inference {t['inference_s']:.3f} s")
    if "time_to_first_token_s" in t:
        parts.append(f"first token {t['time_to_first_token_s']:.3f} s")
    if "tokens_per_s" in t:
        parts.append(f"{t['tokens_per_s']:.1f} tokens/s")
    if "new_tokens" in t:
        parts.append(f"{int(t['new_tokens'])} new tokens")
    if not result.done:
        parts.append("generating…")
    elif result.stopped:
        parts.append("**stopped**")
    lines = [" · ".join(parts), *result.notes, *notes]
    lines += [f"> ⚠ {w}" for w in result.warnings]
    return "\n\n".join(lines)


def cancelled_markdown(exc: BaseException, then: str = "") -> str:
    """The info line of a cancelled run: the run's own words, saying "Cancelled" once, then ``then``.

    >>> cancelled_markdown(Exception("Cancelled during inference: chunk 2/4."), "Nothing was output.")
    '**Cancelled** during inference: chunk 2/4. Nothing was output.'
    >>> cancelled_markdown(Exception(""))
    '**Cancelled.**'
    """
    text = str(exc).strip()
    if text.lower().startswith("cancelled"):
        text = "**Cancelled**" + text[len("cancelled"):]
    else:
        text = "**Cancelled.**" + (f" {text}" if text else "")
    return f"{text} {then}".strip()


def progress_markdown(control: RunControl) -> str:
    """The info line while a run works: its stage and time so far."""
    return f"⏳ {control.describe()} · {control.elapsed():.0f} s"
