"""Sending reports on to the city's work-order system over Open311 (issue #23).

The city system is a second bpt311 process on loopback with its own SQLite database and an
API key we were given; its staff's moves are written straight into its database (it has
no staff API), then ``flask open311 sync`` brings them back. Faults come from a small
server in the test that answers 500, 400 with an error array, or too slowly.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import requests
from sqlalchemy import create_engine, func, insert, select

from bpt311.api import keys
from bpt311.extensions import db
from bpt311.jobs import sweep
from bpt311.models import OutboundRequest, Outbox, Report, TimelineEvent, utcnow
from bpt311.outbound311 import sending
from bpt311.reports.service import NewReport, submit_report
from tests.conftest import client_for, department
from tests.factories import CITY_HALL, make_user, report_form_data
from tests.second_site import running_bpt311

PROJECT = Path(__file__).resolve().parent.parent


# ---- the city's work-order system: a second bpt311 ---------------------------------------


@pytest.fixture(scope="module")
def city_system(tmp_path_factory):
    def fill():
        return keys.create_key("bpt311 (resident reports)").secret

    with running_bpt311(tmp_path_factory.mktemp("city-system"), fill) as (base, url, secret):
        yield {"root": f"{base}/open311/v2", "url": url, "key": secret}


def _cli(app, *args):
    result = app.test_cli_runner().invoke(args=["open311", *args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result.output


def _file_pothole(description="Deep pothole outside the café «corner»", email="res@example.org"):
    report = submit_report(
        NewReport(
            category_code="pothole",
            description=description,
            latitude=CITY_HALL[0],
            longitude=CITY_HALL[1],
            address="45 Lyon Terrace, Bridgeport, CT",
            answers={"size": "large"},
            contact_name="Ana Resident",
            contact_email=email,
            contact_phone="203-555-0100",
        )
    )
    db.session.commit()
    return report


def _public_steps(report_id: int) -> list[tuple[str, str, str]]:
    db.session.expire_all()
    events = db.session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.report_id == report_id, TimelineEvent.public_note != "")
        .order_by(TimelineEvent.id)
    ).all()
    return [(e.kind, e.actor_label, e.public_note) for e in events]


def test_a_report_goes_to_the_city_system_and_its_answers_come_back_once(city, city_system):
    root = city_system["root"]
    added = _cli(city, "endpoints", "add", "Public Works", "--url", root, "--api-key",
                 city_system["key"])  # fmt: skip
    assert "Added Public Works" in added
    assert "Public Works reports go" not in added
    routed = _cli(city, "route", "pothole", "--endpoint", "Public Works")
    assert "go to Public Works as service pothole" in routed
    offered = _cli(city, "test", "Public Works")
    assert "pothole: Pothole" in offered

    resident = city.test_client()  # a resident files it through the report form
    data = report_form_data(
        resident,
        description="Deep pothole outside the café «corner»",
        answer_size="large",
        contact_name="Ana Resident",
        contact_email="res@example.org",
        not_duplicate="y",
    )
    filed = resident.post("/reports/new", data=data, content_type="multipart/form-data")
    assert filed.status_code == 303, filed.get_data(as_text=True)[:500]
    report = db.session.scalars(select(Report)).one()
    assert db.session.scalar(select(func.count(OutboundRequest.id))) == 1
    assert sweep.send_pending_reports() == 1
    assert sweep.send_pending_reports() == 0  # never twice
    row = db.session.scalars(select(OutboundRequest)).one()
    assert row.state == "sent" and row.remote_request_id and row.sent_at is not None

    there = requests.get(f"{root}/requests/{row.remote_request_id}.json", timeout=5).json()[0]
    assert there["description"] == "Deep pothole outside the café «corner»"
    assert there["service_code"] == "pothole"
    listed = _cli(city, "endpoints", "list")
    assert "1 sent" in listed and city_system["key"] not in listed

    # staff there acknowledge, then close it (straight into its database)
    remote_id = int(row.remote_request_id.split("-")[-1])
    acknowledged, closed = row.sent_at + timedelta(seconds=2), row.sent_at + timedelta(seconds=3)
    engine = create_engine(city_system["url"])
    table, events = Report.__table__, TimelineEvent.__table__
    with engine.begin() as connection:
        connection.execute(
            table.update()
            .where(table.c.id == remote_id)
            .values(status="closed", acknowledged_at=acknowledged, closed_at=closed)
        )
        connection.execute(
            insert(events),
            [
                {
                    "report_id": remote_id,
                    "kind": "acknowledged",
                    "created_at": acknowledged,
                    "actor_label": "Roadway crew",
                    "public_note": "Crew scheduled for Tuesday",
                },
                {
                    "report_id": remote_id,
                    "kind": "closed",
                    "created_at": closed,
                    "actor_label": "Roadway crew",
                    "public_note": "Filled and rolled",
                },
            ],  # fmt: skip
        )
    engine.dispose()
    while utcnow() < closed + timedelta(seconds=1):
        time.sleep(0.2)

    assert "Public Works: 2 updates applied." in _cli(city, "sync")
    assert "Public Works: 0 updates applied." in _cli(city, "sync")  # nothing twice
    db.session.expire_all()
    report = db.session.get(Report, report.id)
    assert report.status == "closed" and report.acknowledged_at is not None
    assert _public_steps(report.id) == [
        ("acknowledged", "Public Works", "Crew scheduled for Tuesday"),
        ("closed", "Public Works", "Filled and rolled"),
    ]
    told = db.session.scalars(
        select(Outbox.subject).where(Outbox.recipient == "res@example.org").order_by(Outbox.id)
    ).all()
    assert len(told) == 3  # the receipt, then one email per move
    page = city.test_client().get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Filled and rolled" in page


# ---- faults: a small server that misbehaves on cue -------------------------------------------


class FakeCity:
    """GeoReport ``POST requests.json`` on loopback, answering from a script."""

    def __init__(self):
        self.script: list[tuple] = []
        self.received: list[dict] = []
        self.remote: dict[str, dict] = {}  # what GET requests.json says of each request
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                fake.received.append(parse_qs(self.rfile.read(length).decode()))
                action = fake.script.pop(0) if fake.script else ("ok",)
                if action[0] == "slow":
                    time.sleep(action[1])
                    action = ("ok",)
                if action[0] == "ok":
                    status, body = 201, [{"service_request_id": f"WO-{len(fake.received)}"}]
                elif action[0] == "token":
                    status, body = 201, [{"token": "T-1"}]
                elif action[0] == "refuse":
                    status, body = 400, [{"code": 400, "description": action[1]}]
                else:
                    status, body = 500, {"oops": True}
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the sender gave up waiting

            def do_GET(self):  # noqa: N802
                path, _, query = self.path.partition("?")
                if path.endswith("/tokens/T-1.json"):
                    status, body = 200, [{"service_request_id": "WO-9", "token": "T-1"}]
                elif path.endswith("/requests.json"):
                    wanted = parse_qs(query).get("service_request_id", [""])[0].split(",")
                    status, body = 200, [fake.remote[i] for i in wanted if i in fake.remote]
                else:  # no updates feed here
                    status, body = 404, [{"code": 404, "description": "not found"}]
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.root = f"http://127.0.0.1:{self.server.server_address[1]}/open311/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_city(make_app):
    from bpt311.seed import load_city

    app = make_app(OPEN311_READ_TIMEOUT=0.5, OPEN311_SEND_MAX_ATTEMPTS=3)
    with app.app_context(), FakeCity() as fake:
        load_city()
        _cli(app, "endpoints", "add", "works", "--url", fake.root, "--api-key", "k-123")
        _cli(app, "route", "pothole", "--endpoint", "works", "--service-code", "PH-01")
        yield app, fake


def _row() -> OutboundRequest:
    db.session.expire_all()
    return db.session.scalars(select(OutboundRequest)).one()


def test_a_server_error_is_retried_later_and_nothing_is_lost_or_sent_twice(fake_city):
    app, fake = fake_city
    fake.script = [("500",)]
    report = _file_pothole()
    assert sending.send_pending_reports() == 0
    row = _row()
    assert (row.state, row.attempts) == ("pending", 1) and "500" in row.last_error
    assert row.retry_at > utcnow()
    assert sending.send_pending_reports() == 0 and len(fake.received) == 1  # not due yet

    later = utcnow() + timedelta(hours=1)
    assert sending.send_pending_reports(now=later) == 1
    assert sending.send_pending_reports(now=later + timedelta(hours=1)) == 0
    assert len(fake.received) == 2
    row = _row()
    assert (row.state, row.remote_request_id) == ("sent", "WO-2")
    sent = fake.received[-1]
    assert sent["service_code"] == ["PH-01"] and sent["api_key"] == ["k-123"]
    assert sent["description"] == ["Deep pothole outside the café «corner»"]
    assert sent["attribute[size]"] == ["large"]
    assert sent["lat"] == [repr(CITY_HALL[0])] and "address_string" in sent
    # no private contact details go to the city system
    assert not {"email", "first_name", "last_name", "phone"} & set(sent)
    assert "res@example.org" not in json.dumps(sent) and "Ana" not in json.dumps(sent)
    notes = [e.internal_note for e in db.session.get(Report, report.id).events]
    assert "Sent to works (Open311) as WO-2." in notes


def test_a_refusal_flags_the_report_for_staff_with_the_city_systems_words(fake_city):
    app, fake = fake_city
    fake.script = [("refuse", "service_code PH-01 is not offered here")]
    report = _file_pothole()
    assert sending.send_pending_reports() == 0
    row = _row()
    assert (row.state, row.last_error) == ("refused", "service_code PH-01 is not offered here")
    assert sending.send_pending_reports(now=utcnow() + timedelta(days=1)) == 0
    assert len(fake.received) == 1
    assert "1 refused" in _cli(app, "endpoints", "list")
    staff = make_user(
        "crew@example.org", role="staff", department=department("Roadway Maintenance")
    )
    page = (
        client_for(app, staff)
        .get(f"/staff/reports/{report.tracking_number}")
        .get_data(as_text=True)
    )
    assert "works refused it: service_code PH-01 is not offered here" in page


def test_a_slow_city_system_is_waited_for_a_bounded_time_then_tried_again(fake_city):
    app, fake = fake_city
    fake.script = [("slow", 3)]
    _file_pothole()
    started = time.monotonic()
    assert sending.send_pending_reports() == 0
    assert time.monotonic() - started < 2.5  # the read timeout (0.5 s here), not the 3 s
    row = _row()
    assert row.state == "pending" and "Timeout" in row.last_error
    assert sending.send_pending_reports(now=utcnow() + timedelta(hours=1)) == 1
    assert _row().state == "sent"


def test_after_its_last_attempt_a_report_is_given_up_and_admins_see_it(fake_city):
    app, fake = fake_city
    fake.script = [("500",)] * 5
    report = _file_pothole()
    moment = utcnow()
    for hours in range(4):
        sending.send_pending_reports(now=moment + timedelta(days=hours))
    row = _row()
    assert (row.state, row.attempts) == ("dead", 3)
    assert len(fake.received) == 3
    assert "1 dead" in _cli(app, "endpoints", "list")
    notes = [e.internal_note for e in db.session.get(Report, report.id).events]
    assert any(note.startswith("Could not be sent to works after 3 attempts") for note in notes)


def test_a_category_routed_to_none_sends_nothing_and_bad_endpoints_are_refused(fake_city):
    app, fake = fake_city
    _cli(app, "route", "pothole", "--endpoint", "none")
    _file_pothole()
    assert db.session.scalar(select(func.count(OutboundRequest.id))) == 0
    runner = app.test_cli_runner()
    for args in (
        ["endpoints", "add", "works", "--url", fake.root, "--api-key", "x"],  # name taken
        ["endpoints", "add", "ftp", "--url", "ftp://127.0.0.1/x", "--api-key", "x"],
        ["route", "pothole", "--endpoint", "nowhere"],
        ["route", "no-such-code", "--endpoint", "works"],
    ):
        result = runner.invoke(args=["open311", *args])
        assert result.exit_code != 0, args


def test_a_token_is_resolved_and_without_an_updates_feed_request_states_are_read(fake_city):
    app, fake = fake_city
    fake.script = [("token",)]
    report = _file_pothole()
    assert sending.send_pending_reports() == 1
    assert (_row().remote_token, _row().remote_request_id) == ("T-1", "")
    later = (utcnow() + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fake.remote["WO-9"] = {
        "service_request_id": "WO-9",
        "status": "closed",
        "updated_datetime": later,
        "status_notes": "Patched by the night crew",
    }
    assert "works: 1 update applied." in _cli(app, "sync")
    assert "works: 0 updates applied." in _cli(app, "sync")
    assert _row().remote_request_id == "WO-9"
    assert db.session.get(Report, report.id).status == "closed"
    assert _public_steps(report.id) == [("closed", "works", "Patched by the night crew")]


def test_the_outbox_pass_sends_and_only_one_sender_can_claim_a_row(fake_city):
    from bpt311.jobs.loop import run_pass

    app, fake = fake_city
    _file_pothole()
    row_id, now = _row().id, utcnow()
    assert sending._claim(row_id, now) is True
    assert sending._claim(row_id, now) is False  # a second sender finds it taken
    db.session.execute(OutboundRequest.__table__.update().values(lease_until=None, attempts=0))
    db.session.commit()
    assert run_pass().swept >= 1  # `flask notify run` and the dev loop send through the sweep
    assert _row().state == "sent" and len(fake.received) == 1


def test_a_failing_city_system_holds_the_pass_for_one_attempt_not_one_per_report(fake_city):
    app, fake = fake_city
    fake.script = [("500",)]
    _file_pothole("First pothole")
    _file_pothole("Second pothole")
    assert sending.send_pending_reports() == 0
    assert len(fake.received) == 1  # the second waits for the next pass, untouched
    db.session.expire_all()
    attempts = db.session.scalars(select(OutboundRequest.attempts).order_by(OutboundRequest.id))
    assert list(attempts) == [1, 0]
    assert sending.send_pending_reports(now=utcnow() + timedelta(hours=1)) == 2
