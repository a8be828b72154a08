"""Fetch what a user's URL points to, safely: http(s) only, every address checked, bounded in time and size.

Everything is done by our own code on a socket we opened to an address we checked, so there is no
window between the check and the connection (DNS rebinding), no redirect we did not look at, and no
read that can outlive the deadline:

- only ``http`` and ``https`` URLs, without user names or passwords;
- the host is resolved once per hop (``Network.resolve``); when the policy does not allow private
  URLs (hosted), EVERY address it resolves to must be public (``address_is_public``), and we connect
  to one of those very addresses (``Network.connect``), sending the host name for TLS and ``Host``;
- redirects are followed by us, at most ``policy.url_max_redirects``, each hop checked again;
- ``policy.url_deadline_s`` bounds the whole request — name lookups, connects, redirects and every
  read together: a watchdog closes the socket when it passes, so a server dripping a byte every few
  seconds cannot hold a request past it;
- at most ``policy.url_max_bytes`` are read;
- https certificates are verified for the host name asked for (``Network.tls``, the system's
  authorities by default);
- proxy settings (``HTTP_PROXY``/``HTTPS_PROXY``) are never used: a proxy would look names up and
  connect by itself, out of reach of these checks.

Hosted, every network failure (a refused or never-answering port, a timeout, an unknown host, a
private address) gives the same message, so the answers do not map the network behind the server.
Locally the message says what happened.

>>> from workbench.hosting import HostingPolicy
>>> fetch_url("ftp://example.com/cat.png", HostingPolicy.public())
Traceback (most recent call last):
...
workbench.errors.InputError: Only http:// and https:// URLs can be fetched, not `ftp://example.com/cat.png`.
>>> address_is_public("169.254.169.254"), address_is_public("::ffff:10.0.0.1"), address_is_public("1.1.1.1")
(False, False, True)
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import quote, urljoin, urlsplit

from workbench.errors import InputError
from workbench.hosting import HostingPolicy

Resolver = Callable[[str, int, float], list[str]]
"""``resolve(host, port, timeout_s) -> [address, ...]`` (IPv4/IPv6 literals); raises ``OSError``."""
Connector = Callable[[str, int, float], socket.socket]
"""``connect(address, port, timeout_s) -> a connected socket``; raises ``OSError``."""
TLSContext = Callable[[], ssl.SSLContext]
"""``tls() -> the context that wraps https connections`` (certificates and host name verified)."""

_REDIRECTS = (301, 302, 303, 307, 308)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPATIBLE = ipaddress.ip_network("::/96")
_SITE_LOCAL = ipaddress.ip_network("fec0::/10")
#: Refused although Python may call some of their addresses global: IETF protocol assignments (DS-Lite,
#: NAT64 discovery...), "this network", and CGNAT shared space (kept explicit across Python versions).
_ALSO_REFUSED = tuple(ipaddress.ip_network(n) for n in ("192.0.0.0/24", "0.0.0.0/8", "100.64.0.0/10"))
_CHUNK = 64 * 1024


#: Name lookups that may run at once. ``getaddrinfo`` cannot be interrupted, so a lookup that passes
#: its deadline goes on in its thread until the system resolver gives up; this bounds how many such
#: threads a flood of URLs with slow names can leave behind (further lookups fail at once meanwhile).
MAX_PENDING_LOOKUPS = 16
_LOOKUPS = threading.BoundedSemaphore(MAX_PENDING_LOOKUPS)


def system_resolve(host: str, port: int, timeout: float,
                   getaddrinfo: Callable[..., list] = socket.getaddrinfo) -> list[str]:
    """The system resolver (``getaddrinfo``), given up after ``timeout`` seconds (it has no timeout
    of its own); at most ``MAX_PENDING_LOOKUPS`` lookups in flight, counting those given up."""
    if not _LOOKUPS.acquire(timeout=max(timeout, 0.0)):
        raise TimeoutError(f"too many name lookups are pending; {host} was not looked up")
    result: list[list[str]] = []
    error: list[BaseException] = []

    def lookup() -> None:
        try:
            infos = getaddrinfo(host, port, type=socket.SOCK_STREAM)
            result.append(list(dict.fromkeys(str(info[4][0]) for info in infos)))
        except OSError as exc:
            error.append(exc)
        finally:
            _LOOKUPS.release()

    thread = threading.Thread(target=lookup, daemon=True, name="fetch-resolve")
    thread.start()
    thread.join(max(timeout, 0.0))
    if error:
        raise error[0]
    if not result:
        raise TimeoutError(f"looking up {host} took longer than {timeout:.1f} s")
    return result[0]


def system_connect(address: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to exactly ``address`` (no name lookup)."""
    return socket.create_connection((address, port), timeout=max(timeout, 0.001))


@dataclass(frozen=True)
class Network:
    """How URLs reach the network: name lookups, connections and TLS. Tests pass their own (loopback
    only, and a test certificate authority for https)."""

    resolve: Resolver = field(default=system_resolve)
    connect: Connector = field(default=system_connect)
    tls: TLSContext = field(default=ssl.create_default_context)


@dataclass(frozen=True)
class Fetched:
    """A fetched body and what the server said about it."""

    url: str  # the last hop's URL (after redirects)
    data: bytes
    content_type: str  # lower case, without parameters; "" when absent


def address_is_public(address: str) -> bool:
    """Whether an IP address is on the public internet: not loopback, private, link-local, multicast,
    reserved, unspecified, shared (CGNAT 100.64/10) or site-local — also when an IPv4 address hides in an
    IPv6 one (IPv4-mapped, IPv4-compatible, 6to4, NAT64 64:ff9b::/96). Cloud metadata addresses
    (169.254.169.254, fd00:ec2::254) are link-local / unique-local, so refused.

    >>> [address_is_public(a) for a in ("127.0.0.1", "100.64.0.1", "2002:7f00:1::", "64:ff9b::a00:1", "2606:4700::1111")]
    [False, False, False, False, True]
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _V4_COMPATIBLE or ip in _SITE_LOCAL:  # deprecated forms, never routed on the internet
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
                                                      if ip in _NAT64 else None)
        if embedded is not None:  # the IPv4 address it reaches decides
            return address_is_public(str(embedded))
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    if isinstance(ip, ipaddress.IPv4Address) and any(ip in net for net in _ALSO_REFUSED):
        return False
    return True


def human_bytes(n: int) -> str:
    """``20 MB``, ``1 KB``, ``1.5 GB``: a size for messages.

    >>> human_bytes(20 * 2**20), human_bytes(1024), human_bytes(3 * 2**29)
    ('20 MB', '1 KB', '1.5 GB')
    """
    for unit, size in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


class _Unreachable(Exception):
    """A network-level failure of one hop (lookup, connect, read, deadline); ``detail`` is for local messages."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def fetch_url(url: str, policy: HostingPolicy | None = None, *, accept: str = "*/*",
          network: Network | None = None) -> Fetched:
    """GET ``url`` under ``policy`` (local by default) and return its body; ``InputError`` otherwise.

    ``network`` defaults to the policy's (``policy.network``) or the system's. See the module
    docstring for what is checked.
    """
    policy = policy or HostingPolicy.local()
    network = network or policy.network or Network()
    deadline = time.monotonic() + policy.url_deadline_s
    current = url.strip()
    for hop in range(policy.url_max_redirects + 1):
        if hop:
            _check_redirect(url, current)
        try:
            status, location, ctype, data = _one_hop(current, policy, network, deadline, accept)
        except _Unreachable as exc:
            raise InputError(_unreachable_message(url, current, exc.detail, policy)) from None
        if status in _REDIRECTS:
            if not location:
                raise InputError(f"`{current}` answered HTTP {status} (a redirect) without saying where to; "
                                 "use the final address of the file.")
            current = urljoin(current, location)
            continue
        if status >= 400:
            raise InputError(f"Could not download `{current}`: the server answered HTTP {status}. "
                             "Check the address, or download the file and upload it.")
        return Fetched(current, data, ctype)
    raise InputError(f"`{url}` redirected more than {policy.url_max_redirects} times (the most this workbench follows). "
                     "Use the final address of the file, or download it and upload it.")


def _check_redirect(url: str, target: str) -> None:
    try:
        _parse(target)
    except InputError as exc:
        raise InputError(f"`{url}` redirected to `{target}`, which is not fetched: {exc}") from None


def _parse(url: str) -> tuple[str, str, int, str]:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError(f"`{url}` is not a valid URL ({exc}).") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise InputError(f"Only http:// and https:// URLs can be fetched, not `{url}`.")
    if parts.username is not None or parts.password is not None:
        raise InputError(f"URLs with a user name or password are not fetched (`{parts.hostname}`); "
                         "download the file and upload it.")
    if not parts.hostname:
        raise InputError(f"`{url}` has no host name.")
    try:  # a name in any script, as browsers send it: IDNA ("bücher.example" -> "xn--bcher-kva.example")
        host = parts.hostname if parts.hostname.isascii() else parts.hostname.encode("idna").decode("ascii")
    except UnicodeError:
        raise InputError(f"`{url}` has a host name that is not valid ({parts.hostname}).") from None
    # a path or query in any script, percent-encoded as browsers do (escapes already there are kept)
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~") + (
        f"?{quote(parts.query, safe='/%:@!$&()*+,;=?~')}" if parts.query else "")
    return scheme, host, port or (443 if scheme == "https" else 80), target


def _unreachable_message(url: str, hop_url: str, detail: str, policy: HostingPolicy) -> str:
    if not policy.allow_private_urls:  # hosted: one message for every failure, so nothing is learnt from it
        return (f"Could not fetch URL `{url}`. This workbench fetches only public http(s) addresses that answer "
                f"within {policy.url_deadline_s:g} s; check the address, or download the file and upload it.")
    via = f" (redirected to `{hop_url}`)" if hop_url != url else ""
    return f"Could not fetch URL `{url}`{via}: {detail}. Check the address, or download the file and upload it."


def _remaining(deadline: float, policy: HostingPolicy) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise _Unreachable(f"no complete answer within {policy.url_deadline_s:g} s")
    return left


def _addresses(host: str, port: int, policy: HostingPolicy, network: Network, deadline: float) -> list[str]:
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        addresses = [str(literal)]
    except ValueError:
        try:
            addresses = network.resolve(host, port, _remaining(deadline, policy))
        except _Unreachable:
            raise
        except (OSError, UnicodeError) as exc:
            raise _Unreachable(f"the host name `{host}` could not be resolved ({exc})") from None
    if not addresses:
        raise _Unreachable(f"the host name `{host}` has no address")
    if not policy.allow_private_urls:
        private = [a for a in addresses if not address_is_public(a)]
        if private:
            raise _Unreachable(f"`{host}` resolves to a non-public address ({private[0]})")
    return addresses


def _open(scheme: str, host: str, port: int, addresses: list[str], network: Network, deadline: float,
          policy: HostingPolicy) -> socket.socket:
    errors = []
    for address in addresses:
        try:
            sock = network.connect(address, port, _remaining(deadline, policy))
        except TimeoutError:
            raise _Unreachable(f"no complete answer within {policy.url_deadline_s:g} s") from None
        except OSError as exc:
            errors.append(f"{address}: {exc.strerror or exc}")
            continue
        if scheme == "https":
            try:
                sock.settimeout(_remaining(deadline, policy))
                sock = network.tls().wrap_socket(sock, server_hostname=host)
            except (OSError, _Unreachable) as exc:
                sock.close()
                errors.append(f"{address}: TLS failed ({exc})")
                continue
        return sock
    raise _Unreachable("could not connect (" + "; ".join(errors) + ")")


def _one_hop(url: str, policy: HostingPolicy, network: Network, deadline: float,
             accept: str) -> tuple[int, str | None, str, bytes]:
    """One request on a socket to a checked address, the deadline enforced by a watchdog."""
    scheme, host, port, target = _parse(url)
    addresses = _addresses(host, port, policy, network, deadline)
    sock = _open(scheme, host, port, addresses, network, deadline, policy)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked recv at once
        except OSError:
            pass

    watchdog = threading.Timer(max(deadline - time.monotonic(), 0.0), expire)
    watchdog.daemon = True
    watchdog.start()
    conn = http.client.HTTPConnection(host, port)
    conn.sock = sock  # our checked connection: http.client never resolves or connects by itself
    try:
        sock.settimeout(_remaining(deadline, policy))
        name = f"[{host}]" if ":" in host else host
        default_port = 443 if scheme == "https" else 80
        conn.request("GET", target, headers={
            "Host": name if port == default_port else f"{name}:{port}", "User-Agent": "pipeline-workbench",
            "Accept": accept, "Accept-Encoding": "identity", "Connection": "close"})
        response = conn.getresponse()
        ctype = (response.getheader("Content-Type") or "").split(";", 1)[0].strip().lower()
        if response.status in _REDIRECTS or response.status >= 400:
            return response.status, response.getheader("Location"), ctype, b""
        return response.status, None, ctype, _read_body(url, response, sock, policy, deadline, expired)
    except (OSError, http.client.HTTPException) as exc:
        if expired.is_set() or isinstance(exc, TimeoutError):  # every socket timeout is the time left
            raise _Unreachable(f"no complete answer within {policy.url_deadline_s:g} s") from None
        raise _Unreachable(f"the connection failed ({type(exc).__name__}: {exc})") from None
    finally:
        watchdog.cancel()
        conn.close()
        sock.close()


def _read_body(url: str, response: http.client.HTTPResponse, sock: socket.socket, policy: HostingPolicy, deadline: float,
               expired: threading.Event) -> bytes:
    cap = policy.url_max_bytes
    length = response.getheader("Content-Length")
    if length and length.strip().isdigit() and int(length) > cap:
        raise InputError(f"The file at `{url}` is {human_bytes(int(length))}, more than the {human_bytes(cap)} this "
                         "workbench downloads.")
    chunks, size = [], 0
    while True:
        sock.settimeout(_remaining(deadline, policy))
        chunk = response.read1(_CHUNK) if hasattr(response, "read1") else response.read(_CHUNK)
        if expired.is_set():
            raise _Unreachable(f"no complete answer within {policy.url_deadline_s:g} s")
        if not chunk:
            break
        size += len(chunk)
        if size > cap:
            raise InputError(f"The file at `{url}` is larger than the {human_bytes(cap)} this workbench downloads.")
        chunks.append(chunk)
    return b"".join(chunks)
