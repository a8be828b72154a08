"""A slow stand-in chat model for deterministic Stop tests (test setup only, never product code).

``slow_chat_model`` copies the tiny offline chat model to a folder of its own, loads it into the
manager under that folder's name, and wraps that one loaded model's ``forward`` so that every
generated token takes ``delay_s``. Other models, and the same model under ``offline:chat``, stay
fast. ``python -m tests.slow_chat`` serves the real app with it loaded (for browser tests; on
``$GRADIO_SERVER_PORT``, as ``tests.app_server.start_app`` sets it) and
prints the folder name to use as the model.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

from workbench.offline import offline_model_path

TASK = "text-generation"


def slow_chat_model(manager: Any, folder: str | Path, delay_s: float = 0.1) -> str:
    """Load the slow copy of ``offline:chat`` into ``manager``; returns the model name to ask for."""
    dest = Path(folder) / "slow-chat"
    if not dest.exists():
        shutil.copytree(offline_model_path("chat"), dest)
    name = str(dest)
    model = manager.load(TASK, name).pipe.model
    if not getattr(model, "_slowed", False):
        forward = model.forward

        def slow_forward(*args: Any, **kwargs: Any) -> Any:
            time.sleep(delay_s)
            return forward(*args, **kwargs)

        model.forward, model._slowed = slow_forward, True
    return name


def main() -> None:
    import argparse
    import tempfile

    import app
    from workbench.manager import PipelineManager

    parser = argparse.ArgumentParser()
    parser.add_argument("--delay", type=float, default=0.1)
    args = parser.parse_args()
    manager = PipelineManager(max_models=16)
    name = slow_chat_model(manager, tempfile.mkdtemp(prefix="wb-slow-chat-"), args.delay)
    print(f"SLOW_MODEL={name}", flush=True)
    demo = app.build_app(manager)
    # _frontend=False skips only Gradio's self-check (one HEAD request with a 3 s timeout, which a
    # saturated test machine misses, and launch then raises); the test waits for the page itself.
    demo.launch(server_name="127.0.0.1", _frontend=False)  # the port: $GRADIO_SERVER_PORT


if __name__ == "__main__":
    main()
