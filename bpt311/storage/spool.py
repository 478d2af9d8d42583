"""Media waiting in the local spool while the object store was down, moved into it by
``retry_pending_media()`` (``flask media retry``)."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import click
from flask.cli import with_appcontext

from bpt311.storage.backends import StorageUnavailable
from bpt311.storage.files import COPIES, DELETIONS, backend, records, spool

log = logging.getLogger(__name__)


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
    for name, record in records(waiting, COPIES):
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
    for name, names in records(waiting, DELETIONS):
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
