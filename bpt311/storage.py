"""Where processed photos and videos live: final files, and a short-lived stash for
uploads whose report has not been sent yet (so a form with an error keeps them).

Media sit behind one small interface with two backends, chosen once per app by
``MEDIA_STORAGE``: ``LocalStorage`` (a folder, ``MEDIA_ROOT``; the default) and
``S3Storage`` (any S3-compatible object store, shared by every process of a cluster).
The rest of the app calls the module functions below (write_bytes, copy, read_bytes,
send, delete, stash...), never a file path.

With an object store, a write it refuses or cannot take goes to a local spool
(``MEDIA_ROOT/spool``) instead, so a report is never lost to an outage;
``retry_pending_media()`` (``flask media retry``) moves what waits there into the store.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO
from urllib.parse import quote

import click
from flask import Flask, current_app, redirect, send_file
from flask.cli import with_appcontext
from pybreaker import CircuitBreaker, CircuitBreakerError

from bpt311 import effects
from bpt311.models.reports import VARIANT_EXTENSIONS

log = logging.getLogger(__name__)
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
STASH_MAX_AGE_SECONDS = 24 * 3600
VARIANT_RE = re.compile(r"^(?P<key>[0-9a-f]{32})-(?P<width>\d+)x(?P<height>\d+)\.(avif|webp|jpg)$")
STORAGE_KEY = "bpt311.media_storage"
SPOOL_FOLDER = "spool"  # under MEDIA_ROOT, only with an object store
COPIES = ".copies"  # in the spool: copies the object store could not make yet
DELETIONS = ".deletions"  # in the spool: objects the object store could not delete yet
CONTENT_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".mp4": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".json": "application/json",
}


class StorageUnavailable(OSError):
    """The object store did not answer or refused us (down, unreachable, wrong keys).

    An OSError, so every caller that copes with a full disk copes with this too."""


def content_type_of(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


# ---- the two backends -----------------------------------------------------------------


class LocalStorage:
    """Media in a folder: today's behaviour, and the spool of an object store."""

    kind = "local"

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / name

    def _temporary_beside(self, path: Path) -> Path:
        """A private temporary name next to ``path``: two requests writing the same file at
        once (the same photo sent twice makes the same copies) never share one."""
        return path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")

    def put_bytes(self, name: str, data: bytes) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._temporary_beside(path)
        try:
            tmp.write_bytes(data)
            os.replace(tmp, path)  # readers never see half a file
        except OSError:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half file behind
            raise

    def put_stream(self, name: str, stream: IO[bytes]) -> None:
        path = self.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._temporary_beside(path)
        try:
            with open(tmp, "wb") as out:
                shutil.copyfileobj(stream, out, 1024 * 1024)
            os.replace(tmp, path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    def open(self, name: str) -> IO[bytes]:
        return open(self.path(name), "rb")  # noqa: SIM115  (the caller closes it)

    def read(self, name: str) -> bytes:
        return self.path(name).read_bytes()

    def exists(self, name: str) -> bool:
        return self.path(name).is_file()

    def delete(self, names: Iterable[str]) -> None:
        for name in names:
            if name:
                self.path(name).unlink(missing_ok=True)

    def copy(self, source: str, target: str) -> None:
        """A hard link where the filesystem allows (no bytes copied), else a copy."""
        path = self.path(target)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(self.path(source), path)
        except (FileExistsError, FileNotFoundError):
            raise
        except OSError:
            tmp = self._temporary_beside(path)
            try:
                shutil.copyfile(self.path(source), tmp)
                os.replace(tmp, path)
            except OSError:
                tmp.unlink(missing_ok=True)
                raise

    def list(self, prefix: str = "") -> Iterator[tuple[str, float]]:
        """(name, modified time) of every file whose name starts with ``prefix``."""
        folder = self.root / prefix.rpartition("/")[0]
        if not folder.is_dir():
            return
        for path in folder.rglob("*"):
            name = path.relative_to(self.root).as_posix()
            if not name.startswith(prefix) or name.endswith(".part"):
                continue
            try:
                if path.is_file() and not path.is_symlink():
                    yield name, path.stat().st_mtime
            except FileNotFoundError:
                continue

    def url(self, name: str, content_type: str, inline: bool = True) -> str | None:
        return None  # served by the app itself

    def ping(self) -> None:
        """The folder exists and takes a new file (a full or read-only disk does not)."""
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".readyz-") as probe:
            probe.write(b"ok")
            probe.flush()


class S3Storage:
    """Media in a bucket of any S3-compatible object store (AWS S3, MinIO, Ceph, R2...)."""

    kind = "s3"
    DOWN_SECONDS = 5.0

    def __init__(
        self,
        bucket: str,
        endpoint_url: str = "",
        access_key_id: str = "",
        secret_access_key: str = "",
        region: str = "",
        public_url: str = "",
        url_seconds: int = 600,
    ):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.public_url = public_url.rstrip("/")
        # After a failure, skip the store for a moment (see _answers). Only what the store
        # did (StorageUnavailable) counts: a missing object or our own error is an answer.
        self.breaker = CircuitBreaker(
            fail_max=1,
            reset_timeout=self.DOWN_SECONDS,
            exclude=[lambda exc: not isinstance(exc, StorageUnavailable)],
            throw_new_error_on_trip=False,
            name="object store",
        )
        self.url_seconds = url_seconds
        # Short timeouts and one retry: an object store that is down costs a request
        # seconds, not minutes, and the spool takes over.
        config = Config(
            connect_timeout=2,
            read_timeout=20,
            retries={"max_attempts": 2, "mode": "standard"},
            signature_version="s3v4",
            # Self-hosted stores (MinIO, Ceph) answer on one host name: path-style URLs.
            s3={"addressing_style": "path"} if endpoint_url else {},
        )
        self.client = boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url or None,
            aws_access_key_id=access_key_id or None,
            aws_secret_access_key=secret_access_key or None,
            region_name=region or None,
            config=config,
        )

    @contextmanager
    def _answers(self, name: str = "", probe: bool = False):
        """botocore's errors as ours: a missing object is FileNotFoundError, anything
        else (no answer, 5xx, refused keys, no bucket) StorageUnavailable.

        A circuit breaker (pybreaker) trips on one StorageUnavailable: the store is then
        not asked again for DOWN_SECONDS, and after that one call tries it (half-open).
        Only ``probe``s (readiness, retries) go round it and reset it either way. So an
        upload while the store is down goes to the spool at once instead of waiting out
        timeouts for each of its dozen files."""
        if probe:
            try:
                with self._translated(name):
                    yield
            except StorageUnavailable:
                self.breaker.open()
                raise
            self.breaker.close()
            return
        try:
            with self.breaker.calling(), self._translated(name):
                yield
        except CircuitBreakerError as exc:
            raise StorageUnavailable("the object store did not answer moments ago") from exc

    @staticmethod
    @contextmanager
    def _translated(name: str):
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(errno.ENOENT, "No such object", name) from exc
            raise StorageUnavailable(f"the object store refused: {code or exc}") from exc
        except (BotoCoreError, Boto3Error) as exc:
            raise StorageUnavailable(
                f"the object store did not answer: {type(exc).__name__}"
            ) from exc

    def put_bytes(self, name: str, data: bytes) -> None:
        with self._answers(name):  # one PUT: an object appears whole or not at all
            self.client.put_object(
                Bucket=self.bucket, Key=name, Body=data, ContentType=content_type_of(name)
            )

    def put_stream(self, name: str, stream: IO[bytes]) -> None:
        from boto3.s3.transfer import TransferConfig

        with self._answers(name):  # a multipart upload is only visible once completed
            self.client.upload_fileobj(
                stream,
                self.bucket,
                name,
                ExtraArgs={"ContentType": content_type_of(name)},
                Config=TransferConfig(use_threads=False),
            )

    def get(self, name: str) -> dict:
        with self._answers(name):
            return self.client.get_object(Bucket=self.bucket, Key=name)

    def open(self, name: str) -> IO[bytes]:
        return self.get(name)["Body"]

    def read(self, name: str) -> bytes:
        answer = self.get(name)
        with self._answers(name):
            return answer["Body"].read()

    def exists(self, name: str) -> bool:
        try:
            with self._answers(name):
                self.client.head_object(Bucket=self.bucket, Key=name)
        except FileNotFoundError:
            return False
        return True

    def delete(self, names: Iterable[str]) -> None:
        names = [name for name in names if name]
        for start in range(0, len(names), 1000):  # the most one request may name
            batch = [{"Key": name} for name in names[start : start + 1000]]
            with self._answers():
                answer = self.client.delete_objects(
                    Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True}
                )
            if answer.get("Errors"):
                raise StorageUnavailable(
                    f"the object store kept {len(answer['Errors'])} objects we deleted"
                )

    def copy(self, source: str, target: str) -> None:
        with self._answers(source):  # server-side: the bytes never come to us
            self.client.copy_object(
                Bucket=self.bucket, Key=target, CopySource={"Bucket": self.bucket, "Key": source}
            )

    def list(self, prefix: str = "") -> Iterator[tuple[str, float]]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=prefix
        )
        with self._answers():
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"], item["LastModified"].timestamp()

    def url(self, name: str, content_type: str, inline: bool = True) -> str | None:
        """A public URL under S3_PUBLIC_URL, or a presigned one that lives
        S3_URL_SECONDS and makes the store answer with our content type."""
        if self.public_url:
            return f"{self.public_url}/{quote(name)}" if inline else None
        return self.client.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": name,
                "ResponseContentType": content_type,
                "ResponseContentDisposition": "inline" if inline else "attachment",
                "ResponseCacheControl": f"private, max-age={self.url_seconds}",
            },
            ExpiresIn=self.url_seconds,
        )

    def ping(self) -> None:
        with self._answers(probe=True):  # answers again: asked again by every request
            self.client.head_bucket(Bucket=self.bucket)


def make_backend(config) -> LocalStorage | S3Storage:
    kind = (config.get("MEDIA_STORAGE") or "local").lower()
    if kind == "local":
        return LocalStorage(config["MEDIA_ROOT"])
    if kind == "s3":
        return S3Storage(
            bucket=config.get("S3_BUCKET", ""),
            endpoint_url=config.get("S3_ENDPOINT_URL", ""),
            access_key_id=config.get("S3_ACCESS_KEY_ID", ""),
            secret_access_key=config.get("S3_SECRET_ACCESS_KEY", ""),
            region=config.get("S3_REGION", ""),
            public_url=config.get("S3_PUBLIC_URL", ""),
            url_seconds=config.get("S3_URL_SECONDS", 600),
        )
    raise RuntimeError(f"MEDIA_STORAGE must be 'local' or 's3', not {kind!r}")


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
        from bpt311.ops.readiness import add_check

        add_check(app, "storage", _ping_object_store)
    app.cli.add_command(media_cli)


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


def _ping_object_store() -> None:
    from bpt311.ops.readiness import NotReady

    try:
        backend().ping()
    except OSError as exc:
        raise NotReady(f"object store is not reachable: {exc}") from exc


# ---- what the rest of the app calls ---------------------------------------------------


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
    from werkzeug.exceptions import ServiceUnavailable

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


# ---- the stash ------------------------------------------------------------------------


@dataclass
class StashedMedia:
    """An upload already checked and processed, waiting for its report to be sent."""

    token: str
    kind: str  # "photo" or "video"
    original_name: str
    content_type: str
    extension: str
    size: int
    width: int | None = None
    height: int | None = None
    thumb_width: int | None = None
    thumb_height: int | None = None
    gps: tuple[float, float] | None = None
    variant_files: list[str] = field(default_factory=list)
    # A video is "clean" once copied without its metadata (and given a poster, its
    # thumbnail); until then it is the file as sent, never served (bpt311/jobs/videos.py).
    clean: bool = False

    @property
    def file_name(self) -> str:
        return f"pending/{self.token}{self.extension}"

    @property
    def thumb_name(self) -> str:
        has_thumb = self.kind == "photo" or self.clean
        return f"pending/{self.token}.thumb.jpg" if has_thumb else ""

    @property
    def servable(self) -> bool:
        """Whether the stashed file may be shown back: a video only once it is clean."""
        return self.kind != "video" or self.clean


def stash(
    kind: str,
    original_name: str,
    content_type: str,
    extension: str,
    size: int,
    data: bytes | None = None,
    thumb: bytes | None = None,
    stream: IO[bytes] | None = None,
    variants=(),
    **dimensions,
) -> StashedMedia:
    item = StashedMedia(
        token=secrets.token_hex(16),
        kind=kind,
        original_name=original_name,
        content_type=content_type,
        extension=extension,
        size=size,
        **dimensions,
    )
    try:
        if stream is not None:
            write_stream(item.file_name, stream)
        else:
            write_bytes(item.file_name, data or b"")
        if thumb is not None:
            write_bytes(item.thumb_name, thumb)
            for variant in variants:
                name = "pending/v-" + variant_name(variant_key(thumb), variant).removeprefix("v/")
                write_bytes(name, variant.data)
                item.variant_files.append(name)
        # Written last: a stash without its description is never found, so never half.
        write_bytes(f"pending/{item.token}.json", json.dumps(asdict(item)).encode())
    except OSError as exc:  # the disk is full (or failing): keep nothing of this upload
        from bpt311.media import UploadRefused

        try:
            delete(item.file_name, item.thumb_name, *item.variant_files)
        except OSError:
            pass
        log.error("Could not store an upload: %s", exc)
        raise UploadRefused(
            f"{original_name or 'Your file'} could not be saved just now. Send the report "
            "without it, or try again later."
        ) from exc
    return item


def stash_photo(upload) -> StashedMedia:
    """Check, re-encode and stash an uploaded photo; raises media.UploadRefused with a
    message naming the file when it is not one we keep."""
    from bpt311.jobs.queue import defers_photo_copies
    from bpt311.media import process_photo

    photo = process_photo(
        upload.stream,
        upload.filename,
        max_bytes=current_app.config["PHOTO_MAX_MB"] * 1024 * 1024,
        with_variants=not defers_photo_copies(),  # with a job queue, a job makes them
    )
    return stash(
        "photo",
        upload.filename,
        photo.content_type,
        ".jpg",
        len(photo.data),
        data=photo.data,
        thumb=photo.thumb,
        width=photo.width,
        height=photo.height,
        thumb_width=photo.thumb_width,
        thumb_height=photo.thumb_height,
        gps=photo.gps,
        variants=photo.variants,
    )


def stash_video(upload) -> StashedMedia:
    """Check an uploaded video (its kind, size, header and length) and stash it; raises
    media.UploadRefused with a message naming the file when it is not one we keep.

    With a job queue the file is stashed as sent and a job makes the clean copy once the
    report is in (bpt311/jobs/videos.py); without one the clean copy is made here."""
    from bpt311.jobs.queue import defers_photo_copies
    from bpt311.media import check_video, clean_video, read_video

    config = current_app.config
    checked = check_video(
        upload.stream, upload.filename, max_bytes=config["VIDEO_MAX_MB"] * 1024 * 1024
    )
    max_seconds = config["MAX_VIDEO_SECONDS"]
    info = read_video(
        upload.stream, upload.filename, extension=checked.extension, max_seconds=max_seconds
    )
    if defers_photo_copies():
        return stash(
            "video",
            upload.filename,
            checked.content_type,
            checked.extension,
            checked.size,
            stream=upload.stream,
            width=info.width,
            height=info.height,
        )
    with tempfile.TemporaryDirectory(prefix="bpt311-video-") as folder:
        video = clean_video(
            upload.stream,
            Path(folder),
            upload.filename,
            extension=checked.extension,
            max_seconds=max_seconds,
        )
        with open(video.path, "rb") as clean:
            return stash(
                "video",
                upload.filename,
                video.content_type,
                video.extension,
                video.path.stat().st_size,
                stream=clean,
                thumb=video.poster,
                width=video.width,
                height=video.height,
                thumb_width=video.poster_width,
                thumb_height=video.poster_height,
                clean=True,
            )


def load_stashed(token: str, strict: bool = False) -> StashedMedia | None:
    """The stashed upload for a token from a form, or None if it is unknown or expired.
    With an object store, any process finds what another one stashed; while it is down,
    ``strict`` raises StorageUnavailable rather than answer None (the upload is there,
    only out of reach)."""
    if not TOKEN_RE.match(token or ""):
        return None
    try:
        fields = json.loads(read_bytes(f"pending/{token}.json"))
    except StorageUnavailable:
        if strict:
            raise
        return None
    except (OSError, ValueError):
        return None
    if fields.get("gps"):
        fields["gps"] = tuple(fields["gps"])
    item = StashedMedia(**fields)
    return item if exists(item.file_name) else None


def discard_stashed(item: StashedMedia) -> None:
    names = {item.file_name, item.thumb_name, f"pending/{item.token}.json", *item.variant_files}
    delete(*sorted(names - _copy_sources()))  # a copy still to make keeps its source


def _names(prefix: str) -> list[tuple[str, float]]:
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
        for name, _ in _names("")
        if not name.startswith(("pending/", f"{COPIES}/", f"{DELETIONS}/"))
    ]


def clean_stash(max_age_seconds: int = STASH_MAX_AGE_SECONDS) -> int:
    """Delete stashed uploads older than a day: forms that were never sent."""
    cutoff = time.time() - max_age_seconds
    try:
        old = [name for name, modified in _names("pending/") if modified < cutoff]
    except StorageUnavailable:
        return 0
    old = [name for name in old if name not in _copy_sources()]
    delete(*old)
    return len(old)


# ---- smaller copies of photos, for srcset -------------------------------------------------
#
# Copies are made with the photo at upload and named after a hash of its thumbnail
# (``v/<key>-<width>x<height>.<ext>``). Every caller that turns a stashed photo into a
# Media row gives it the thumbnail's bytes under a new name; the hash leads from that
# row back to its copies, so no caller has to carry them along.


def variant_key(thumb: bytes) -> str:
    return hashlib.sha256(thumb).hexdigest()[:32]


def variant_name(key: str, variant) -> str:
    extension = VARIANT_EXTENSIONS[variant.content_type]
    return f"v/{key}-{variant.width}x{variant.height}{extension}"


def attach_variants(media) -> None:
    """Give a new photo's Media row the copies stashed with it (before it is added);
    a photo without any (older, or made elsewhere) simply has none."""
    if media.variants or not media.thumb_name or media.kind != "photo":
        return
    try:
        key = variant_key(read_bytes(media.thumb_name))
        stashed = _names(f"pending/v-{key}-")
    except OSError:  # no thumbnail to hash yet (its copy waits for the object store)
        return
    found, created = [], []
    for name, _ in stashed:
        final = name.removeprefix("pending/v-")
        match = VARIANT_RE.match(final)
        content_type = next(
            (kind for kind, ext in VARIANT_EXTENSIONS.items() if final.endswith(ext)), None
        )
        if match is None or content_type is None:
            continue
        target = f"v/{final}"
        if not exists(target):
            try:
                copy(name, target)
            except FileExistsError:  # another request placed the same copy just now
                pass
            except FileNotFoundError:  # another request's stash of the same photo went
                continue
            else:
                created.append(target)
        found.append([content_type, int(match["width"]), int(match["height"])])
    if found:
        media.variant_key = key
        media.variants = found
        if created:
            effects.undo_on_rollback(_delete_unsent, *created)


def variant_files(media) -> list[str]:
    """The names of a Media row's copies, to delete with its file and thumbnail."""
    return [
        f"v/{media.variant_key}-{width}x{height}{VARIANT_EXTENSIONS[kind]}"
        for kind, width, height in media.variants or []
        if kind in VARIANT_EXTENSIONS
    ]


def files_to_delete(media_rows) -> list[str]:
    """Every file of these Media rows that no other row needs: copies are named after the
    photo's content, so the same photo sent with another report shares them."""
    from sqlalchemy import select

    from bpt311.extensions import db
    from bpt311.models import Media

    rows = list(media_rows)
    keys = {m.variant_key for m in rows if m.variant_key}
    shared = set()
    if keys:
        shared = set(
            db.session.scalars(
                select(Media.variant_key).where(
                    Media.variant_key.in_(keys), Media.id.not_in([m.id for m in rows])
                )
            )
        )
    names = []
    for media in rows:
        names += [media.file_name, media.thumb_name]
        if media.variant_key not in shared:
            names += variant_files(media)
    return list(dict.fromkeys(n for n in names if n))


def _delete_unsent(*names: str) -> None:
    """Copies linked for a photo whose transaction failed go with it: a form never sent
    must leave no copy of the photo behind."""
    try:
        delete(*names)
    except OSError as exc:
        log.error("Could not remove copies of a photo not sent: %s", exc)


def prepare_new_media(media) -> None:
    """Before a new photo or video row is added: link the copies stashed with it (deleted
    again if the transaction fails) and, when a job is to make the copies (or a video's
    clean copy), mark it "processing" and name the job to start once committed."""
    from bpt311.jobs.queue import defers_photo_copies

    attach_variants(media)
    if (
        media.kind == "photo"
        and media.thumb_name
        and not media.variants
        and media.processing_state in (None, "ready")
        and defers_photo_copies()
    ):
        media.processing_state = "processing"  # copies not made yet: the job makes them
    if media.processing_state == "processing":
        effects.start_job("media", media)


# ---- media waiting in the spool ---------------------------------------------------------


def _records(waiting: LocalStorage, folder: str) -> list[tuple[str, object]]:
    found = []
    for name, _ in waiting.list(f"{folder}/"):
        try:
            found.append((name, json.loads(waiting.read(name))))
        except (OSError, ValueError):
            continue
    return found


def _copy_sources() -> set[str]:
    waiting = spool()
    if waiting is None:
        return set()
    return {record["source"] for _, record in _records(waiting, COPIES)}


def _forget_copies(targets: set[str]) -> None:
    """Copies to make for media deleted meanwhile (a report that rolled back) are dropped."""
    waiting = spool()
    for name, record in _records(waiting, COPIES):
        if record["target"] in targets:
            waiting.delete([name])


@dataclass
class Retried:
    copied: int = 0
    uploaded: int = 0
    deleted: int = 0


def retry_pending_media() -> Retried:
    """Move everything waiting in the local spool into the object store: copies it could
    not make, files written while it was down, then deletions it missed. Safe to run
    again at any time (and on every host: each has its own spool); raises
    StorageUnavailable, leaving the rest waiting, if the store is still down."""
    done = Retried()
    waiting = spool()
    if waiting is None:
        return done
    store = backend()
    store.ping()  # back? (also ends the pause after a failure)
    for name, record in _records(waiting, COPIES):
        try:
            store.copy(record["source"], record["target"])
        except FileNotFoundError:
            log.error("Copy of %s to %s lost its source", record["source"], record["target"])
        else:
            done.copied += 1
            if record["source"].startswith("pending/") and "/v-" not in record["source"]:
                store.delete([record["source"]])  # its report took it (copies may be shared)
        waiting.delete([name])
    for name, _ in list(waiting.list("")):
        if name.startswith((f"{COPIES}/", f"{DELETIONS}/")):
            continue
        with waiting.open(name) as handle:
            store.put_stream(name, handle)
        try:
            os.unlink(waiting.path(name))
        except FileNotFoundError:  # deleted while it was uploading: it goes from the store too
            store.delete([name])
            continue
        done.uploaded += 1
    for name, names in _records(waiting, DELETIONS):
        store.delete(names)
        waiting.delete([name])
        done.deleted += len(names)
    return done


@click.group("media", help="Media storage: the local folder or an object store.")
def media_cli() -> None:
    pass


@media_cli.command("retry")
@with_appcontext
def retry_command() -> None:
    """Send media that waited in the local spool (object store down) to the store."""
    try:
        done = retry_pending_media()
    except StorageUnavailable as exc:
        raise click.ClickException(f"Still waiting: {exc}") from exc
    click.echo(
        f"Made {done.copied} copies, uploaded {done.uploaded} files and deleted "
        f"{done.deleted} objects that were waiting."
    )
