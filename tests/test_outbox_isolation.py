"""No single row stops a worker pass (security issue #21, finding 1).

A resident whose name carried a line break ("X\\r\\nBcc: a@b") commented on a report
others follow; building that email raised, the whole outbox pass stopped, and every email
queued after it (a staff password reset included), the push notifications and the photo
sweep waited forever. Now each row fails alone, counts its attempts, backs off, and ends
dead for an administrator to retry or discard.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bpt311 import notify, push
from bpt311.extensions import db
from bpt311.jobs import loop
from bpt311.models import AuditLog, Follow, Outbox, PushMessage, utcnow
from tests.conftest import client_for, post_form
from tests.factories import make_report, make_user
from tests.smtp import SMTPServer

HOSTILE_NAME = "X\r\nBcc: a@b"
MAX_ATTEMPTS = 3


@pytest.fixture
def mail(make_app):
    with SMTPServer() as server:
        app = make_app(**server.settings, OUTBOX_MAX_ATTEMPTS=MAX_ATTEMPTS)
        with app.app_context():
            from bpt311.seed import load_city

            load_city()
            yield app, server


def outbox_rows():
    db.session.expire_all()
    return db.session.scalars(select(Outbox).order_by(Outbox.id)).all()


def hostile_comment_then_reset(site):
    """The attack: a name with a line break (saved before names were checked, so set here
    directly), a comment on a report another resident follows, then a staff member asks
    for a password reset."""
    follower = make_user("follower@example.org", email_verified_at=utcnow())
    attacker = make_user(
        "attacker@example.org",
        display_name=HOSTILE_NAME,
        show_name=True,
        email_verified_at=utcnow(),
    )
    neighbour = make_user(
        "neighbour@example.org", display_name="Ana", show_name=True, email_verified_at=utcnow()
    )
    make_user("clerk@bridgeport.example", role="staff", email_verified_at=utcnow())
    watched, other = make_report(), make_report()
    db.session.add(Follow(report_id=watched.id, user_id=follower.id))
    db.session.add(Follow(report_id=other.id, user_id=follower.id))
    db.session.commit()
    response = post_form(
        client_for(site, attacker),
        f"/reports/{watched.tracking_number}/comments",
        {"body": "Still broken after a week."},
    )
    assert response.status_code in (200, 303)
    response = post_form(
        client_for(site, neighbour),
        f"/reports/{other.tracking_number}/comments",
        {"body": "Same on my street."},
    )
    assert response.status_code in (200, 303)
    response = post_form(client_for(site), "/reset", {"email": "clerk@bridgeport.example"})
    assert response.status_code in (200, 302, 303)
    return watched, other


def test_a_hostile_name_does_not_stop_other_emails_and_ends_dead(mail):
    site, server = mail
    watched, other = hostile_comment_then_reset(site)
    rows = outbox_rows()
    bad = [row for row in rows if "X" in row.subject and watched.tracking_number in row.subject]
    assert len(bad) == 1 and bad[0].id < rows[-1].id  # the reset was queued after it

    start = utcnow()
    loop.run_pass("w1", now=start)  # the worker's whole pass; it must not raise

    # Every other email left, the reset email queued after the bad row included.
    [reset] = server.mailbox.to("clerk@bridgeport.example")
    assert "/reset/" in reset.get_body(("plain",)).get_content()
    follower_mail = server.mailbox.to("follower@example.org")
    assert [m["Subject"] for m in follower_mail] == [f"{other.tracking_number}: Ana commented"]
    # No header anywhere carries the line break, and nobody was copied in.
    for rcpts, message in server.mailbox.messages:
        assert "a@b" not in rcpts
        assert message["Bcc"] is None
        for name, value in message.items():
            assert "\r" not in str(value) and "\n" not in str(value), (name, value)

    # The bad row failed alone: an attempt counted, retried later with backoff.
    [row] = [r for r in outbox_rows() if r.id == bad[0].id]
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at > start and row.last_error
    # It goes dead after OUTBOX_MAX_ATTEMPTS and is not tried again.
    for hours in range(1, 10):
        loop.run_pass("w1", now=start + timedelta(hours=7 * hours))
    [row] = [r for r in outbox_rows() if r.id == bad[0].id]
    assert row.status == "dead" and row.attempts == MAX_ATTEMPTS
    assert len(server.mailbox.messages) == len([r for r in outbox_rows() if r.status == "sent"])


def test_the_admin_sees_a_dead_email_and_can_retry_or_discard_it(mail):
    site, server = mail
    watched, _other = hostile_comment_then_reset(site)
    start = utcnow()
    for hours in range(MAX_ATTEMPTS + 1):
        loop.run_pass("w1", now=start + timedelta(hours=7 * hours))
    [dead] = [row for row in outbox_rows() if row.status == "dead"]
    dead_id = dead.id
    admin = make_user("admin@bridgeport.example", role="admin")
    browser = client_for(site, admin)
    page = browser.get("/staff/admin/jobs").get_data(as_text=True)
    assert "Emails that could not be sent" in page
    assert "follower@example.org" in page and watched.tracking_number in page
    assert f'value="{dead_id}"' in page

    response = post_form(browser, "/staff/admin/jobs/emails/retry", {"outbox_id": str(dead_id)})
    assert response.status_code == 303
    db.session.expire_all()
    row = db.session.get(Outbox, dead_id)
    assert row.status == "pending" and row.attempts == 0
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "outbox.retry")).one()
    assert audit.actor_id == admin.id and audit.target_id == dead_id

    for hours in range(MAX_ATTEMPTS + 1):
        loop.run_pass("w1", now=start + timedelta(days=1, hours=7 * hours))
    db.session.expire_all()
    assert db.session.get(Outbox, dead_id).status == "dead"  # the name still cannot be sent
    response = post_form(browser, "/staff/admin/jobs/emails/discard", {"outbox_id": str(dead_id)})
    assert response.status_code == 303
    db.session.expire_all()
    assert db.session.get(Outbox, dead_id) is None
    audit = db.session.scalars(select(AuditLog).where(AuditLog.action == "outbox.discard")).one()
    assert audit.actor_id == admin.id and audit.target_id == dead_id
    page = browser.get("/staff/admin/jobs").get_data(as_text=True)
    assert "follower@example.org" not in page
    # Again: nothing to act on, said plainly.
    response = post_form(browser, "/staff/admin/jobs/emails/discard", {"outbox_id": str(dead_id)})
    assert response.status_code == 303
    assert "no longer" in browser.get("/staff/admin/jobs").get_data(as_text=True)


def test_residents_and_staff_cannot_act_on_dead_emails(mail):
    site, _server = mail
    row = Outbox(recipient="a@example.org", subject="s", body_text="b", status="dead")
    db.session.add(row)
    db.session.commit()
    for role in ("resident", "staff"):
        user = make_user(f"{role}@example.org", role=role)
        response = post_form(
            client_for(site, user), "/staff/admin/jobs/emails/discard", {"outbox_id": str(row.id)}
        )
        assert response.status_code in (302, 403)
    assert db.session.get(Outbox, row.id) is not None


def test_an_email_that_raises_anything_while_built_fails_alone(mail, monkeypatch):
    """Not only header errors: whatever one row raises, the next row is still sent."""
    site, server = mail
    for n in range(3):
        db.session.add(
            Outbox(recipient=f"r{n}@example.org", subject=f"Email {n}", body_text="Hello")
        )
    db.session.commit()
    real_build = notify.build_message

    def build(row, sender):
        if row.recipient == "r0@example.org":
            raise KeyError("something nobody foresaw")
        return real_build(row, sender)

    monkeypatch.setattr(notify, "build_message", build)
    assert notify.deliver_due() == 2
    assert sorted(r[0][0] for r in server.mailbox.messages) == ["r1@example.org", "r2@example.org"]
    first = outbox_rows()[0]
    assert first.status == "pending" and first.attempts == 1
    assert "KeyError" in first.last_error


def test_headers_are_built_by_the_email_package_not_by_hand(mail):
    """A name with a line break cannot become a header of its own, whatever path it took."""
    row = Outbox(
        id=12345,
        recipient="maria@example.org",
        subject="BPT-000001: X\r\nBcc: a@b commented",
        body_text="Hi",
        headers={"List-Unsubscribe": "<http://bpt311.test/u>\r\nBcc: a@b"},
    )
    with pytest.raises(ValueError):
        notify.build_message(row, "Bridgeport 311 <noreply@bpt311.test>")
    row.subject, row.headers = "BPT-000001: Ana commented", {"List-Unsubscribe": "<http://x/u>"}
    row.created_at = utcnow()
    message = notify.build_message(row, "Bridgeport 311 <noreply@bpt311.test>")
    assert message["From"].addresses[0].addr_spec == "noreply@bpt311.test"
    assert message["To"].addresses[0].addr_spec == "maria@example.org"
    assert b"\r\nBcc" not in message.as_bytes()


# ---- the rest of the pass: push and the sweep ------------------------------------------------


@pytest.fixture
def push_mail(make_app):
    public, private = push.new_vapid_keys()
    with SMTPServer() as server:
        app = make_app(
            **server.settings,
            VAPID_PUBLIC_KEY=public,
            VAPID_PRIVATE_KEY=private,
            VAPID_SUBJECT="mailto:test@bpt311.test",
            PUSH_SERVICE_HOSTS="fcm.googleapis.com",
            OUTBOX_MAX_ATTEMPTS=MAX_ATTEMPTS,
        )
        with app.app_context():
            from bpt311.seed import load_city

            load_city()
            yield app, server


def _queue_pushes(count: int) -> list[int]:
    from bpt311.models import PushSubscription

    user = make_user("maria@example.org")
    ids = []
    for n in range(count):
        device = PushSubscription(
            user_id=user.id,
            endpoint=f"https://fcm.googleapis.com/fcm/send/{n}",
            endpoint_hash=push.endpoint_hash(f"https://fcm.googleapis.com/fcm/send/{n}"),
            p256dh="x",
            auth="y",
        )
        db.session.add(device)
        db.session.flush()
        message = PushMessage(subscription_id=device.id, payload={"title": f"n{n}"})
        db.session.add(message)
        db.session.flush()
        ids.append(message.id)
    db.session.commit()
    return ids


def test_one_push_that_raises_anything_does_not_stop_the_others(push_mail, monkeypatch):
    ids = _queue_pushes(3)
    sent = []

    def send(subscription, payload):
        if payload["title"] == "n0":
            raise RuntimeError("a push library bug")
        sent.append(payload["title"])

    monkeypatch.setattr(push, "send", send)
    assert push.deliver_push_due() == 2
    assert sent == ["n1", "n2"]
    db.session.expire_all()
    first = db.session.get(PushMessage, ids[0])
    assert first.status == "pending" and first.attempts == 1 and "RuntimeError" in first.last_error


def test_the_parts_of_a_pass_run_even_when_one_fails(push_mail, monkeypatch):
    """Email, push and the sweep are independent: the email part blowing up still lets
    the pushes go and the sweep run (and the other way round)."""
    from bpt311.jobs import sweep

    _queue_pushes(1)
    pushed, swept = [], []
    monkeypatch.setattr(push, "send", lambda subscription, payload: pushed.append(payload))
    monkeypatch.setattr(sweep, "sweep_when_due", lambda: swept.append(1) or 0)

    def broken(*args, **kwargs):
        raise RuntimeError("the email part broke")

    monkeypatch.setattr(notify, "deliver_due", broken)
    loop.run_pass("w1")
    assert len(pushed) == 1 and swept == [1]

    monkeypatch.setattr(push, "deliver_push_due", broken)
    monkeypatch.setattr(notify, "deliver_due", lambda *a, **k: swept.append("email") or 0)
    loop.run_pass("w1")
    assert swept == [1, "email", 1]


def test_one_item_of_the_sweep_that_raises_does_not_stop_the_others(push_mail):
    from bpt311.jobs import sweep

    done = []

    def do_here(row_id):
        if row_id == 1:
            raise RuntimeError("one bad photo")
        done.append(row_id)

    assert sweep._requeue_or_do("media", [1, 2, 3], do_here, OSError, "Photo") == 2
    assert done == [2, 3]


def test_each_part_of_the_sweep_runs_when_another_raises(push_mail, monkeypatch):
    from bpt311.jobs import sweep

    ran = []

    def broken(*args, **kwargs):
        raise RuntimeError("broke")

    monkeypatch.setattr(sweep, "sweep_media", broken)
    monkeypatch.setattr(sweep, "sweep_watch_events", lambda: ran.append("watch") or 1)
    monkeypatch.setattr(sweep, "retry_spooled_media", lambda: ran.append("spool") or 1)
    assert sweep.sweep_when_due() == 2
    assert ran == ["watch", "spool"]
