"""Static assets and response compression: fingerprinted names cached for a year,
bodies compressed once and kept, HTML compressed on the way out, body ETags, and the
route serving photos' smaller copies (srcset variants)."""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, Response, abort, current_app, g, request, session

try:
    import brotli
except ImportError:  # without the Brotli wheel, gzip alone is offered
    brotli = None

__all__ = ["Manifest", "compress_body", "dynamic_coding", "fingerprinted", "register"]

IMMUTABLE = "public, max-age=31536000, immutable"
# An old or unfingerprinted URL keeps working, but only for a short while in caches,
# so a new release is picked up within minutes.
SHORT_CACHE = "public, max-age=300"
HASH_LENGTH = 10
FINGERPRINT_RE = re.compile(
    rf"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{{{HASH_LENGTH}}})(?P<ext>\.[^./]+)$"
)
COMPRESSIBLE_SUFFIXES = frozenset(
    {".css", ".js", ".mjs", ".json", ".svg", ".txt", ".xml", ".html", ".webmanifest", ".map"}
)
# Dynamic responses worth compressing; binary formats (images, video) are already compressed.
COMPRESSIBLE_TYPES = frozenset(
    {
        "text/html",
        "text/plain",
        "text/css",
        "text/csv",
        "text/xml",
        "application/json",
        "application/geo+json",
        "application/xml",
        "application/atom+xml",
        "application/javascript",
        "text/javascript",
        "image/svg+xml",
    }
)
MIN_COMPRESS_BYTES = 512  # below one packet, compression saves nothing worth its CPU
DYNAMIC_BROTLI_QUALITY = 5  # about gzip's speed at level 6, and smaller output
DYNAMIC_GZIP_LEVEL = 6


@dataclass
class StaticFile:
    """One file under static/: its content hash and, once asked for, its compressed bodies."""

    path: Path
    digest: str
    mtime_ns: int
    size: int
    bodies: dict[str, bytes] = field(default_factory=dict)

    @property
    def compressible(self) -> bool:
        return self.path.suffix.lower() in COMPRESSIBLE_SUFFIXES


@dataclass
class Manifest:
    """Logical name (``css/site.css``) to fingerprinted name (``css/site.0a1b2c3d4e.css``)."""

    folder: Path
    files: dict[str, StaticFile]
    names: dict[str, str]  # logical -> fingerprinted
    logical: dict[str, str]  # fingerprinted -> logical


# Hashes and compressed bodies are kept per process, keyed by path, size and mtime, so
# every app the tests create reuses them and a changed file is read again.
_known: dict[Path, StaticFile] = {}
_lock = threading.Lock()


def fingerprinted(logical_name: str, digest: str) -> str:
    stem, dot, ext = logical_name.rpartition(".")
    if not dot or "/" in ext:
        return f"{logical_name}.{digest}"
    return f"{stem}.{digest}.{ext}"


def build_manifest(folder: Path) -> Manifest:
    files: dict[str, StaticFile] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue
        stat = path.stat()
        known = _known.get(path)
        if known is None or (known.mtime_ns, known.size) != (stat.st_mtime_ns, stat.st_size):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:HASH_LENGTH]
            known = StaticFile(path, digest, stat.st_mtime_ns, stat.st_size)
            with _lock:
                _known[path] = known
        files[path.relative_to(folder).as_posix()] = known
    names = {name: fingerprinted(name, item.digest) for name, item in files.items()}
    return Manifest(folder, files, names, {hashed: name for name, hashed in names.items()})


def _bodies(item: StaticFile) -> dict[str, bytes]:
    """The file as sent for each coding; compressed versions only where they are smaller."""
    if item.bodies:
        return item.bodies
    with _lock:
        if item.bodies:
            return item.bodies
        raw = item.path.read_bytes()
        bodies = {"identity": raw}
        if item.compressible:
            candidates = {"gzip": gzip.compress(raw, 9, mtime=0)}
            if brotli is not None:
                candidates["br"] = brotli.compress(raw, quality=11)
            bodies.update({k: v for k, v in candidates.items() if len(v) < len(raw)})
        item.bodies = bodies
    return bodies


def _preferred_coding(available) -> str:
    """The best coding the client accepts among those we hold: brotli, then gzip."""
    accepted = request.accept_encodings
    for coding in ("br", "gzip"):
        if coding in available and accepted.quality(coding) > 0:
            return coding
    return "identity"


def _static_view(filename: str):
    manifest: Manifest = current_app.extensions["bpt311_assets"]
    logical = manifest.logical.get(filename)
    cache = IMMUTABLE
    if logical is None:
        cache = SHORT_CACHE
        logical = filename
        if filename not in manifest.files:
            # A fingerprint from an older release: serve today's file, briefly cached.
            match = FINGERPRINT_RE.match(filename)
            logical = f"{match['stem']}{match['ext']}" if match else filename
    item = manifest.files.get(logical)
    if item is None:
        abort(404)
    bodies = _bodies(item)
    coding = _preferred_coding(bodies)
    mimetype = mimetypes.guess_type(logical)[0] or "application/octet-stream"
    response = Response(bodies[coding], mimetype=mimetype)
    if coding != "identity":
        response.headers["Content-Encoding"] = coding
    if len(bodies) > 1:
        response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = cache
    response.set_etag(f"{item.digest}-{coding}")
    response.last_modified = item.mtime_ns // 1_000_000_000
    return response.make_conditional(request)


def _url_defaults(endpoint: str, values: dict) -> None:
    """Every ``url_for('static', filename=...)`` gets the fingerprinted name."""
    if endpoint != "static" or "filename" not in values:
        return
    manifest: Manifest = current_app.extensions["bpt311_assets"]
    values["filename"] = manifest.names.get(values["filename"], values["filename"])


def dynamic_coding(accepted) -> str:
    """The coding a dynamic response is sent in for this client: br, gzip or identity."""
    if brotli is not None and accepted.quality("br") > 0:
        return "br"
    if accepted.quality("gzip") > 0:
        return "gzip"
    return "identity"


def compress_body(data: bytes, accepted) -> tuple[str, bytes] | None:
    """(coding, body) for a dynamic response, or None when the client takes neither."""
    coding = dynamic_coding(accepted)
    if coding == "br":
        return "br", brotli.compress(data, quality=DYNAMIC_BROTLI_QUALITY)
    if coding == "gzip":
        return "gzip", gzip.compress(data, DYNAMIC_GZIP_LEVEL, mtime=0)
    return None


def _body_etag(data: bytes) -> str:
    """A hash of the body, with this request's signed CSRF token taken as its session
    secret: the signature holds a timestamp that changes every second, but a page cached
    earlier carries a token just as good while tokens live as long as the session
    (WTF_CSRF_TIME_LIMIT None). The secret is per session, so the ETag stays per person."""
    field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    signed = g.get(field)
    if signed and current_app.config.get("WTF_CSRF_TIME_LIMIT") is None:
        data = data.replace(signed.encode(), str(session.get(field, "")).encode())
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _finish_response(response: Response) -> Response:
    """Weak body ETag (answering 304) on GET pages, then compression for text bodies.

    The ETag is a hash of the bytes that would be sent (see _body_etag for the CSRF
    token), so it can only match when the answer is the same for this visitor, flashes
    and signed-in links included: pages that vary by person stay correct without any
    per-page logic.
    """
    if (
        g.get("public_cache_hit")  # stored finished: headers, ETag and compressed body
        or response.direct_passthrough
        or response.is_streamed
        or response.mimetype not in COMPRESSIBLE_TYPES
        or "Content-Encoding" in response.headers
        or request.endpoint == "static"
    ):
        return response
    data = response.get_data()
    names_its_coding = False
    if request.method in ("GET", "HEAD") and response.status_code == 200:
        given, weak = response.get_etag()
        if g.get("public_page"):
            # The same bytes for every anonymous visitor: a strong validator naming the
            # coding they are sent in (the view's own strong one, else a body hash).
            coding = "identity" if len(data) < MIN_COMPRESS_BYTES else None
            coding = coding or dynamic_coding(request.accept_encodings)
            if given is None or weak:
                given = hashlib.blake2b(data, digest_size=12).hexdigest()
            response.set_etag(f"{given}-{coding}")
            names_its_coding = True
        elif given is None:
            response.set_etag(_body_etag(data), weak=True)
        response.make_conditional(request)
        if response.status_code == 304:
            return response
    if len(data) < MIN_COMPRESS_BYTES:
        return response
    response.vary.add("Accept-Encoding")
    chosen = compress_body(data, request.accept_encodings)
    if chosen is None:
        return response
    coding, body = chosen
    response.set_data(body)
    response.headers["Content-Encoding"] = coding
    etag, weak = response.get_etag()
    if etag and not weak and not names_its_coding:  # a strong ETag names exact bytes;
        response.set_etag(etag, weak=True)  # these bytes are new
    return response


class _SharedStatic:
    """WSGI wrapper dropping ``Cookie`` from a static file's Vary header.

    Flask-Login reads the session after every request, so Flask would add
    ``Vary: Cookie`` even to static files, and a browser or proxy would then fetch a
    year-cached file again whenever the session cookie changed (at every sign-in).
    """

    def __init__(self, wsgi_app, prefix: str):
        self.wsgi_app = wsgi_app
        self.prefix = prefix

    def __call__(self, environ, start_response):
        if not environ.get("PATH_INFO", "").startswith(self.prefix):
            return self.wsgi_app(environ, start_response)

        def start(status, headers, exc_info=None):
            kept = []
            for name, value in headers:
                if name.lower() == "vary":
                    value = ", ".join(
                        part.strip()
                        for part in value.split(",")
                        if part.strip().lower() != "cookie"
                    )
                    if not value:
                        continue
                kept.append((name, value))
            return start_response(status, kept, exc_info)

        return self.wsgi_app(environ, start)


def register(app: Flask) -> None:
    """Serve static/ under fingerprinted names and compress text responses."""
    manifest = build_manifest(Path(app.static_folder))
    app.extensions["bpt311_assets"] = manifest
    app.view_functions["static"] = _static_view
    app.url_defaults(_url_defaults)
    # Registered first, so Flask runs it last: after every other after_request hook.
    app.after_request(_finish_response)
    app.wsgi_app = _SharedStatic(app.wsgi_app, f"{app.static_url_path}/")
