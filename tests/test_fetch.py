"""workbench.fetch: http(s) only, every resolved address checked, redirects re-checked and bounded, a
total deadline, a byte cap, and hosted messages that tell nothing about the network.

Every server is ours, on 127.0.0.1 (https ones with a certificate from a test authority,
``trustme``). Where a test needs a "public" host, an injected ``Network`` resolves a made-up name to
a public-looking address and connects that address to a loopback server, recording every connection,
so nothing ever leaves the machine.
"""

from __future__ import annotations

import socket
import time
from dataclasses import replace

import pytest

from tests.loopback import (DRIPPED, HITS, PNG, PUBLIC, FakeNet, closed_port, server, silent_port,  # noqa: F401 (fixtures)
                            tls_ca, tls_server)
from workbench.errors import InputError
import threading

from workbench.fetch import MAX_PENDING_LOOKUPS, address_is_public, fetch_url, system_resolve
from workbench.hosting import HostingPolicy

LOCAL = replace(HostingPolicy.local(), url_deadline_s=5.0)
HOSTED = replace(HostingPolicy.public(), url_deadline_s=5.0)


# ---- addresses -----------------------------------------------------------------------------------


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "198.18.0.1", "192.0.0.8",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "fec0::1", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:169.254.169.254", "::127.0.0.1", "2002:7f00:1::", "2002:a00:1::", "64:ff9b::7f00:1",
    "64:ff9b::a9fe:a9fe", "64:ff9b:1::1", "2001:db8::1", "not an address",
])
def test_non_public_addresses_are_refused(address):
    assert address_is_public(address) is False


@pytest.mark.parametrize("address", ["1.1.1.1", PUBLIC, "2606:4700::1111", "::ffff:1.1.1.1", "64:ff9b::101:101",
                                     "2002:101:101::"])
def test_public_addresses_are_allowed(address):
    assert address_is_public(address) is True


# ---- local policy: loopback works, limits apply ---------------------------------------------------


def test_local_policy_fetches_loopback(server):
    got = fetch_url(f"http://127.0.0.1:{server}/hello", LOCAL)
    assert got.data == b"hello" and got.content_type == "text/plain"
    got = fetch_url(f"http://127.0.0.1:{server}/loop?n={LOCAL.url_max_redirects - 1}", LOCAL)  # 5 redirects: the limit
    assert got.data == b"hello" and got.url.endswith("/hello")


def test_too_many_redirects_is_said_plainly(server):
    with pytest.raises(InputError, match=r"redirected more than 5 times \(the most this workbench follows\)") as info:
        fetch_url(f"http://127.0.0.1:{server}/loop", LOCAL)
    assert "loop" not in str(info.value).replace("/loop", "")  # not "infinite loop"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1:70/", "//127.0.0.1/x",
                                 "http://user:pw@127.0.0.1/x", "http:///nohost"])
def test_other_schemes_and_credentials_are_refused(url):
    for policy in (LOCAL, HOSTED):
        with pytest.raises(InputError, match="http|user name|host name"):
            fetch_url(url, policy)


def test_redirect_to_ftp_is_refused(server):
    HITS.clear()
    with pytest.raises(InputError, match=r"redirected to `ftp://127\.0\.0\.1/secret`, which is not fetched: Only http"):
        fetch_url(f"http://127.0.0.1:{server}/redirect?to=ftp://127.0.0.1/secret", LOCAL)
    assert HITS == ["/redirect?to=ftp://127.0.0.1/secret"]


def test_byte_cap_holds_without_content_length(server):
    small = replace(LOCAL, url_max_bytes=1000)
    assert len(fetch_url(f"http://127.0.0.1:{server}/stream?n=1000", small).data) == 1000
    with pytest.raises(InputError, match="larger than the 1000 bytes this workbench downloads"):
        fetch_url(f"http://127.0.0.1:{server}/stream?n=200000", small)


def test_the_deadline_is_total_not_per_read(server):
    """A server dripping a byte every 0.25 s answers each read in time; the 1 s deadline still ends it."""
    DRIPPED.clear()
    with pytest.raises(InputError, match=r"no complete answer within 1 s"):
        fetch_url(f"http://127.0.0.1:{server}/drip", replace(LOCAL, url_deadline_s=1.0))
    time.sleep(0.5)  # let the server notice the closed connection
    assert 0 < DRIPPED[0] < 20  # the full answer is 43 bytes: the request was cut off in the middle


def test_a_port_that_never_answers_is_bounded(silent_port):
    with pytest.raises(InputError, match=r"no complete answer within 1 s"):
        fetch_url(f"http://127.0.0.1:{silent_port}/x", replace(LOCAL, url_deadline_s=1.0))


def test_local_messages_say_what_happened():
    with pytest.raises(InputError, match=r"Could not fetch URL `http://127\.0\.0\.1:\d+/x`: could not connect"):
        fetch_url(f"http://127.0.0.1:{closed_port()}/x", LOCAL)


# ---- hosted policy: nothing private, before connecting --------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "0.0.0.0", "169.254.169.254", "[::ffff:127.0.0.1]", "localhost"])
def test_hosted_refuses_local_addresses_before_connecting(server, host):
    HITS.clear()
    with pytest.raises(InputError, match="Could not fetch URL .* only public http"):
        fetch_url(f"http://{host}:{server}/hello", HOSTED)
    assert HITS == []


def test_hosted_fetches_a_public_host_through_the_checked_address(server):
    net = FakeNet({"public.test": [PUBLIC]}, server)
    got = fetch_url("http://public.test/hello", replace(HOSTED, network=net.network()))
    assert got.data == b"hello" and net.connected == [PUBLIC] and net.resolved == ["public.test"]


def test_every_resolved_address_must_be_public(server):
    net = FakeNet({"mixed.test": [PUBLIC, "127.0.0.1"]}, server)
    with pytest.raises(InputError, match="Could not fetch URL"):
        fetch_url("http://mixed.test/hello", HOSTED, network=net.network())
    assert net.connected == []


def test_redirect_to_a_private_address_is_refused_before_connecting(server):
    net = FakeNet({"public.test": [PUBLIC], "internal.test": ["10.0.0.5"]}, server)
    HITS.clear()
    for target in ("http://internal.test/admin", "http://127.0.0.1/admin", "http://[fd00:ec2::254]/latest/meta-data"):
        with pytest.raises(InputError, match=r"Could not fetch URL `http://public\.test/redirect\?to="):
            fetch_url(f"http://public.test/redirect?to={target}", HOSTED, network=net.network())
    assert net.connected == [PUBLIC] * 3  # only the first hop, never the redirect's target
    assert len(HITS) == 3


def test_hosted_messages_do_not_tell_closed_from_silent_ports_or_timeouts(server, silent_port):
    policy = replace(HOSTED, url_deadline_s=1.0)
    messages = {}
    for name, port in (("closed", closed_port()), ("silent", silent_port), ("drip", server)):
        net = FakeNet({"public.test": [PUBLIC]}, port)
        path = "/drip" if name == "drip" else "/x"
        with pytest.raises(InputError) as info:
            fetch_url(f"http://public.test{path}", policy, network=net.network())
        messages[name] = str(info.value).replace(path, "/PATH")
    with pytest.raises(InputError) as info:
        fetch_url("http://unknown.test/PATH", policy, network=FakeNet({}, server).network())
    messages["unknown host"] = str(info.value).replace("unknown.test", "public.test")
    with pytest.raises(InputError) as info:
        fetch_url(f"http://127.0.0.1:{server}/PATH", policy)
    messages["loopback"] = str(info.value).replace(f"127.0.0.1:{server}", "public.test")
    assert len(set(messages.values())) == 1, messages
    assert "Connection refused" not in messages["closed"] and "within 1 s" in messages["closed"]


# ---- https: the same checks, and the certificate verified for the name asked for -----------------


def test_hosted_fetches_https_through_the_checked_address(tls_server, tls_ca):
    net = FakeNet({"public.test": [PUBLIC]}, tls_server)
    got = fetch_url("https://public.test/cat.png", replace(HOSTED, network=net.network(tls_ca)))
    assert got.data == PNG and got.content_type == "image/png"
    assert net.resolved == ["public.test"] and net.connected == [PUBLIC]


def test_https_certificates_are_verified(tls_server, tls_ca):
    """A certificate for another name, or from an authority the system does not trust, is refused."""
    wrong_name = FakeNet({"other.test": [PUBLIC]}, tls_server)
    with pytest.raises(InputError, match=r"TLS failed .*(hostname|match)"):
        fetch_url("https://other.test/hello", LOCAL, network=wrong_name.network(tls_ca))
    untrusted = FakeNet({"public.test": [PUBLIC]}, tls_server)
    with pytest.raises(InputError, match=r"TLS failed .*CERTIFICATE_VERIFY_FAILED"):
        fetch_url("https://public.test/hello", LOCAL, network=untrusted.network())  # the system's authorities only
    with pytest.raises(InputError,
                       match=r"Could not fetch URL `https://public.test/hello`\. This workbench fetches only"):
        fetch_url("https://public.test/hello", HOSTED, network=untrusted.network())


def test_https_redirect_to_a_private_address_is_refused_before_connecting(tls_server, tls_ca):
    net = FakeNet({"public.test": [PUBLIC]}, tls_server)
    with pytest.raises(InputError, match="Could not fetch URL"):
        fetch_url("https://public.test/redirect?to=http://127.0.0.1/admin", HOSTED, network=net.network(tls_ca))
    assert net.connected == [PUBLIC]  # the redirect's target was never connected
    got = fetch_url("https://public.test/redirect?to=/cat.png", HOSTED, network=net.network(tls_ca))
    assert got.data == PNG and got.url == "https://public.test/cat.png"


def test_a_tls_handshake_that_never_answers_is_bounded(silent_port):
    """The handshake counts against the deadline as reads do: a port that accepts and says nothing
    cannot hold an https request."""
    net = FakeNet({"public.test": [PUBLIC]}, silent_port)
    start = time.monotonic()
    with pytest.raises(InputError, match="Could not fetch URL"):
        fetch_url("https://public.test/hello", replace(HOSTED, url_deadline_s=1.0), network=net.network())
    assert time.monotonic() - start < 3.0


# ---- name lookups: bounded in time, and in how many can hang at once ------------------------------


def test_lookups_that_hang_are_bounded_in_time_and_number():
    """``getaddrinfo`` cannot be interrupted: a lookup past its deadline is given up but its thread
    lives on. At most MAX_PENDING_LOOKUPS such threads exist; beyond that lookups fail at once, and
    once the hung ones end, lookups work again. (The stand-in resolver blocks; nothing is looked up.)"""
    hang = threading.Event()

    def stuck(host, port, **kw):
        hang.wait(30)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC, port))]

    try:
        for _ in range(MAX_PENDING_LOOKUPS):
            with pytest.raises(TimeoutError, match="took longer than 0.0 s"):
                system_resolve("slow.test", 80, 0.01, getaddrinfo=stuck)
        with pytest.raises(TimeoutError, match="too many name lookups are pending"):
            system_resolve("slow.test", 80, 0.01, getaddrinfo=stuck)
    finally:
        hang.set()
    assert system_resolve("slow.test", 80, 5.0, getaddrinfo=stuck) == [PUBLIC]


def test_a_url_in_any_script_is_fetched_percent_encoded(server):
    """A non-ASCII path or query is sent as a browser sends it (it was a raw UnicodeEncodeError)."""
    HITS.clear()
    with pytest.raises(InputError, match="answered HTTP 404"):
        fetch_url(f"http://127.0.0.1:{server}/bücher/straße.png?q=grüße", LOCAL)
    assert HITS == ["/b%C3%BCcher/stra%C3%9Fe.png?q=gr%C3%BC%C3%9Fe"]
    HITS.clear()
    with pytest.raises(InputError, match="answered HTTP 404"):
        fetch_url(f"http://127.0.0.1:{server}/caf%C3%A9.png", LOCAL)
    assert HITS == ["/caf%C3%A9.png"]  # an escape already there is kept as it is, not escaped twice
