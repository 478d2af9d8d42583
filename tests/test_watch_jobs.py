"""Watch-area matching as a job (RQ on a real Redis): with a queue the request only
records the event; the worker finds and tells the watchers, once, as the request did
without one (their language, never the person who acted, one email per change), and the
sweep does it here when Redis is down."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from bpt311.community import changes, comments, following
from bpt311.extensions import db
from bpt311.jobs import queue, tasks
from bpt311.models import Notice, Report, WatchEvent
from bpt311.reports.service import NewReport, submit_report
from tests.conftest import JOBS_REDIS_URL as REDIS_URL
from tests.conftest import client_for, free_port
from tests.factories import CITY_HALL, make_report, make_user
from tests.test_jobs import run_worker
from tests.test_reporting import form_data, post
from tests.test_watch_support import circle_area, count, notices_of, outbox_to


def city(app):
    from bpt311.seed import load_city

    load_city()
    return app


@pytest.fixture
def job_app(make_app, jobs_prefix, smtp):
    app = make_app(REDIS_URL=REDIS_URL, JOBS_PREFIX=jobs_prefix, **smtp.settings)
    with app.app_context():
        yield city(app)


def the_event() -> WatchEvent:
    db.session.expire_all()
    return db.session.scalars(select(WatchEvent)).one()


def new_report(reporter) -> Report:
    return submit_report(
        NewReport(
            category_code="pothole",
            description="A deep pothole by the steps.",
            latitude=CITY_HALL[0],
            longitude=CITY_HALL[1],
            address="45 Lyon Terrace",
            answers={"size": "small"},
        ),
        reporter=reporter,
    )


def test_the_report_is_taken_before_anyone_is_told_then_the_worker_tells_them_once(job_app, smtp):
    maria = make_user("maria@example.org")
    circle_area(maria, name="Around home")
    client = job_app.test_client()
    assert post(client, form_data(client)).status_code == 303
    # The request answered without matching: the event waits for its job, nobody is told.
    event = the_event()
    assert event.fanned_out_at is None and event.headline == "New report: Pothole"
    assert count(Notice) == 0 and outbox_to("maria@example.org") == []
    assert queue.get_queue("watch", job_app).count == 1

    run_worker(job_app)  # the watch job, then the email job it queued

    [notice] = notices_of(maria)
    assert notice.delivery == "email" and notice.emailed_at is not None
    [message] = smtp.mailbox.to("maria@example.org")
    assert message["Subject"].startswith("Around home: New report: Pothole")
    assert message["List-Unsubscribe"].startswith("<http://bpt311.test/watch/unsubscribe/")
    event = the_event()
    assert event.fanned_out_at is not None and event.already_told is None

    # Running the job again changes nothing, even when its event looks untold (as after
    # a worker that died between telling and marking): no second notice, no second email.
    assert tasks.fan_out_watch_event(event.id) == "told already"
    db.session.execute(update(WatchEvent).values(fanned_out_at=None))
    db.session.commit()
    assert tasks.fan_out_watch_event(event.id) == "0 told"
    run_worker(job_app)
    assert len(notices_of(maria)) == 1 and len(outbox_to("maria@example.org")) == 1
    assert len(smtp.mailbox.messages) == 1
    assert the_event().fanned_out_at is not None


def test_with_redis_down_the_sweep_tells_the_watchers_here(make_app, smtp, caplog):
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", **smtp.settings)
    with app.app_context():
        city(app)
        maria = make_user("maria@example.org")
        circle_area(maria)
        new_report(make_user("luis@example.org"))
        assert "Job queue unreachable" in caplog.text
        assert the_event().fanned_out_at is None and count(Notice) == 0
        runner = app.test_cli_runner()
        # Too young for the sweep: its job may still come.
        assert "watch-area" not in runner.invoke(args=["jobs", "sweep"]).output
        assert count(Notice) == 0
        result = runner.invoke(args=["jobs", "sweep", "--older-than", "0"])
        assert result.exit_code == 0 and "Swept 1 watch-area event." in result.output
        assert len(notices_of(maria)) == 1
        assert runner.invoke(args=["notify", "run", "--once"]).exit_code == 0
        assert len(smtp.mailbox.to("maria@example.org")) == 1
        # Swept again: told already, so nothing more.
        assert "watch-area" not in runner.invoke(args=["jobs", "sweep", "--older-than", "0"]).output
        assert len(notices_of(maria)) == 1 and len(outbox_to("maria@example.org")) == 1


def test_the_job_writes_in_each_watchers_language(job_app, smtp):
    joao = make_user("joao@example.org", locale="pt")
    circle_area(joao, name="Minha rua")
    reporter = make_user("reporter@example.org")
    report = make_report(reporter=reporter)  # factories commit without announcing
    changes.close_by_reporter(report, reporter, "Tapado hoje de manhã.")
    assert outbox_to("joao@example.org") == []
    run_worker(job_app)
    [row] = outbox_to("joao@example.org")
    assert row.subject.startswith("Minha rua: ") and "relato fechado" in row.subject
    assert " em " in row.subject and " at " not in row.subject
    assert "Na sua área de alertas “Minha rua”" in row.body_text
    assert "Tapado hoje de manhã." in row.body_text
    assert len(smtp.mailbox.to("joao@example.org")) == 1


def test_the_person_who_acted_is_still_not_told(job_app):
    watcher, reporter = make_user("watcher@example.org"), make_user("reporter@example.org")
    circle_area(watcher, radius=500)
    circle_area(reporter, radius=500)
    report = new_report(reporter)
    assert the_event().actor_id == reporter.id
    run_worker(job_app)
    [email] = outbox_to("watcher@example.org")
    assert email.report_id == report.id and "New report: Pothole" in email.subject
    assert notices_of(reporter) == [] and outbox_to("reporter@example.org") == []
    assert the_event().actor_id is None  # not kept once it was used


def test_a_follower_of_the_report_who_also_watches_the_area_gets_one_email(job_app):
    maria, luis = make_user("maria@example.org"), make_user("luis@example.org")
    circle_area(maria)
    circle_area(luis)
    report = make_report()
    following.set_follow(report, maria, True)
    comments.add_comment(report, luis, "It got bigger overnight.")
    # The request emailed her as a follower of the report, and remembered it.
    assert len(outbox_to("maria@example.org")) == 1
    assert the_event().already_told["emails"] == ["maria@example.org"]
    run_worker(job_app)
    assert len(outbox_to("maria@example.org")) == 1
    [notice] = notices_of(maria)  # still listed on the site
    assert notice.emailed_at is None and notice.event.kind == "comment"
    assert notices_of(luis) == []  # he wrote the comment


def test_an_event_nobody_watches_is_not_kept(job_app):
    circle_area(make_user("far@example.org"), lat=CITY_HALL[0] + 0.02)
    new_report(make_user("reporter@example.org"))
    assert count(WatchEvent) == 1
    run_worker(job_app)
    db.session.expire_all()
    assert count(WatchEvent) == 0 and count(Notice) == 0
    assert outbox_to("far@example.org") == []


def test_without_redis_url_watchers_are_told_in_the_request(make_app):
    app = make_app()
    with app.app_context():
        city(app)
        maria = make_user("maria@example.org")
        circle_area(maria)
        new_report(make_user("luis@example.org"))
        assert len(notices_of(maria)) == 1 and len(outbox_to("maria@example.org")) == 1
        event = the_event()
        assert event.fanned_out_at is not None and event.already_told is None


def test_a_watch_job_that_keeps_failing_waits_in_the_dead_letters_for_a_retry(
    make_app, jobs_prefix, smtp, monkeypatch
):
    from bpt311.watchers import events

    app = make_app(
        REDIS_URL=REDIS_URL, JOBS_PREFIX=jobs_prefix, JOBS_RETRY_INTERVALS=(0,), **smtp.settings
    )
    with app.app_context():
        city(app)
        maria = make_user("maria@example.org")
        circle_area(maria)

        def database_trouble(*args, **kwargs):
            raise RuntimeError("the matching query failed")

        monkeypatch.setattr(events, "watchers_of", database_trouble)  # fault injection only
        report = new_report(make_user("luis@example.org"))
        run_worker(app)  # the first try and its immediate retry fail
        event = the_event()
        assert event.fanned_out_at is None and notices_of(maria) == []
        admin = client_for(app, make_user("admin@example.org", role="admin"))
        listing = admin.get("/staff/admin/jobs").get_data(as_text=True)
        dead = queue.job_id("watch", event.id, app)
        assert dead in listing and "the matching query failed" in listing
        assert f"Watch-area notices of event {event.id} (New report: Pothole)" in listing
        assert report.tracking_number in listing

        monkeypatch.undo()
        token = re.search(r'name="csrf_token" value="([^"]+)"', listing).group(1)
        answer = admin.post("/staff/admin/jobs/retry", data={"csrf_token": token, "job_id": dead})
        assert answer.status_code == 303
        run_worker(app)
        assert len(notices_of(maria)) == 1 and len(smtp.mailbox.to("maria@example.org")) == 1
        assert "No failed jobs." in admin.get("/staff/admin/jobs").get_data(as_text=True)
