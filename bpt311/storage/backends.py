"""The two media backends, chosen once per app by ``MEDIA_STORAGE``: ``LocalStorage``
(a folder, ``MEDIA_ROOT``; the default, and the spool of an object store) and
``S3Storage`` (any S3-compatible object store, shared by every process of a cluster).
Both put bytes or a stream atomically, open/read, list, copy and delete by name.
The rest of the app goes through the functions of ``bpt311.storage``, never a backend.
"""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO
from urllib.parse import quote

from pybreaker import CircuitBreaker, CircuitBreakerError

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
        import boto3  # optional: boto3 is loaded only for an object store (slow to import)
        from botocore.config import Config  # optional: as boto3

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
        from boto3.exceptions import Boto3Error  # optional: as boto3
        from botocore.exceptions import BotoCoreError, ClientError  # optional: as boto3

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
        from boto3.s3.transfer import TransferConfig  # optional: as boto3

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
