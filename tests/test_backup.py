"""flask backup and flask restore: everything back as it was, or nothing changed."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bpt311 import backup
from bpt311.extensions import db
from bpt311.models import (
    AuditLog,
    Base,
    Comment,
    EmailSubscription,
    Follow,
    Media,
    Notice,
    Outbox,
    Report,
    TimelineEvent,
    User,
    Vote,
    WatchArea,
    WatchEvent,
    create_schema,
)
from bpt311.storage import media_root, write_bytes
from tests.conftest import wipe_tables
from tests.factories import make_report, make_user


@pytest.fixture
def city_app(city):
    return city


def seed_everything() -> dict:
    """Reports with photos, comments, votes, follows, users, watch areas, notices, audit rows."""
    maria = make_user("maria@example.org", display_name="Maria", password_hash="x")
    staff = make_user("inspector@example.org", role="admin", display_name="Ina")
    first = make_report(
        description="Streetlight flickering all night on Main Street",
        reporter=maria,
        contact_name="Maria Lopez",
        contact_email="maria@example.org",
        contact_phone="203-555-0101",
        answers={"size": "large"},
    )
    second = make_report(description="Overflowing litter basket near the ferry terminal")
    # A duplicate pointing at a *later* report: restore has to insert it before its target.
    first.duplicate_of_id = second.id
    photo_bytes = b"\xff\xd8\xff\xe0 fake jpeg " + bytes(range(256))
    write_bytes("aa11.jpg", photo_bytes)
    write_bytes("aa11.thumb.jpg", photo_bytes[:50])
    write_bytes("pending/abandoned.jpg", b"never sent")  # a stash is not part of the record
    db.session.add(
        Media(
            report=first,
            kind="photo",
            file_name="aa11.jpg",
            thumb_name="aa11.thumb.jpg",
            content_type="image/jpeg",
            size_bytes=len(photo_bytes),
            width=640,
            height=480,
            alt_text="Photo of the streetlight",
        )
    )
    comment = Comment(report_id=first.id, author=maria, body="Still broken today.")
    db.session.add(comment)
    db.session.flush()
    db.session.add(TimelineEvent(report_id=first.id, kind="comment", actor=maria, comment=comment))
    db.session.add_all(
        [
            Vote(report_id=first.id, user_id=maria.id),
            Vote(report_id=second.id, user_id=staff.id),
            Follow(report_id=second.id, user_id=maria.id),
            EmailSubscription(report_id=second.id, email="ana@example.org"),
        ]
    )
    first.vote_count, first.comment_count, second.vote_count = 1, 1, 1
    area = WatchArea(
        owner=maria,
        name="Home",
        shape="circle",
        geometry_json='{"type": "Point", "coordinates": [-73.1894, 41.1792]}',
        radius_m=400.0,
        min_lat=41.17,
        min_lon=-73.2,
        max_lat=41.19,
        max_lon=-73.18,
    )
    db.session.add(area)
    event = WatchEvent(report_id=second.id, kind="new", headline="New report near Home")
    db.session.add(event)
    db.session.flush()
    db.session.add(Notice(event_id=event.id, user_id=maria.id, area_id=area.id, delivery="email"))
    db.session.add(AuditLog(actor_id=staff.id, action="report_closed", report_id=second.id))
    db.session.add(Outbox(recipient="maria@example.org", subject="Your report", body_text="Thanks"))
    db.session.commit()
    return {"first": first.id, "second": second.id}


def every_row() -> dict[str, list[dict]]:
    rows = {}
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            order = list(table.primary_key.columns)
            rows[table.name] = [
                dict(row) for row in connection.execute(table.select().order_by(*order)).mappings()
            ]
    return rows


def every_file() -> dict[str, bytes]:
    root = media_root()
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*")
        if path.is_file() and path.relative_to(root).parts[0] != "pending"
    }


def run(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def empty_media() -> None:
    import shutil

    shutil.rmtree(media_root())
    media_root().mkdir()


def test_round_trip_restores_every_row_and_file_and_search_works(city_app, tmp_path):
    ids = seed_everything()
    before_rows, before_files = every_row(), every_file()
    archive = tmp_path / "site.tar.gz"

    result = run(city_app, "backup", "--output", str(archive))
    assert result.exit_code == 0, result.output
    assert "media files" in result.output

    db.session.remove()
    wipe_tables()
    empty_media()
    assert db.session.scalar(select(func.count(Report.id))) == 0

    result = run(city_app, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert every_row() == before_rows
    assert every_file() == before_files
    assert not (media_root() / "pending").exists()

    client = city_app.test_client()
    listing = client.get("/reports", query_string={"q": "flickering"}).get_data(as_text=True)
    assert f"BPT-{ids['first']:06d}" in listing
    assert f"BPT-{ids['second']:06d}" not in listing
    photo = client.get("/media/aa11.jpg")
    assert photo.status_code == 200 and photo.data == before_files["aa11.jpg"]

    fresh = make_report(description="A brand new pothole after the restore")
    assert fresh.id > ids["second"]


def test_manifest_lists_revision_counts_and_checksums(city_app, tmp_path):
    seed_everything()
    manifest = backup.make_backup(tmp_path / "b.tar.gz")
    assert manifest["tables"]["report"]["rows"] == 2
    assert manifest["tables"]["user_account"]["rows"] == 2
    assert set(manifest["media"]) == {"aa11.jpg", "aa11.thumb.jpg"}
    assert len(manifest["media"]["aa11.jpg"]["sha256"]) == 64
    assert manifest["missing_media"] == []
    with tarfile.open(tmp_path / "b.tar.gz") as archive:
        names = set(archive.getnames())
        stored = json.load(archive.extractfile("manifest.json"))
    assert stored == manifest
    assert "database/report.jsonl.gz" in names and "media/aa11.jpg" in names
    assert ("database.sqlite" in names) == (db.engine.dialect.name == "sqlite")


def test_restore_refuses_a_database_that_is_not_empty_unless_forced(city_app, tmp_path):
    ids = seed_everything()
    archive = tmp_path / "b.tar.gz"
    backup.make_backup(archive)
    later = make_report(description="Made after the backup was taken").id

    result = run(city_app, "restore", str(archive))
    assert result.exit_code != 0
    assert "not empty" in result.output and "--force" in result.output
    assert db.session.get(Report, later) is not None  # nothing changed

    result = run(city_app, "restore", str(archive), "--force")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.get(Report, later) is None
    assert sorted(db.session.scalars(select(Report.id))) == [ids["first"], ids["second"]]
    assert make_report(description="Numbered after the restored reports").id > ids["second"]


def rewrite_manifest(source: Path, target: Path, change) -> None:
    with tarfile.open(source) as old, tarfile.open(target, "w:gz") as new:
        for member in old.getmembers():
            data = old.extractfile(member).read()
            if member.name == "manifest.json":
                manifest = json.loads(data)
                change(manifest)
                data = json.dumps(manifest).encode()
                member.size = len(data)
            new.addfile(member, io.BytesIO(data))


def test_restore_refuses_another_schema_revision_and_says_what_to_do(city_app, tmp_path):
    seed_everything()
    backup.make_backup(tmp_path / "b.tar.gz")
    rewrite_manifest(
        tmp_path / "b.tar.gz",
        tmp_path / "old.tar.gz",
        lambda manifest: manifest.update(alembic_revision="0123456789ab"),
    )
    db.session.remove()
    wipe_tables()
    result = run(city_app, "restore", str(tmp_path / "old.tar.gz"))
    assert result.exit_code != 0
    assert "0123456789ab" in result.output and "db upgrade" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_a_damaged_archive_is_refused_before_anything_changes(city_app, tmp_path):
    seed_everything()
    backup.make_backup(tmp_path / "b.tar.gz")
    rewrite_manifest(
        tmp_path / "b.tar.gz",
        tmp_path / "bad.tar.gz",
        lambda manifest: manifest["media"]["aa11.jpg"].update(sha256="0" * 64),
    )
    db.session.remove()
    wipe_tables()
    empty_media()
    result = run(city_app, "restore", str(tmp_path / "bad.tar.gz"))
    assert result.exit_code != 0 and "checksum" in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0
    assert every_file() == {}


def test_a_failing_restore_leaves_database_and_media_as_they_were(city_app, tmp_path, monkeypatch):
    seed_everything()
    backup.make_backup(tmp_path / "b.tar.gz")
    before_rows, before_files = every_row(), every_file()

    real_swap = backup.MediaSwap.run

    def swap_then_fail(swap):
        real_swap(swap)  # the new media are in place when the commit fails
        raise RuntimeError("disk full")

    monkeypatch.setattr(backup.MediaSwap, "run", swap_then_fail)
    with pytest.raises(RuntimeError):
        backup.restore_backup(tmp_path / "b.tar.gz", force=True)
    db.session.expire_all()
    assert every_row() == before_rows
    assert every_file() == before_files
    assert sorted(p.name for p in media_root().iterdir()) == [
        "aa11.jpg",
        "aa11.thumb.jpg",
        "pending",
    ]


def test_a_backup_moves_to_another_database_and_back(city_app, make_app, tmp_path):
    """A logical dump: a backup of this engine restores into a new SQLite database (and, on
    PostgreSQL runs, that SQLite backup restores into PostgreSQL)."""
    seed_everything()
    before_rows = every_row()
    backup.make_backup(tmp_path / "here.tar.gz")

    other = make_app(
        SQLALCHEMY_DATABASE_URI="sqlite:///" + str(tmp_path / "other.sqlite"),
        MEDIA_ROOT=str(tmp_path / "other-media"),
    )
    with other.app_context():
        create_schema(db.engine)
        result = run(other, "restore", str(tmp_path / "here.tar.gz"))
        assert result.exit_code == 0, result.output
        assert every_row() == before_rows
        hits = db.session.execute(
            text("SELECT rowid FROM report_fts WHERE report_fts MATCH 'ferry'")
        ).scalars()
        assert list(hits) == [before_rows["report"][1]["id"]]
        backup.make_backup(tmp_path / "there.tar.gz")
        db.session.remove()
        db.engine.dispose()

    db.session.remove()
    wipe_tables()
    empty_media()
    result = run(city_app, "restore", str(tmp_path / "there.tar.gz"))
    assert result.exit_code == 0, result.output
    assert every_row() == before_rows
