"""The job queue (RQ on a real Redis): photos' copies and emails done by a worker, with
retries, backoff and dead letters for admins; nothing lost or done twice when Redis or
the object store is down, or a worker dies mid-job."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry
from sqlalchemy import select

from bpt311 import storage
from bpt311.extensions import db
from bpt311.jobs import queue, tasks
from bpt311.jobs.worker import make_worker
from bpt311.models import AuditLog, Media, Outbox, Report, utcnow
from bpt311.notify import claim, deliver_due
from tests.conftest import JOBS_REDIS_URL as REDIS_URL
from tests.conftest import client_for, csrf_token_from, free_port
from tests.factories import make_user
from tests.smtp import SMTPServer
from tests.test_reporting import form_data, jpeg, post

INTERVALS = (5, 30, 120, 600, 1800)
PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def job_app(make_app, jobs_prefix, smtp):
    app = make_app(
        REDIS_URL=REDIS_URL,
        JOBS_PREFIX=jobs_prefix,
        JOBS_RETRY_INTERVALS=INTERVALS,
        **smtp.settings,
    )
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app


def run_worker(app) -> None:
    """A real RQ worker, in this process, until the queues are empty."""
    make_worker(app, simple=True, name=worker_name(app)).work(burst=True, logging_level="WARNING")


def worker_name(app) -> str:
    return f"{app.config['JOBS_PREFIX']}-{uuid.uuid4().hex[:8]}"  # deleted with the prefix


def release_retries(app, after_seconds: float) -> list[float]:
    """Act as the scheduler would ``after_seconds`` from now: jobs waiting for their retry
    go back on their queue. Returns how long each one was set to wait."""
    waits = []
    for kind in queue.KINDS:
        q = queue.get_queue(kind, app)
        registry = ScheduledJobRegistry(queue=q)
        now = time.time()
        for job_id in registry.get_jobs_to_schedule(int(now + after_seconds)):
            waits.append(registry.get_scheduled_time(job_id).timestamp() - now)
            registry.remove(job_id)
            q.enqueue_job(Job.fetch(job_id, connection=q.connection))
    return waits


def dead_ids(app) -> list[str]:
    found = []
    for kind in queue.KINDS:
        found += FailedJobRegistry(queue=queue.get_queue(kind, app)).get_job_ids()
    return found


def send_report(client, **fields) -> Report:
    data = form_data(client, photos=[jpeg(size=(1200, 900))], **fields)
    assert post(client, data).status_code == 303
    return db.session.scalars(select(Report)).one()


def photo() -> Media:
    db.session.expire_all()
    return db.session.scalars(select(Media)).one()


def variant_paths(app, media) -> list[Path]:
    return [Path(app.config["MEDIA_ROOT"]) / name for name in storage.variant_files(media)]


def test_photo_shows_processing_at_once_then_the_worker_makes_its_copies(job_app, smtp):
    client = job_app.test_client()
    report = send_report(client, contact_email="maria@example.org")
    media = photo()
    # The upload answered at once: the photo and thumbnail are there, the copies are not.
    assert media.processing_state == "processing" and not media.variants
    assert client.get(f"/media/{media.file_name}").status_code == 200
    assert client.get(f"/media/{media.thumb_name}").status_code == 200
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Photo processing…" in page
    link = re.search(r'<a href="([^"]+)" hx-get="([^"]+)" hx-trigger="every 4s"', page)
    assert link and link.group(1).endswith("#report-photos")  # a plain link without htmx
    assert link.group(2) == f"/reports/{report.tracking_number}/photos"
    assert queue.get_queue("media", job_app).count == 1
    assert queue.get_queue("email", job_app).count == 1
    # Still processing: the partial keeps polling and announces nothing.
    polled = client.get(link.group(2), headers={"HX-Request": "true"})
    assert "HX-Request" in polled.headers["Vary"]
    body = polled.get_data(as_text=True)
    assert body.startswith("<section") and "hx-trigger" in body and "data-announce" not in body

    run_worker(job_app)

    media = photo()
    assert media.processing_state == "ready" and media.variants
    assert all(path.is_file() for path in variant_paths(job_app, media))
    assert len(smtp.mailbox.to("maria@example.org")) == 1
    assert db.session.scalars(select(Outbox.status)).all() == ["sent"]
    polled = client.get(link.group(2), headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-announce="The photos are ready."' in polled and "hx-trigger" not in polled
    assert "image/avif" in polled or "image/webp" in polled  # the copies are in the srcset
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Photo processing…" not in page
    # Without htmx the partial's address leads back to the page.
    plain = client.get(link.group(2))
    assert plain.status_code == 303 and plain.headers["Location"].endswith("#report-photos")


def test_without_redis_url_copies_are_made_at_upload_as_before(make_app):
    app = make_app()
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        client = app.test_client()
        report = send_report(client)
        media = photo()
        assert media.processing_state == "ready" and media.variants
        page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
        assert "Photo processing…" not in page and "hx-trigger" not in page
        admin = client_for(app, make_user("admin@example.org", role="admin"))
        assert "No job queue is set up" in admin.get("/staff/admin/jobs").get_data(as_text=True)


def test_object_store_down_keeps_the_report_retries_with_backoff_then_dead_letters(
    job_app, monkeypatch
):
    client = job_app.test_client()
    report = send_report(client)

    def store_down(name, data):
        raise storage.StorageUnavailable("the object store did not answer")

    monkeypatch.setattr(storage, "write_bytes", store_down)  # fault injection only
    run_worker(job_app)
    waits = []
    for _ in INTERVALS:
        [wait] = release_retries(job_app, after_seconds=3600)
        waits.append(wait)
        run_worker(job_app)
    # Five retries, each after its own wait: measured from now, so a busy machine's delay
    # since the failure (and the scheduler's whole seconds) can only shorten it a little.
    assert all(
        -3 <= wait - interval <= 1.5 for wait, interval in zip(waits, INTERVALS, strict=True)
    ), waits
    assert release_retries(job_app, after_seconds=10**6) == []
    [dead] = dead_ids(job_app)
    assert dead == queue.job_id("media", photo().id, job_app)
    # The report is kept and its photo shown; it just has no copies.
    assert photo().processing_state == "failed"
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert photo().thumb_name in page and "Photo processing…" not in page

    # The admin sees it, with what it was about and why it failed.
    admin = client_for(job_app, make_user("admin@example.org", role="admin"))
    listing = admin.get("/staff/admin/jobs").get_data(as_text=True)
    assert dead in listing and "StorageUnavailable" in listing
    assert "Copies of photo" in listing and report.tracking_number in listing

    # The store is back: Retry puts the job on its queue, audited; the worker finishes it.
    monkeypatch.undo()
    token = re.search(r'name="csrf_token" value="([^"]+)"', listing).group(1)
    answer = admin.post("/staff/admin/jobs/retry", data={"csrf_token": token, "job_id": dead})
    assert answer.status_code == 303
    assert dead_ids(job_app) == [] and queue.get_queue("media", job_app).count == 1
    assert photo().processing_state == "processing"
    [audit] = db.session.scalars(select(AuditLog).where(AuditLog.action == "job.retry")).all()
    assert audit.detail["job"] == dead
    run_worker(job_app)
    assert photo().processing_state == "ready"
    assert all(path.is_file() for path in variant_paths(job_app, photo()))


def test_dead_email_job_can_be_discarded_and_the_outbox_still_delivers_it(make_app, jobs_prefix):
    port = free_port()  # nobody listens: every attempt fails
    app = make_app(
        REDIS_URL=REDIS_URL,
        JOBS_PREFIX=jobs_prefix,
        JOBS_RETRY_INTERVALS=(0, 0),
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=port,
    )
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        client = app.test_client()
        assert post(client, form_data(client, contact_email="ana@example.org")).status_code == 303
        run_worker(app)  # the first try and both immediate retries fail
        [dead] = dead_ids(app)
        assert dead.startswith(f"{jobs_prefix}-email-")
        row = db.session.scalars(select(Outbox)).one()
        assert row.status == "pending" and row.attempts == 3

        admin = client_for(app, make_user("admin@example.org", role="admin"))
        listing = admin.get("/staff/admin/jobs").get_data(as_text=True)
        assert "ana@example.org" in listing and "ConnectionRefusedError" in listing
        token = re.search(r'name="csrf_token" value="([^"]+)"', listing).group(1)
        # A POST without the CSRF token is refused; with it the job goes, audited.
        assert admin.post("/staff/admin/jobs/discard", data={"job_id": dead}).status_code == 400
        assert dead_ids(app) == [dead]
        answer = admin.post("/staff/admin/jobs/discard", data={"csrf_token": token, "job_id": dead})
        assert answer.status_code == 303 and dead_ids(app) == []
        assert not Job.exists(dead, connection=queue.connection(app))
        assert "No failed jobs." in admin.get("/staff/admin/jobs").get_data(as_text=True)
        assert db.session.scalars(select(AuditLog.action)).all() == ["job.discard"]
        # Discarding a job loses no email: the outbox sweep sends it once the server is up.
        with SMTPServer(port=port) as server:
            assert deliver_due(now=utcnow() + timedelta(hours=1)) == 1
            assert len(server.mailbox.to("ana@example.org")) == 1


@pytest.mark.parametrize("role", ["guest", "resident", "staff"])
def test_only_admins_see_or_act_on_the_job_queue(job_app, role):
    user = None if role == "guest" else make_user(f"{role}@example.org", role=role)
    if role == "staff":
        from tests.conftest import department

        user.department = department("Roadway Maintenance")
        db.session.commit()
    client = client_for(job_app, user)
    expected = 302 if role == "guest" else 403
    assert client.get("/staff/admin/jobs").status_code == expected
    token = csrf_token_from(client)
    for action in ("retry", "discard"):
        answer = client.post(
            f"/staff/admin/jobs/{action}", data={"csrf_token": token, "job_id": "x"}
        )
        assert answer.status_code == expected


def test_redis_down_the_site_takes_reports_and_the_sweeps_catch_up(make_app, smtp, caplog):
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0", **smtp.settings)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        client = app.test_client()
        report = send_report(client, contact_email="maria@example.org")
        assert "Job queue unreachable" in caplog.text
        assert photo().processing_state == "processing"
        page = client.get(f"/reports/{report.tracking_number}")
        assert page.status_code == 200 and "Photo processing…" in page.get_data(as_text=True)
        admin = client_for(app, make_user("admin@example.org", role="admin"))
        listing = admin.get("/staff/admin/jobs")
        assert listing.status_code == 200 and "not answering" in listing.get_data(as_text=True)
        assert app.test_client().get("/metrics").status_code == 200
        # `flask notify run`: emails are delivered, and the photo swept and made here.
        runner = app.test_cli_runner()
        assert runner.invoke(args=["notify", "run", "--once"]).exit_code == 0
        assert len(smtp.mailbox.to("maria@example.org")) == 1
        result = runner.invoke(args=["jobs", "sweep", "--older-than", "0"])
        assert result.exit_code == 0 and "Swept 1 photo." in result.output
        assert photo().processing_state == "ready" and photo().variants


def test_a_job_runs_again_after_its_worker_died_and_its_effect_happens_once(job_app, smtp):
    client = job_app.test_client()
    send_report(client, contact_email="maria@example.org")
    row_id = db.session.scalars(select(Outbox.id)).one()
    media_id = photo().id
    # A worker takes the email job and dies mid-send: RQ lists the job as started, and
    # the outbox row is claimed by that worker.
    worker = make_worker(job_app, simple=True, name=worker_name(job_app))
    worker.bootstrap()
    job, q = worker.dequeue_job_and_maintain_ttl(timeout=1)
    assert job.id == queue.job_id("email", row_id, job_app)
    worker.prepare_execution(job)
    worker.prepare_job_execution(job)
    assert claim(row_id, "the-dead-worker", utcnow())
    started = StartedJobRegistry(queue=q)
    assert job.id in started
    # RQ's maintenance finds the job abandoned and gives it its retry.
    started.cleanup(timestamp=time.time() + 10**6)
    assert job.id not in started
    assert release_retries(job_app, after_seconds=3600)
    run_worker(job_app)  # the email job and the photo job
    # The lease of the dead worker runs out; the outbox sends the email, once.
    deliver_due(now=utcnow() + timedelta(minutes=10))
    assert len(smtp.mailbox.to("maria@example.org")) == 1
    # Running both jobs again changes nothing: no second email, no second set of copies.
    media = photo()
    copies = {path: path.stat().st_ino for path in variant_paths(job_app, media)}
    folder = Path(job_app.config["MEDIA_ROOT"]) / "v"
    before = sorted(folder.iterdir())
    assert tasks.deliver_email(row_id) == "sent already"
    db.session.execute(Media.__table__.update().values(processing_state="processing"))
    db.session.commit()  # as if the worker died after writing the copies, before the row
    assert tasks.make_photo_copies(media_id) == "made"
    assert tasks.make_photo_copies(media_id) == "ready already"
    assert sorted(folder.iterdir()) == before and all(path.exists() for path in copies)
    assert len(smtp.mailbox.messages) == 1
    assert db.session.scalars(select(Outbox.status)).all() == ["sent"]


def test_metrics_show_each_queue_and_the_dead_letters(job_app):
    client = job_app.test_client()
    send_report(client, contact_email="maria@example.org")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'bpt311_queue_depth{queue="media"} 1.0' in text
    assert 'bpt311_queue_depth{queue="email"} 1.0' in text
    assert 'bpt311_queue_depth{queue="dead_letter"} 0.0' in text
    run_worker(job_app)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'bpt311_queue_depth{queue="media"} 0.0' in text


def test_flask_jobs_worker_command_runs_the_queue(job_app, database_url, smtp, tmp_path):
    client = job_app.test_client()
    send_report(client, contact_email="maria@example.org")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "REDIS_URL": REDIS_URL,
        "MEDIA_ROOT": job_app.config["MEDIA_ROOT"],
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(smtp.port),
        "BPT311_DEMO": "0",
        "JOBS_PREFIX": job_app.config["JOBS_PREFIX"],
    }
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "jobs", "worker", "--burst"]
        + ["--name", worker_name(job_app)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert photo().processing_state == "ready"
    assert len(smtp.mailbox.to("maria@example.org")) == 1


def test_after_a_failed_enqueue_redis_is_left_alone_for_a_while(make_app, monkeypatch, caplog):
    """A request that enqueues just after Redis failed does not wait out its timeouts
    again; once the pause is over, the next enqueue asks Redis."""
    app = make_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    asked = []
    real_get_queue = queue.get_queue

    def counted_get_queue(*args, **kwargs):
        asked.append(1)
        return real_get_queue(*args, **kwargs)

    monkeypatch.setattr(queue, "get_queue", counted_get_queue)
    with app.app_context():
        assert queue.enqueue("email", 1) is False
        assert "Job queue unreachable" in caplog.text and len(asked) == 1
        assert queue.enqueue("email", 2) is False
        assert len(asked) == 1  # not asked: it failed moments ago
        queue.breaker(app).reset_timeout = 0  # the pause is over
        assert queue.enqueue("email", 3) is False
        assert len(asked) == 2
