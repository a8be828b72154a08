"""The banners at the top of the page: hosted mode (what a public host limits) and the Hub being
unreachable."""

from __future__ import annotations

from typing import Iterable

from workbench.hosting import MB, HostingPolicy
from workbench.offline import REAL_MODEL, REAL_TASK


def hosted_banner(policy: HostingPolicy) -> str:
    """Markdown saying hosted mode is on and what it limits ('' when running locally).

    >>> hosted_banner(HostingPolicy.local())
    ''
    >>> "Hosted mode" in hosted_banner(HostingPolicy.public())
    True
    """
    if not policy.hosted:
        return ""
    limits = []
    if not policy.allow_local_paths:
        limits.append("inputs are uploads or public `http(s)` URLs, models are Hub ids or the built-in offline models "
                      "(no server files or folders)")
    if not policy.allow_operator_controls:
        limits.append("unloading models, models with custom code and long benchmarks are for the operator only")
    if policy.model_allowlist is not None:
        limits.append("models from an allow-list: " + ", ".join(f"`{m}`" for m in policy.model_allowlist[:8])
                      + (" …" if len(policy.model_allowlist) > 8 else ""))
    if policy.max_model_bytes:
        limits.append(f"models up to {policy.max_model_bytes / MB:,.0f} MB of weights")
    limits.append(f"uploads up to {policy.max_upload_bytes / MB:,.0f} MB, images up to "
                  f"{policy.max_image_pixels / 1e6:,.0f} megapixels")
    if policy.max_audio_seconds:
        limits.append(f"audio up to {policy.max_audio_seconds / 60:,.0f} min")
    if policy.max_jobs_per_session:
        limits.append(f"{policy.max_jobs_per_session} job(s) at a time per user"
                      + (f", {policy.queue_max_size} waiting in all" if policy.queue_max_size else "")
                      + ": when busy, retry in a moment")
    if policy.max_bench_items:
        limits.append(f"benchmarks up to {policy.max_bench_items} inputs, {policy.max_bench_batch_sizes} batch sizes "
                      f"of at most {policy.max_bench_batch_size}")
    return ("🌐 **Hosted mode** — this workbench is shared with other people, so: "
            + "; ".join(limits) + ". Run it on your own machine (`python app.py`) for everything.")


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
        real = f" (real {REAL_MODEL} weights for {REAL_TASK})" if REAL_TASK in tasks else ""
        lines.append(f"Available offline: the built-in `offline:<task>` model of {len(tasks)} task{'s' * (len(tasks) != 1)}{real}; "
                     "the others are tiny random-weight stand-ins, good for trying the workbench, not for answers.")
    if cached:
        shown = ", ".join(f"`{m}`" for m in cached[:12]) + (f" and {len(cached) - 12} more" if len(cached) > 12 else "")
        lines.append(f"Cached Hub models: {shown}.")
    else:
        lines.append("No Hub models are in the local cache (`$HF_HOME/hub`).")
    return "  \n".join(lines)
