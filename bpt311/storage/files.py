"""What the rest of the app calls to keep and serve media: write, read, open, exists,
copy, delete and send, by name, on this app's backend (``backend()``).

With an object store, a write it refuses or cannot take goes to a local spool
(``MEDIA_ROOT/spool``) instead, so a report is never lost to an outage; copies and
deletions it cannot make are written down there (``COPIES``, ``DELETIONS``) for
``bpt311.storage.spool.retry_pending_media``.
"""

from __future__ import annotations

import io
import json
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import IO

from flask import current_app, redirect, send_file
from werkzeug.exceptions import ServiceUnavailable

from bpt311.storage.backends import LocalStorage, S3Storage, StorageUnavailable, make_backend

log = logging.getLogger(__name__)
STORAGE_KEY = "bpt311.media_storage"
SPOOL_FOLDER = "spool"  # under MEDIA_ROOT, only with an object store
COPIES = ".copies"  # in the spool: copies the object store could not make yet
DELETIONS = ".deletions"  # in the spool: objects the object store could not delete yet


def backend() -> LocalStorage | S3Storage:
    """This app's media storage, made once from its settings."""
    app = current_app._get_current_object()
    store = app.extensions.get(STORAGE_KEY)
    if store is None:
        store = app.extensions[STORAGE_KEY] = make_backend(app.config)
    return store


def spool() -> LocalStorage | None:
    """Where writes wait while the object store is down; None with local storage."""
    if backend().kind == "local":
        return None
    return LocalStorage(Path(current_app.config["MEDIA_ROOT"]) / SPOOL_FOLDER)


def media_root() -> Path:
    return Path(current_app.config["MEDIA_ROOT"])


def file_path(name: str) -> Path:
    """The file of a medium on local storage (tests and tools; the app reads through
    read_bytes/open_file/send, which work with an object store too)."""
    store = backend()
    if store.kind != "local":
        raise RuntimeError("media in an object store have no file path")
    return store.path(name)


def new_name(extension: str) -> str:
    """An unguessable file name: media URLs cannot be enumerated."""
    return secrets.token_hex(16) + extension


def _write(name: str, put: Callable[[LocalStorage | S3Storage], None]) -> None:
    try:
        put(backend())
    except StorageUnavailable as exc:
        waiting = spool()
        if waiting is None:
            raise
        put(waiting)  # a full local disk too raises OSError: the caller says so
        log.warning("Media %s kept in the local spool for retry: %s", name, exc)


def write_bytes(name: str, data: bytes) -> None:
    _write(name, lambda store: store.put_bytes(name, data))


def write_stream(name: str, stream: IO[bytes]) -> None:
    start = stream.tell() if getattr(stream, "seekable", lambda: False)() else None

    def put(store) -> None:
        if start is not None:
            stream.seek(start)  # a failed upload may have read some of it
        store.put_stream(name, stream)

    _write(name, put)


def read_bytes(name: str) -> bytes:
    """A medium's bytes; FileNotFoundError if there is none."""
    waiting = spool()
    if waiting is not None and waiting.exists(name):
        return waiting.read(name)
    return backend().read(name)


def open_file(name: str) -> IO[bytes]:
    """A medium to read from (the caller closes it); FileNotFoundError if there is none."""
    waiting = spool()
    if waiting is not None and waiting.exists(name):
        return waiting.open(name)
    return backend().open(name)


def exists(name: str) -> bool:
    waiting = spool()
    if waiting is not None and waiting.exists(name):
        return True
    try:
        return backend().exists(name)
    except StorageUnavailable:
        return False


def copy(source: str, target: str) -> None:
    """Give a stored medium a second name (a stashed upload its final one).

    With an object store that is down, the copy is written down in the spool and made by
    retry_pending_media(), so the report that names ``target`` is kept meanwhile."""
    waiting = spool()
    if waiting is not None and waiting.exists(source):
        waiting.copy(source, target)  # the source waits here: so does the copy
        return
    try:
        backend().copy(source, target)
    except StorageUnavailable as exc:
        if waiting is None:
            raise
        record = {"source": source, "target": target}
        waiting.put_bytes(f"{COPIES}/{secrets.token_hex(16)}.json", json.dumps(record).encode())
        log.warning("Copy of %s to %s waits for the object store: %s", source, target, exc)


def delete(*names: str) -> None:
    names = tuple(name for name in names if name)
    if not names:
        return
    waiting = spool()
    if waiting is None:
        backend().delete(names)
        return
    waiting.delete(names)
    _forget_copies(set(names))
    try:
        backend().delete(names)
    except StorageUnavailable as exc:
        # Called once the rows naming them are gone: remember the names, delete later.
        record = json.dumps(list(names)).encode()
        waiting.put_bytes(f"{DELETIONS}/{secrets.token_hex(16)}.json", record)
        log.warning("Deleting %d media waits for the object store: %s", len(names), exc)


def send(name: str, content_type: str, inline: bool = True, stream: bool = False):
    """The response that serves a medium the caller has allowed, or None if it is missing.

    Local files (and those waiting in the spool) are sent by the app with conditional
    requests; from an object store, a 302 to a public or presigned URL (the store does
    the work, Range requests for videos included), or, with ``stream`` and no public
    URL, the bytes themselves (small photo copies: see docs/architecture.md)."""
    store = backend()
    waiting = spool()
    if waiting is not None and waiting.exists(name):
        store = waiting  # written while the object store was down: served from here
    if store.kind == "local":
        path = store.path(name)
        if not path.is_file():
            return None
        return send_file(path, mimetype=content_type, conditional=True, max_age=86400)
    url = None if (stream and not store.public_url) else store.url(name, content_type, inline)
    if url is not None:
        response = redirect(url, 302)
        # The redirect is cached a while, never longer than a presigned URL lives.
        if store.public_url:
            response.headers["Cache-Control"] = "public, max-age=3600"
        else:
            response.headers["Cache-Control"] = f"private, max-age={store.url_seconds // 2}"
        return response
    try:
        answer = store.get(name)
        with store._answers(name):
            data = answer["Body"].read()
    except FileNotFoundError:
        return None
    except StorageUnavailable as exc:
        raise ServiceUnavailable("The photo cannot be fetched just now.") from exc
    return send_file(
        io.BytesIO(data),
        mimetype=content_type,
        conditional=True,
        etag=answer.get("ETag", "").strip('"') or False,
        last_modified=answer.get("LastModified"),
        max_age=86400,
    )


def cache_while_hideable(response, public: bool) -> None:
    """Cache-Control for a photo or video moderators may hide at any time: every cache
    asks again before each use (ETag and Last-Modified make that a 304), so none keeps
    serving it once hidden; and what only staff may see (``public`` False) stays in their
    own browser. A presigned URL's redirect keeps its own short private lifetime."""
    if response.status_code == 302 and response.headers.get("Cache-Control", "").startswith(
        "private"
    ):
        return
    response.headers["Cache-Control"] = "public, no-cache" if public else "private, no-cache"


# ---- what the store and the spool hold; copies and deletions waiting in the spool ----


def names_under(prefix: str) -> list[tuple[str, float]]:
    """Stored names under ``prefix``, with their times: the store's and the spool's."""
    found = {}
    waiting = spool()
    if waiting is not None:
        found.update(waiting.list(prefix))
    try:
        found.update(backend().list(prefix))
    except StorageUnavailable:
        if waiting is None:
            raise
    return sorted(found.items())


def stored_media() -> list[str]:
    """Every medium kept for good (not the stash), in the store or waiting in the spool."""
    return [
        name
        for name, _ in names_under("")
        if not name.startswith(("pending/", f"{COPIES}/", f"{DELETIONS}/"))
    ]


def records(waiting: LocalStorage, folder: str) -> list[tuple[str, object]]:
    found = []
    for name, _ in waiting.list(f"{folder}/"):
        try:
            found.append((name, json.loads(waiting.read(name))))
        except (OSError, ValueError):
            continue
    return found


def copy_sources() -> set[str]:
    waiting = spool()
    if waiting is None:
        return set()
    return {record["source"] for _, record in records(waiting, COPIES)}


def _forget_copies(targets: set[str]) -> None:
    """Copies to make for media deleted meanwhile (a report that rolled back) are dropped."""
    waiting = spool()
    for name, record in records(waiting, COPIES):
        if record["target"] in targets:
            waiting.delete([name])
