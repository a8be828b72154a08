"""The banner shown when the Hugging Face Hub cannot be reached."""

from __future__ import annotations

from typing import Iterable


def hub_banner(online: bool, offline_tasks: Iterable[str], cached: Iterable[str]) -> str:
    """Markdown for the offline banner ('' when the Hub is reachable).

    >>> hub_banner(True, ["fill-mask"], [])
    ''
    >>> "all-MiniLM-L6-v2" in hub_banner(False, ["feature-extraction"], [])
    True
    """
    if online:
        return ""
    tasks = sorted(offline_tasks)
    cached = sorted(set(cached))
    lines = ["⚠ **The Hugging Face Hub cannot be reached** — models load only from this machine."]
    if tasks:
        real = " (real all-MiniLM-L6-v2 weights for embeddings)" if "feature-extraction" in tasks else ""
        lines.append(f"Available offline: the built-in `offline:<task>` model of {len(tasks)} task(s){real}; "
                     "the others are tiny random-weight stand-ins, good for trying the workbench, not for answers.")
    if cached:
        shown = ", ".join(f"`{m}`" for m in cached[:12]) + (f" and {len(cached) - 12} more" if len(cached) > 12 else "")
        lines.append(f"Cached Hub models: {shown}.")
    else:
        lines.append("No Hub models are in the local cache (`$HF_HOME/hub`).")
    return "  \n".join(lines)
