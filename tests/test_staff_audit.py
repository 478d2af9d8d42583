"""The audit log page: read-only, scoped to the reader, filterable, paged, in fixed queries."""

from datetime import UTC, datetime, timedelta

from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import AuditLog
from tests.conftest import HTMX, client_for
from tests.factories import make_report, make_user


def audit_row(actor, action, report=None, when=None, **fields) -> AuditLog:
    row = record(actor, action, report, **fields)
    if when is not None:
        row.created_at = when
    db.session.commit()
    return row


def shown_ids(client, query: str = "") -> list[int]:
    page = client.get(f"/staff/audit{query}").get_data(as_text=True)
    return [int(part.split('"', 1)[0]) for part in page.split('<tr id="audit-')[1:]]


def test_no_route_can_change_or_remove_audit_rows(site):
    rules = [r for r in site.url_map.iter_rules() if r.rule.startswith("/staff/audit")]
    assert rules, "the audit log has a page"
    for rule in rules:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client_for(site), method)("/staff/audit")
        assert response.status_code in (400, 405), method  # 400: refused by CSRF first


def test_a_guest_signs_in_first_and_a_resident_is_refused(site):
    response = client_for(site).get("/staff/audit?action=assign")
    assert response.status_code == 302
    assert "/sign-in?next=" in response.headers["Location"]
    resident = make_user("maria@example.org")
    assert client_for(site, resident).get("/staff/audit").status_code == 403
    assert client_for(site, resident).get("/staff/audit", headers=HTMX).status_code == 403


def test_staff_see_their_departments_rows_and_their_own_admins_see_everything(
    site, clerk, blight_clerk, admin
):
    pothole, graffiti = make_report("pothole"), make_report("graffiti")
    about_pothole = audit_row(blight_clerk, "assign", pothole)  # someone else, on our report
    about_graffiti = audit_row(blight_clerk, "assign", graffiti)
    own_elsewhere = audit_row(clerk, "template.save", target_type="response_template", target_id=1)
    ban = audit_row(admin, "user.ban", target_type="user", target_id=99)
    overdue = audit_row(
        None, "overdue_email", target_type="department", target_id=clerk.department_id
    )
    other_overdue = audit_row(
        None, "overdue_email", target_type="department", target_id=blight_clerk.department_id
    )
    mine = shown_ids(client_for(site, clerk))
    assert sorted(mine) == sorted([about_pothole.id, own_elsewhere.id, overdue.id])
    everything = shown_ids(client_for(site, admin))
    assert sorted(everything) == sorted(
        [
            about_pothole.id,
            about_graffiti.id,
            own_elsewhere.id,
            ban.id,
            overdue.id,
            other_overdue.id,
        ]
    )
    page = client_for(site, admin).get("/staff/audit").get_data(as_text=True)
    assert "The system" in page and "Roadway Maintenance" in page  # the overdue email's target


def test_rows_come_newest_first_in_pages_of_fifty(site, admin):
    start = datetime(2026, 6, 1, 12, tzinfo=UTC)
    rows = [audit_row(admin, "assign", when=start + timedelta(minutes=n)) for n in range(55)]
    client = client_for(site, admin)
    first = shown_ids(client)
    assert first == [row.id for row in reversed(rows)][:50]
    assert shown_ids(client, "?page=2") == [row.id for row in reversed(rows)][50:]
    page = client.get("/staff/audit").get_data(as_text=True)
    assert "Page 1 of 2" in page and 'href="/staff/audit?page=2"' in page


def test_filters_by_action_actor_tracking_number_and_dates(site, clerk, admin):
    pothole, other = make_report("pothole"), make_report("sidewalk")
    day = datetime(2026, 11, 1, 16, tzinfo=UTC)  # noon in Bridgeport
    assigned = audit_row(clerk, "assign", pothole, when=day)
    closed = audit_row(admin, "status.close", pothole, when=day + timedelta(days=1))
    late_evening = audit_row(admin, "assign", other, when=datetime(2026, 11, 3, 3, 30, tzinfo=UTC))
    client = client_for(site, admin)
    assert shown_ids(client, "?action=assign") == [late_evening.id, assigned.id]
    assert shown_ids(client, "?actor=CLERK%40bridgeport") == [assigned.id]
    assert shown_ids(client, f"?tracking_number={pothole.tracking_number}") == [
        closed.id,
        assigned.id,
    ]
    assert shown_ids(client, "?tracking_number=bpt%201") == [closed.id, assigned.id]
    # 03:30 UTC on 3 November is 22:30 on 2 November in Bridgeport
    assert shown_ids(client, "?date_from=2026-11-02&date_to=2026-11-02") == [
        late_evening.id,
        closed.id,
    ]
    assert shown_ids(client, "?date_to=2026-11-01") == [assigned.id]
    assert shown_ids(client, "?action=assign&actor=admin&date_from=2026-11-02") == [late_evening.id]
    page = client.get("/staff/audit?action=assign").get_data(as_text=True)
    assert '<option selected value="assign">' in page


def test_bad_filter_values_give_messages_not_errors(site, admin):
    audit_row(admin, "assign")
    response = client_for(site, admin).get(
        "/staff/audit?tracking_number=pothole&date_from=2026-13-45&page=abc"
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400  # the page, with what was typed and why it is wrong
    assert "Tracking number: enter one like BPT-000123" in page
    assert "From: enter a date like 2026-11-25" in page


def test_htmx_gets_only_the_results_and_the_url_is_pushed(site, admin):
    audit_row(admin, "assign")
    response = client_for(site, admin).get("/staff/audit?action=assign", headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert '<section id="audit-results"' in fragment
    assert 'data-announce="1 row match"' in fragment
    assert "HX-Request" in response.headers["Vary"]
    full = client_for(site, admin).get("/staff/audit").get_data(as_text=True)
    assert 'hx-push-url="true"' in full and 'method="get"' in full


def test_the_audit_page_runs_the_same_number_of_queries_for_1_and_30_rows(
    count_queries, site, clerk, admin
):
    # count_queries first: its own app context goes under the site's, not over it
    client = client_for(site, admin)
    report = make_report()
    audit_row(clerk, "assign", report)
    with count_queries() as one:
        assert len(shown_ids(client)) == 1
    for n in range(29):
        audit_row(admin if n % 2 else clerk, "assign", make_report(), note=f"row {n}")
    with count_queries() as thirty:
        assert len(shown_ids(client)) == 30
    assert thirty.count == one.count
    staff = client_for(site, clerk)
    with count_queries() as scoped:
        staff.get("/staff/audit?action=assign&actor=clerk")
    assert scoped.count == one.count
