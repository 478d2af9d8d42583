"""Privacy: retention purge, the privacy page, a resident's export and deletion."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bpt311.accounts.service import hash_password
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
    utcnow,
)
from bpt311.privacy.retention import purge
from bpt311.storage import file_path, write_bytes
from tests.conftest import csrf_token_from
from tests.factories import make_report, make_user, sign_in_as

VARIANT_KEY = "0123456789abcdef0123456789abcdef"
PASSWORD = "correct horse battery"
EMAIL = "maria.lopez@example.org"
NAME = "Maria Quintessa Lopez"
PHONE = "203-555-0177"
COMMENT = "The hole outside number 14 is deeper since the rain."


# ---- retention -------------------------------------------------------------------


def closed_report(days_ago: int, **fields) -> Report:
    closed = utcnow() - timedelta(days=days_ago)
    return make_report(
        status="closed",
        closed_at=closed,
        contact_name=NAME,
        contact_email=EMAIL,
        contact_phone=PHONE,
        **fields,
    )


def test_purge_erases_contacts_of_long_closed_reports_and_old_sent_emails(city):
    old = closed_report(400)
    recent = closed_report(10)
    still_open = make_report(
        created_at=utcnow() - timedelta(days=800), contact_email=EMAIL, contact_name=NAME
    )
    long_ago = utcnow() - timedelta(days=120)
    sent_old = Outbox(
        recipient=EMAIL, subject="s", body_text="b", status="sent", created_at=long_ago
    )
    dead_old = Outbox(
        recipient=EMAIL, subject="s", body_text="b", status="dead", created_at=long_ago
    )
    pending_old = Outbox(recipient=EMAIL, subject="s", body_text="b", created_at=long_ago)
    sent_recent = Outbox(recipient=EMAIL, subject="s", body_text="b", status="sent")
    db.session.add_all([sent_old, dead_old, pending_old, sent_recent])
    db.session.commit()
    ids = {name: row.id for name, row in locals().items() if isinstance(row, Report | Outbox)}

    result = city.test_cli_runner().invoke(args=["privacy", "purge"])
    assert result.exit_code == 0, result.output
    assert "contact details of 1 report closed more than 365 days ago" in result.output
    assert "deleted 2 emails sent more than 90 days ago" in result.output

    db.session.expire_all()
    erased = db.session.get(Report, ids["old"])
    assert (erased.contact_name, erased.contact_email, erased.contact_phone) == ("", "", "")
    assert erased.contact_erased_at is not None
    assert erased.description  # the public record stays
    for kept in ("recent", "still_open"):
        assert db.session.get(Report, ids[kept]).contact_email == EMAIL
    remaining = set(db.session.scalars(select(Outbox.id)))
    assert remaining == {ids["pending_old"], ids["sent_recent"]}
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "privacy_purge")).one()
    assert audit.detail["contacts_erased"] == 1 and audit.detail["emails_deleted"] == 2

    again = purge()  # idempotent: nothing left to do, nothing audited
    assert (again.contacts, again.emails) == (0, 0)
    assert db.session.scalar(select(func.count(AuditLog.id))) == 1


def test_retention_periods_come_from_the_settings(make_app):
    app = make_app(RETENTION_CONTACT_DAYS=30, RETENTION_OUTBOX_DAYS=7)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        month_old = closed_report(45)
        fortnight_old = closed_report(15)
        ids = (month_old.id, fortnight_old.id)
        assert purge().contacts == 1
        db.session.expire_all()
        assert db.session.get(Report, ids[0]).contact_email == ""
        assert db.session.get(Report, ids[1]).contact_email == EMAIL
        html = app.test_client().get("/privacy").get_data(as_text=True)
        assert "Erased 30 days after the report is closed" in html
        assert "Deleted 7 days after sending" in html
        form = app.test_client().get("/reports/new?category=pothole").get_data(as_text=True)
        assert "We erase them 30 days after the report is closed" in form
        assert 'href="/privacy"' in form


# ---- the privacy page ------------------------------------------------------------------


def test_privacy_page_says_what_is_kept_and_is_linked_from_every_page(client, city):
    response = client.get("/privacy")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Erased 365 days after the report is closed" in html
    assert "Deleted 90 days after sending" in html
    assert 'href="/me/data"' in html and 'href="/me/settings/delete"' in html
    assert "This comment was deleted" in html  # what deleting an account does to comments
    assert 'href="/privacy">Privacy</a>' in client.get("/").get_data(as_text=True)


# ---- a resident's data -----------------------------------------------------------------


@pytest.fixture
def marias_data(city):
    """Ids of what Maria, a resident with something of everything, has (and a neighbour
    whose data must stay)."""
    user = make_user(
        EMAIL,
        password_hash=hash_password(PASSWORD),
        display_name=NAME,
        show_name=True,
        email_verified_at=utcnow(),
    )
    neighbour = make_user("neighbour@example.org", display_name="Ned", show_name=True)
    report = make_report(reporter=user, contact_name=NAME, contact_email=EMAIL, contact_phone=PHONE)
    guest_report = make_report(contact_email=EMAIL.upper(), contact_phone=PHONE)
    others = make_report(description="Graffiti on the underpass wall, reported by Ned")
    write_bytes("report-photo.jpg", b"report photo bytes")
    write_bytes("comment-photo.jpg", b"comment photo bytes")
    write_bytes("comment-photo.thumb.jpg", b"thumb")
    write_bytes(f"v/{VARIANT_KEY}-240x180.webp", b"small copy")
    comment = Comment(report_id=others.id, author=user, body=COMMENT)
    reply = Comment(report_id=others.id, author=neighbour, body="Seen it too, Maria.")
    db.session.add_all([comment, reply])
    db.session.flush()
    db.session.add_all(
        [
            Media(
                report=report,
                kind="photo",
                file_name="report-photo.jpg",
                content_type="image/jpeg",
                size_bytes=18,
            ),
            Media(
                report_id=others.id,
                comment_id=comment.id,
                kind="photo",
                file_name="comment-photo.jpg",
                thumb_name="comment-photo.thumb.jpg",
                content_type="image/jpeg",
                size_bytes=19,
                variant_key=VARIANT_KEY,
                variants=[["image/webp", 240, 180]],
            ),
            TimelineEvent(
                report_id=others.id, kind="comment", actor=user, actor_label=NAME, comment=comment
            ),
            TimelineEvent(
                report_id=others.id,
                kind="comment",
                actor=neighbour,
                actor_label="Ned",
                comment=reply,
            ),
            Vote(report_id=others.id, user_id=user.id),
            Vote(report_id=others.id, user_id=neighbour.id),
            Follow(report_id=others.id, user_id=user.id),
            EmailSubscription(report_id=others.id, email=EMAIL.lower()),
        ]
    )
    others.vote_count, others.comment_count = 2, 2
    area = WatchArea(
        owner=user,
        name="Around my house on Maple",
        shape="circle",
        geometry_json='{"type": "Point", "coordinates": [-73.19, 41.18]}',
        radius_m=300.0,
        min_lat=41.17,
        min_lon=-73.2,
        max_lat=41.19,
        max_lon=-73.18,
    )
    db.session.add(area)
    event = WatchEvent(
        report_id=others.id,
        kind="comment",
        headline=f"{NAME} commented on a graffiti report",
        note=COMMENT,
    )
    db.session.add(event)
    db.session.flush()
    db.session.add(Notice(event_id=event.id, user_id=user.id, area_id=area.id, delivery="email"))
    db.session.add(Outbox(recipient=EMAIL, subject="Your report", body_text=f"Dear {NAME}"))
    db.session.add(
        AuditLog(
            action="user.unban", target_type="user", target_id=user.id, detail={"email": EMAIL}
        )
    )
    db.session.commit()
    return {
        "user": user.id,
        "neighbour": neighbour.id,
        "report": report.id,
        "guest_report": guest_report.id,
        "others": others.id,
        "comment": comment.id,
    }


def signed_in(app, user_id: int):
    client = app.test_client()
    sign_in_as(client, db.session.get(User, user_id))
    return client


def test_export_holds_everything_of_mine_and_nothing_of_anyone_else(city, marias_data):
    client = signed_in(city, marias_data["user"])
    page = client.get("/me/data").get_data(as_text=True)
    assert "Download my data" in page and "Download my photos" in page
    response = client.get("/me/data/bpt311-my-data.json")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.headers["Cache-Control"] == "no-store"
    data = json.loads(response.data)
    assert data["account"]["email"] == EMAIL and data["account"]["name"] == NAME
    [report] = data["reports"]
    assert report["tracking_number"] == f"BPT-{marias_data['report']:06d}"
    assert (report["contact_name"], report["contact_email"], report["contact_phone"]) == (
        NAME,
        EMAIL,
        PHONE,
    )
    assert report["photos_and_videos"][0]["file"] == "report-photo.jpg"
    assert [c["text"] for c in data["comments"]] == [COMMENT]
    assert [v["report"] for v in data["votes"]] == [f"BPT-{marias_data['others']:06d}"]
    assert [f["report"] for f in data["follows"]] == [f"BPT-{marias_data['others']:06d}"]
    assert [row["report"] for row in data["email_updates_without_signing_in"]] == [
        f"BPT-{marias_data['others']:06d}"
    ]
    assert data["watch_areas"][0]["name"] == "Around my house on Maple"
    assert data["notices"][0]["headline"].endswith("commented on a graffiti report")
    text = response.get_data(as_text=True)
    assert "Seen it too" not in text and "neighbour@example.org" not in text
    assert "password" not in text and "argon2" not in text

    photos = client.get("/me/data/bpt311-my-photos.zip")
    assert photos.status_code == 200 and photos.mimetype == "application/zip"
    with zipfile.ZipFile(io.BytesIO(photos.data)) as archive:
        contents = {name.split("/")[-1]: archive.read(name) for name in archive.namelist()}
    assert contents == {
        "report-photo.jpg": b"report photo bytes",
        "comment-photo.jpg": b"comment photo bytes",
    }


def test_export_needs_signing_in(client, city):
    for path in ("/me/data", "/me/data/bpt311-my-data.json", "/me/data/bpt311-my-photos.zip"):
        response = client.get(path)
        assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def every_value() -> str:
    """Every value in every table, as one text to search."""
    with db.engine.connect() as connection:
        return "\n".join(
            json.dumps([str(value) for value in row])
            for table in Base.metadata.sorted_tables
            for row in connection.execute(table.select())
        )


def delete_account(client):
    token = csrf_token_from(client, "/me/settings/delete")
    return client.post("/me/settings/delete", data={"csrf_token": token, "password": PASSWORD})


def test_deleting_an_account_removes_my_personal_data_everywhere(city, marias_data):
    assert EMAIL in every_value() and NAME in every_value()
    client = signed_in(city, marias_data["user"])
    response = delete_account(client)
    assert response.status_code == 303

    everything = every_value()
    for trace in (EMAIL, EMAIL.upper(), NAME, PHONE, COMMENT, "Around my house on Maple"):
        assert trace not in everything, trace
    db.session.expire_all()
    assert db.session.get(User, marias_data["user"]) is None
    # Reports stay for the public record, without a way back to me.
    for report_id in (marias_data["report"], marias_data["guest_report"]):
        report = db.session.get(Report, report_id)
        assert report is not None and report.reporter_id is None
        assert report.contact_erased_at is not None
    others = db.session.get(Report, marias_data["others"])
    assert (others.vote_count, others.comment_count) == (1, 1)
    assert db.session.get(Comment, marias_data["comment"]).deleted_at is not None
    assert not file_path("comment-photo.jpg").exists()
    assert not file_path("comment-photo.thumb.jpg").exists()
    assert not file_path(f"v/{VARIANT_KEY}-240x180.webp").exists()  # its smaller copies too
    assert file_path("report-photo.jpg").exists()  # the report's photo is the report's
    # The neighbour keeps everything.
    assert "Seen it too, Maria." in everything and "neighbour@example.org" in everything
    assert db.session.scalar(select(func.count(Vote.id))) == 1

    page = client.get(f"/reports/{others.tracking_number}").get_data(as_text=True)
    assert "This comment was deleted." in page and "A former resident" in page
    assert NAME not in page


def test_deleting_an_account_keeps_copies_another_report_shares(city, marias_data):
    """The same photo sent with someone else's report shares its smaller copies (they are
    named after the photo's content): deleting my comment's photo leaves theirs whole."""
    write_bytes("neighbour-photo.jpg", b"comment photo bytes")
    db.session.add(
        Media(
            report_id=marias_data["others"],
            kind="photo",
            file_name="neighbour-photo.jpg",
            content_type="image/jpeg",
            size_bytes=19,
            variant_key=VARIANT_KEY,
            variants=[["image/webp", 240, 180]],
        )
    )
    db.session.commit()
    assert delete_account(signed_in(city, marias_data["user"])).status_code == 303
    assert not file_path("comment-photo.jpg").exists()  # mine went
    assert file_path("neighbour-photo.jpg").exists()
    assert file_path(f"v/{VARIANT_KEY}-240x180.webp").exists()  # still the neighbour's


def test_a_deletion_that_fails_changes_nothing(city, marias_data, monkeypatch):
    import bpt311.privacy.erasure as erasure

    before = every_value()

    def broken(user_id):
        raise RuntimeError("database went away")

    monkeypatch.setattr(erasure, "_detach_other_references", broken)
    client = signed_in(city, marias_data["user"])
    city.config["PROPAGATE_EXCEPTIONS"] = False
    response = delete_account(client)
    assert response.status_code == 500
    db.session.rollback()
    assert every_value() == before
    assert file_path("comment-photo.jpg").exists()


def test_purge_deletes_old_watch_notices_and_sent_pushes_but_keeps_recent_ones(city):
    from bpt311.models import PushMessage, PushSubscription

    resident = make_user()
    report = make_report()
    year_and_more = utcnow() - timedelta(days=400)
    old_event = WatchEvent(report=report, kind="new", headline="Old", created_at=year_and_more)
    new_event = WatchEvent(report=report, kind="new", headline="New")
    db.session.add_all([old_event, new_event])
    db.session.flush()
    db.session.add_all(
        [
            Notice(
                event_id=old_event.id,
                user_id=resident.id,
                delivery="site",
                created_at=year_and_more,
            ),
            Notice(event_id=new_event.id, user_id=resident.id, delivery="site"),
        ]
    )
    device = PushSubscription(
        user_id=resident.id,
        endpoint="https://push.example/1",
        endpoint_hash="1" * 64,
        p256dh="k",
        auth="a",
    )
    db.session.add(device)
    db.session.flush()
    long_ago = utcnow() - timedelta(days=120)
    db.session.add_all(
        [
            PushMessage(subscription_id=device.id, status="sent", created_at=long_ago),
            PushMessage(subscription_id=device.id, status="pending", created_at=long_ago),
            PushMessage(subscription_id=device.id, status="sent"),
        ]
    )
    db.session.commit()

    done = purge()
    assert (done.notices, done.pushes) == (1, 1)
    db.session.expire_all()
    assert [e.headline for e in db.session.scalars(select(WatchEvent))] == ["New"]
    assert db.session.scalar(select(func.count(Notice.id))) == 1
    assert sorted(m.status for m in db.session.scalars(select(PushMessage))) == ["pending", "sent"]
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "privacy_purge")).one()
    assert audit.detail["notices_deleted"] == 1 and audit.detail["pushes_deleted"] == 1
    assert purge().notices == 0


def test_deleting_an_account_forgets_it_in_watch_events_still_waiting_for_their_job(
    city, marias_data
):
    waiting = WatchEvent(
        report_id=marias_data["others"],
        kind="status",
        headline="Graffiti report acknowledged",
        actor_id=marias_data["user"],
        already_told={
            "emails": [EMAIL, "neighbour@example.org"],
            "pushed": [marias_data["user"], 99],
        },
    )
    db.session.add(waiting)
    db.session.commit()
    assert delete_account(signed_in(city, marias_data["user"])).status_code == 303
    db.session.expire_all()
    event = db.session.get(WatchEvent, waiting.id)
    assert event.actor_id is None
    assert event.already_told == {"emails": ["neighbour@example.org"], "pushed": [99]}
