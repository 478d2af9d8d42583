"""The public /stats page: figures against a small dataset worked out by hand, the
charts and tables people read, the CSV downloads, and nothing private on show."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import Neighbourhood, utcnow
from bpt311.reports import daily
from tests.factories import make_report, make_user

CITY = ZoneInfo("America/New_York")
PERIOD = "date_from=2026-01-05&date_to=2026-01-18"  # two city weeks, Monday to Sunday


def city_time(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    year = 2025 if month == 12 else 2026
    return datetime(year, month, day, hour, minute, tzinfo=CITY).astimezone(UTC)


def reported(code, created, ack_hours=None, close_hours=None, due_hours="sla", **fields):
    """A report made at ``created``, acknowledged and closed so many hours later.
    ``due_hours`` None means no due time (the category's SLA applies)."""
    acknowledged = created + timedelta(hours=ack_hours) if ack_hours is not None else None
    closed = created + timedelta(hours=close_hours) if close_hours is not None else None
    status = "closed" if closed else "acknowledged" if acknowledged else "open"
    report = make_report(
        code,
        created_at=created,
        acknowledged_at=acknowledged,
        closed_at=closed,
        status=status,
        **fields,
    )
    if due_hours != "sla":
        report.due_at = None if due_hours is None else created + timedelta(hours=due_hours)
        daily.touch(report)  # as staff.assignment.set_due does
        effects.commit()
    return report


@pytest.fixture
def dataset(city):
    """Seven reports around 5-18 January 2026 (EST, UTC-5). The answers, by hand:

    Public (the hidden H left out): received 3 then 2 (C, made Sunday 23:30 in the city,
    is already Monday in UTC but belongs to week one); closed 2 then 2 (E closes after the
    period); open before the period 1 (R0; R00 closed before), so open at the weeks' ends
    1+3-2 = 2 and 2+2-2 = 2.
    Acknowledged in the period after 2, 4, 6, 8, 20 hours: median 6, p90 8 + 0.6*12 = 15.2.
    Closed in the period after 10, 30, 100, 336 hours: median 65, p90 100 + 0.7*236 = 265.2.
    In time: A (due 12 h, took 10) yes; B (due 24 h, took 30) no, though a pothole's SLA is
    72 h: the due time wins; D (no due time, street light SLA 120 h, took 100) yes; R0 (no
    due time, pothole SLA 72 h, took 336) no: 2 of 4.
    """
    place = db.session.scalars(select(Neighbourhood).order_by(Neighbourhood.name)).first()
    reported("pothole", city_time(20, 10, month=12), 24, 13 * 24)  # R00, closed Jan 2
    r0 = reported("pothole", city_time(1, 10), 24, 336, due_hours=None)  # closed Jan 15
    a = reported("pothole", city_time(5, 10), 2, 10, due_hours=12, neighbourhood_id=place.id)
    b = reported("pothole", city_time(6, 10), 4, 30, due_hours=24, neighbourhood_id=place.id)
    c = reported("pothole", city_time(11, 23, 30), 6)
    d = reported("streetlight", city_time(12, 10), 8, 100, due_hours=None)
    e = reported("pothole", city_time(13, 10), 20, 200)  # closes Jan 21
    h = reported(
        "pothole",
        city_time(14, 10),
        1,
        2,
        description="Hidden: abusive words about a neighbour",
        hidden_at=utcnow(),
        hidden_reason="Abusive",
    )
    return {"place": place, "r0": r0, "a": a, "b": b, "c": c, "d": d, "e": e, "h": h}


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def test_weekly_counts_and_backlog_match_the_hand_count(client, dataset):
    rows = csv_rows(client.get(f"/stats/weeks.csv?{PERIOD}"))
    assert rows == [
        {"week_starting": "2026-01-05", "received": "3", "closed": "2", "open_at_week_end": "2"},
        {"week_starting": "2026-01-12", "received": "2", "closed": "2", "open_at_week_end": "2"},
    ]


def test_response_times_and_sla_share_match_the_hand_count(client, dataset):
    page = client.get(f"/stats?{PERIOD}").get_data(as_text=True)
    # Read off 10 % bands (bpt311/reports/daily.py): 6 h and 15.2 h, 65 h and 265.2 h within
    # 10 % (tests/test_daily_figures.py compares them with the exact count).
    assert "hours</strong> median time to acknowledge (90% within 1" in page
    assert "2.7 days</strong> median time to close (90% within 1" in page
    assert "50%</strong> closed within the expected time" in page
    assert "<strong>5</strong> received" in page
    assert "<strong>4</strong> closed" in page


def test_overall_figures_are_exact(app, dataset):
    from datetime import date

    from bpt311.stats import exact as counted
    from bpt311.stats import figures

    selection = figures.Selection(date(2026, 1, 5), date(2026, 1, 18))
    overall = figures.outcomes(selection)[None][None]
    hour = 3600
    exact = counted.exact_outcomes(selection)[None][None]
    assert exact.acknowledge_median == pytest.approx(6 * hour)
    assert exact.acknowledge_p90 == pytest.approx(15.2 * hour)
    assert exact.close_median == pytest.approx(65 * hour)
    assert exact.close_p90 == pytest.approx(265.2 * hour)
    # what the page shows, from the daily summary's 10 % bands
    assert overall.acknowledge_median == pytest.approx(6 * hour, rel=0.1)
    assert overall.acknowledge_p90 == pytest.approx(15.2 * hour, rel=0.1)
    assert overall.close_median == pytest.approx(65 * hour, rel=0.1)
    assert overall.close_p90 == pytest.approx(265.2 * hour, rel=0.1)
    assert (overall.closed, overall.closed_in_time, overall.share_in_time) == (4, 2, 0.5)
    staff = figures.outcomes(figures.Selection(date(2026, 1, 5), date(2026, 1, 18), public=False))
    assert staff[None][None].received == 6
    assert staff[None][None].close_median == pytest.approx(30 * hour, rel=0.1)


def test_breakdown_by_department_matches_the_hand_count(client, dataset):
    rows = {
        row["department"]: row for row in csv_rows(client.get(f"/stats/departments.csv?{PERIOD}"))
    }
    roads, lights = rows["Roadway Maintenance"], rows["Traffic and Street Lighting"]
    # Roadway: made A B C E; closed A B R0 after 10, 30, 336 h; A in time.
    assert (roads["received"], roads["closed"], roads["closed_within_sla"]) == ("4", "3", "1")
    # medians and 90th percentiles within the summary's 10 % bands of the exact figures
    assert float(roads["median_hours_to_close"]) == pytest.approx(30.0, rel=0.1)
    assert float(roads["p90_hours_to_close"]) == pytest.approx(274.8, rel=0.1)
    # acknowledged in the period: A B C E after 2, 4, 6, 20 h (R0's was before it)
    assert float(roads["median_hours_to_acknowledge"]) == pytest.approx(5.0, rel=0.1)
    assert float(roads["p90_hours_to_acknowledge"]) == pytest.approx(15.8, rel=0.1)
    assert (lights["received"], lights["closed"], lights["share_within_sla"]) == (
        "1",
        "1",
        "1.0000",
    )
    assert lights["median_hours_to_close"] == lights["p90_hours_to_close"]
    assert float(lights["median_hours_to_close"]) == pytest.approx(100.0, rel=0.1)


def test_breakdown_by_neighbourhood_lists_every_neighbourhood(client, dataset):
    rows = csv_rows(client.get(f"/stats/neighbourhoods.csv?{PERIOD}"))
    by_name = {row["neighbourhood"]: row for row in rows}
    assert by_name[dataset["place"].name]["received"] == "2"
    assert by_name["No neighbourhood"]["received"] == "3"
    assert len(db.session.scalars(select(Neighbourhood)).all()) + 1 == len(rows)


def test_filters_narrow_every_figure(client, dataset):
    rows = csv_rows(client.get(f"/stats/weeks.csv?{PERIOD}&category=streetlight"))
    assert [(r["received"], r["closed"], r["open_at_week_end"]) for r in rows] == [
        ("0", "0", "0"),
        ("1", "1", "0"),
    ]
    place = dataset["place"].slug
    rows = csv_rows(client.get(f"/stats/departments.csv?{PERIOD}&neighbourhood={place}"))
    assert [(r["department"], r["received"], r["closed"]) for r in rows] == [
        ("Roadway Maintenance", "2", "2")
    ]


def test_hidden_reports_are_not_counted_or_shown(client, dataset):
    page = client.get(f"/stats?{PERIOD}").get_data(as_text=True)
    assert "abusive words" not in page
    rows = csv_rows(client.get(f"/stats/departments.csv?{PERIOD}"))
    assert sum(int(row["received"]) for row in rows) == 5  # not 6


def test_the_page_shows_no_private_data(client, dataset):
    clerk = make_user("pat@bridgeport.example", role="staff", display_name="Pat Privateclerk")
    report = dataset["c"]
    report.contact_name, report.contact_email = "Zelda Contact", "zelda@example.org"
    report.assignee = clerk
    db.session.commit()
    body = client.get(f"/stats?{PERIOD}").get_data(as_text=True)
    for private in ("Zelda", "zelda@example.org", "Privateclerk", "pat@bridgeport"):
        assert private not in body
    for table in ("weeks", "departments", "categories", "neighbourhoods"):
        text = client.get(f"/stats/{table}.csv?{PERIOD}").get_data(as_text=True)
        assert "Zelda" not in text and "Privateclerk" not in text


def test_charts_are_described_svg_with_a_table_and_a_download_each(client, dataset):
    page = client.get(f"/stats?{PERIOD}").get_data(as_text=True)
    assert page.count('role="img"') == 5
    for chart in (
        "chart-weekly",
        "chart-backlog",
        "chart-departments",
        "chart-categories",
        "chart-map",
    ):
        assert f'aria-labelledby="{chart}-title {chart}-desc"' in page
        assert f'<title id="{chart}-title">' in page and f'<desc id="{chart}-desc">' in page
    assert page.count("<caption") == 4  # the weekly charts share one table
    assert '<th scope="col">Week starting</th>' in page
    for table in ("weeks", "departments", "categories", "neighbourhoods"):
        assert f'href="/stats/{table}.csv?{PERIOD.replace("&", "&amp;")}"' in page
    assert 'href="/static/css/stats.' in page  # linked only from these pages


def test_the_map_draws_every_neighbourhood_with_its_number(client, dataset):
    page = client.get(f"/stats?{PERIOD}").get_data(as_text=True)
    count = len(db.session.scalars(select(Neighbourhood)).all())
    assert page.count('<path class="choro') == count
    assert page.count('class="choro__label"') == count
    assert 'aria-label="Map key: reports received"' in page


def test_the_default_period_is_the_last_twelve_weeks(client, city):
    rows = csv_rows(client.get("/stats/weeks.csv"))
    assert len(rows) == 12
    today = utcnow().astimezone(CITY).date()
    assert rows[-1]["week_starting"] == (today - timedelta(days=today.weekday())).isoformat()


def test_bad_dates_are_explained_beside_the_field(client, city):
    response = client.get("/stats?date_from=yesterday&date_to=2026-01-01&department=x")
    assert response.status_code == 400  # the page, with what was typed and why it is wrong
    assert "From: enter a date like 2026-11-25" in response.get_data(as_text=True)
    response = client.get("/stats?date_from=2026-02-01&date_to=2026-01-01")
    assert "so they were swapped" in response.get_data(as_text=True)
    response = client.get("/stats/weeks.csv?date_from=2020-01-01&date_to=2026-01-01")
    assert len(csv_rows(response)) <= 106


def test_unknown_table_is_not_found(client, city):
    assert client.get("/stats/people.csv").status_code == 404


def test_csv_cells_are_defused_against_formulas(client, city):
    from bpt311.models import Department

    odd = Department(name="=HYPERLINK(1)")
    db.session.add(odd)
    db.session.commit()
    report = make_report("pothole")
    report.department_id = odd.id
    daily.touch(report)
    effects.commit()
    text = client.get("/stats/departments.csv").get_data(as_text=True)
    assert "'=HYPERLINK(1)" in text
    assert not any(line.startswith("=") for line in text.splitlines())


def test_footer_links_to_the_figures(client, city):
    assert 'href="/stats"' in client.get("/").get_data(as_text=True)


def test_category_names_follow_the_page_language_where_translated(client, dataset):
    from bpt311.models import Category

    pothole = db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()
    pothole.translations = {"es": {"name": "Bache en la calle"}}
    db.session.commit()
    spanish = client.get(f"/stats?{PERIOD}", headers={"Accept-Language": "es"})
    assert "Bache en la calle" in spanish.get_data(as_text=True)
    english = client.get(f"/stats?{PERIOD}").get_data(as_text=True)
    assert "Bache en la calle" not in english and pothole.name in english
