"""Start the real app (``python app.py``) as a subprocess on a free loopback port, for tests that
drive it through ``gradio_client``, Playwright or signals. Used by the ``hosted_app`` fixture in
``tests/conftest.py``; nothing here listens on anything but 127.0.0.1."""

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
from typing import Mapping, Sequence

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


#: Gradio's own start-up check (``networking.url_ok``: a HEAD with a 3 s timeout) fails on a busy
#: machine, and ``launch()`` then gives up with this message: worth one more try.
SLOW_START = "When localhost is not accessible"


def start_app(log: Path, *, env: Mapping[str, str] | None = None, args: Sequence[str] = (),
              timeout: float = 300.0) -> RunningApp:
    """Run ``app.py`` on a free loopback port with ``env`` added to this process's environment,
    wait until it serves its page (at most ``timeout`` seconds) and return it."""
    try:
        return _start_app(log, env=env, args=args, timeout=timeout)
    except RuntimeError as exc:
        if SLOW_START not in str(exc):
            raise
        return _start_app(log, env=env, args=args, timeout=timeout)


def _start_app(log: Path, *, env: Mapping[str, str] | None, args: Sequence[str], timeout: float) -> RunningApp:
    port = free_port()
    full_env = {**os.environ, "GRADIO_SERVER_NAME": "127.0.0.1", "GRADIO_SERVER_PORT": str(port),
                "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1",
                # a cache of its own: an app that stops deletes its cached files (hosted mode), and
                # apps share example paths (/tmp/gradio/<hash>/tone.wav) in the default one
                "GRADIO_TEMP_DIR": str(log.parent / "gradio-cache"), **(env or {})}
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=full_env, stdout=out,
                                stderr=subprocess.STDOUT)
    app = RunningApp(f"http://127.0.0.1:{port}/", proc, log)
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(app.url, timeout=2).close()
            return app
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait(timeout=10)
                raise RuntimeError(f"app.py did not start (exit {proc.poll()}):\n{app.log_text()[-4000:]}") from None
            time.sleep(0.3)
