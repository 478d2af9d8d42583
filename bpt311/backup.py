"""Backing up and restoring everything bpt311 keeps: the database and the media (the
media folder, or the object store's bucket with MEDIA_STORAGE=s3).

A backup is one ``.tar.gz`` holding a manifest (schema revision, row counts and a
sha256 for every file), every table as JSON lines, and every media file. The JSON
lines are engine-independent, so a SQLite backup restores into PostgreSQL and back.
They are read from one consistent snapshot: the sqlite3 online backup API on SQLite
(that copy travels in the archive too, as ``database.sqlite``), one read-only
REPEATABLE READ transaction on PostgreSQL (pg_dump would have to match the server's
version). A restore checks the whole archive first, then writes every row in one
transaction and swaps the media folder in only when that transaction commits.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import gzip
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import click
from alembic.config import Config
from alembic.script import ScriptDirectory
from flask import current_app
from flask_migrate import upgrade
from sqlalchemy import (
    JSON,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    func,
    inspect,
    select,
    text,
)

from bpt311 import storage
from bpt311.config import MIGRATIONS_DIR
from bpt311.extensions import db
from bpt311.models import Base, Media

FORMAT = "bpt311-backup/1"
MANIFEST = "manifest.json"
SNAPSHOT = "database.sqlite"
BATCH = 1000
# Media-folder entries that are not part of the record: uploads awaiting their report,
# half-written files, and the folders a restore swaps through.
SKIPPED_MEDIA = ("pending",)
RESTORE_NEW = ".restore-new"
RESTORE_OLD = ".restore-old"


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message says what to do."""


@dataclass
class Restored:
    tables: dict[str, int] = field(default_factory=dict)
    files: int = 0
    revision: str | None = None


# ---- the schema revision ------------------------------------------------------------


def database_revision(connection) -> str | None:
    """The Alembic revision the database is at, or None where it was never migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def code_revision() -> str | None:
    """The newest migration this code knows: what ``flask db upgrade`` brings a database to."""

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


# ---- values to JSON and back ------------------------------------------------------------


def json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode()
    return value


def _decoder(column):
    """How to turn a column's JSON value back into what its type binds."""
    if isinstance(column.type, JSON):
        return None
    column_type = column.type
    if isinstance(column_type, TypeDecorator):  # UTCDateTime: the type it stores as
        column_type = column_type.impl_instance
    try:
        kind = column_type.python_type
    except NotImplementedError:
        return None
    if kind is dt.datetime:
        return dt.datetime.fromisoformat
    if kind is dt.date:
        return dt.date.fromisoformat
    if kind is dt.time:
        return dt.time.fromisoformat
    if kind is decimal.Decimal:
        return decimal.Decimal
    if kind is bytes:
        return base64.b64decode
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tables() -> list[Table]:
    """Every table, parents before children."""
    return list(Base.metadata.sorted_tables)


# ---- backing up --------------------------------------------------------------------


def _dump_tables(connection, folder: Path) -> dict[str, dict]:
    """Write each table as gzipped JSON lines in primary-key order; counts and checksums."""
    listed = {}
    for table in _tables():
        path = folder / f"{table.name}.jsonl.gz"
        count = 0
        order = list(table.primary_key.columns) or list(table.columns)
        rows = connection.execution_options(yield_per=BATCH).execute(select(table).order_by(*order))
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
            for row in rows.mappings():
                record = {key: json_value(value) for key, value in row.items()}
                out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
                out.write("\n")
                count += 1
        listed[table.name] = {"rows": count, "sha256": _sha256(path)}
    return listed


def _snapshot_sqlite(staging: Path) -> Path:
    """A consistent copy of a live SQLite database (the online backup API copes with WAL)."""
    target = staging / SNAPSHOT
    source = db.engine.raw_connection()
    try:
        copy = sqlite3.connect(target)
        try:
            source.driver_connection.backup(copy)
        finally:
            copy.close()
    finally:
        source.close()
    return target


def _media_files(root: Path) -> list[tuple[str, Path]]:
    found = []
    if not root.is_dir():
        return found
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        relative = path.relative_to(root)
        if relative.parts[0] in (*SKIPPED_MEDIA, RESTORE_NEW, RESTORE_OLD):
            continue
        if path.name.endswith(".part"):
            continue
        found.append((relative.as_posix(), path))
    return found


def _object_store():
    """The object store media live in, or None when they are in the media folder."""

    store = storage.backend()
    return None if store.kind == "local" else store


def _fetch_media(into: Path) -> list[tuple[str, Path]]:
    """Every medium of an object store (and any still waiting in the spool), as files."""

    found = []
    for name in storage.stored_media():
        path = into / name
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with storage.open_file(name) as source, open(path, "wb") as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
        except FileNotFoundError:  # deleted since it was listed: its row is gone too
            path.unlink(missing_ok=True)
            continue
        found.append((name, path))
    return found


def _referenced_media(connection) -> set[str]:
    names = set()
    for file_name, thumb_name in connection.execute(select(Media.file_name, Media.thumb_name)):
        names.update(name for name in (file_name, thumb_name) if name)
    return names


def default_backup_path(now: dt.datetime | None = None) -> Path:
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path(current_app.instance_path) / "backups" / f"bpt311-{stamp}.tar.gz"


def make_backup(output: Path) -> dict:
    """Write a backup archive to ``output``; returns its manifest."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    media_root = Path(current_app.config["MEDIA_ROOT"])
    engine_name = db.engine.dialect.name
    with tempfile.TemporaryDirectory(prefix="bpt311-backup-") as staging_name:
        staging = Path(staging_name)
        tables_dir = staging / "database"
        tables_dir.mkdir()
        snapshot = None
        if engine_name == "sqlite":
            snapshot = _snapshot_sqlite(staging)
            reader = create_engine(f"sqlite:///{snapshot}")
            try:
                with reader.connect() as connection:
                    revision = database_revision(connection)
                    tables = _dump_tables(connection, tables_dir)
                    referenced = _referenced_media(connection)
            finally:
                reader.dispose()
        else:
            # One read-only REPEATABLE READ transaction sees every table at the same moment.
            with db.engine.connect() as base_connection:
                connection = base_connection.execution_options(
                    isolation_level="REPEATABLE READ", postgresql_readonly=True
                )
                with connection.begin():
                    revision = database_revision(connection)
                    tables = _dump_tables(connection, tables_dir)
                    referenced = _referenced_media(connection)
        # Media files are written before the row naming them commits and removed only
        # after the row is gone, so every file the snapshot names is still here now.
        store = _object_store()
        if store is None:
            files = {name: path for name, path in _media_files(media_root)}
        else:  # fetched from the object store into the staging folder first
            files = dict(_fetch_media(staging / "media"))
        media = {
            name: {"size": path.stat().st_size, "sha256": _sha256(path)}
            for name, path in files.items()
        }
        manifest = {
            "format": FORMAT,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "engine": engine_name,
            "alembic_revision": revision,
            "tables": tables,
            "media": media,
            "missing_media": sorted(referenced - set(files)),
            "snapshot": (
                {"file": SNAPSHOT, "sha256": _sha256(snapshot)} if snapshot is not None else None
            ),
        }
        partial = output.with_name(output.name + ".part")
        with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(data)
            info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
            archive.addfile(info, io.BytesIO(data))
            if snapshot is not None:
                archive.add(snapshot, arcname=SNAPSHOT)
            for name in tables:
                archive.add(tables_dir / f"{name}.jsonl.gz", arcname=f"database/{name}.jsonl.gz")
            for name, path in files.items():
                archive.add(path, arcname=f"media/{name}")
        os.replace(partial, output)  # never a half-written archive under the real name
    return manifest


# ---- restoring ---------------------------------------------------------------------


def _allowed_member(name: str) -> bool:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return False
    return name in (MANIFEST, SNAPSHOT) or path.parts[0] in ("database", "media")


def _unpack(archive_path: Path, into: Path) -> dict:
    """Extract and check the archive: every file listed in the manifest, every checksum right."""
    try:
        with tarfile.open(archive_path, "r:*") as archive:
            members = archive.getmembers()
            bad = [
                m.name
                for m in members
                if not _allowed_member(m.name) or not (m.isfile() or m.isdir())
            ]
            if bad:
                raise BackupError(f"{archive_path} is not a bpt311 backup (unexpected {bad[0]!r}).")
            archive.extractall(into, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise BackupError(f"{archive_path} cannot be read as a backup: {exc}") from exc
    try:
        manifest = json.loads((into / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise BackupError(
            f"{archive_path} has no readable {MANIFEST}: it is not a bpt311 backup."
        ) from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(
            f"{archive_path} is in format {manifest.get('format')!r}; this version reads {FORMAT}."
        )
    expected = {
        f"database/{name}.jsonl.gz": info["sha256"] for name, info in manifest["tables"].items()
    }
    expected.update({f"media/{name}": info["sha256"] for name, info in manifest["media"].items()})
    if manifest.get("snapshot"):
        expected[SNAPSHOT] = manifest["snapshot"]["sha256"]
    present = {
        path.relative_to(into).as_posix()
        for path in into.rglob("*")
        if path.is_file() and path.name != MANIFEST
    }
    if present - set(expected):
        raise BackupError(f"{archive_path} holds files its manifest does not list: it was altered.")
    for name, digest in expected.items():
        path = into / name
        if not path.is_file():
            raise BackupError(f"{archive_path} is missing {name}: it is incomplete.")
        if _sha256(path) != digest:
            raise BackupError(
                f"{name} in {archive_path} does not match its checksum: it is damaged."
            )
    known = {table.name for table in _tables()}
    unknown = sorted(set(manifest["tables"]) - known)
    if unknown:
        raise BackupError(
            f"The backup has tables this version does not know ({', '.join(unknown)}): "
            "restore it with the version of bpt311 that made it."
        )
    return manifest


def _row_count(connection) -> int:
    total = 0
    for table in _tables():
        total += connection.execute(select(func.count()).select_from(table)).scalar() or 0
        if total:
            break
    return total


def _media_is_empty(root: Path) -> bool:
    store = _object_store()
    if store is not None:
        return not storage.stored_media()
    return not _media_files(root)


def _deferred_columns(tables: list[Table]) -> dict[str, list[str]]:
    """Foreign keys to a row that may not be inserted yet (a report marked a duplicate of
    a later one): inserted empty and filled in once every row is there."""
    position = {table.name: index for index, table in enumerate(tables)}
    deferred = {}
    for table in tables:
        columns = [
            fk.parent.name
            for fk in table.foreign_keys
            if position.get(fk.column.table.name, -1) >= position[table.name]
        ]
        if columns:
            deferred[table.name] = columns
    return deferred


def _clear(connection, tables: list[Table], deferred: dict[str, list[str]]) -> None:
    for table in tables:
        for column in deferred.get(table.name, []):
            connection.execute(table.update().values({column: None}))
    for table in reversed(tables):
        connection.execute(table.delete())


def _load(
    connection, folder: Path, tables: list[Table], deferred: dict[str, list[str]]
) -> dict[str, int]:
    counts = {}
    for table in tables:
        path = folder / f"{table.name}.jsonl.gz"
        if not path.exists():
            counts[table.name] = 0
            continue
        decoders = {column.name: _decoder(column) for column in table.columns}
        later = deferred.get(table.name, [])
        pk = list(table.primary_key.columns)
        fill_in: dict[str, list[dict]] = {name: [] for name in later}
        batch: list[dict] = []
        count = 0
        with gzip.open(path, "rt", encoding="utf-8") as rows:
            for line in rows:
                record = json.loads(line)
                unknown = set(record) - set(decoders)
                if unknown:
                    raise BackupError(
                        f"Table {table.name} in the backup has columns this version does not "
                        f"know ({', '.join(sorted(unknown))}): restore it with the version "
                        "that made it."
                    )
                for name, value in record.items():
                    decode = decoders[name]
                    if value is not None and decode is not None:
                        record[name] = decode(value)
                for name in later:
                    if record.get(name) is not None:
                        fill_in[name].append({"_pk": record[pk[0].name], "_value": record[name]})
                        record[name] = None
                batch.append(record)
                count += 1
                if len(batch) >= BATCH:
                    connection.execute(table.insert(), batch)
                    batch = []
        if batch:
            connection.execute(table.insert(), batch)
        for name, pending in fill_in.items():
            if pending:
                connection.execute(
                    table.update()
                    .where(pk[0] == bindparam("_pk"))
                    .values({name: bindparam("_value")}),
                    pending,
                )
        counts[table.name] = count
    return counts


def _reset_sequences(connection, tables: list[Table]) -> None:
    """After rows arrive with their ids, new rows must be numbered after them."""
    if connection.dialect.name != "postgresql":
        return  # SQLite's AUTOINCREMENT counter follows the largest id inserted
    for table in tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not _is_integer(pk[0]):
            continue
        sequence = connection.execute(
            text("SELECT pg_get_serial_sequence(:table, :column)"),
            {"table": f'"{table.name}"', "column": pk[0].name},
        ).scalar()
        if sequence:
            connection.execute(
                text(
                    f'SELECT setval(:sequence, coalesce(max("{pk[0].name}"), 1), '
                    f'max("{pk[0].name}") IS NOT NULL) FROM "{table.name}"'
                ),
                {"sequence": sequence},
            )


def _is_integer(column) -> bool:
    try:
        return column.type.python_type is int
    except NotImplementedError:
        return False


def _rebuild_search(connection) -> None:
    """SQLite's FTS5 index follows report through triggers; rebuild it to be sure."""
    if connection.dialect.name != "sqlite":
        return  # PostgreSQL's search is an expression index, kept by the table itself
    if inspect(connection).has_table("report_fts"):
        connection.execute(text("INSERT INTO report_fts(report_fts) VALUES ('rebuild')"))


class MediaSwap:
    """Move the current media aside (to RESTORE_OLD) and the restored media in, remembering
    each move so ``undo`` puts back exactly what was there, however far it got.

    Works entry by entry inside the media folder, so it also works when the folder is a
    mount point that cannot itself be renamed.
    """

    def __init__(self, root: Path, incoming: Path):
        self.root, self.incoming, self.old = root, incoming, root / RESTORE_OLD
        self.moved_out: list[str] = []
        self.moved_in: list[str] = []

    def run(self) -> None:
        shutil.rmtree(self.old, ignore_errors=True)
        self.old.mkdir()
        for entry in list(self.root.iterdir()):
            if entry.name not in (RESTORE_OLD, RESTORE_NEW):
                os.replace(entry, self.old / entry.name)
                self.moved_out.append(entry.name)
        for entry in list(self.incoming.iterdir()):
            os.replace(entry, self.root / entry.name)
            self.moved_in.append(entry.name)

    def undo(self) -> None:
        for name in self.moved_in:
            path = self.root / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        for name in self.moved_out:
            os.replace(self.old / name, self.root / name)
        shutil.rmtree(self.old, ignore_errors=True)

    def finish(self) -> None:
        shutil.rmtree(self.old, ignore_errors=True)


class ObjectSwap:
    """MediaSwap for an object store, which cannot rename: the backup's objects are
    uploaded while the transaction is still open, the objects it does not have are
    deleted only once it has committed, and ``undo`` deletes what was uploaded that was
    not there before (names are random or content hashes: one already there is the same)."""

    def __init__(self, store, incoming: Path):
        self.store, self.incoming = store, incoming
        self.before: set[str] = set()
        self.restored: set[str] = set()
        self.added: list[str] = []

    def run(self) -> None:
        self.before = set(storage.stored_media())
        for path in sorted(self.incoming.rglob("*")):
            if path.is_file():
                name = path.relative_to(self.incoming).as_posix()
                with open(path, "rb") as handle:
                    self.store.put_stream(name, handle)
                self.restored.add(name)
                if name not in self.before:
                    self.added.append(name)

    def undo(self) -> None:
        self.store.delete(self.added)

    def finish(self) -> None:
        storage.delete(*sorted(self.before - self.restored))


def restore_backup(archive_path: Path, force: bool = False) -> Restored:
    """Replace the database and media with a backup's: all of it, or nothing."""
    archive_path = Path(archive_path)
    if not archive_path.is_file():
        raise BackupError(f"There is no file {archive_path}.")
    media_root = Path(current_app.config["MEDIA_ROOT"])
    media_root.mkdir(parents=True, exist_ok=True)
    tables = _tables()
    with tempfile.TemporaryDirectory(prefix="bpt311-restore-") as unpacked_name:
        unpacked = Path(unpacked_name)
        manifest = _unpack(archive_path, unpacked)
        wanted = manifest.get("alembic_revision")
        _prepare_schema(wanted)
        deferred = _deferred_columns(tables)
        incoming = media_root / RESTORE_NEW
        shutil.rmtree(incoming, ignore_errors=True)
        if (unpacked / "media").is_dir():
            shutil.move(unpacked / "media", incoming)  # same filesystem as the media now
        else:
            incoming.mkdir()
        store = _object_store()
        swap = MediaSwap(media_root, incoming) if store is None else ObjectSwap(store, incoming)
        try:
            with db.engine.begin() as connection:
                current = database_revision(connection)
                if current != wanted:
                    raise BackupError(
                        f"The backup is of schema revision {wanted or 'none'}, but this "
                        f"database is at {current or 'none'}. Restore into a database at the "
                        f"backup's revision (flask --app app db upgrade {wanted} on an empty "
                        "database, with the bpt311 version that made the backup), then run "
                        "flask --app app db upgrade."
                    )
                if not force and (_row_count(connection) or not _media_is_empty(media_root)):
                    raise BackupError(
                        "The database or the media folder is not empty. Restoring replaces "
                        "everything in them: add --force if that is what you want (take a "
                        "backup of them first)."
                    )
                if force:
                    _clear(connection, tables, deferred)
                counts = _load(connection, unpacked / "database", tables, deferred)
                for name, info in manifest["tables"].items():
                    if counts.get(name) != info["rows"]:
                        raise BackupError(
                            f"Table {name} restored {counts.get(name)} rows, the manifest says "
                            f"{info['rows']}: nothing was changed."
                        )
                _reset_sequences(connection, tables)
                _rebuild_search(connection)
                # Swap the media in last, while the transaction can still roll back.
                swap.run()
        except BaseException:
            swap.undo()
            shutil.rmtree(incoming, ignore_errors=True)
            raise
        swap.finish()
        shutil.rmtree(incoming, ignore_errors=True)
    db.session.expire_all()
    return Restored(tables=counts, files=len(manifest["media"]), revision=wanted)


def _prepare_schema(revision: str | None) -> None:
    """Give a brand-new, table-less database the backup's schema; leave any other alone."""
    with db.engine.connect() as connection:
        existing = set(inspect(connection).get_table_names())
    if existing & {table.name for table in _tables()} or "alembic_version" in existing:
        return
    if revision is None:
        raise BackupError(
            "The database has no tables and the backup names no schema revision: "
            "run flask --app app db upgrade first."
        )

    upgrade(directory=MIGRATIONS_DIR, revision=revision)


# ---- the command line ------------------------------------------------------------------


@click.command("backup")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the archive (default: instance/backups/bpt311-<time>.tar.gz).",
)
def backup_command(output: Path | None) -> None:
    """Back up the database and the media folder into one consistent archive."""
    output = output or default_backup_path()
    manifest = make_backup(output)
    rows = sum(info["rows"] for info in manifest["tables"].values())
    click.echo(
        f"Wrote {output}: {rows} rows in {len(manifest['tables'])} tables and "
        f"{len(manifest['media'])} media files, schema revision "
        f"{manifest['alembic_revision'] or 'none'}."
    )
    if manifest["missing_media"]:
        click.echo(
            f"Warning: {len(manifest['missing_media'])} media files named by the database "
            f"were not in the media folder: {', '.join(manifest['missing_media'][:5])}",
            err=True,
        )


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--force", is_flag=True, help="Replace a database and media folder that are not empty."
)
def restore_command(archive: Path, force: bool) -> None:
    """Restore a backup archive: every row and file, or nothing."""
    try:
        done = restore_backup(archive, force=force)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Restored {sum(done.tables.values())} rows in {len(done.tables)} tables and "
        f"{done.files} media files from {archive} (schema revision {done.revision or 'none'})."
    )
