"""Requests this server makes to a URL someone else gave it (a push subscription's
endpoint; later a media_url to fetch): checked, so a URL cannot aim the server at itself
or at the city's own network (server-side request forgery).

Two checks, both needed:

- :func:`check_url`, when the URL arrives and again before sending: https on its default
  port, no user name, no character two URL parsers could read differently, and a host on
  the caller's allow-list (the host or a subdomain of it), read with the parser the
  sending library uses (urllib3's, under requests and pywebpush);
- :func:`check_addresses`, just before connecting: every address the host resolves to is
  public (not loopback, private, link-local, shared, multicast or reserved);

and :func:`session_for` gives the requests session to send with: it follows no redirect
and checks again the address each connection actually reached.

An allow-list entry written as an origin (``http://127.0.0.1:8080``) allows exactly that
origin, whatever its scheme, port or address: a service the operator runs on purpose.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

MAX_URL = 2000
DEFAULT_PORTS = {"https": 443, "http": 80}
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
HOST_NAME = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Special-purpose blocks (RFC 6890 and after) spelt out, as Python versions' is_global
# tables differ.
NOT_PUBLIC = tuple(
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8",
        "100.64.0.0/10",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "240.0.0.0/4",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "3fff::/20",
        "5f00::/16",
    )
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(ValueError):
    """A URL or address this server will not connect to; the message says why (in
    English, for logs: callers show people their own words)."""


@dataclass(frozen=True)
class Destination:
    """Where a checked URL goes. ``named_origin``: an allow-list entry names exactly this
    origin, so it may be on a private address."""

    url: str
    scheme: str
    host: str
    port: int
    named_origin: bool = False

    @property
    def origin(self) -> str:
        return _origin(self.scheme, self.host, self.port)


def _origin(scheme: str, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def _plain(character: str) -> bool:
    # Control, format and separator characters (tab, line breaks, spaces, zero-width and
    # bidi marks) are dropped or reinterpreted differently by different parsers.
    return unicodedata.category(character)[0] not in "CZ" and character != "\\"


def _parts(url: str) -> tuple[str, str, int | None, str | None]:
    """(scheme, host, port, user info) as urllib3 reads ``url``, refused unless the
    standard library reads the same host and port."""
    try:
        parsed = parse_url(url)
        split = urlsplit(url)
        split_port = split.port
    except (LocationParseError, ValueError) as exc:
        raise DestinationRefused(f"not a URL we can read: {exc}") from exc
    host = (parsed.host or "").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host != (split.hostname or "") or parsed.port != split_port:
        raise DestinationRefused("the URL's host is read differently by different parsers")
    return (parsed.scheme or "").lower(), host, parsed.port, parsed.auth


def _entry(entry: str) -> tuple[str, str, int] | str | None:
    """An allow-list entry: an origin (scheme, host, port), a host name, or None."""
    entry = entry.strip().lower().rstrip("/")
    if not entry:
        return None
    if "://" not in entry:
        return entry.rstrip(".")
    scheme, host, port, _auth = _parts(entry)
    if scheme not in DEFAULT_PORTS or not host:
        raise DestinationRefused(f"allow-list entry {entry!r} is not an http(s) origin")
    return scheme, host, port or DEFAULT_PORTS[scheme]


def link_problem(url: str, limit: int = 500) -> str:
    """What is wrong with keeping ``url`` as a link to somebody's media, as words that follow
    the field's name ("" when nothing is): a plain http(s) address of at most ``limit``
    characters, with a host, no user info, no spaces or control characters. Nothing is
    fetched; fetching goes through :func:`check_public_fetch`."""
    try:
        parts = urlsplit(url)
        has_user = parts.username is not None
    except ValueError:
        return f"must be an http or https URL of at most {limit} characters"
    if parts.scheme not in ("http", "https") or not parts.hostname or has_user or len(url) > limit:
        return f"must be an http or https URL of at most {limit} characters"
    if any(char.isspace() or not char.isprintable() for char in url):
        return "must not contain spaces or control characters"
    return ""


def web_address(url: str, limit: int = 500) -> str:
    """``url`` if it is a plain http(s) address we may link to (:func:`link_problem`), else ""."""
    url = (url or "").strip()
    return url if url and not link_problem(url, limit) else ""


def check_url(url, allowed: list[str] | tuple[str, ...] | None = None) -> Destination:
    """``url`` as a :class:`Destination`, or :class:`DestinationRefused`.

    ``allowed``: host names (each allows itself and its subdomains, over https on port
    443) and origins (each allows exactly itself); None allows any host, over https on
    port 443, for the address check to judge.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise DestinationRefused("no URL, or one too long")
    if not all(_plain(character) for character in url):
        raise DestinationRefused("the URL holds a space, control character or backslash")
    scheme, host, port, auth = _parts(url)
    if auth is not None:
        raise DestinationRefused("the URL carries a user name")
    if not host:
        raise DestinationRefused("the URL has no host")
    entries = [e for e in (_entry(item) for item in allowed or ()) if e is not None]
    if scheme in DEFAULT_PORTS:
        here = (scheme, host, port or DEFAULT_PORTS[scheme])
        if here in entries:
            return Destination(url, scheme, host, here[2], named_origin=True)
    if scheme != "https":
        raise DestinationRefused("only https URLs are sent to")
    if port not in (None, 443):
        raise DestinationRefused("only the https port (443) is sent to")
    name = host.rstrip(".")
    try:
        literal = ipaddress.ip_address(name)
    except ValueError:
        literal = None
    if literal is None and not HOST_NAME.match(name):
        raise DestinationRefused("the URL's host is not a plain host name")
    if literal is not None and not is_public(literal):
        raise DestinationRefused(f"{literal} is not a public address")
    if allowed is not None:
        names = [e for e in entries if isinstance(e, str)]
        if not any(name == n or name.endswith("." + n) for n in names):
            raise DestinationRefused(f"{name} is not on the allow-list")
    return Destination(url, "https", host, 443)


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is on the public internet: not loopback, private, link-local,
    shared (CGNAT), multicast, reserved or unspecified, nor an IPv6 form of one."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if address.teredo:
            embedded = address.teredo[1]
        if address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None and not is_public(embedded):
            return False
        if address.is_site_local:
            return False
    if any(address in block for block in NOT_PUBLIC if block.version == address.version):
        return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def check_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, refused (:class:`DestinationRefused`) if any is not
    public. A name that does not resolve now raises ``OSError`` (try again later)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = []
    for *_rest, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not is_public(address):
            raise DestinationRefused(f"{host} resolves to {address}, which is not a public address")
        addresses.append(address)
    if not addresses:
        raise DestinationRefused(f"{host} resolves to no address")
    return addresses


def check_before_connecting(url, allowed: list[str] | tuple[str, ...] | None = None):
    """Both checks, just before a request: the URL, then (unless the operator named
    its origin) every address its host resolves to now."""
    destination = check_url(url, allowed)
    if not destination.named_origin:
        check_addresses(destination.host.rstrip("."), destination.port)
    return destination


class _PeerChecked:
    """A connection that, once connected, checks the address it reached: a name may
    resolve to a public address for :func:`check_addresses` and to a private one a moment
    later (DNS rebinding). Through a proxy the peer is the operator's proxy: not checked."""

    def _new_conn(self):
        sock = super()._new_conn()
        if getattr(self, "proxy", None) is not None or getattr(self, "_tunnel_host", None):
            return sock
        try:
            peer = ipaddress.ip_address(str(sock.getpeername()[0]).split("%", 1)[0])
            if not is_public(peer):
                raise DestinationRefused(
                    f"{self.host} connected to {peer}, which is not a public address"
                )
        except BaseException:
            sock.close()
            raise
        return sock


class _PeerCheckedHTTPConnection(_PeerChecked, HTTPConnection):
    pass


class _PeerCheckedHTTPSConnection(_PeerChecked, HTTPSConnection):
    pass


class _PeerCheckedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PeerCheckedHTTPConnection


class _PeerCheckedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PeerCheckedHTTPSConnection


class _PublicPeersOnly(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PeerCheckedHTTPPool,
            "https": _PeerCheckedHTTPSPool,
        }


class CheckedSession(requests.Session):
    """A requests session for a checked :class:`Destination`: it never follows a
    redirect (the checked URL is the only place it goes; a 3xx comes back as the
    answer) and, unless the operator named the origin, refuses to talk to a private
    address it finds itself connected to."""

    def __init__(self, public_only: bool = True):
        super().__init__()
        if public_only:
            adapter = _PublicPeersOnly()
            self.mount("https://", adapter)
            self.mount("http://", adapter)

    def get_redirect_target(self, resp):
        return None


def session_for(destination: Destination) -> CheckedSession:
    """The session to send to ``destination`` (from :func:`check_before_connecting`)."""
    return CheckedSession(public_only=not destination.named_origin)


def check_public_fetch(url, *, allow_private: bool = False) -> Destination:
    """A URL anyone gave us (an imported report's photo), to fetch from an arbitrary host
    with no allow-list: https on port 443, a plain host name or public address, and every
    address it resolves to public now; send with :func:`session_for` (no redirect
    followed, the reached address checked again). Raises :class:`DestinationRefused`, or ``OSError``
    if the name does not resolve now.

    ``allow_private`` is for tests only (a server on loopback, over http): it skips the
    scheme, port and address checks, never the URL's own.
    """
    if allow_private:
        destination = check_url(url, [_loose_origin(url)])
        return destination
    return check_before_connecting(url, None)


def _loose_origin(url) -> str:
    scheme, host, port, _auth = _parts(url) if isinstance(url, str) else ("", "", None, None)
    if scheme not in DEFAULT_PORTS or not host:
        return ""
    return _origin(scheme, host, port or DEFAULT_PORTS[scheme])
