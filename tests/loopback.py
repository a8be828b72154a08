"""Loopback servers and a test network for URL tests: nothing here leaves 127.0.0.1.

``FakeNet`` resolves made-up names to the addresses a test gives and connects the one "public"
address ``PUBLIC`` to a loopback port, recording every lookup and connection, so a test can show
that a private address was refused before any connection was made.
"""

from __future__ import annotations

import http.server
import io
import socket
import ssl
import threading
import time
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from workbench.fetch import Network
from workbench.samples import sample_image

_PNG = io.BytesIO()
sample_image(64).save(_PNG, "PNG")
PNG = _PNG.getvalue()
PUBLIC = "93.184.215.14"  # stands for a public server; the test network maps it to loopback
HITS: list[str] = []  # paths our server was asked for
DRIPPED: list[int] = []  # bytes the drip server managed to send


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        HITS.append(self.path)
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        if url.path == "/hello":
            self._send(200, b"hello", "text/plain")
        elif url.path == "/cat.png":
            self._send(200, PNG, "image/png")
        elif url.path == "/redirect":
            self._redirect(query["to"])
        elif url.path == "/loop":  # /loop?n=3 -> /loop?n=2 -> ... -> /hello
            n = int(query.get("n", "1000"))
            self._redirect("/hello" if n <= 0 else f"/loop?n={n - 1}")
        elif url.path == "/stream":  # no Content-Length: the cap must hold while reading
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"x" * int(query["n"]))
            self.close_connection = True
        elif url.path == "/drip":  # the status line itself, one byte at a time
            DRIPPED.append(0)
            try:
                for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello":
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    DRIPPED[-1] += 1
                    time.sleep(0.25)
            except OSError:
                pass
            self.close_connection = True
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _redirect(self, to: str) -> None:
        self.send_response(302)
        self.send_header("Location", to)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def _serve(tls: ssl.SSLContext | None = None) -> Iterator[int]:
    """Serve ``_Handler``'s routes on a loopback port (over TLS with ``tls``) until the caller is done."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    """The port of a loopback HTTP server (``_Handler``'s routes)."""
    yield from _serve()


@pytest.fixture(scope="module")
def tls_ca():
    """A test certificate authority (``trustme``); the TLS server's certificate names ``public.test``."""
    import trustme

    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(tls_ca) -> Iterator[int]:
    """The port of a loopback HTTPS server (``_Handler``'s routes) whose certificate, signed by
    ``tls_ca``, is for ``public.test`` only."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls_ca.issue_cert("public.test").configure_cert(context)
    yield from _serve(context)


def trusting(ca) -> ssl.SSLContext:
    """The system's default client context, trusting ``ca`` as well (what ``Network.tls`` returns in tests)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture()
def silent_port() -> Iterator[int]:
    """A port that accepts TCP connections (the kernel's backlog) but never answers them."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FakeNet:
    """Names -> addresses as given; PUBLIC connects to a loopback port; every connect is recorded."""

    def __init__(self, names: dict[str, list[str]], port: int) -> None:
        self.names, self.port = names, port
        self.resolved: list[str] = []
        self.connected: list[str] = []

    def resolve(self, host: str, port: int, timeout: float) -> list[str]:
        self.resolved.append(host)
        if host not in self.names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.names[host]

    def connect(self, address: str, port: int, timeout: float) -> socket.socket:
        self.connected.append(address)
        if address != PUBLIC:
            raise AssertionError(f"the test network never connects {address}")
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def network(self, ca=None) -> Network:
        """The test network; with ``ca`` (a ``trustme.CA``), https trusts that authority too."""
        if ca is None:
            return Network(resolve=self.resolve, connect=self.connect)
        return Network(resolve=self.resolve, connect=self.connect, tls=lambda: trusting(ca))
