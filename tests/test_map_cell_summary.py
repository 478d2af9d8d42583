"""The map's summary of its fine cells (``map_cell``, bpt311/reports/map_summary.py): kept
equal to a fresh count in the transaction of every change that moves a report's cell,
status or visibility, made again identically by a rebuild, and giving the map exactly the
answer counting every report gives (same cells, counts and mean positions), in two queries.
"""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import Report, User, map_cell, utcnow
from bpt311.models.map_cells import FINE_LAT, FINE_LON, cell_of
from bpt311.reports import browse, clusters, daily, map_summary
from tests.conftest import TEST_DATABASE_URL
from tests.factories import make_report, make_user

CITY = (-73.26, 41.13, -73.13, 41.24)  # all of Bridgeport
# Boxes whose edges cut through fine cells (and one edge right on a row of reports).
BOXES = [
    CITY,
    (-73.2013, 41.1711, -73.1702, 41.1933),
    (-73.2217, 41.1500, -73.1600, 41.2063),
    (-73.24, -90 + 21_941 * FINE_LAT, -73.15, 41.2),
]
ZOOMS = [10, 12, 13, 14, 15]
STATUSES = [[], ["open"], ["closed"], ["acknowledged", "closed"]]


@pytest.fixture
def scattered(city):
    """80 reports over the city in every status, a few hidden, some exactly on the edges
    of fine cells, and one without a point."""
    rng = random.Random(311)
    made = []
    for n in range(80):
        if n % 10 == 0:  # on a corner of the fine grid: where rounding down must agree
            latitude = round(-90 + rng.randint(21_940, 21_980) * FINE_LAT, 6)
            longitude = round(-180 + rng.randint(42_700, 42_740) * FINE_LON, 6)
        else:
            latitude = round(rng.uniform(41.14, 41.23), 6)
            longitude = round(rng.uniform(-73.24, -73.15), 6)
        status = rng.choice(["open", "open", "acknowledged", "closed", "archived"])
        made.append(
            make_report(
                rng.choice(["pothole", "graffiti", "streetlight"]),
                latitude=latitude,
                longitude=longitude,
                status=status,
                closed_at=utcnow() if status in ("closed", "archived") else None,
                hidden_at=utcnow() if rng.random() < 0.08 else None,
            )
        )
    make_report(latitude=None, longitude=None)
    return made


def _rows() -> list:
    return sorted(db.session.execute(select(map_cell)).all())


def assert_summary_true() -> None:
    """The summary is what counting every report again makes (the rebuild, rolled back)."""
    kept = _rows()
    map_summary.rebuild(db.session.connection())
    fresh = _rows()
    effects.rollback()
    assert kept == fresh
    assert sum(row.reports for row in kept) == db.session.scalar(
        select(db.func.count()).where(Report.latitude.is_not(None))
    )


def _exact(filters: browse.Filters, zoom: int, monkeypatch) -> list[clusters.Cell]:
    with monkeypatch.context() as patch:
        patch.setattr(browse, "statuses_only", lambda filters, box_allowed=False: False)
        return clusters.cells(filters, zoom, db.session)


def assert_map_exact(monkeypatch) -> None:
    """Every box, zoom and choice of statuses: the summary's cells are the exact path's."""
    for bbox in BOXES:
        for zoom in ZOOMS:
            for statuses in STATUSES:
                filters = browse.Filters(bbox=bbox, statuses=statuses)
                assert browse.statuses_only(filters, box_allowed=True)
                fast = clusters.cells(filters, zoom, db.session)
                assert sorted(fast, key=repr) == sorted(
                    _exact(filters, zoom, monkeypatch), key=repr
                ), (bbox, zoom, statuses)


def test_new_reports_are_counted_as_a_fresh_count_would(scattered, monkeypatch):
    assert _rows(), "the reports made are in the summary"
    assert_summary_true()
    assert_map_exact(monkeypatch)


def test_the_geojson_answer_is_the_exact_one(client, scattered, monkeypatch):
    box = ",".join(map(str, BOXES[2]))
    for zoom, status in ((12, None), (14, "open"), (15, "closed")):
        params = {"bbox": box, "zoom": zoom, **({"status": status} if status else {})}
        data = client.get("/reports.geojson", query_string=params).get_json()
        got = sorted(
            (f["properties"]["count"], *f["geometry"]["coordinates"]) for f in data["features"]
        )
        filters = browse.Filters(bbox=BOXES[2], statuses=[status] if status else [])
        want = sorted(
            (cell.count, cell.longitude, cell.latitude)
            for cell in _exact(filters, zoom, monkeypatch)
        )
        assert got == want and got


def test_status_moves_hiding_showing_and_moving_keep_it_true(scattered, monkeypatch):
    from bpt311.staff import details
    from bpt311.staff import status as staff_status
    from bpt311.staff.moderation.queries import Item
    from bpt311.staff.moderation.service import hide, restore

    staff = make_user("staff@bridgeport.example", role="admin")
    report = next(r for r in scattered if r.status == "open" and r.hidden_at is None)
    staff_status.change_status(report, staff, report.version, "acknowledge")
    assert_summary_true()
    staff_status.change_status(report, staff, report.version, "close", "Filled today.")
    assert_summary_true()
    staff_status.change_status(report, staff, report.version, "reopen", "Not done.")
    assert_summary_true()
    hide(Item("report", report, report, None), staff, "Abusive words")
    assert_summary_true()
    assert_map_exact(monkeypatch)
    restore(Item("report", report, report, None), staff)
    assert_summary_true()
    left = cell_of(report.latitude, report.longitude)
    details.edit_details(
        report,
        staff,
        report.version,
        "A deep pothole in the right lane, by the bus stop.",
        "1 Main Street",
        "41.201234",
        "-73.171234",
    )
    assert cell_of(report.latitude, report.longitude) != left
    assert_summary_true()  # counted out of the cell it left, into the one it moved to
    assert_map_exact(monkeypatch)


def test_archiving_keeps_it_true(scattered, monkeypatch):
    from bpt311.staff.housekeeping import archive_closed

    closed = [r for r in scattered if r.status == "closed"]
    for report in closed:
        report.closed_at = utcnow() - timedelta(days=400)
    db.session.commit()  # a time alone: the summary does not count by it
    assert archive_closed(90, batch_size=7) == len(closed)
    assert_summary_true()
    assert not db.session.scalars(
        select(map_cell.c.cell).where(map_cell.c.status == "closed")
    ).all()
    assert_map_exact(monkeypatch)


def test_a_deleted_report_leaves_its_cell(scattered):
    report = scattered[0]
    cell = cell_of(report.latitude, report.longitude)
    before = sum(r.reports for r in _rows() if r.cell == cell)
    daily.touch(report)  # as a service deleting a report would
    db.session.delete(report)
    effects.commit()
    assert sum(r.reports for r in _rows() if r.cell == cell) == before - 1
    assert_summary_true()


def test_a_rebuild_changes_nothing_and_the_command_recounts_a_drifted_summary(app, scattered):
    kept = _rows()
    assert map_summary.rebuild(db.session.connection()) == len(kept)
    effects.commit()
    assert _rows() == kept
    db.session.execute(map_cell.delete().where(map_cell.c.status == "open"))
    db.session.commit()
    assert _rows() != kept
    result = app.test_cli_runner().invoke(args=["stats", "rebuild"])
    assert result.exit_code == 0, result.output
    assert f"map's cells again: {len(kept)} rows" in result.output
    db.session.expire_all()
    assert _rows() == kept


def test_only_a_box_and_statuses_are_read_from_the_summary(client, scattered):
    box = ",".join(map(str, CITY))

    def total(**params) -> int:
        return client.get("/reports.geojson", query_string={"bbox": box, "zoom": 12, **params})

    whole = total().get_json()["total"]
    kinds = sum(total(category=code).get_json()["total"] for code in ("pothole", "graffiti"))
    db.session.execute(map_cell.delete())  # the summary drifts (nothing in the app does this)
    db.session.commit()
    assert total().get_json()["total"] == 0  # read from the summary
    assert total(status="open").get_json()["total"] == 0
    again = sum(total(category=code).get_json()["total"] for code in ("pothole", "graffiti"))
    assert again == kinds and whole > kinds  # counted from the reports themselves


def test_the_map_runs_two_queries_whatever_the_box_holds(city, count_queries):
    def queries(bbox) -> int:
        with count_queries() as counted:
            clusters.cells(browse.Filters(bbox=bbox, statuses=["open"]), 13, db.session)
        return counted.count

    empty = [queries(box) for box in BOXES]
    for n in range(30):
        make_report(latitude=41.1711 + n * 0.0011, longitude=-73.2013 + n * 0.0009)
    assert [queries(box) for box in BOXES] == empty == [2] * len(BOXES)


@pytest.mark.skipif(
    not TEST_DATABASE_URL.startswith("postgresql"),
    reason="two writers at once: PostgreSQL (SQLite has one writer at a time)",
)
def test_two_transactions_touching_one_cell_both_count(app, city):
    """Two moderators hide two reports of one cell at once (received in different weeks,
    so the figures' week locks do not order them): the second waits for the first's lock
    on the cell, then counts with the first's change committed (without the lock it would
    count without it, or fail on the first's fresh rows)."""
    from bpt311.staff.moderation.queries import Item
    from bpt311.staff.moderation.service import hide

    moderator_id = make_user("mod@bridgeport.example", role="admin").id
    ids = [
        make_report(latitude=41.1792, longitude=-73.1894, created_at=utcnow() - days).id
        for days in (timedelta(days=30), timedelta(days=60))
    ]
    counted, go_on = threading.Event(), threading.Event()
    real_count = map_summary.count_cells
    errors = []

    def count_then_wait(connection, cells):
        real_count(connection, cells)
        if threading.current_thread().name == "first":
            counted.set()  # its cell's lock held, its count made, not yet committed
            go_on.wait(10)

    def hide_one(report_id):
        try:
            with app.app_context():
                report = db.session.get(Report, report_id)
                actor = db.session.get(User, moderator_id)
                hide(Item("report", report, report, None), actor, "Abusive words")
        except Exception as exc:  # reported to the test below
            errors.append(exc)

    map_summary.count_cells = count_then_wait
    try:
        one = threading.Thread(target=hide_one, args=(ids[0],), name="first")
        two = threading.Thread(target=hide_one, args=(ids[1],), name="second")
        one.start()
        assert counted.wait(10)
        two.start()
        two.join(1)
        assert two.is_alive()  # waiting for the first's lock on the cell
        go_on.set()
        one.join(10)
        two.join(10)
    finally:
        map_summary.count_cells = real_count
    assert not errors
    db.session.expire_all()
    assert db.session.scalar(select(map_cell.c.reports).where(map_cell.c.hidden.is_(True))) == 2
    assert_summary_true()
