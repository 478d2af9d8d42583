"""The back office: the queue, the inspector's actions, intake and saved replies."""

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import (
    AuditLog,
    Follow,
    Report,
    ResponseTemplate,
    SavedFilter,
    Vote,
    utcnow,
)
from bpt311.notify import deliver_due
from tests.conftest import HTMX, client_for, csrf_token_from, department
from tests.conftest import post_form as post
from tests.factories import make_report, make_user


@pytest.fixture
def colleague(roads_department):
    return make_user(
        "crew@bridgeport.example",
        role="staff",
        department=roads_department,
        display_name="Sam Crew",
    )


@pytest.fixture
def parks_clerk(site):
    return make_user(
        "parks@bridgeport.example", role="staff", department=department("Parks and Recreation")
    )


def act(client, report, action, data=None, headers=None, version=None):
    number = report.tracking_number
    fresh = db.session.get(Report, report.id)
    db.session.refresh(fresh)
    payload = {"version": str(version if version is not None else fresh.version), **(data or {})}
    return post(client, f"/staff/reports/{number}/{action}", payload, headers=headers)


def fresh(report):
    db.session.expire_all()
    return db.session.get(Report, report.id)


def audit_actions(report):
    return [
        row.action
        for row in db.session.scalars(
            select(AuditLog).where(AuditLog.report_id == report.id).order_by(AuditLog.id)
        )
    ]


# ---- who may enter ---------------------------------------------------------------------------

STAFF_PAGES = ["/staff", "/staff/intake", "/staff/reports/BPT-000001"]


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_guests_are_sent_to_sign_in_and_residents_refused(site, path):
    make_report()
    response = client_for(site).get(path)
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]
    resident = make_user("resident@example.org")
    assert client_for(site, resident).get(path).status_code == 403


@pytest.mark.parametrize(
    "action", ["status", "assign", "department", "due", "category", "duplicate", "details"]
)
def test_every_action_refuses_residents_and_other_departments(site, parks_clerk, action):
    report = make_report()
    resident = make_user("resident@example.org")
    assert act(client_for(site, resident), report, action).status_code == 403
    assert act(client_for(site, parks_clerk), report, action).status_code == 403
    assert (
        client_for(site, parks_clerk).get(f"/staff/reports/{report.tracking_number}").status_code
        == 403
    )


def test_admin_pages_refuse_staff(site, clerk):
    assert client_for(site, clerk).get("/staff/templates").status_code == 403


# ---- the queue -------------------------------------------------------------------------------


def test_queue_shows_my_departments_open_reports_with_counts(site, clerk):
    mine = make_report("pothole")
    overdue = make_report("pothole", created_at=utcnow() - timedelta(days=5))
    closed = make_report("pothole", status="closed", closed_at=utcnow())
    other = make_report("fallen_tree")
    page = client_for(site, clerk).get("/staff").get_data(as_text=True)
    assert mine.tracking_number in page and overdue.tracking_number in page
    assert closed.tracking_number not in page and other.tracking_number not in page
    assert "<strong>2</strong> new (open)" in page and "<strong>1</strong> overdue" in page
    assert "Overdue by 2 days" in page


def test_admins_see_every_department(site, admin):
    tree = make_report("fallen_tree")
    assert tree.tracking_number in client_for(site, admin).get("/staff").get_data(as_text=True)


def test_queue_filters_by_assignee_overdue_and_source(site, clerk):
    assigned = make_report(assignee_id=clerk.id)
    late = make_report(created_at=utcnow() - timedelta(days=10))
    by_api = make_report(source="api")
    client = client_for(site, clerk)
    page = client.get("/staff?assignee=me").get_data(as_text=True)
    assert assigned.tracking_number in page and late.tracking_number not in page
    page = client.get("/staff?overdue=y").get_data(as_text=True)
    assert late.tracking_number in page and by_api.tracking_number not in page
    page = client.get("/staff?source=api").get_data(as_text=True)
    assert by_api.tracking_number in page and assigned.tracking_number not in page


def test_queue_through_htmx_returns_only_the_results(site, clerk):
    make_report()
    response = client_for(site, clerk).get("/staff?sort=votes", headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert '<section id="results"' in fragment and "<html" not in fragment
    assert "HX-Request" in response.headers["Vary"]


def chip_links(page: str) -> dict[str, str]:
    """The queue's chips: what each says, and where it leads (the queue without it)."""
    found = re.findall(r'<a class="chip" href="([^"]*)">(.*?)</a>', page, re.S)
    return {re.sub(r"<[^>]+>|×|Remove the filter", "", text).strip(): href for href, text in found}


def test_the_queue_folds_its_filters_and_shows_the_chosen_ones_as_chips(site, clerk):
    late = make_report("pothole", created_at=utcnow() - timedelta(days=10))
    client = client_for(site, clerk)
    plain = client.get("/staff").get_data(as_text=True)
    assert '<details class="filters-panel">' in plain and "<summary>Filters</summary>" in plain
    assert chip_links(plain) == {}

    page = client.get("/staff?category=pothole&overdue=y&status=open&q=deep").get_data(as_text=True)
    assert '<details class="filters-panel">' in page  # still folded: the chips say it all
    chips = chip_links(page)
    assert set(chips) == {
        "Kind of problem: Pothole",
        "Only overdue reports",
        "Status: Open",
        "Words: “deep”",
    }
    assert chips["Only overdue reports"] == "/staff/?category=pothole&amp;status=open&amp;q=deep"
    assert chips["Status: Open"] == "/staff/?category=pothole&amp;overdue=y&amp;q=deep"
    dropped = client.get(chips["Words: “deep”"].replace("&amp;", "&")).get_data(as_text=True)
    assert late.tracking_number in dropped and "Words:" not in dropped
    assert set(chip_links(dropped)) == {
        "Kind of problem: Pothole",
        "Only overdue reports",
        "Status: Open",
    }
    # What the folded form sends on its own (the default statuses and sort) is no chip.
    sent = client.get("/staff?q=&category=&sort=newest&status=open&status=acknowledged")
    assert chip_links(sent.get_data(as_text=True)) == {}


def test_a_chip_shows_what_was_typed_as_text(site, clerk):
    page = client_for(site, clerk).get("/staff?q=<b>loud</b>").get_data(as_text=True)
    assert "Words: “&lt;b&gt;loud&lt;/b&gt;”" in page and "<b>loud</b>" not in page


def test_the_queue_chips_come_with_the_htmx_results(site, clerk):
    make_report("pothole")
    response = client_for(site, clerk).get("/staff?category=pothole", headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert "<html" not in fragment and set(chip_links(fragment)) == {"Kind of problem: Pothole"}


def test_a_filter_can_be_saved_and_deleted(site, clerk):
    client = client_for(site, clerk)
    response = post(client, "/staff/filters", {"name": "Late ones", "query": "overdue=y"})
    assert response.status_code == 303 and response.headers["Location"].endswith("?overdue=y")
    saved = db.session.scalars(select(SavedFilter)).one()
    assert '?overdue=y">Late ones</a>' in client.get("/staff").get_data(as_text=True)
    assert post(client, f"/staff/filters/{saved.id}/delete").status_code == 303
    assert db.session.scalar(select(func.count(SavedFilter.id))) == 0


def test_the_queue_runs_a_fixed_number_of_queries(site, clerk, count_queries):
    client = client_for(site, clerk)
    make_report()
    with count_queries() as few:
        client.get("/staff")
    for _ in range(15):
        make_report(assignee_id=clerk.id)
    with count_queries() as many:
        client.get("/staff")
    assert many.count == few.count


# ---- bulk -----------------------------------------------------------------------------------


def test_bulk_acknowledge_changes_all(site, clerk):
    reports = [make_report() for _ in range(3)]
    ids = [f"{r.id}:{r.version}" for r in reports]
    response = post(client_for(site, clerk), "/staff/bulk", {"ids": ids, "action": "acknowledge"})
    assert response.status_code == 303
    assert {fresh(r).status for r in reports} == {"acknowledged"}
    assert all(audit_actions(r) == ["status.acknowledge"] for r in reports)


def test_bulk_is_all_or_nothing(site, clerk):
    good = make_report()
    already = make_report(status="acknowledged", acknowledged_at=utcnow())
    client = client_for(site, clerk)
    post(
        client,
        "/staff/bulk",
        {
            "ids": [f"{good.id}:{good.version}", f"{already.id}:{already.version}"],
            "action": "acknowledge",
        },
    )
    assert fresh(good).status == "open"  # nothing changed
    page = client.get("/staff").get_data(as_text=True)
    assert "Nothing was changed" in page
    stale = post(
        client, "/staff/bulk", {"ids": [f"{good.id}:{good.version + 5}"], "action": "acknowledge"}
    )
    assert stale.status_code == 303 and fresh(good).status == "open"


def test_bulk_close_needs_a_note_and_recategorise_moves(site, clerk):
    report = make_report()
    client = client_for(site, clerk)
    post(client, "/staff/bulk", {"ids": [f"{report.id}:{report.version}"], "action": "close"})
    assert fresh(report).status == "open"
    post(
        client,
        "/staff/bulk",
        {
            "ids": [f"{report.id}:{report.version}"],
            "action": "recategorise",
            "category": "sidewalk",
        },
    )
    assert fresh(report).category.service_code == "sidewalk"


# ---- the inspector's actions --------------------------------------------------------------------


def test_inspector_shows_private_details_and_internal_notes(site, clerk):
    report = make_report(
        contact_name="Maria Private",
        contact_email="maria@example.org",
        contact_phone="203 555 0100",
        anonymous=True,
    )
    act(
        client_for(site, clerk),
        report,
        "status",
        {"action": "note", "internal_note": "Crew says it needs a steel plate"},
    )
    page = (
        client_for(site, clerk)
        .get(f"/staff/reports/{report.tracking_number}")
        .get_data(as_text=True)
    )
    for text in (
        "Maria Private",
        "maria@example.org",
        "203 555 0100",
        "Crew says it needs a steel plate",
        "status.note",
    ):
        assert text in page
    public = client_for(site).get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "steel plate" not in public and "Maria Private" not in public


def test_acknowledge_full_page_and_followers_are_told(site, smtp, clerk):
    report = make_report()
    follower = make_user("luis@example.org")
    db.session.add(Follow(report_id=report.id, user_id=follower.id))
    db.session.commit()
    response = act(
        client_for(site, clerk),
        report,
        "status",
        {"action": "acknowledge", "public_note": "Crew booked for Monday"},
    )
    assert response.status_code == 303
    report = fresh(report)
    assert report.status == "acknowledged" and report.acknowledged_at is not None
    assert report.events[-1].kind == "acknowledged"
    assert report.events[-1].actor_label == "City of Bridgeport, Roadway Maintenance"
    assert audit_actions(report) == ["status.acknowledge"]
    deliver_due()
    [message] = smtp.mailbox.to("luis@example.org")
    assert "Roadway Maintenance acknowledged it" in message["Subject"]


def test_actions_through_htmx_return_the_inspector_and_announce(site, clerk):
    report = make_report()
    response = act(
        client_for(site, clerk), report, "status", {"action": "acknowledge"}, headers=HTMX
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and fragment.startswith('<div id="inspector"')
    assert 'data-announce="Saved: the report is acknowledged."' in fragment


def test_the_inspector_says_where_the_report_is_with_a_map_and_an_osm_link(site, clerk):
    report = make_report(address="45 Lyon Terrace, Bridgeport, CT")
    page = (
        client_for(site, clerk)
        .get(f"/staff/reports/{report.tracking_number}")
        .get_data(as_text=True)
    )
    lat, lon = f"{report.latitude:.6f}", f"{report.longitude:.6f}"
    assert f"{lat}, {lon}" in page
    assert "45 Lyon Terrace, Bridgeport, CT" in page
    osm = f"https://www.openstreetmap.org/?mlat={lat}&amp;mlon={lon}#map=18/{lat}/{lon}"
    assert f'<a href="{osm}"' in page and "Open in OpenStreetMap" in page
    assert "data-map-point" in page and f'data-lat="{report.latitude}"' in page
    assert "js/maps." in page  # the map script, which fetches Leaflet only for the map
    if report.neighbourhood:
        assert report.neighbourhood.name in page


def test_an_htmx_action_puts_its_result_beside_the_form_used(site, clerk):
    report = make_report()
    client = client_for(site, clerk)
    fragment = act(client, report, "assign", {"assignee": str(clerk.id)}, headers=HTMX)
    page = fragment.get_data(as_text=True)
    assert 'data-announce="Saved: assigned to Pat Clerk."' in page
    # The message sits in the assign form (where focus goes back), not at the top.
    form = re.search(r'<form[^>]*action="[^"]*/assign".*?</form>', page, re.S).group(0)
    result = re.search(r"<p [^>]*data-focus-after-swap[^>]*>(.*?)</p>", form, re.S)
    assert result and "Saved: assigned to Pat Clerk." in result.group(1)
    assert page.count("data-focus-after-swap") == 1
    # Without HTMX the page reloads with the message in the flash area, as before.
    plain = act(client, report, "assign", {"assignee": ""})
    assert plain.status_code == 303
    page = client.get(plain.headers["Location"]).get_data(as_text=True)
    assert "Saved: no one is assigned." in page and "data-focus-after-swap" not in page


def test_closing_needs_a_public_note_and_keeps_what_was_typed(site, clerk):
    report = make_report()
    response = act(
        client_for(site, clerk),
        report,
        "status",
        {"action": "close", "internal_note": "Checked on site"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Write a note for the public" in page and "Checked on site" in page
    assert fresh(report).status == "open"


def test_close_with_an_after_photo(site, clerk):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), (60, 60, 60)).save(buffer, "JPEG")
    buffer.seek(0)
    report = make_report()
    client = client_for(site, clerk)
    token = csrf_token_from(client)
    response = client.post(
        f"/staff/reports/{report.tracking_number}/status",
        data={
            "csrf_token": token,
            "version": str(report.version),
            "action": "close",
            "public_note": "Filled and sealed",
            "photo": (buffer, "after.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    report = fresh(report)
    assert report.status == "closed" and len(report.media) == 1
    assert report.media[0].alt_text.startswith("Photo after the work")


def test_a_stale_form_is_refused_showing_the_new_state(site, clerk, colleague):
    report = make_report()
    seen = report.version
    act(client_for(site, colleague), report, "status", {"action": "acknowledge"})
    response = act(
        client_for(site, clerk),
        report,
        "status",
        {"action": "close", "public_note": "My careful note"},
        version=seen,
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this report" in page and "Acknowledged" in page
    assert "My careful note" in page  # what was typed is kept
    assert fresh(report).status == "acknowledged"


def test_two_staff_saving_at_once_one_wins(site, clerk, colleague):
    report = make_report()
    version = report.version
    clients = [client_for(site, clerk), client_for(site, colleague)]
    tokens = [csrf_token_from(c) for c in clients]
    url = f"/staff/reports/{report.tracking_number}/status"
    barrier = threading.Barrier(2)
    codes = []

    def save(client, token, note):
        barrier.wait()
        response = client.post(
            url,
            data={
                "csrf_token": token,
                "version": str(version),
                "action": "note",
                "public_note": note,
            },
        )
        codes.append(response.status_code)

    threads = [
        threading.Thread(target=save, args=(c, t, f"note {n}"))
        for n, (c, t) in enumerate(zip(clients, tokens, strict=True))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(codes) == [303, 409]
    notes = [e for e in fresh(report).events if e.kind == "note"]
    assert len(notes) == 1


def test_assign_to_a_colleague_emails_them(site, smtp, clerk, colleague, parks_clerk):
    report = make_report()
    client = client_for(site, clerk)
    assert act(client, report, "assign", {"assignee": str(parks_clerk.id)}).status_code == 422
    assert act(client, report, "assign", {"assignee": str(colleague.id)}).status_code == 303
    assert fresh(report).assignee_id == colleague.id
    deliver_due()
    assert "assigned to you" in smtp.mailbox.to("crew@bridgeport.example")[0]["Subject"]
    assert audit_actions(report) == ["assign"]


def test_reassign_to_another_department(site, clerk):
    report = make_report()
    parks = department("Parks and Recreation")
    response = act(
        client_for(site, clerk),
        report,
        "department",
        {"department": str(parks.id), "internal_note": "A tree root, not a hole"},
    )
    assert response.status_code == 303 and response.headers["Location"].endswith("/staff/")
    report = fresh(report)
    assert report.department_id == parks.id
    assert audit_actions(report) == ["reassign_department"]
    # the clerk no longer may act on it
    assert (
        client_for(site, clerk).get(f"/staff/reports/{report.tracking_number}").status_code == 403
    )


def test_set_the_due_date_in_city_time_across_daylight_saving(site, clerk):
    report = make_report()
    response = act(client_for(site, clerk), report, "due", {"due": "2026-11-01T01:30"})
    assert response.status_code == 303
    due = fresh(report).due_at
    # 01:30 on 1 November 2026 in New York is still daylight time (UTC-4): 05:30 UTC
    assert (due.hour, due.minute, due.day) == (5, 30, 1)
    bad = act(client_for(site, clerk), report, "due", {"due": "next tuesday"})
    assert bad.status_code == 422 and "Enter a date and time" in bad.get_data(as_text=True)


def test_sla_due_time_is_counted_in_real_hours_over_a_clock_change(site):
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    new_york = ZoneInfo("America/New_York")
    # noon EDT on the day before the clocks go back, held as UTC as the app holds it
    before_change = datetime(2026, 10, 31, 12, 0, tzinfo=new_york).astimezone(UTC)
    report = make_report("missed_trash", created_at=before_change)  # 24 hour SLA
    due_local = report.due_at.astimezone(new_york)
    # 24 real hours later the clocks have gone back an hour
    assert (due_local.day, due_local.hour) == (1, 11)
    assert report.overdue_by(before_change + timedelta(hours=23)) is None
    assert report.overdue_by(before_change + timedelta(hours=25)) == timedelta(hours=1)


def test_recategorise_tells_followers_and_moves_department(site, smtp, clerk):
    report = make_report()
    follower = make_user("luis@example.org")
    db.session.add(Follow(report_id=report.id, user_id=follower.id))
    db.session.commit()
    assert (
        act(client_for(site, clerk), report, "category", {"category": "fallen_tree"}).status_code
        == 303
    )
    report = fresh(report)
    assert report.category.service_code == "fallen_tree"
    assert report.department.name == "Parks and Recreation"
    deliver_due()
    assert "Now filed as Fallen tree or limb" in smtp.mailbox.to("luis@example.org")[0]["Subject"]


def test_mark_duplicate_moves_followers_and_votes_exactly_once(site, clerk):
    original = make_report(description="The first report of the hole")
    copy = make_report(description="The same hole again")
    both, only_copy = make_user("both@example.org"), make_user("copy@example.org")
    for user in (both, only_copy):
        db.session.add_all(
            [Follow(report_id=copy.id, user_id=user.id), Vote(report_id=copy.id, user_id=user.id)]
        )
    db.session.add_all(
        [
            Follow(report_id=original.id, user_id=both.id),
            Vote(report_id=original.id, user_id=both.id),
        ]
    )
    original.vote_count, copy.vote_count = 1, 2
    db.session.commit()
    response = act(
        client_for(site, clerk), copy, "duplicate", {"original": original.tracking_number}
    )
    assert response.status_code == 303
    original, copy = fresh(original), fresh(copy)
    assert copy.status == "closed" and copy.duplicate_of_id == original.id
    assert original.vote_count == 2 and copy.vote_count == 0
    votes = db.session.scalars(select(Vote.user_id).where(Vote.report_id == original.id)).all()
    assert sorted(votes) == sorted([both.id, only_copy.id])
    follows = db.session.scalars(
        select(Follow.user_id).where(Follow.report_id == original.id)
    ).all()
    assert sorted(follows) == sorted([both.id, only_copy.id])
    assert db.session.scalar(select(func.count(Vote.id)).where(Vote.report_id == copy.id)) == 0
    public = client_for(site).get(f"/reports/{copy.tracking_number}").get_data(as_text=True)
    assert f'same problem as <a href="/reports/{original.tracking_number}"' in public


def test_a_duplicate_needs_a_real_other_report(site, clerk):
    report = make_report()
    client = client_for(site, clerk)
    for number, message in (
        ("BPT-999999", "No report has that"),
        (report.tracking_number, "duplicate of itself"),
    ):
        response = act(client, report, "duplicate", {"original": number})
        assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_editing_details_keeps_the_original_in_the_audit_trail(site, clerk):
    report = make_report(description="Pothole by the stattion")
    response = act(
        client_for(site, clerk),
        report,
        "details",
        {
            "description": "Pothole by the station",
            "address": "525 Water St",
            "latitude": "41.17790",
            "longitude": "-73.18720",
        },
    )
    assert response.status_code == 303
    report = fresh(report)
    assert report.description == "Pothole by the station"
    row = db.session.scalars(select(AuditLog).where(AuditLog.report_id == report.id)).one()
    assert row.detail["before"]["description"] == "Pothole by the stattion"
    outside = act(
        client_for(site, clerk),
        report,
        "details",
        {"description": "Pothole by the station", "latitude": "41.1415", "longitude": "-73.2637"},
    )
    assert outside.status_code == 422 and "outside the City" in outside.get_data(as_text=True)


# ---- intake and saved replies -------------------------------------------------------------------


def test_staff_intake_files_a_report_for_a_caller(site, clerk):
    client = client_for(site, clerk)
    page = client.get("/staff/intake?category=noise").get_data(as_text=True)
    assert "For a caller: Make a noise complaint" in page
    assert "The caller's contact details" in page and 'action="/staff/intake"' in page
    key = re.search(r'name="submission_key"[^>]*value="([^"]+)"', page).group(1)
    response = post(
        client,
        "/staff/intake",
        {
            "category": "noise",
            "submission_key": key,
            "answer_source": "music",
            "description": "Caller says a party every night until 3 AM",
            "latitude": "41.1792",
            "longitude": "-73.1894",
            "address": "45 Lyon Terrace",
            "contact_name": "Caller Person",
            "contact_phone": "203 555 0199",
        },
    )
    assert response.status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert report.source == "staff" and report.reporter_id is None
    assert report.contact_name == "Caller Person"


def test_a_saved_reply_fills_the_note(site, clerk, admin):
    client = client_for(site, admin)
    response = post(
        client,
        "/staff/templates/new",
        {
            "title": "Pothole filled",
            "status": "closed",
            "department": "",
            "body": "We filled the pothole at {address} ({tracking_number}).",
        },
    )
    assert response.status_code == 303
    template = db.session.scalars(select(ResponseTemplate)).one()
    report = make_report(address="525 Water St")
    page = (
        client_for(site, clerk)
        .get(f"/staff/reports/{report.tracking_number}?template={template.id}")
        .get_data(as_text=True)
    )
    assert f"We filled the pothole at 525 Water St ({report.tracking_number})." in page
    assert (
        db.session.scalar(select(func.count(AuditLog.id)).where(AuditLog.action == "template.save"))
        == 1
    )


def test_hidden_things_are_not_reachable_by_the_public(site, clerk):
    report = make_report(description="Spam with a photo")
    from bpt311.models import Media

    db.session.add(
        Media(
            report=report,
            kind="photo",
            file_name="p.jpg",
            thumb_name="p.t.jpg",
            content_type="image/jpeg",
            size_bytes=3,
        )
    )
    report.hidden_at, report.hidden_reason = utcnow(), "Spam"
    db.session.commit()
    import pathlib

    root = pathlib.Path(site.config["MEDIA_ROOT"])
    root.mkdir(parents=True, exist_ok=True)
    (root / "p.jpg").write_bytes(b"jpg")
    guest = client_for(site)
    assert report.tracking_number not in guest.get("/").get_data(as_text=True)
    assert guest.get("/media/p.jpg").status_code == 404
    assert guest.get(f"/reports/{report.tracking_number}/submitted").status_code == 404
    resident = make_user("resident@example.org")
    assert (
        post(
            client_for(site, resident), f"/reports/{report.tracking_number}/vote", {"wanted": "1"}
        ).status_code
        == 404
    )
    assert client_for(site, clerk).get("/media/p.jpg").status_code == 200
    # staff still find it in their queue
    assert report.tracking_number in client_for(site, clerk).get("/staff").get_data(as_text=True)


@pytest.mark.parametrize(
    "action, data",
    [
        ("status", {"action": "acknowledge", "public_note": "On the list"}),
        ("assign", {"assignee": "COLLEAGUE"}),
        ("department", {"department": "PARKS"}),
        ("due", {"due": "2026-12-01T17:00"}),
        ("category", {"category": "sidewalk"}),
        ("duplicate", {"original": "ORIGINAL"}),
        (
            "details",
            {
                "description": "A corrected description of it",
                "address": "1 Main St",
                "latitude": "41.1792",
                "longitude": "-73.1894",
            },
        ),
    ],
)
def test_every_action_works_in_place_with_htmx_and_is_audited_once(
    site, clerk, colleague, action, data
):
    original = make_report(description="The original report of this")
    report = make_report()
    values = {
        "COLLEAGUE": str(colleague.id),
        "ORIGINAL": original.tracking_number,
        "PARKS": str(department("Parks and Recreation").id),
    }
    data = {key: values.get(value, value) for key, value in data.items()}
    before = len(fresh(report).events)
    response = act(client_for(site, clerk), report, action, data, headers=HTMX)
    fragment = response.get_data(as_text=True)
    if action == "department":  # passed on: no longer the clerk's, so back to the queue
        assert response.status_code == 204 and response.headers["HX-Redirect"] == "/staff/"
    else:
        assert response.status_code == 200, fragment[:500]
        assert fragment.startswith('<div id="inspector"') and "data-announce=" in fragment
    assert len(audit_actions(report)) == 1
    assert len(fresh(report).events) == before + 1
