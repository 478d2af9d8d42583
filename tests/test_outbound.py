"""The one check for URLs the server itself connects to (bpt311/outbound.py): push
endpoints now, remote media later. No network: getaddrinfo is replaced where a name
must resolve, and the only server is on loopback."""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bpt311 import outbound

PUSH = ["fcm.googleapis.com", "push.apple.com"]


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1\\.fcm.googleapis.com/x",  # urllib3 connects to 127.0.0.1
        "https://fcm.googleapis.com\\@127.0.0.1/x",
        "https://fcm.googleapis.com:8443/x",
        "https://fcm.googleapis.com:80/x",
        "https://fcm.googleapis.com:0/x",
        "https://fcm.googleapis.com:99999/x",
        "http://fcm.googleapis.com/x",
        "ftp://fcm.googleapis.com/x",
        "//fcm.googleapis.com/x",
        "fcm.googleapis.com/x",
        "https://user@fcm.googleapis.com/x",
        "https://user:pw@fcm.googleapis.com/x",
        "https://fcm.googleapis.com\t/x",
        "https://fcm.googleapis.com/x\n",
        "https://fcm.googleapis.com/x y",
        "https://fcm.googleapis.com\u200b/x",
        "https://127.0.0.1%2f.fcm.googleapis.com/x",
        "https://fcm.googleapis.com.evil.example/x",
        "https://evilfcm.googleapis.com.example/x",
        "https://googleapis.com/x",  # the parent of an allowed host is not allowed
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://[::1/x",
        "https://",
        "",
        None,
        42,
        "https://fcm.googleapis.com/" + "a" * 2000,
    ],
)
def test_urls_off_the_allow_list_or_spelt_to_mislead_are_refused(url):
    with pytest.raises(outbound.DestinationRefused):
        outbound.check_url(url, PUSH)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://fcm.googleapis.com/fcm/send/abc", "fcm.googleapis.com"),
        ("https://FCM.googleapis.com/fcm/send/abc", "fcm.googleapis.com"),
        ("https://fcm.googleapis.com:443/x", "fcm.googleapis.com"),
        ("https://web.push.apple.com/QGx", "web.push.apple.com"),
        ("https://fcm.googleapis.com/x?a=1#f", "fcm.googleapis.com"),
    ],
)
def test_push_services_and_their_subdomains_pass(url, host):
    destination = outbound.check_url(url, PUSH)
    assert (destination.scheme, destination.host, destination.port) == ("https", host, 443)
    assert not destination.named_origin


def test_without_an_allow_list_any_public_https_host_passes_but_not_a_private_literal():
    assert outbound.check_url("https://media.example.org/a.jpg").host == "media.example.org"
    for url in ("https://10.0.0.1/a.jpg", "https://[fe80::1]/a.jpg", "http://example.org/"):
        with pytest.raises(outbound.DestinationRefused):
            outbound.check_url(url)


def test_an_origin_on_the_allow_list_allows_exactly_that_origin():
    allowed = [*PUSH, "http://127.0.0.1:8123"]
    destination = outbound.check_url("http://127.0.0.1:8123/push/1", allowed)
    assert destination.named_origin and destination.origin == "http://127.0.0.1:8123"
    for url in ("http://127.0.0.1:8124/push/1", "https://127.0.0.1:8123/", "http://[::1]:8123/"):
        with pytest.raises(outbound.DestinationRefused):
            outbound.check_url(url, allowed)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.5.6.7",
        "0.0.0.0",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared (carrier-grade NAT)
        "192.0.0.8",
        "198.18.0.1",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd12:3456::1",
        "fec0::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
        "2001:db8::1",
    ],
)
def test_private_loopback_link_local_and_reserved_addresses_are_not_public(address):
    assert not outbound.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["142.250.80.10", "17.253.144.10", "2607:f8b0:4004::200e"])
def test_public_addresses_are_public(address):
    assert outbound.is_public(ipaddress.ip_address(address))


def fake_dns(monkeypatch, *addresses: str):
    def answer(host, port, *args, **kwargs):
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", answer)


def test_a_name_is_refused_if_any_of_its_addresses_is_private(monkeypatch):
    fake_dns(monkeypatch, "142.250.80.10", "127.0.0.1")
    with pytest.raises(outbound.DestinationRefused, match="127.0.0.1"):
        outbound.check_before_connecting("https://a.fcm.googleapis.com/x", PUSH)
    fake_dns(monkeypatch, "142.250.80.10", "2607:f8b0:4004::200e")
    assert outbound.check_before_connecting("https://a.fcm.googleapis.com/x", PUSH).port == 443


def test_a_named_origin_is_not_resolved(monkeypatch):
    def no_lookup(*args, **kwargs):
        raise AssertionError("resolved")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    outbound.check_before_connecting("http://127.0.0.1:8123/p", ["http://127.0.0.1:8123"])


def test_a_name_that_does_not_resolve_now_is_an_os_error_to_retry(monkeypatch):
    def down(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", down)
    with pytest.raises(OSError):
        outbound.check_addresses("fcm.googleapis.com", 443)


def test_the_session_never_follows_a_redirect():
    class Redirecting(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with outbound.CheckedSession(public_only=False) as session:
            response = session.post(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5)
        assert response.status_code == 307 and response.history == []
    finally:
        server.shutdown()
        server.server_close()


def test_a_name_that_resolves_elsewhere_at_connect_time_is_refused(monkeypatch):
    """DNS rebinding: public when checked, loopback when the connection is made."""
    import urllib3.util.connection

    listener = socket.create_server(("127.0.0.1", 0))
    reached = []

    def rebound(address, *args, **kwargs):
        reached.append(address)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(2)
        sock.connect(listener.getsockname())  # not through getaddrinfo, which is faked
        return sock

    fake_dns(monkeypatch, "142.250.80.10")
    monkeypatch.setattr(urllib3.util.connection, "create_connection", rebound)
    try:
        url = "https://rebind.fcm.googleapis.com/x"
        destination = outbound.check_before_connecting(url, PUSH)
        with (
            outbound.session_for(destination) as session,
            pytest.raises(outbound.DestinationRefused),
        ):
            session.post(url, data=b"secret", timeout=5)
    finally:
        listener.close()
    assert reached == [("rebind.fcm.googleapis.com", 443)]
