"""Watch emails: delivery over real SMTP, one-click unsubscribe, and the daily digest."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bpt311 import tokens as app_tokens
from bpt311.community.following import unsubscribe_token as report_unsubscribe_token
from bpt311.extensions import db
from bpt311.models import Notice, Outbox, WatchArea, WatchAreaFollow, utcnow
from bpt311.notify import deliver_due
from bpt311.watch import service
from bpt311.watch.cli import digest_command
from bpt311.watch.digest import send_digests
from bpt311.watchers import tokens
from bpt311.watchers.events import announce
from tests.factories import make_report, make_user
from tests.smtp import SMTPServer
from tests.test_watch_support import (
    circle_area,
    client_for,
    count,
    follow,
    notices_of,
    outbox_to,
    polygon_area,
    site_fixture,  # noqa: F401  (the "site" fixture)
    smtp_fixture,  # noqa: F401  (the "smtp" fixture)
    unsubscribe_path,
)


def area_now(area_id: int) -> WatchArea:
    db.session.expire_all()
    return db.session.get(WatchArea, area_id)


# ---- emails arrive, with their unsubscribe headers ------------------------------------------


def test_an_event_email_arrives_with_one_click_unsubscribe_and_a_settings_link(site, smtp):
    owner = make_user("maria@example.org")
    circle_area(owner, name="Around home")
    report = make_report()
    announce(report, "new")
    db.session.commit()
    assert deliver_due() == 1
    [message] = smtp.mailbox.to("maria@example.org")
    assert message["Subject"].startswith("Around home: New report: Pothole")
    assert message["List-Unsubscribe"].startswith("<http://bpt311.test/watch/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    for body in (text, html):
        assert f"http://bpt311.test/reports/{report.tracking_number}" in body
        assert unsubscribe_path(message["List-Unsubscribe"]) in body
        assert "http://bpt311.test/watch" in body  # all settings
    assert "A deep pothole in the right lane." in text


def test_a_failing_smtp_server_loses_nothing(make_app):
    with SMTPServer(fail_first=1) as flaky:
        app = make_app(**flaky.settings)
        with app.app_context():
            from bpt311.seed import load_city

            load_city()
            circle_area(make_user("maria@example.org"))
            announce(make_report(), "new")
            db.session.commit()
            assert deliver_due() == 0  # refused: kept for later
            [row] = outbox_to("maria@example.org")
            assert row.status == "pending" and row.attempts == 1
            assert deliver_due(now=utcnow() + timedelta(minutes=5)) == 1
            assert len(flaky.mailbox.to("maria@example.org")) == 1
            db.session.expire_all()
            assert outbox_to("maria@example.org")[0].status == "sent"


def test_with_the_smtp_server_down_the_change_and_its_emails_still_commit(make_app):
    from tests.conftest import free_port

    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nothing listens
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        circle_area(make_user("maria@example.org"))
        announce(make_report(), "new")
        db.session.commit()
        assert deliver_due() == 0
        [row] = outbox_to("maria@example.org")
        assert row.status == "pending" and "Error" in row.last_error
        assert count(Notice) == 1


# ---- unsubscribing without signing in ---------------------------------------------------------


def test_one_click_unsubscribe_works_without_a_session_for_that_area_only(site):
    maria = make_user("maria@example.org")
    home = circle_area(maria, name="Home")
    work = polygon_area(maria, name="Work")
    luis_area = circle_area(make_user("luis@example.org"))
    announce(make_report(), "new")
    db.session.commit()
    [row] = outbox_to("maria@example.org")
    path = unsubscribe_path(row)
    assert tokens.read(tokens.UNSUBSCRIBE, path.rsplit("/", 1)[1])["i"] == home.id

    guest = client_for(site)
    page = guest.get(path)  # a mail scanner fetching the link changes nothing
    assert page.status_code == 200 and "Stop emails about your watch area “Home”?" in page.get_data(
        as_text=True
    )
    assert area_now(home.id).delivery == "email"
    response = guest.post(path, data={"List-Unsubscribe": "One-Click"})  # RFC 8058, no CSRF
    assert response.status_code == 200
    assert area_now(home.id).delivery == "none"
    assert area_now(work.id).delivery == "email"
    assert area_now(luis_area.id).delivery == "email"
    announce(make_report(), "new")  # still told on the site, not by email
    db.session.commit()
    assert len(outbox_to("maria@example.org")) == 2  # the "Work" area still emails
    assert len(notices_of(maria)) == 2


def test_a_follower_unsubscribes_their_follow_not_the_owners_area(site):
    owner, fan = make_user("owner@example.org"), make_user("fan@example.org")
    area = circle_area(owner, is_public=True)
    follow(area, fan, "email")
    announce(make_report(), "new")
    db.session.commit()
    [row] = outbox_to("fan@example.org")
    assert client_for(site).post(unsubscribe_path(row)).status_code == 200
    db.session.expire_all()
    assert db.session.scalars(select(WatchAreaFollow.delivery)).one() == "none"
    assert area_now(area.id).delivery == "email"


def test_a_forged_token_changes_nothing(site):
    area = circle_area(make_user("maria@example.org"))
    guest = client_for(site)
    good = tokens.unsubscribe_token("area", area.id, area.owner_id)
    for token in (good[:-3] + "abc", "nonsense", good.replace(".", "", 1)):
        response = guest.post(f"/watch/unsubscribe/{token}")
        assert response.status_code == 400
        assert "This link does not work" in response.get_data(as_text=True)
    # a genuine token for someone else's area, or made for another purpose, does nothing
    other = tokens.unsubscribe_token("area", area.id, area.owner_id + 1)
    assert guest.post(f"/watch/unsubscribe/{other}").status_code == 404
    report = make_report()
    community = report_unsubscribe_token(report, area.owner_id, "maria@example.org")
    assert guest.post(f"/watch/unsubscribe/{community}").status_code == 400
    assert area_now(area.id).delivery == "email"


def test_an_expired_token_changes_nothing(site, monkeypatch):
    area = circle_area(make_user("maria@example.org"))
    token = tokens.unsubscribe_token("area", area.id, area.owner_id)
    monkeypatch.setitem(app_tokens.MAX_AGE, tokens.UNSUBSCRIBE, -1)
    response = client_for(site).post(f"/watch/unsubscribe/{token}")
    assert response.status_code == 400
    assert "This link is too old" in response.get_data(as_text=True)
    assert area_now(area.id).delivery == "email"


def test_the_link_of_a_deleted_area_says_so(site):
    owner = make_user("maria@example.org")
    area = circle_area(owner)
    token = tokens.unsubscribe_token("area", area.id, owner.id)
    service.delete_area(area, owner)
    response = client_for(site).post(f"/watch/unsubscribe/{token}")
    assert response.status_code == 404
    assert "There is nothing to stop" in response.get_data(as_text=True)


# ---- the daily digest ---------------------------------------------------------------------


def test_the_digest_lists_the_days_events_once_and_never_twice(site, smtp):
    maria = make_user("maria@example.org")
    circle_area(maria, name="Home", delivery="digest")
    polygon_area(maria, name="Block", delivery="digest")
    first, second = make_report(), make_report("graffiti")
    announce(first, "new")
    announce(second, "new")
    db.session.commit()
    assert outbox_to("maria@example.org") == []  # nothing until the digest

    assert send_digests() == 1
    assert send_digests() == 0  # run again: nothing new
    [row] = outbox_to("maria@example.org")
    assert row.subject == "Your Bridgeport 311 digest: 2 updates in your watch areas"
    assert first.tracking_number in row.body_text and second.tracking_number in row.body_text
    assert row.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert all(n.digested_at is not None for n in notices_of(maria))
    assert deliver_due() == 1
    assert len(smtp.mailbox.to("maria@example.org")) == 1

    announce(make_report(), "status")  # the next day's
    db.session.commit()
    assert send_digests() == 1
    assert len(outbox_to("maria@example.org")) == 2


def test_the_digest_command_runs_from_the_command_line(site):
    circle_area(make_user("maria@example.org"), delivery="digest")
    announce(make_report(), "new")
    db.session.commit()
    runner = site.test_cli_runner()
    result = runner.invoke(digest_command)
    assert result.exit_code == 0, result.output
    assert "Queued 1 digest email." in result.output
    assert "Queued 0 digest emails." in runner.invoke(digest_command).output
    assert len(outbox_to("maria@example.org")) == 1


def test_stopping_digests_by_the_header_link_stops_the_one_already_gathering(site):
    maria = make_user("maria@example.org")
    home = circle_area(maria, name="Home", delivery="digest")
    announce(make_report(), "new")
    db.session.commit()
    send_digests()
    [row] = outbox_to("maria@example.org")
    announce(make_report(), "new")  # gathering for tomorrow
    db.session.commit()
    assert client_for(site).post(unsubscribe_path(row)).status_code == 200
    assert area_now(home.id).delivery == "none"
    assert send_digests() == 0
    assert len(outbox_to("maria@example.org")) == 1


def test_a_digest_that_fails_to_queue_stays_pending_for_the_next_run(site, monkeypatch):
    import bpt311.watch.digest as digest

    circle_area(make_user("maria@example.org"), delivery="digest")
    announce(make_report(), "new")
    db.session.commit()

    def broken(*args, **kwargs):
        raise RuntimeError("template exploded")

    monkeypatch.setattr(digest, "_queue_email", broken)
    assert send_digests() == 0
    monkeypatch.undo()
    assert send_digests() == 1
    assert count(Outbox) == 1


def test_two_digest_runs_at_once_send_each_digest_once(site):
    import threading

    people = [make_user(f"p{n}@example.org") for n in range(6)]
    for person in people:
        circle_area(person, delivery="digest")
    announce(make_report(), "new")
    db.session.commit()
    barrier = threading.Barrier(2)
    results = []

    def run():
        with site.app_context():
            barrier.wait()
            results.append(send_digests())
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(results) == 6
    assert all(len(outbox_to(person.email)) == 1 for person in people)
