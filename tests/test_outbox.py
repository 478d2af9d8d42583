"""The email outbox: queued in the same transaction, delivered once, never lost."""

import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import Outbox, utcnow
from bpt311.notify import backoff, deliver_due, enqueue_email
from tests.conftest import free_port
from tests.factories import make_report
from tests.smtp import SMTPServer


def queue_receipt(report, to="maria@example.org"):
    row = enqueue_email(
        to,
        "report_receipt",
        f"Your report {report.tracking_number}",
        report_id=report.id,
        report=report,
        report_url=f"http://bpt311.test/reports/{report.tracking_number}",
        response_time="3 days",
    )
    db.session.commit()
    return row


def rows(status=None):
    query = select(Outbox)
    if status:
        query = query.where(Outbox.status == status)
    return db.session.scalars(query.order_by(Outbox.id)).all()


@pytest.fixture
def smtp():
    with SMTPServer() as server:
        yield server


@pytest.fixture
def mail_app(make_app, smtp):
    app = make_app(**smtp.settings, OUTBOX_BACKOFF_SECONDS=30)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app


def test_email_is_delivered_with_text_and_html_bodies(mail_app, smtp):
    report = make_report()
    queue_receipt(report)
    assert deliver_due() == 1
    [message] = smtp.mailbox.to("maria@example.org")
    assert message["Subject"] == f"Your report {report.tracking_number}"
    assert "outbox-" in message["Message-ID"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert report.tracking_number in text and "3 days" in text
    assert f'href="http://bpt311.test/reports/{report.tracking_number}"' in html
    [row] = rows()
    assert row.status == "sent" and row.sent_at is not None and row.attempts == 1


def test_sent_email_is_never_sent_again(mail_app, smtp):
    queue_receipt(make_report())
    assert deliver_due() == 1
    assert deliver_due() == 0
    assert deliver_due(now=utcnow() + timedelta(days=1)) == 0
    assert len(smtp.mailbox.messages) == 1


def test_email_is_only_queued_if_the_change_commits(mail_app):
    report = make_report()
    enqueue_email(
        "x@example.org",
        "report_receipt",
        "Receipt",
        report=report,
        report_url="u",
        response_time="1 day",
    )
    db.session.rollback()
    assert rows() == []


def test_refused_email_is_retried_with_backoff_and_delivered_once(make_app):
    with SMTPServer(fail_first=2) as server:
        app = make_app(**server.settings, OUTBOX_BACKOFF_SECONDS=30)
        with app.app_context():
            from bpt311.seed import load_city

            load_city()
            queue_receipt(make_report())
            start = utcnow()
            assert deliver_due(now=start) == 0
            [row] = rows()
            assert row.status == "pending" and row.attempts == 1 and "451" in row.last_error
            assert row.next_attempt_at >= start + timedelta(seconds=29)
            # not due yet: nothing is tried
            assert deliver_due(now=start + timedelta(seconds=5)) == 0
            assert server.mailbox.refused == 1
            assert deliver_due(now=start + timedelta(seconds=31)) == 0
            db.session.expire_all()
            assert rows()[0].next_attempt_at >= start + timedelta(seconds=31 + 59)
            assert deliver_due(now=start + timedelta(minutes=10)) == 1
            assert len(server.mailbox.messages) == 1
            assert rows()[0].status == "sent" and rows()[0].attempts == 3


def test_smtp_server_down_then_back_loses_nothing(make_app):
    port = free_port()
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        for n in range(3):
            queue_receipt(make_report(), to=f"resident{n}@example.org")
        assert deliver_due() == 0  # connection refused: nobody listens yet
        assert {row.status for row in rows()} == {"pending"}
        with SMTPServer(port=port) as server:
            assert deliver_due(now=utcnow() + timedelta(hours=1)) == 3
            assert sorted(r[0][0] for r in server.mailbox.messages) == [
                "resident0@example.org",
                "resident1@example.org",
                "resident2@example.org",
            ]


def test_email_gives_up_after_the_last_attempt_and_keeps_the_error(make_app):
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port(), OUTBOX_MAX_ATTEMPTS=2)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        queue_receipt(make_report())
        deliver_due()
        deliver_due(now=utcnow() + timedelta(hours=7))
        [row] = rows()
        assert row.status == "dead" and row.attempts == 2
        assert "ConnectionRefusedError" in row.last_error
        assert deliver_due(now=utcnow() + timedelta(days=2)) == 0


def test_two_workers_at_once_send_every_email_exactly_once(mail_app, smtp):
    for n in range(40):
        queue_receipt(make_report(), to=f"resident{n}@example.org")
    app = mail_app
    barrier = threading.Barrier(2)
    sent_by = {}
    errors = []

    def worker(name):
        try:
            with app.app_context():
                barrier.wait()
                sent_by[name] = deliver_due(worker=name)
                db.session.remove()
        except Exception as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(sent_by.values()) == 40
    recipients = [rcpts[0] for rcpts, _ in smtp.mailbox.messages]
    assert len(recipients) == 40 and len(set(recipients)) == 40
    db.session.expire_all()
    assert db.session.scalar(select(func.count(Outbox.id)).where(Outbox.status == "sent")) == 40


def test_without_a_mail_server_emails_are_written_to_the_log(app, city, caplog):
    report = make_report()
    queue_receipt(report)
    with caplog.at_level(logging.INFO, logger="bpt311.notify"):
        assert deliver_due() == 1
    assert report.tracking_number in caplog.text
    assert rows()[0].status == "sent"


def test_backoff_doubles_and_is_capped():
    assert backoff(1, 30) == timedelta(seconds=30)
    assert backoff(2, 30) == timedelta(seconds=60)
    assert backoff(4, 30) == timedelta(seconds=240)
    assert backoff(30, 30) == timedelta(hours=6)


def test_notify_run_once_command_delivers(mail_app, smtp):
    queue_receipt(make_report())
    result = mail_app.test_cli_runner().invoke(args=["notify", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "Sent 1 emails" in result.output
    assert len(smtp.mailbox.messages) == 1
