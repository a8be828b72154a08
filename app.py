"""Pipeline Workbench: a Gradio app to try, compare and benchmark transformers pipelines.

``python app.py`` serves it on http://127.0.0.1:7860 (``--host``/``--port``, or
``GRADIO_SERVER_NAME``/``GRADIO_SERVER_PORT``). ``--hosted`` (or ``WORKBENCH_HOSTED=1``, or running
as a Hugging Face Space: ``SPACE_ID`` set) turns on hosted mode: the limits of
``workbench.hosting.HostingPolicy.public()`` for a public audience. ``--mcp`` (or Gradio's own
``GRADIO_MCP_SERVER=True``) also serves every task endpoint as an MCP tool at ``/gradio_api/mcp/``
(``components.mcp``). This file only assembles: the
tabs are built from the task registry by ``components/``, and the work is done by ``workbench/``.
Models load on first use, so the first page is served within seconds.
"""

from __future__ import annotations

import argparse
import logging
import os
import threading
from typing import TYPE_CHECKING, Sequence

import workbench.zerogpu  # noqa: F401  (first: on a ZeroGPU Space `spaces` must be imported before torch)
import gradio as gr

from components.banner import hosted_banner, hub_banner
from components.context import make_context
from components.fair_queue import limit_jobs
from components.layout import CSS, JS
from components.mcp import describe_tools
from components.models_tab import build_models_tab
from components.shutdown import drain_on_sigterm
from components.bench_panel import render_benchmark_tab
from components.context import TabContext
from components.pool import ComponentPool
from components.task_tab import group_tabs
from workbench.tasks import tasks_by_group

if TYPE_CHECKING:
    from workbench.manager import PipelineManager

TITLE = "Pipeline Workbench"
log = logging.getLogger("workbench.app")


def build_app(manager: PipelineManager, *, context: TabContext | None = None) -> gr.Blocks:
    """The whole UI: one tab per task grouped by modality, plus Models and Benchmark."""
    policy = manager.policy
    context = context or make_context(list_local=policy.allow_local_paths)
    cache = (policy.delete_cache_s, policy.delete_cache_s) if policy.delete_cache_s else None
    with gr.Blocks(title=TITLE, delete_cache=cache) as demo:
        gr.Markdown(f"# {TITLE}\nTry, compare and benchmark Hugging Face transformers pipelines — every task, "
                    "any model, "
                    "on this machine.", elem_id="title")
        hosted = hosted_banner(policy)
        gr.Markdown(hosted, visible=bool(hosted), elem_id="hosted-banner")
        banner = hub_banner(context.online, context.offline_tasks, context.cached)
        gr.Markdown(banner, visible=bool(banner), elem_id="hub-banner")
        pool = ComponentPool()  # the hidden components behind the endpoints of tabs built when opened
        with gr.Tabs(overflow_behavior="wrap"):  # every tab one click away, on a phone too
            group_tabs(tasks_by_group(), manager, context, pool=pool)
            with gr.Tab("Models", elem_id="group-models") as models_tab:
                models = build_models_tab(manager)
            with gr.Tab("Benchmark", elem_id="group-benchmark") as bench_tab:  # built when first opened
                render_benchmark_tab(manager, context.workers, pool=pool, opened_by=[bench_tab])
        with gr.Column(visible=False):
            pool.render()
        models_tab.select(models.refresh, outputs=models.outputs, api_visibility="private", concurrency_limit=None)
    describe_tools(demo)  # every endpoint an MCP tool named after it, its parameters described (--mcp)
    demo.queue(max_size=policy.queue_max_size, default_concurrency_limit=context.concurrency_limit)
    limit_jobs(demo, policy, context.workers)
    return demo


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    env = os.environ
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default=env.get("GRADIO_SERVER_NAME", "127.0.0.1"),
                   help="interface to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(env.get("GRADIO_SERVER_PORT") or 7860),
                   help="port (default: $GRADIO_SERVER_PORT or 7860)")
    p.add_argument("--max-models", type=int, default=None,
                   help="pipelines kept loaded at once (default: $WORKBENCH_MAX_MODELS or 4)")
    p.add_argument("--max-bytes", type=int, default=None,
                   help="bytes of weights kept loaded (default: $WORKBENCH_MAX_BYTES or unbounded)")
    p.add_argument("--concurrency", type=int, default=2,
                   help="runs of one task at the same time; other tasks have their own limit (default: 2)")
    p.add_argument("--grace", type=float, default=float(env.get("WORKBENCH_GRACE_S") or 25),
                   help="seconds jobs in flight may take to finish after SIGTERM (default: $WORKBENCH_GRACE_S or 25)")
    p.add_argument("--hosted", action="store_true", default=None,
                   help="hosted mode for a public audience (default: on when $SPACE_ID or $WORKBENCH_HOSTED=1 is set)")
    p.add_argument("--mcp", action="store_true", default=None,
                   help="also serve every task endpoint as an MCP tool at /gradio_api/mcp/ (default: on when "
                        "$GRADIO_MCP_SERVER=True, Gradio's own switch)")
    return p.parse_args(argv)


def _warm_audio() -> None:
    """Pay the audio path's one-off import costs (librosa, numba, scipy) while the app starts, not
    in the first speech request (``workbench.inputs.warm_audio``)."""
    from workbench.inputs import warm_audio

    try:
        log.info("audio decoding warmed up in %.1f s", warm_audio())
    except Exception:  # a warm-up must never stop the app; the first request would then pay the cost
        log.warning("warming up audio decoding failed", exc_info=True)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    from workbench.memory import limit_malloc_arenas

    limit_malloc_arenas(2)  # before any worker thread: each would get an arena that keeps its peak
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # load reports would flood the console
    from workbench.hosting import HostingPolicy
    from workbench.manager import PipelineManager

    policy = HostingPolicy.from_env(hosted=args.hosted)
    trust = None
    if policy.hosted and not policy.allow_operator_controls:
        trust = False  # custom model code from strangers' model ids: never on a public host
        if os.environ.get("WORKBENCH_TRUST_REMOTE_CODE"):
            log.warning("hosted mode: WORKBENCH_TRUST_REMOTE_CODE is ignored (models with custom code stay refused)")
    manager = PipelineManager(max_models=args.max_models, max_bytes=args.max_bytes, trust_remote_code=trust,
                              policy=policy)
    log.info("hosted mode: %s", "on" if policy.hosted else "off")
    context = make_context(concurrency_limit=args.concurrency, list_local=policy.allow_local_paths)
    demo = build_app(manager, context=context)
    drain_on_sigterm(demo, grace_s=args.grace, workers=context.workers)
    # _frontend=False skips only Gradio's start-up self-check (one HEAD request with a 3 s timeout):
    # a busy host misses it and launch() then gives up, although the server is up.
    # show_error: Gradio's own refusals of a value (a slider given "nan", a file not uploaded) reach the
    # client in words; every handler of ours turns its errors into gr.Error already (components.events).
    # mcp_server=None: Gradio reads $GRADIO_MCP_SERVER; the MCP tools are the API endpoints (components.mcp)
    demo.launch(server_name=args.host, server_port=args.port, max_file_size=policy.max_upload_bytes, css=CSS, js=JS,
                _frontend=False, prevent_thread_lock=True, show_error=True,
                state_session_capacity=policy.max_sessions, mcp_server=args.mcp)
    # once the server is up (not competing with the app's own start for the two cores), warm up audio
    threading.Thread(target=_warm_audio, name="warm-audio", daemon=True).start()
    demo.block_thread()


if __name__ == "__main__":
    main()
