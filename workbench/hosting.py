"""What a public host allows, in one frozen value: the hosting policy.

Locally (the default) the operator keeps every convenience: local paths and folders, any URL, any
model, unload, long benchmarks. Hosted (a Hugging Face Space: ``SPACE_ID`` set, or ``--hosted`` /
``WORKBENCH_HOSTED=1``) every input comes from strangers, so nothing a user types may read a server
file, reach an internal address, exhaust memory or starve other users.

The policy is made once in ``app.main`` and handed down on the ``PipelineManager`` (``manager.policy``),
so the core (``workbench/``) and the UI (``components/``) read the same value.

>>> HostingPolicy.local().hosted, HostingPolicy.local().allow_local_paths
(False, True)
>>> p = HostingPolicy.from_env({"SPACE_ID": "me/workbench"})
>>> p.hosted, p.allow_local_paths, p.allow_private_urls, p.allow_operator_controls
(True, False, False, False)
>>> HostingPolicy.from_env({"WORKBENCH_MODEL_ALLOWLIST": "a/b, c/d"}).model_allowlist
('a/b', 'c/d')
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

MB = 2**20


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _int(value: str | None, default: int | None) -> int | None:
    value = (value or "").strip()
    return int(value) if value else default


@dataclass(frozen=True)
class HostingPolicy:
    """Limits and permissions for one running workbench (see the module docstring).

    Fields that bound resources apply locally too where they cost the operator nothing (upload cap,
    pixel check before decoding, URL deadline and redirects); the ``allow_*`` fields are what
    hosted mode takes away.
    """

    hosted: bool = False
    # -- what user input may reach ---------------------------------------------------------
    allow_local_paths: bool = True  # image/audio/document boxes and the model box may name server paths
    allow_private_urls: bool = True  # URLs may resolve to loopback/private/link-local/reserved addresses
    allow_operator_controls: bool = True  # unload, trust_remote_code, local folders, unbounded benchmarks
    # -- models ------------------------------------------------------------------------------
    model_allowlist: tuple[str, ...] | None = None  # Hub ids (or "org/*") users may load; None = any
    max_model_bytes: int | None = None  # refuse a Hub model whose weights exceed this (Hub metadata, before download)
    # -- URLs ----------------------------------------------------------------------------------
    url_deadline_s: float = 20.0  # whole request, all redirects and reads together
    url_max_bytes: int = 20 * MB
    url_max_redirects: int = 5
    network: Any = field(default=None, compare=False, repr=False)  # a workbench.fetch.Network; None = the system's (tests inject a loopback one)
    # -- uploads -------------------------------------------------------------------------------
    max_upload_bytes: int = 100 * MB  # gradio's max_file_size
    max_image_pixels: int = 50_000_000  # checked on the header, before any full decode
    max_video_frame_pixels: int | None = None  # one video frame (None: max_image_pixels)
    max_video_decoded_pixels: int | None = None  # every frame decoded to sample one clip, from the container
    max_audio_seconds: float | None = None  # longer clips are refused (ASR chunks long audio instead)
    max_audio_samples: int | None = None  # samples decoded from one file (all channels), from its header
    max_text_chars: int | None = None  # characters of one text input
    max_text_lines: int | None = None  # lines of a one-item-per-line input (embeddings: the similarity table)
    max_images: int | None = None  # images of a several-images input (image embeddings: the similarity table)
    pdf_render_s: float | None = 120.0  # seconds one PDF page may take to render (a child process, then killed)
    pdf_render_bytes: int | None = None  # address space of that child process
    ocr_s: float | None = None  # seconds Tesseract may take on one page
    delete_cache_s: int | None = None  # gradio's delete_cache: (every, older than) seconds; None = never
    # browser sessions whose state Gradio keeps, the oldest dropped first: ~1.35 MB each, more for the tabs
    # a session opened (benchmarks/sessions_rss.py), so ~1.4 GB locally (a script making a
    # gradio_client.Client per call makes a session per call)
    max_sessions: int = 1_000
    # -- queue ---------------------------------------------------------------------------------
    queue_max_size: int | None = None  # jobs waiting in gradio's queue, all users together
    max_jobs_per_session: int | None = None  # queued + running jobs of one browser session
    max_jobs_per_client: int | None = None  # queued + running jobs of one client address, all its sessions
    # jobs of one client address that run at once (the rest wait, others' jobs go first): on a few
    # cores, an admitted costly job takes a core from everyone while it runs
    max_running_per_client: int | None = None
    trusted_proxy: bool = False  # behind a proxy that sets X-Forwarded-For (a Space): the client is its last hop
    # -- benchmarks ----------------------------------------------------------------------------
    max_bench_items: int | None = None
    max_bench_batch_sizes: int | None = None
    max_bench_batch_size: int | None = None
    max_bench_repeats: int | None = None
    max_bench_configs: int | None = None  # devices × dtypes in one benchmark

    @classmethod
    def local(cls) -> "HostingPolicy":
        """The operator's own machine: everything allowed, resource bounds at their defaults."""
        return cls()

    @classmethod
    def public(cls) -> "HostingPolicy":
        """A public host (a Space): user input reaches nothing but itself; fair, bounded use."""
        return cls(
            hosted=True, allow_local_paths=False, allow_private_urls=False, allow_operator_controls=False,
            max_upload_bytes=25 * MB, max_image_pixels=17_000_000,  # 4096×4096 at most: ~50 MB decoded
            max_video_frame_pixels=2_600_000, max_video_decoded_pixels=2_500_000_000,  # 1080p; ~40 s of it
            max_audio_seconds=15 * 60.0, max_audio_samples=15 * 60 * 48_000,  # 15 min at 48 kHz mono
            max_text_chars=50_000, max_text_lines=256, max_images=16,  # 16 images of 4096×4096: ~800 MB decoded
            pdf_render_s=20.0, pdf_render_bytes=1536 * MB, ocr_s=30.0,
            delete_cache_s=3600, max_sessions=128,
            queue_max_size=64, max_jobs_per_session=3, max_jobs_per_client=6, max_running_per_client=1,
            max_bench_items=256, max_bench_batch_sizes=6, max_bench_batch_size=64, max_bench_repeats=3,
            max_bench_configs=4,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, hosted: bool | None = None) -> "HostingPolicy":
        """Hosted when ``hosted`` is true, or ``SPACE_ID`` / ``WORKBENCH_HOSTED=1`` is set; then the
        operator's overrides: ``WORKBENCH_MODEL_ALLOWLIST`` (comma-separated ids, ``org/*`` allowed),
        ``WORKBENCH_MAX_MODEL_BYTES``, ``WORKBENCH_MAX_UPLOAD_MB``, ``WORKBENCH_QUEUE_MAX``,
        ``WORKBENCH_JOBS_PER_SESSION``, ``WORKBENCH_JOBS_PER_CLIENT``, ``WORKBENCH_RUNNING_PER_CLIENT``; on a Space (``SPACE_ID``), or with
        ``WORKBENCH_TRUST_PROXY=1``, the client address is read from ``X-Forwarded-For``."""
        env = os.environ if env is None else env
        if hosted is None:
            hosted = bool(env.get("SPACE_ID", "").strip()) or _flag(env.get("WORKBENCH_HOSTED"))
        policy = cls.public() if hosted else cls.local()
        on_space = bool(env.get("SPACE_ID", "").strip())
        allow = [s.strip() for s in env.get("WORKBENCH_MODEL_ALLOWLIST", "").split(",") if s.strip()]
        upload_mb = _int(env.get("WORKBENCH_MAX_UPLOAD_MB"), None)
        return replace(
            policy,
            model_allowlist=tuple(allow) or policy.model_allowlist,
            max_model_bytes=_int(env.get("WORKBENCH_MAX_MODEL_BYTES"), policy.max_model_bytes),
            max_upload_bytes=upload_mb * MB if upload_mb else policy.max_upload_bytes,
            queue_max_size=_int(env.get("WORKBENCH_QUEUE_MAX"), policy.queue_max_size),
            max_jobs_per_session=_int(env.get("WORKBENCH_JOBS_PER_SESSION"), policy.max_jobs_per_session),
            max_jobs_per_client=_int(env.get("WORKBENCH_JOBS_PER_CLIENT"), policy.max_jobs_per_client),
            max_running_per_client=_int(env.get("WORKBENCH_RUNNING_PER_CLIENT"), policy.max_running_per_client),
            trusted_proxy=on_space or _flag(env.get("WORKBENCH_TRUST_PROXY")),
        )

    def allows_model(self, repo_id: str) -> bool:
        """Whether the allow-list (if any) admits a Hub id; ``org/*`` admits a whole organisation.

        >>> HostingPolicy(model_allowlist=("google/*", "a/b")).allows_model("google/vit-base")
        True
        >>> HostingPolicy(model_allowlist=("a/b",)).allows_model("a/c")
        False
        """
        if self.model_allowlist is None:
            return True
        for pattern in self.model_allowlist:
            if pattern == repo_id or (pattern.endswith("/*") and repo_id.startswith(pattern[:-1])):
                return True
        return False
