"""Start the real app (``python app.py``) as a subprocess on a free loopback port, for tests that
drive it through ``gradio_client``, Playwright or signals (``start_app``), or a ``gr.Blocks`` in
this process (``serving``). Nothing here listens on anything but 127.0.0.1."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Mapping, Sequence

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningApp:
    """A started ``app.py``: its URL, process and log file (stdout and stderr together)."""

    url: str
    proc: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode


def start_app(log: Path, *, env: Mapping[str, str] | None = None, args: Sequence[str] = (),
              command: Sequence[str] = ("app.py",), timeout: float = 300.0) -> RunningApp:
    """Run ``python app.py`` (or another ``command`` that serves the app where ``GRADIO_SERVER_PORT``
    says) on a free loopback port with ``env`` added to this process's environment, wait until it
    serves its page (at most ``timeout`` seconds) and return it."""
    port = free_port()
    full_env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                # a cache of its own: an app that stops deletes its cached files (hosted mode), and
                # apps share example paths (/tmp/gradio/<hash>/tone.wav) in the default one
                "GRADIO_TEMP_DIR": str(log.parent / "gradio-cache"), **(env or {})}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, *command, *args], cwd=ROOT, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT)
    app = RunningApp(f"http://127.0.0.1:{port}/", proc, log)
    if not wait_for_page(app.url, timeout, alive=lambda: proc.poll() is None):
        proc.kill()
        proc.wait(timeout=10)
        raise RuntimeError(f"{' '.join(command)} did not start (exit {proc.poll()}):\n{app.log_text()[-4000:]}")
    return app


def wait_for_page(url: str, timeout: float, *, alive: Callable[[], bool] = lambda: True) -> bool:
    """Whether ``url`` answers within ``timeout`` seconds (polled; gives up early once not ``alive()``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except OSError:
            if not alive() or time.monotonic() > deadline:
                return False
            time.sleep(0.3)


@contextmanager
def serving(demo: Any, timeout: float = 120.0) -> Iterator[str]:
    """Serve a ``gr.Blocks`` in this process on a free loopback port; yield its URL once it answers,
    and close it after. ``_frontend=False`` skips only Gradio's own start-up check (HEAD requests
    with a 3 s timeout, which a saturated test machine misses, and launch then raises), as app.py does."""
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            _frontend=False)
    try:
        if not wait_for_page(url, timeout):
            raise RuntimeError(f"the app at {url} did not answer within {timeout:.0f} s")
        yield url
    finally:
        demo.close()
