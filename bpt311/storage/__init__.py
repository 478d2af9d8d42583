"""Where processed photos and videos live: final files, and a short-lived stash for
uploads whose report has not been sent yet (so a form with an error keeps them).

The rest of the app calls the names below (``storage.write_bytes``, ``copy``,
``read_bytes``, ``send``, ``delete``, ``stash_photo``...), never a file path or a
backend. ``__all__`` is this package's public API; each name lives in the module of
its concern:

- ``backends``: ``LocalStorage`` (a folder) and ``S3Storage`` (an S3-compatible object
  store), chosen by ``MEDIA_STORAGE``;
- ``files``: the calls on this app's backend, with the local spool that takes writes
  while an object store is down;
- ``stash``: uploads checked and kept under ``pending/`` until their report is sent;
- ``variants``: the smaller copies of a photo (srcset) and the new ``Media`` row's links
  to them;
- ``spool``: ``retry_pending_media()`` and ``flask media retry``, which move what waited
  in the spool into the object store.
"""

from __future__ import annotations

from flask import Flask

from bpt311.models.reports import VARIANT_EXTENSIONS
from bpt311.ops.readiness import NotReady, add_check
from bpt311.storage.backends import (
    LocalStorage,
    S3Storage,
    StorageUnavailable,
    content_type_of,
    make_backend,
)
from bpt311.storage.files import (
    backend,
    cache_while_hideable,
    copy,
    delete,
    exists,
    file_path,
    media_root,
    new_name,
    open_file,
    read_bytes,
    send,
    spool,
    stored_media,
    write_bytes,
    write_stream,
)
from bpt311.storage.spool import Retried, media_cli, retry_pending_media
from bpt311.storage.stash import (
    StashedMedia,
    clean_stash,
    discard_stashed,
    load_stashed,
    stash,
    stash_photo,
    stash_video,
)
from bpt311.storage.variants import (
    VARIANT_RE,
    attach_variants,
    file_owned,
    files_to_delete,
    prepare_new_media,
    variant_files,
    variant_key,
    variant_name,
)

__all__ = [
    "VARIANT_EXTENSIONS",
    "VARIANT_RE",
    "LocalStorage",
    "Retried",
    "S3Storage",
    "StashedMedia",
    "StorageUnavailable",
    "attach_variants",
    "backend",
    "cache_while_hideable",
    "clean_stash",
    "content_type_of",
    "copy",
    "delete",
    "discard_stashed",
    "exists",
    "file_owned",
    "file_path",
    "files_to_delete",
    "init_app",
    "load_stashed",
    "make_backend",
    "media_cli",
    "media_root",
    "new_name",
    "open_file",
    "prepare_new_media",
    "read_bytes",
    "retry_pending_media",
    "send",
    "spool",
    "stash",
    "stash_photo",
    "stash_video",
    "stored_media",
    "variant_files",
    "variant_key",
    "variant_name",
    "write_bytes",
    "write_stream",
]


def init_app(app: Flask) -> None:
    """Check the media settings at start-up (loudly), add the object store's readiness
    check and the ``flask media`` commands. The backend itself is made on first use, in
    each worker, after gunicorn has forked."""
    kind = (app.config.get("MEDIA_STORAGE") or "local").lower()
    if kind not in ("local", "s3"):
        raise RuntimeError(f"MEDIA_STORAGE must be 'local' or 's3', not {kind!r}")
    if kind == "s3":
        if not app.config.get("S3_BUCKET"):
            raise RuntimeError("MEDIA_STORAGE=s3 needs S3_BUCKET (and usually S3_ENDPOINT_URL).")
        add_check(app, "storage", _ping_object_store)
    app.cli.add_command(media_cli)


def _ping_object_store() -> None:
    try:
        backend().ping()
    except OSError as exc:
        raise NotReady(f"object store is not reachable: {exc}") from exc
