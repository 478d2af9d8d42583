"""The daily summary behind /stats, the home page and the dashboard (bpt311/reports/daily.py):
the same figures as counting every report exactly, kept true in the transaction of each
change, seen at once by every process, and made again identically by a rebuild.

Tolerance: counts (received, acknowledged, closed, closed in time, weekly backlog) are
equal. Medians and 90th percentiles are read off 10 %-wide bands, so each is within 10 %
of the exact ``percentile_cont`` (or 60 s under a minute); on these generated reports the
mean error is also held under 3 %.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import Neighbourhood, Report, daily_figure, utcnow
from bpt311.reports import daily
from bpt311.site import city_zone
from bpt311.stats import exact, figures
from bpt311.stats.selection import default_period
from tests.factories import make_report, make_user, sign_in_as

CODES = ["pothole", "streetlight", "illegal_dumping", "graffiti", "noise", "fallen_tree"]
START = datetime(2026, 1, 5, 5, tzinfo=UTC)  # a Monday, midnight in the city (EST)


@pytest.fixture
def generated(city):
    """180 reports over nine weeks: all kinds of response times (minutes to weeks), some
    hidden, some without a due time, some in no neighbourhood."""
    rng = random.Random(25)
    places = [None, *db.session.scalars(select(Neighbourhood.id)).all()]
    for _ in range(180):
        created = START + timedelta(hours=rng.uniform(0, 24 * 63))
        acknowledged = closed = None
        if rng.random() < 0.8:
            acknowledged = created + timedelta(seconds=rng.lognormvariate(9.5, 1.6))
            if rng.random() < 0.7:
                closed = acknowledged + timedelta(seconds=rng.lognormvariate(11.5, 1.2))
        status = "closed" if closed else "acknowledged" if acknowledged else "open"
        report = make_report(
            rng.choice(CODES),
            created_at=created,
            acknowledged_at=acknowledged,
            closed_at=closed,
            status=status,
            neighbourhood_id=rng.choice(places),
            hidden_at=utcnow() if rng.random() < 0.05 else None,
        )
        if rng.random() < 0.2:
            report.due_at = None  # the category's SLA hours apply
            daily.touch(report)
            effects.commit()


PERIODS = [
    (date(2026, 1, 5), date(2026, 3, 8)),  # whole weeks
    (date(2026, 1, 14), date(2026, 2, 26)),  # a Wednesday to a Thursday
    (date(2026, 2, 3), date(2026, 2, 6)),  # inside one week
    (date(2025, 12, 1), date(2026, 1, 20)),  # starting before the first report
]


def _compare(selection: figures.Selection) -> list[float]:
    summary, counted = figures.outcomes(selection), exact.exact_outcomes(selection)
    errors = []
    for level in figures.LEVELS:
        assert summary[level].keys() == counted[level].keys(), level
        for key, want in counted[level].items():
            got = summary[level][key]
            assert (got.received, got.acknowledged, got.closed, got.closed_in_time) == (
                want.received,
                want.acknowledged,
                want.closed,
                want.closed_in_time,
            ), (level, key)
            for name in ("acknowledge_median", "acknowledge_p90", "close_median", "close_p90"):
                wanted, found = getattr(want, name), getattr(got, name)
                assert (wanted is None) == (found is None), (level, key, name)
                if wanted is not None:
                    assert found == pytest.approx(wanted, rel=0.1, abs=60), (level, key, name)
                    errors.append(abs(found - wanted) / max(wanted, 60))
    assert figures.weekly(selection) == exact.exact_weekly(selection)
    return errors


@pytest.mark.parametrize("public", [True, False])
def test_summary_figures_match_the_exact_count_within_the_stated_tolerance(generated, public):
    errors = []
    for first, last in PERIODS:
        errors += _compare(figures.Selection(first, last, public=public))
    assert errors and sum(errors) / len(errors) < 0.03


def _by_hand(selection: figures.Selection) -> dict:
    """The figures of ``selection`` worked out one report at a time: per level and key,
    (received, acknowledged, closed, closed in time, the four response times)."""

    def percentile(fraction, values):
        values = sorted(values)
        if not values:
            return None
        rank = fraction * (len(values) - 1)
        low = int(rank)
        high = min(low + 1, len(values) - 1)
        return values[low] + (values[high] - values[low]) * (rank - low)

    wanted = {
        "department_id": selection.department_id,
        "category_id": selection.category_id,
        "neighbourhood_id": selection.neighbourhood_id,
    }
    found = defaultdict(lambda: [0, [], [], 0])
    for report in db.session.scalars(select(Report)):
        if any(value and getattr(report, name) != value for name, value in wanted.items()):
            continue
        if selection.public and report.hidden_at is not None:
            continue
        groups = [
            (None, None),
            ("department", report.department_id),
            ("category", report.category_id),
            ("neighbourhood", report.neighbourhood_id),
        ]

        def within(moment):
            return moment is not None and selection.starts <= moment < selection.ends

        for group in groups:
            figures_of = found[group]
            if within(report.created_at):
                figures_of[0] += 1
            if within(report.acknowledged_at):
                figures_of[1].append((report.acknowledged_at - report.created_at).total_seconds())
            if within(report.closed_at):
                took = (report.closed_at - report.created_at).total_seconds()
                figures_of[2].append(took)
                allowed = (
                    (report.due_at - report.created_at).total_seconds()
                    if report.due_at
                    else report.category.sla_hours * 3600
                )
                figures_of[3] += took <= allowed
    return {
        group: (
            received,
            len(acknowledged),
            len(closed),
            in_time,
            percentile(0.5, acknowledged),
            percentile(0.9, acknowledged),
            percentile(0.5, closed),
            percentile(0.9, closed),
        )
        for group, (received, acknowledged, closed, in_time) in found.items()
        if received or acknowledged or closed
    }


@pytest.mark.parametrize("dimension", ["department_id", "category_id", "neighbourhood_id"])
def test_a_filtered_page_counts_exactly_from_the_reports(generated, dimension):
    """A page about one department, kind or neighbourhood shows, overall and by each
    dimension, what its reports add up to one by one (the period cut mid-week)."""
    report = db.session.scalars(select(Report).where(Report.neighbourhood_id.is_not(None))).first()
    for public in (True, False):
        selection = figures.Selection(
            *PERIODS[1], public=public, **{dimension: getattr(report, dimension)}
        )
        assert figures.filtered(selection)
        shown = figures.outcomes(selection)
        assert shown == exact.exact_outcomes(selection)
        got = {
            (level, key): (
                row.received,
                row.acknowledged,
                row.closed,
                row.closed_in_time,
                row.acknowledge_median,
                row.acknowledge_p90,
                row.close_median,
                row.close_p90,
            )
            for level, rows in shown.items()
            for key, row in rows.items()
        }
        want = _by_hand(selection)
        assert got.keys() == want.keys()
        for group, figures_of in want.items():
            assert got[group] == pytest.approx(figures_of, abs=0.01), group


def test_a_page_about_one_group_reads_its_weeks_from_the_summary(generated, count_queries):
    """One department, kind or neighbourhood: its weeks are the summary's rows for it, the
    same as counted from the reports; two filters at once are counted from the reports."""
    report = db.session.scalars(select(Report).where(Report.neighbourhood_id.is_not(None))).first()
    for first, last in PERIODS:
        for one in (
            {"department_id": report.department_id},
            {"category_id": report.category_id},
            {"neighbourhood_id": report.neighbourhood_id},
            {"category_id": report.category_id, "public": False},
        ):
            selection = figures.Selection(first, last, **one)
            assert figures.weekly(selection) == exact.exact_weekly(selection), one
    both = figures.Selection(
        *PERIODS[0], category_id=report.category_id, neighbourhood_id=report.neighbourhood_id
    )
    assert figures.weekly(both) == exact.exact_weekly(both)
    with count_queries() as summed:
        figures.weekly(figures.Selection(*PERIODS[0], category_id=report.category_id))
    with count_queries() as counted:
        figures.weekly(both)
    assert summed.statements and all("daily_figure" in sql for sql in summed.statements)
    assert counted.statements and all("daily_figure" not in sql for sql in counted.statements)


def _rows():
    return sorted(db.session.execute(select(daily_figure)).all())


def test_a_rebuild_changes_nothing_and_can_run_twice(generated):
    kept = _rows()
    shown = figures.outcomes(figures.Selection(*PERIODS[1]))
    assert daily.rebuild(db.session.connection(), city_zone()) == len(kept)
    effects.commit()
    assert _rows() == kept
    assert figures.outcomes(figures.Selection(*PERIODS[1])) == shown
    daily.rebuild(db.session.connection(), city_zone())
    effects.commit()
    assert _rows() == kept


def test_the_rebuild_command_recounts_a_summary_that_drifted(app, generated):
    kept = _rows()
    db.session.execute(daily_figure.delete().where(daily_figure.c.kind == daily.CLOSED))
    db.session.commit()
    assert _rows() != kept
    result = app.test_cli_runner().invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    assert f"{len(kept)} rows" in result.output
    db.session.expire_all()
    assert _rows() == kept


def _figures_text(client, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    return page.split('<ul class="figures">')[1].split("</ul>")[0]


def test_a_change_shows_at_once_in_another_process(make_app, app, city):
    """Two apps on one database (two workers): a report made, acknowledged and closed
    through the services in one shows at once on the other's /stats, home page and
    dashboard, with nothing per process to wait for."""
    from bpt311.staff import status as staff_status

    other = make_app()
    visitor = other.test_client()
    staff_user = make_user("staff@bridgeport.example", role="admin")
    staff = other.test_client()
    sign_in_as(staff, staff_user)

    def received_this_week() -> str:
        return _figures_text(visitor, "/").split("<strong>")[1].split("<")[0]

    def stats_csv() -> str:
        return visitor.get("/stats/departments.csv").get_data(as_text=True)

    assert received_this_week() == "0"
    before_stats = stats_csv()
    before_dashboard = staff.get("/staff/dashboard/departments.csv").get_data(as_text=True)
    report = make_report("pothole", created_at=utcnow() - timedelta(hours=2))
    assert received_this_week() == "1"
    moved = stats_csv()
    assert moved != before_stats and "Roadway Maintenance,1,0,0" in moved
    staff_status.change_status(report, staff_user, report.version, "acknowledge")
    assert "Roadway Maintenance,1,1,0" in stats_csv()
    staff_status.change_status(report, staff_user, report.version, "close", "Filled today.")
    assert "Roadway Maintenance,1,1,1,1,1.0000" in stats_csv()
    after = staff.get("/staff/dashboard/departments.csv").get_data(as_text=True)
    assert after != before_dashboard and "Roadway Maintenance,1,1,1" in after


def test_reopening_takes_the_close_off_its_day(app, city):
    from bpt311.staff import status as staff_status

    staff_user = make_user("staff@bridgeport.example", role="admin")
    report = make_report("pothole", created_at=utcnow() - timedelta(hours=5))
    staff_status.change_status(report, staff_user, report.version, "close", "Done.")
    today = default_period()
    assert figures.outcomes(figures.Selection(*today))[None][None].closed == 1
    staff_status.change_status(report, staff_user, report.version, "reopen", "Not done.")
    found = figures.outcomes(figures.Selection(*today))[None][None]
    assert (found.received, found.closed) == (1, 0)
    assert figures.weekly(figures.Selection(*today))[-1].open_at_end == 1


def test_a_hidden_report_leaves_the_public_figures_at_once(app, city, client):
    from bpt311.staff.moderation.queries import Item
    from bpt311.staff.moderation.service import hide

    moderator = make_user("mod@bridgeport.example", role="admin")
    report = make_report("pothole", created_at=utcnow() - timedelta(hours=1))
    period = default_period()
    assert figures.outcomes(figures.Selection(*period))[None][None].received == 1
    item = Item("report", report, report, None)
    hide(item, moderator, "Abusive words")
    assert figures.outcomes(figures.Selection(*period))[None].get(None) is None
    staff_view = figures.outcomes(figures.Selection(*period, public=False))[None][None]
    assert staff_view.received == 1
