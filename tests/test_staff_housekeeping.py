"""The nightly jobs: archiving long-closed reports, and the daily overdue email to departments."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import AuditLog, Department, Outbox, Report, TimelineEvent, utcnow
from bpt311.notify import deliver_due
from bpt311.staff.housekeeping import archive_closed, send_overdue_emails
from tests.factories import make_report

NEW_YORK = ZoneInfo("America/New_York")
ROADS = "roadway@bridgeport.example"
LIGHTS = "traffic@bridgeport.example"
BLIGHT = "blight@bridgeport.example"


def closed_report(days_ago: float, **fields) -> Report:
    closed = utcnow() - timedelta(days=days_ago)
    return make_report(
        status="closed", created_at=closed - timedelta(days=3), closed_at=closed, **fields
    )


def reload(report: Report) -> Report:
    db.session.expire_all()
    return db.session.get(Report, report.id)


def outbox_to(address: str) -> list[Outbox]:
    return db.session.scalars(select(Outbox).where(Outbox.recipient == address)).all()


def new_york(*parts) -> datetime:
    """A wall-clock time in Bridgeport; ``fold=1`` picks the second 1:30 of November."""
    *clock, fold = parts if len(parts) == 7 else (*parts, 0)
    return datetime(*clock, tzinfo=NEW_YORK, fold=fold).astimezone(UTC)


# ---- archive -------------------------------------------------------------------------------------


def test_archive_moves_reports_closed_long_ago_and_leaves_the_rest(site):
    old = [closed_report(120), closed_report(91)]
    recent = closed_report(10)
    still_open = make_report(created_at=utcnow() - timedelta(days=400))
    runner = site.test_cli_runner()
    result = runner.invoke(args=["archive", "--days", "90"])
    assert result.exit_code == 0, result.output
    assert "Archived 2 reports closed more than 90 days ago." in result.output
    for report in old:
        archived = reload(report)
        assert archived.status == "archived" and archived.archived_at is not None
        event = archived.events[-1]
        assert (event.kind, event.actor_label, event.actor_id) == (
            "archived",
            "City of Bridgeport",
            None,
        )
    assert reload(recent).status == "closed"
    assert reload(still_open).status == "open"
    row = db.session.scalars(select(AuditLog).where(AuditLog.action == "archive")).one()
    assert row.detail["count"] == 2 and row.actor_id is None


def test_archive_twice_changes_nothing_the_second_time(site):
    report = closed_report(200)
    runner = site.test_cli_runner()
    runner.invoke(args=["archive", "--days", "30"])
    first = reload(report).archived_at
    result = runner.invoke(args=["archive", "--days", "30"])
    assert "Archived 0 reports" in result.output
    archived = reload(report)
    assert archived.archived_at == first
    assert [e.kind for e in archived.events].count("archived") == 1
    assert db.session.scalar(select(func.count(AuditLog.id))) == 1


def test_archive_goes_through_many_reports_in_batches(site):
    reports = [closed_report(100 + n) for n in range(25)]
    assert archive_closed(90, batch_size=10) == 25
    statuses = db.session.scalars(select(Report.status).distinct()).all()
    assert statuses == ["archived"]
    events = db.session.scalar(
        select(func.count(TimelineEvent.id)).where(TimelineEvent.kind == "archived")
    )
    assert events == len(reports)
    batches = db.session.scalars(
        select(AuditLog.detail).where(AuditLog.action == "archive").order_by(AuditLog.id)
    ).all()
    assert [batch["count"] for batch in batches] == [10, 10, 5]


def test_an_archived_report_still_shows_on_its_page_as_closed(site):
    report = closed_report(400)
    archive_closed(90)
    page = site.test_client().get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Closed (archived)" in page
    assert "Archived: closed more than 90 days ago." in page


def test_archive_refuses_a_nonsense_number_of_days(site):
    result = site.test_cli_runner().invoke(args=["archive", "--days", "0"])
    assert result.exit_code != 0


# ---- the overdue email ---------------------------------------------------------------------------


def overdue_report(code: str, due: datetime, **fields) -> Report:
    report = make_report(code, created_at=due - timedelta(days=3), **fields)
    report.due_at = due
    db.session.commit()
    return report


def test_each_department_gets_one_email_listing_its_overdue_reports(site, smtp):
    now = utcnow()
    late_pothole = overdue_report(
        "pothole", now - timedelta(hours=30), address="100 Main Street, Bridgeport, CT"
    )
    later_pothole = overdue_report("sidewalk", now - timedelta(hours=2), status="acknowledged")
    overdue_report("pothole", now - timedelta(days=9), status="closed")  # done: not listed
    overdue_report("pothole", now + timedelta(hours=5))  # not due yet
    light = overdue_report("streetlight", now - timedelta(days=3))
    overdue_report("graffiti", now + timedelta(days=2))  # Anti-Blight: nothing overdue

    result = site.test_cli_runner().invoke(args=["notify", "overdue"])
    assert result.exit_code == 0, result.output
    assert "Queued overdue emails for 2 departments" in result.output
    assert deliver_due() == 2
    assert smtp.mailbox.to(BLIGHT) == []
    [message] = smtp.mailbox.to(ROADS)
    assert message["Subject"].startswith("2 overdue reports for Roadway Maintenance, ")
    body = message.get_body(("plain",)).get_content()
    assert late_pothole.tracking_number in body and later_pothole.tracking_number in body
    assert body.index(late_pothole.tracking_number) < body.index(later_pothole.tracking_number)
    assert "Pothole" in body and "100 Main Street, Bridgeport, CT" in body
    assert "Overdue by 1 day" in body and "Overdue by 2 hours" in body
    assert f"/reports/{late_pothole.tracking_number}" in body
    assert light.tracking_number not in body
    [lights] = smtp.mailbox.to(LIGHTS)
    assert light.tracking_number in lights.get_body(("plain",)).get_content()
    rows = db.session.scalars(select(AuditLog).where(AuditLog.action == "overdue_email")).all()
    assert sorted(row.detail["recipient"] for row in rows) == [ROADS, LIGHTS]


def test_running_again_the_same_day_sends_nothing_more(site):
    overdue_report("pothole", utcnow() - timedelta(hours=5))
    first = send_overdue_emails()
    second = send_overdue_emails()
    assert (first.sent, second.sent, second.already_sent) == (1, 0, 1)
    assert len(outbox_to(ROADS)) == 1
    result = site.test_cli_runner().invoke(args=["notify", "overdue"])
    assert "Queued overdue emails for 0 departments; 1 already had today's" in result.output


def test_a_department_without_an_email_address_is_skipped(site):
    department = db.session.scalars(
        select(Department).where(Department.name == "Roadway Maintenance")
    ).one()
    department.email = ""
    db.session.commit()
    overdue_report("pothole", utcnow() - timedelta(hours=5))
    run = send_overdue_emails()
    assert (run.sent, run.no_address) == (0, 1)
    assert db.session.scalar(select(func.count(Outbox.id))) == 0


def test_once_a_day_holds_across_the_november_clock_change(site):
    # Due at 01:50 on the morning of 1 November 2026, just before 02:00 EDT becomes 01:00 EST.
    overdue_report("pothole", new_york(2026, 11, 1, 1, 50))
    sends = []
    for moment in (
        new_york(2026, 11, 1, 1, 55),  # first 01:55 (EDT): the day's email
        new_york(2026, 11, 1, 1, 55, 0, 1),  # the same wall-clock time again, now EST
        new_york(2026, 11, 1, 23, 30),  # late on the 25-hour day: still 1 November
        new_york(2026, 11, 2, 0, 5),  # just after midnight: a new day
        new_york(2026, 11, 2, 8, 0),
    ):
        sends.append(send_overdue_emails(now=moment).sent)
    assert sends == [1, 0, 0, 1, 0]
    days = db.session.scalars(
        select(AuditLog.detail).where(AuditLog.action == "overdue_email").order_by(AuditLog.id)
    ).all()
    assert [d["date"] for d in days] == ["2026-11-01", "2026-11-02"]


def test_once_a_day_holds_across_the_march_clock_change(site):
    # 8 March 2026 has 23 hours: 02:00 EST jumps to 03:00 EDT.
    overdue_report("pothole", new_york(2026, 3, 7, 12, 0))
    sends = [
        send_overdue_emails(now=moment).sent
        for moment in (
            new_york(2026, 3, 8, 0, 30),
            new_york(2026, 3, 8, 23, 30),
            new_york(2026, 3, 9, 0, 10),  # a fixed 24 hours from midnight EST would say 8 March
        )
    ]
    assert sends == [1, 0, 1]


def test_the_email_says_how_long_each_report_has_been_overdue(site, smtp):
    overdue_report("pothole", new_york(2026, 11, 1, 1, 50))
    send_overdue_emails(now=new_york(2026, 11, 1, 1, 50, 0, 1))  # an hour later, EST
    deliver_due()
    [message] = smtp.mailbox.to(ROADS)
    assert "November 1, 2026" in message["Subject"]
    assert "Overdue by 1 hour" in message.get_body(("plain",)).get_content()
