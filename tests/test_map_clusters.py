"""The map at any zoom (#25 item 4): ``/reports.geojson?bbox=…&zoom=…`` answers with
counts on a grid below street level and with the reports themselves at street level,
always a bounded answer, with the list's filters and never a hidden report."""

from __future__ import annotations

import json

import pytest

from bpt311 import effects
from bpt311.models import utcnow
from bpt311.reports import clusters, daily
from tests.factories import make_report

CITY = "-73.26,41.13,-73.13,41.24"  # all of Bridgeport
DOWNTOWN = (41.1792, -73.1894)
NORTH_END = (41.2150, -73.2150)
STREET = "-73.2000,41.1740,-73.1790,41.1840"  # a few blocks around City Hall


def answer(client, **params):
    response = client.get("/reports.geojson", query_string=params)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/geo+json"
    return json.loads(response.get_data())


def counts(data) -> list[int]:
    assert data["clustered"] is True
    assert all(f["properties"]["cluster"] is True for f in data["features"])
    return [f["properties"]["count"] for f in data["features"]]


@pytest.fixture
def spread(city):
    """Seven reports downtown (one of them hidden by a moderator, one closed), three in the
    North End, and one whose place is still to be confirmed (no point)."""
    made = []
    for n in range(6):
        made.append(
            make_report(
                "pothole" if n % 2 else "graffiti",
                latitude=DOWNTOWN[0] + n * 0.0003,
                longitude=DOWNTOWN[1] + n * 0.0003,
                status="closed" if n == 5 else "open",
            )
        )
    make_report(latitude=DOWNTOWN[0], longitude=DOWNTOWN[1], hidden_at=utcnow())
    for n in range(3):
        made.append(
            make_report("streetlight", latitude=NORTH_END[0] + n * 0.0002, longitude=NORTH_END[1])
        )
    make_report(latitude=None, longitude=None)
    return made


def test_low_zoom_answers_counts_that_add_up_to_what_the_list_finds(client, spread):
    data = answer(client, bbox=CITY, zoom=12)
    found = counts(data)
    assert sum(found) == data["total"] == 9  # not the hidden one, not the one without a point
    assert sorted(found) == [3, 6]  # downtown and the North End, far apart at zoom 12
    downtown = max(data["features"], key=lambda f: f["properties"]["count"])
    lon, lat = downtown["geometry"]["coordinates"]
    assert lat == pytest.approx(DOWNTOWN[0] + 0.00075, abs=1e-5)  # the mean position
    assert lon == pytest.approx(DOWNTOWN[1] + 0.00075, abs=1e-5)
    assert set(downtown["properties"]) == {"cluster", "count"}
    assert "description" not in json.dumps(data)


def test_clusters_follow_the_filters_of_the_list(client, spread):
    assert sum(counts(answer(client, bbox=CITY, zoom=12, status="open"))) == 8
    assert counts(answer(client, bbox=CITY, zoom=12, category="streetlight")) == [3]
    assert counts(answer(client, bbox=CITY, zoom=12, category="graffiti")) == [3]
    assert counts(answer(client, bbox=CITY, zoom=12, q="no such words anywhere")) == []
    north_only = f"{NORTH_END[1] - 0.01},{NORTH_END[0] - 0.01},{NORTH_END[1] + 0.01},41.23"
    assert counts(answer(client, bbox=north_only, zoom=12)) == [3]


def test_a_hidden_report_is_never_counted(client, spread):
    before = answer(client, bbox=CITY, zoom=12)["total"]
    daily.touch(spread[0])  # as the moderation service does: the map's summary follows
    spread[0].hidden_at = utcnow()
    effects.commit()
    assert answer(client, bbox=CITY, zoom=12)["total"] == before - 1
    assert answer(client, bbox=CITY, zoom=12, category="graffiti")["total"] == 2


def test_closer_zooms_split_clusters_until_street_level_shows_the_reports(client, spread):
    assert len(answer(client, bbox=CITY, zoom=12)["features"]) == 2
    finer = answer(client, bbox=STREET, zoom=clusters.STREET_ZOOM - 1)
    assert sum(counts(finer)) == 6 and len(finer["features"]) >= 2
    street = answer(client, bbox=STREET, zoom=clusters.STREET_ZOOM)
    assert street["clustered"] is False and street["truncated"] is False
    numbers = {f["properties"]["tracking_number"] for f in street["features"]}
    assert numbers == {report.tracking_number for report in spread[:6]}
    pin = street["features"][0]
    assert pin["geometry"]["type"] == "Point"
    assert {"category", "status", "description", "address", "url"} <= set(pin["properties"])


def test_street_level_is_capped_and_says_so(client, spread, monkeypatch):
    monkeypatch.setattr(clusters, "POINT_CAP", 4)
    street = answer(client, bbox=STREET, zoom=18)
    assert len(street["features"]) == 4 and street["truncated"] is True
    newest = sorted((r for r in spread[:6]), key=lambda r: r.id)[-4:]
    assert {f["properties"]["tracking_number"] for f in street["features"]} == {
        r.tracking_number for r in newest
    }


def test_however_big_the_box_the_grid_stays_small(client, city):
    # A whole-world box at a street-ish zoom below the threshold cannot ask for millions
    # of cells: the cell grows until at most MAX_CELLS fit.
    for n in range(30):
        make_report(latitude=-80 + n * 5.3, longitude=-170 + n * 11.3)
    world = (-180, -90, 180, 90)
    data = answer(client, bbox=",".join(map(str, world)), zoom=clusters.STREET_ZOOM - 1)
    assert sum(counts(data)) == 30
    assert len(data["features"]) <= clusters.MAX_CELLS < 2000
    lat_cell, lon_cell = clusters.cell_size(world, clusters.STREET_ZOOM - 1)
    assert (360 / lon_cell + 1) * (180 / lat_cell + 1) <= clusters.MAX_CELLS * 1.1


def test_fine_and_coarse_grids_count_the_same_cells(client, city, monkeypatch):
    # With a filter the summary does not hold (a kind of problem), a big box is counted
    # straight on its coarse grid, a small one per fine cell added up: the same reports
    # give the same cells either way, and the same as the map's summary without it.
    for n in range(25):
        make_report(latitude=41.15 + n * 0.0031, longitude=-73.24 + (n * 7 % 25) * 0.0043)
    summary = answer(client, bbox=CITY, zoom=13)
    fine = answer(client, bbox=CITY, zoom=13, category="pothole")
    monkeypatch.setattr(clusters, "MAX_FINE_CELLS", 0)
    coarse = answer(client, bbox=CITY, zoom=13, category="pothole")
    assert sorted(map(json.dumps, fine["features"])) == sorted(map(json.dumps, coarse["features"]))
    assert sorted(map(json.dumps, fine["features"])) == sorted(map(json.dumps, summary["features"]))
    assert len(fine["features"]) > 3 and fine["total"] == 25


@pytest.mark.parametrize(
    "params, words",
    [
        ({"bbox": CITY, "zoom": "x"}, "zoom"),
        ({"bbox": CITY, "zoom": "12.5"}, "zoom"),
        ({"bbox": CITY, "zoom": "-1"}, "zoom"),
        ({"bbox": CITY, "zoom": "23"}, "zoom"),
        ({"bbox": CITY, "zoom": ""}, "zoom"),
        ({"zoom": "12"}, "bbox"),
        ({"bbox": "-73.1,41.2,-73.2,41.1", "zoom": "12"}, "bbox"),
        ({"bbox": "1,2,3", "zoom": "12"}, "bbox"),
    ],
)
def test_bad_box_or_zoom_is_a_clear_400(client, city, params, words):
    response = client.get(
        "/reports.geojson", query_string=params, headers={"Accept": "application/json"}
    )
    assert response.status_code == 400
    assert words in response.json["message"]


def test_the_old_answers_stay_without_zoom(client, spread):
    export = client.get("/reports.geojson")
    assert "attachment" in export.headers["Content-Disposition"]
    features = json.loads(export.get_data())["features"]
    assert len(features) == 9 and "cluster" not in features[0]["properties"]
    boxed = json.loads(client.get(f"/reports.geojson?bbox={CITY}").get_data())
    assert len(boxed["features"]) == 9 and "clustered" not in boxed


def test_map_answers_may_be_kept_by_shared_caches_and_revalidate(client, spread):
    """Like every anonymous public answer: kept by a proxy for PUBLIC_CACHE_SECONDS, and
    revalidated by its ETag (a 304 without the body)."""
    first = client.get("/reports.geojson", query_string={"bbox": CITY, "zoom": 12})
    control = first.headers["Cache-Control"]
    assert control.startswith("public") and "s-maxage=30" in control
    assert "Set-Cookie" not in first.headers
    etag = first.headers["ETag"]
    again = client.get(
        "/reports.geojson",
        query_string={"bbox": CITY, "zoom": 12},
        headers={"If-None-Match": etag},
    )
    assert again.status_code == 304


def test_each_answer_runs_a_fixed_number_of_queries(client, city, count_queries):
    def queries(**params) -> int:
        with count_queries() as counted:
            answer(client, **params)
        return counted.count

    make_report()
    few = (queries(bbox=CITY, zoom=12), queries(bbox=STREET, zoom=17))
    for n in range(12):
        make_report(latitude=DOWNTOWN[0] + n * 0.01, longitude=DOWNTOWN[1])
    assert (queries(bbox=CITY, zoom=12), queries(bbox=STREET, zoom=17)) == few
