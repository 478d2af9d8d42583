"""The admin page for sending reports on (/staff/admin/open311, issue #23): a city system
added and tested, a category (or a department's default) routed, a resident's report sent
once by a job after commit, a refusal listed and retried, re-routing, the periodic sync,
and the key never shown again. Every page is used as a browser without JavaScript would."""

from __future__ import annotations

import re
from datetime import timedelta

import requests
from sqlalchemy import func, select

from bpt311 import effects
from bpt311.extensions import db
from bpt311.jobs import sweep, tasks
from bpt311.models import (
    AuditLog,
    Category,
    Open311Endpoint,
    OutboundRequest,
    Outbox,
    Report,
    utcnow,
)
from bpt311.outbound311 import sending, syncing
from bpt311.staff import assignment as staff_assignment
from tests.conftest import client_for, csrf_token_from, department
from tests.factories import CITY_HALL, make_user
from tests.test_open311_outbound import (
    FakeCity,
    _file_pothole,
    city_system,  # noqa: F401  (the fixture)
)

KEY = "city-system-key-0123456789-abcdef"


class Browser:
    """A test client that keeps every page it was given, to look for the key in all."""

    def __init__(self, app, user):
        self.client = client_for(app, user)
        self.pages: list[str] = []

    def get(self, path):
        response = self.client.get(path)
        self.pages.append(response.get_data(as_text=True))
        return response

    def post(self, path, data=None, follow=False):
        token = csrf_token_from(self.client, "/staff/admin")
        response = self.client.post(
            path, data={"csrf_token": token, **(data or {})}, follow_redirects=follow
        )
        self.pages.append(response.get_data(as_text=True))
        db.session.expire_all()  # the test's own session reads what the request changed
        return response


def _admin(app):
    return Browser(app, make_user("chief@example.org", role="admin"))


def _category(code: str) -> Category:
    return db.session.scalars(select(Category).where(Category.service_code == code)).one()


def _add_endpoint(browser, name: str, root: str, key: str = KEY) -> Open311Endpoint:
    added = browser.post(
        "/staff/admin/open311/endpoints/new",
        {"name": name, "root_url": root, "api_key": key, "jurisdiction": ""},
    )
    assert added.status_code == 303, added.get_data(as_text=True)[:2000]
    return db.session.scalars(select(Open311Endpoint).where(Open311Endpoint.name == name)).one()


def _resident_files_a_pothole(app) -> Report:
    resident = app.test_client()
    filed = resident.post(
        "/reports/new",
        data={
            "csrf_token": csrf_token_from(resident),
            "category": "pothole",
            "submission_key": "admin-outbound-key-0001",
            "description": "Pothole by the bus stop",
            "latitude": str(CITY_HALL[0]),
            "longitude": str(CITY_HALL[1]),
            "address": "45 Lyon Terrace",
            "answer_size": "large",
            "contact_email": "res@example.org",
            "not_duplicate": "y",
        },
        content_type="multipart/form-data",
    )
    assert filed.status_code in (302, 303), filed.get_data(as_text=True)[:500]
    return db.session.scalars(select(Report)).one()


def _rows() -> list[OutboundRequest]:
    db.session.expire_all()
    return list(db.session.scalars(select(OutboundRequest).order_by(OutboundRequest.id)))


def test_an_admin_connects_a_city_system_routes_a_category_and_a_report_goes_once(
    city,
    city_system,  # noqa: F811
):
    admin = _admin(city)
    home = admin.get("/staff/admin").get_data(as_text=True)
    assert 'href="/staff/admin/open311"' in home

    endpoint = _add_endpoint(admin, "Public Works", city_system["root"], city_system["key"])
    page = admin.get(f"/staff/admin/open311/endpoints/{endpoint.id}").get_data(as_text=True)
    assert "A key is set, ending in" in page and city_system["key"][-4:] in page

    tested = admin.post(f"/staff/admin/open311/endpoints/{endpoint.id}/test")
    assert tested.status_code == 200
    text = tested.get_data(as_text=True)
    assert "Connected: it offers" in text
    assert "<code>pothole</code>" in text and "Pothole" in text

    pothole = _category("pothole")
    form = admin.get(f"/staff/admin/open311/categories/{pothole.id}").get_data(as_text=True)
    assert 'name="attribute_size"' in form and 'name="method"' in form
    routed = admin.post(
        f"/staff/admin/open311/categories/{pothole.id}",
        {"method": "open311", "endpoint_id": str(endpoint.id), "attribute_size": ""},
    )
    assert routed.status_code == 303
    listing = admin.get("/staff/admin/open311").get_data(as_text=True)
    assert "To Public Works (Open311)" in listing

    started = []
    city.extensions[effects.STARTER] = lambda kind, row_id: started.append((kind, row_id))
    report = _resident_files_a_pothole(city)
    (row,) = _rows()
    assert ("open311", row.id) in started  # named for the job queue, after commit

    assert tasks.send_report_on(row.id) == "sent"  # the job a worker runs
    assert tasks.send_report_on(row.id) == "not due"  # never twice
    assert sweep.send_pending_reports() == 0
    (row,) = _rows()
    assert row.state == "sent" and row.remote_request_id
    there = requests.get(
        f"{city_system['root']}/requests/{row.remote_request_id}.json", timeout=5
    ).json()
    assert there[0]["description"] == "Pothole by the bus stop"

    inspector = admin.get(f"/staff/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Sent on to" in inspector and f"their request {row.remote_request_id}" in inspector
    for text in admin.pages:
        assert city_system["key"] not in text


def test_a_refused_send_is_listed_and_retried_once_the_system_accepts(city):
    admin = _admin(city)
    with FakeCity() as fake:
        endpoint = _add_endpoint(admin, "Works", fake.root)
        roadway = department("Roadway Maintenance")
        routed = admin.post(
            f"/staff/admin/open311/departments/{roadway.id}",
            {"method": "open311", "endpoint_id": str(endpoint.id)},
        )
        assert routed.status_code == 303  # the department's default: pothole follows it
        fake.script = [("refuse", "service_code pothole is not offered here")]
        report = _file_pothole()
        assert sending.send_pending_reports() == 0
        (row,) = _rows()
        assert row.state == "refused"

        listing = admin.get("/staff/admin/open311").get_data(as_text=True)
        assert report.tracking_number in listing
        assert "service_code pothole is not offered here" in listing
        retry_path = f"/staff/admin/open311/requests/{row.id}/retry"
        assert f'action="{retry_path}"' in listing

        assert admin.post(retry_path).status_code == 303
        again = admin.post(retry_path, follow=True).get_data(as_text=True)
        assert "no longer waiting for a retry" in again  # a second click changes nothing
        assert sending.send_pending_reports() == 1
        assert sending.send_pending_reports(now=utcnow() + timedelta(days=1)) == 0
        assert len(fake.received) == 2  # the refusal, then the one retry
        (row,) = _rows()
        assert row.state == "sent" and row.remote_request_id == "WO-2"
        assert fake.received[-1]["api_key"] == [KEY]
        retried = db.session.scalar(
            select(func.count(AuditLog.id)).where(AuditLog.action == "open311_request.retry")
        )
        assert retried == 1
        assert "service_code pothole is not offered here" not in admin.get(
            "/staff/admin/open311"
        ).get_data(as_text=True)
    for text in admin.pages:
        assert KEY not in text


def test_the_key_is_never_shown_nor_audited_and_an_empty_key_keeps_it(city):
    admin = _admin(city)
    endpoint = _add_endpoint(admin, "Works", "http://127.0.0.1:9/open311/v2")
    bad = admin.post(
        f"/staff/admin/open311/endpoints/{endpoint.id}",
        {"name": "Works", "root_url": "ftp://example.org/x", "api_key": "new-key-typed-here"},
    )
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "Error:" in text and "new-key-typed-here" not in text
    assert 'value="ftp://example.org/x"' in text  # what was typed is kept (not the key)
    kept = admin.post(
        f"/staff/admin/open311/endpoints/{endpoint.id}",
        {"name": "Roadworks", "root_url": "http://127.0.0.1:9/open311/v2", "api_key": ""},
    )
    assert kept.status_code == 303
    db.session.expire_all()
    endpoint = db.session.get(Open311Endpoint, endpoint.id)
    assert (endpoint.name, endpoint.api_key) == ("Roadworks", KEY)
    failed = admin.post(f"/staff/admin/open311/endpoints/{endpoint.id}/test")
    assert "The connection failed" in failed.get_data(as_text=True)
    details = [str(row.detail) for row in db.session.scalars(select(AuditLog))]
    assert details and not any(KEY in detail for detail in details)
    for text in admin.pages:
        assert KEY not in text


def test_only_admins_may_use_the_page_and_every_post_needs_its_token(city):
    admin = _admin(city)
    endpoint = _add_endpoint(admin, "Works", "http://127.0.0.1:9/open311/v2")
    pothole = _category("pothole")
    staff = client_for(
        city,
        make_user("crew@example.org", role="staff", department=department("Roadway Maintenance")),
    )
    paths = [
        "/staff/admin/open311",
        "/staff/admin/open311/endpoints/new",
        f"/staff/admin/open311/endpoints/{endpoint.id}",
        f"/staff/admin/open311/categories/{pothole.id}",
        f"/staff/admin/open311/departments/{pothole.department_id}",
    ]
    for path in paths:
        assert staff.get(path).status_code == 403, path
        assert city.test_client().get(path).status_code == 302, path  # to sign in
    token = csrf_token_from(staff)
    for path in [f"/staff/admin/open311/endpoints/{endpoint.id}/test", *paths[1:]]:
        assert staff.post(path, data={"csrf_token": token}).status_code == 403, path
        assert admin.client.post(path, data={}).status_code == 400, path  # no CSRF token


def test_the_admin_list_runs_the_same_queries_for_one_or_many_rows(city, count_queries):
    admin = _admin(city)

    def add(name: str, failures: int):
        endpoint = Open311Endpoint(name=name, root_url="http://127.0.0.1:9", api_key=KEY)
        db.session.add(endpoint)
        db.session.flush()
        for number in range(failures):
            report = _file_pothole(f"Pothole {name} {number}", email="")
            db.session.add(
                OutboundRequest(
                    report_id=report.id,
                    endpoint_id=endpoint.id,
                    state="dead",
                    attempts=8,
                    last_error="answered 500",
                )  # fmt: skip
            )
        db.session.commit()

    def queries() -> int:
        with count_queries() as counter:
            page = admin.get("/staff/admin/open311")
        assert page.status_code == 200
        return counter.count

    add("First", 1)
    few = queries()
    for number in range(4):
        add(f"More {number}", 3)
    assert queries() == few


def test_a_report_rerouted_to_a_routed_category_is_sent_on_once(city):
    with FakeCity() as fake:
        admin = _admin(city)
        endpoint = _add_endpoint(admin, "Lights", fake.root)
        light = _category("streetlight")
        admin.post(
            f"/staff/admin/open311/categories/{light.id}",
            {"method": "open311", "endpoint_id": str(endpoint.id), "remote_service_code": "SL-1",
             "attribute_problem": "issue"},
        )  # fmt: skip
        report = _file_pothole()
        assert _rows() == []  # potholes stay here
        actor = make_user("boss@example.org", role="admin")
        report = db.session.get(Report, report.id)
        staff_assignment.recategorise(report, actor, None, "streetlight")
        (row,) = _rows()
        assert sending.send_pending_reports() == 1
        assert fake.received[-1]["service_code"] == ["SL-1"]
        report = db.session.get(Report, report.id)
        staff_assignment.recategorise(report, actor, None, "pothole")
        staff_assignment.recategorise(db.session.get(Report, report.id), actor, None, "streetlight")
        assert len(_rows()) == 1  # back to the same system: not sent twice
        assert sending.send_pending_reports(now=utcnow() + timedelta(days=1)) == 0
        assert len(fake.received) == 1


def test_a_question_named_otherwise_there_is_sent_under_its_name(city):
    with FakeCity() as fake:
        admin = _admin(city)
        endpoint = _add_endpoint(admin, "Works", fake.root)
        pothole = _category("pothole")
        saved = admin.post(
            f"/staff/admin/open311/categories/{pothole.id}",
            {"method": "open311", "endpoint_id": str(endpoint.id), "attribute_size": "HOLE_SIZE"},
        )
        assert saved.status_code == 303
        _file_pothole()
        assert sending.send_pending_reports() == 1
        sent = fake.received[-1]
        assert sent["attribute[HOLE_SIZE]"] == ["large"] and "attribute[size]" not in sent


def test_open311_without_a_system_or_email_without_an_address_is_refused(city):
    admin = _admin(city)
    pothole = _category("pothole")
    missing = admin.post(
        f"/staff/admin/open311/categories/{pothole.id}", {"method": "open311", "endpoint_id": ""}
    )
    assert missing.status_code == 422
    assert "Choose the city system to send them to" in missing.get_data(as_text=True)
    roadway = department("Roadway Maintenance")
    roadway.email = ""
    db.session.commit()
    no_address = admin.post(f"/staff/admin/open311/departments/{roadway.id}", {"method": "email"})
    assert no_address.status_code == 422
    assert "has no email address" in no_address.get_data(as_text=True)


def test_a_category_routed_by_email_emails_its_department_each_new_report(city):
    admin = _admin(city)
    pothole = _category("pothole")
    saved = admin.post(f"/staff/admin/open311/categories/{pothole.id}", {"method": "email"})
    assert saved.status_code == 303
    report = _file_pothole()
    subjects = db.session.scalars(
        select(Outbox.subject).where(Outbox.recipient == "roadway@bridgeport.example")
    ).all()
    assert subjects == [f"New report {report.tracking_number}"]
    assert _rows() == []


def test_the_sweep_syncs_each_system_every_open311_sync_seconds(make_app):
    from bpt311.seed import load_city

    app = make_app(OPEN311_SYNC_SECONDS=300)
    with app.app_context(), FakeCity() as fake:
        load_city()
        admin = _admin(app)
        endpoint = _add_endpoint(admin, "Works", fake.root)
        admin.post(
            f"/staff/admin/open311/categories/{_category('pothole').id}",
            {"method": "open311", "endpoint_id": str(endpoint.id)},
        )
        report = _file_pothole()
        assert sending.send_pending_reports() == 1
        later = (utcnow() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        fake.remote["WO-1"] = {
            "service_request_id": "WO-1",
            "status": "closed",
            "updated_datetime": later,
            "status_notes": "Patched",
        }
        assert sweep.sync_city_systems() == 1
        assert sweep.sync_city_systems() == 0  # not due again for 300 s
        assert db.session.get(Report, report.id).status == "closed"
        app.config["OPEN311_SYNC_SECONDS"] = 0
        assert syncing.sync_due(now=utcnow() + timedelta(days=1)) == 0  # off


def test_admin_pages_work_in_spanish(city):
    admin = _admin(city)
    admin.client.set_cookie("lang", "es")
    page = admin.get("/staff/admin/open311").get_data(as_text=True)
    assert re.search(r'<html[^>]+lang="es"', page)
    assert "Sistemas" in page


def test_with_redis_a_worker_sends_the_report_once_after_commit(make_app, jobs_prefix):
    from bpt311.jobs import queue
    from bpt311.jobs.worker import make_worker
    from bpt311.seed import load_city
    from tests.conftest import JOBS_REDIS_URL

    app = make_app(REDIS_URL=JOBS_REDIS_URL, JOBS_PREFIX=jobs_prefix)
    with app.app_context(), FakeCity() as fake:
        load_city()
        admin = _admin(app)
        endpoint = _add_endpoint(admin, "Works", fake.root)
        admin.post(
            f"/staff/admin/open311/categories/{_category('pothole').id}",
            {"method": "open311", "endpoint_id": str(endpoint.id)},
        )
        _file_pothole(email="")
        (row,) = _rows()
        assert queue.get_queue("open311", app).count == 1  # queued once committed
        make_worker(app, simple=True, name=f"{jobs_prefix}-w").work(
            burst=True, logging_level="WARNING"
        )
        (row,) = _rows()
        assert row.state == "sent" and len(fake.received) == 1
        assert sending.send_pending_reports() == 0 and len(fake.received) == 1


def test_the_command_line_lists_a_department_default_set_on_the_page(city):
    admin = _admin(city)
    endpoint = _add_endpoint(admin, "Works", "http://127.0.0.1:9/open311/v2")
    roadway = department("Roadway Maintenance")
    admin.post(
        f"/staff/admin/open311/departments/{roadway.id}",
        {"method": "open311", "endpoint_id": str(endpoint.id)},
    )
    listed = city.test_cli_runner().invoke(args=["open311", "endpoints", "list"]).output
    assert "routed here: Roadway Maintenance (department default)" in listed
    assert KEY not in listed
