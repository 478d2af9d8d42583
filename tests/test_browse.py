"""Browsing reports: the list, its filters, the map's GeoJSON, exports and neighbourhoods."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Media, Neighbourhood, utcnow
from bpt311.reports import list_pages
from tests.conftest import HTMX
from tests.factories import make_report

DOWNTOWN = (41.1792, -73.1894)
NORTH_END = (41.2150, -73.2150)


def page(client, path, **params):
    response = client.get(path, query_string=params)
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


@pytest.fixture
def reports(city):
    """A small city of reports with known answers."""
    now = utcnow()
    made = {
        "pothole_downtown": make_report(
            "pothole",
            description="Deep pothole by the train station",
            address="525 Water St, Bridgeport",
            created_at=now - timedelta(days=1),
            vote_count=3,
        ),
        "light_north": make_report(
            "streetlight",
            description="Street light flickering all night",
            latitude=NORTH_END[0],
            longitude=NORTH_END[1],
            address="3000 Main St",
            created_at=now - timedelta(days=3),
            status="acknowledged",
        ),
        "dumping_closed": make_report(
            "illegal_dumping",
            description="Mattresses dumped on the corner lot",
            created_at=now - timedelta(days=10),
            status="closed",
            closed_at=now - timedelta(days=2),
            vote_count=7,
        ),
        "old_graffiti": make_report(
            "graffiti", description="Tags on the bridge", created_at=now - timedelta(days=40)
        ),
    }
    downtown = db.session.scalars(
        select(Neighbourhood).where(Neighbourhood.name == "Downtown")
    ).one()
    north = db.session.scalars(select(Neighbourhood).where(Neighbourhood.name == "North End")).one()
    for key, report in made.items():
        report.neighbourhood = north if key == "light_north" else downtown
    db.session.commit()
    return made


def tracking_numbers_in(html, reports):
    return {key for key, report in reports.items() if report.tracking_number in html}


def test_list_shows_every_report_newest_first_with_status_in_words(client, reports):
    html = page(client, "/reports")
    assert "4 reports" in html
    order = [
        html.index(reports[k].tracking_number)
        for k in ("pothole_downtown", "light_north", "dumping_closed", "old_graffiti")
    ]
    assert order == sorted(order)
    assert "Acknowledged" in html and "Closed" in html and "Open" in html
    assert "7 votes" in html and "525 Water St, Bridgeport (Downtown)" in html


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"category": "pothole"}, {"pothole_downtown"}),
        ({"group": "Trash and recycling"}, {"dumping_closed"}),
        ({"status": "closed"}, {"dumping_closed"}),
        ({"status": ["open", "acknowledged"]}, {"pothole_downtown", "light_north", "old_graffiti"}),
        ({"neighbourhood": "north-end"}, {"light_north"}),
        ({"q": "pothole"}, {"pothole_downtown"}),
        ({"q": "mattress"}, {"dumping_closed"}),  # a word's other form still matches
        ({"q": "Main St"}, {"light_north"}),  # the address is searched too
        ({"category": "pothole", "status": "closed"}, set()),
    ],
)
def test_each_filter(client, reports, params, expected):
    assert tracking_numbers_in(page(client, "/reports", **params), reports) == expected


def test_search_by_tracking_number(client, reports):
    # A tracking number, however typed, goes straight to its report (issue #22).
    number = reports["light_north"].tracking_number
    for typed in (number, number.lower().replace("-", " ")):
        response = client.get("/reports", query_string={"q": typed})
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/reports/{number}")


def test_date_range_uses_city_days(client, reports):
    today = utcnow().date()
    html = page(client, "/reports", date_from=str(today - timedelta(days=5)))
    assert tracking_numbers_in(html, reports) == {"pothole_downtown", "light_north"}
    html = page(client, "/reports", date_to=str(today - timedelta(days=30)))
    assert tracking_numbers_in(html, reports) == {"old_graffiti"}


def test_near_a_point_with_a_radius_and_sorted_by_distance(client, reports):
    html = page(client, "/reports", lat=NORTH_END[0], lon=NORTH_END[1], radius=500)
    assert tracking_numbers_in(html, reports) == {"light_north"}
    html = page(client, "/reports", lat=NORTH_END[0], lon=NORTH_END[1], radius=5000, sort="nearest")
    assert html.index(reports["light_north"].tracking_number) < html.index(
        reports["pothole_downtown"].tracking_number
    )


def test_sort_by_votes_and_by_update(client, reports):
    html = page(client, "/reports", sort="votes")
    assert (
        html.index(reports["dumping_closed"].tracking_number)
        < html.index(reports["pothole_downtown"].tracking_number)
        < html.index(reports["light_north"].tracking_number)
    )
    html = page(client, "/reports", sort="updated")
    assert html.index(reports["pothole_downtown"].tracking_number) < html.index(
        reports["old_graffiti"].tracking_number
    )


def test_htmx_gets_only_the_results_and_both_vary(client, reports):
    response = client.get("/reports?category=pothole", headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert re.match(r'\s*<title>[^<]*</title>\s*<section id="results"', fragment)
    assert "<html" not in fragment and 'id="filters"' not in fragment
    assert 'data-announce="1 report match"' in fragment
    assert "HX-Request" in response.headers["Vary"]
    full = client.get("/reports?category=pothole")
    assert "<html" in full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]


def test_history_restore_gets_the_whole_page(client, reports):
    response = client.get(
        "/reports?category=pothole", headers={**HTMX, "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.get_data(as_text=True)


def test_the_pushed_url_reproduces_the_same_results(client, reports):
    """What HTMX pushes is the form's GET URL: loading it afresh gives the same list."""
    partial = client.get("/reports?status=open&sort=votes", headers=HTMX).get_data(as_text=True)
    full = page(client, "/reports", status="open", sort="votes")
    assert tracking_numbers_in(partial, reports) == tracking_numbers_in(full, reports)


def test_filters_form_works_without_javascript(client, reports):
    html = page(client, "/reports")
    assert '<form id="filters"' in html and 'method="get"' in html
    assert "<legend>Status" in html and 'name="category"' in html


def test_pages_have_stable_links(client, city):
    for n in range(45):
        make_report(description=f"Pothole number {n:02d} on Main Street")
    first = page(client, "/reports")
    assert "Page 1 of 3" in first and 'rel="next" href="?page=2"' in first
    second = page(client, "/reports", page=2)
    assert "Pothole number 24" in second and 'rel="prev"' in second
    assert "Pothole number 44" in first and "Pothole number 24" not in first


@pytest.mark.parametrize(
    "params",
    [
        {"page": "999999999"},
        {"page": "-3"},
        {"page": "abc"},
        {"date_from": "not-a-date"},
        {"date_from": "2026-13-45"},
        {"category": "no-such-thing"},
        {"neighbourhood": "atlantis"},
        {"status": "exploded"},
        {"sort": "chaos"},
        {"radius": "1e308"},
        {"lat": "nan", "lon": "inf"},
        {"q": "'; DROP TABLE report; --"},
        {"q": "<script>alert(1)</script>"},
        {"q": '"unbalanced AND OR NOT ( *'},
        {"q": "NEAR(a b)"},
    ],
)
def test_bad_filter_values_never_break_the_page(client, reports, params):
    response = client.get("/reports", query_string=params)
    html = response.get_data(as_text=True)
    # A day that is not one is a 400 page that says so (tests/test_dates.py); the rest are shown.
    assert response.status_code == (400 if "date_from" in params else 200)
    assert "<script>alert(1)</script>" not in html


def test_bad_date_says_so_and_unknown_category_matches_nothing(client, reports):
    response = client.get("/reports", query_string={"date_from": "31/12/2026"})
    assert response.status_code == 400
    assert "enter a date like 2026-11-25" in response.get_data(as_text=True)
    html = page(client, "/reports", category="no-such-thing")
    assert "No reports match these filters" in html and "See all reports" in html


def test_a_page_too_far_back_says_what_to_do(client, reports):
    html = page(client, "/reports", page=100000)
    assert "too far back" in html


def test_a_long_list_is_counted_only_as_far_as_it_pages(client, reports, monkeypatch):
    """Counting every match to print a number nobody pages through costs more than the
    page: past the deepest page the list says "more than" and still pages as far as it can."""
    monkeypatch.setattr(list_pages, "COUNT_CAP", 3)
    html = page(client, "/reports")
    assert "More than 3 reports" in html
    assert 'data-announce="More than 3 reports"' in html
    every_status = client.get("/reports?status=open&status=acknowledged&status=closed")
    assert "More than 3 reports match" in every_status.get_data(as_text=True)
    few = page(client, "/reports", category="pothole")
    assert "1 report matches" in few and "More than" not in few


def test_a_list_known_to_be_longer_than_its_pages_is_not_counted(client, reports, monkeypatch):
    """The map's summary says how many public reports have a point, per status: when that
    alone is more than the list pages through, the list says "more than" without counting
    (shown here by a summary that claims more than there are); otherwise it counts."""
    from sqlalchemy import delete, insert

    from bpt311.models import map_cell

    total = len(re.findall(r'class="report-row"', page(client, "/reports")))
    assert f"{total} reports" in page(client, "/reports")
    monkeypatch.setattr(list_pages, "COUNT_CAP", total + 5)
    fake = {"cell": 1, "hidden": False, "latitude_sum": 0, "longitude_sum": 0}
    db.session.execute(insert(map_cell).values(status="open", reports=1000, **fake))
    db.session.commit()
    html = page(client, "/reports")
    assert f"More than {total + 5} reports" in html
    assert "More than" in page(client, "/reports", status="open")
    assert f"{total} reports" not in html
    searched = page(client, "/reports", q="pothole")  # not known from the summary: counted
    assert "More than" not in searched
    closed = page(client, "/reports", status="closed")  # the summary's open row is not it
    assert "More than" not in closed
    db.session.execute(delete(map_cell).where(map_cell.c.cell == 1))
    db.session.commit()
    assert f"{total} reports" in page(client, "/reports")


def test_list_runs_a_fixed_number_of_queries(client, city, count_queries):
    def queries_for_page():
        with count_queries() as counter:
            assert client.get("/reports").status_code == 200
        return counter.count

    make_report()
    one = queries_for_page()
    for n in range(19):
        report = make_report(description=f"Report {n} with a photo")
        db.session.add(
            Media(
                report=report,
                kind="photo",
                file_name=f"f{n}.jpg",
                thumb_name=f"f{n}.thumb.jpg",
                content_type="image/jpeg",
                size_bytes=10,
                width=640,
                height=480,
            )
        )
    db.session.commit()
    assert queries_for_page() == one


def test_home_page_runs_a_fixed_number_of_queries(client, city, count_queries):
    make_report()
    with count_queries() as few:
        client.get("/")
    for _ in range(10):
        make_report()
    with count_queries() as many:
        client.get("/")
    assert many.count == few.count


# ---- GeoJSON, CSV --------------------------------------------------------------------


def test_geojson_follows_the_filters_and_the_bbox(client, reports):
    response = client.get("/reports.geojson", query_string={"status": "open"})
    data = json.loads(response.get_data())
    assert response.mimetype == "application/geo+json"
    numbers = {f["properties"]["tracking_number"] for f in data["features"]}
    assert numbers == {
        reports["pothole_downtown"].tracking_number,
        reports["old_graffiti"].tracking_number,
    }
    feature = data["features"][0]
    assert feature["geometry"]["type"] == "Point"
    lon, lat = feature["geometry"]["coordinates"]
    assert (round(lat, 4), round(lon, 4)) == DOWNTOWN
    north_box = "-73.23,41.20,-73.20,41.23"
    data = json.loads(client.get(f"/reports.geojson?bbox={north_box}").get_data())
    assert [f["properties"]["tracking_number"] for f in data["features"]] == [
        reports["light_north"].tracking_number
    ]


def test_geojson_is_cached_with_an_etag_that_changes_with_the_data(client, reports):
    first = client.get("/reports.geojson?bbox=-73.3,41.1,-73.1,41.3")
    first.get_data()
    etag = first.headers["ETag"]
    again = client.get(
        "/reports.geojson?bbox=-73.3,41.1,-73.1,41.3", headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    make_report("sidewalk")
    changed = client.get(
        "/reports.geojson?bbox=-73.3,41.1,-73.1,41.3", headers={"If-None-Match": etag}
    )
    changed.get_data()
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "10,10,0,0", "-200,0,0,0", "nan,1,2,3"])
def test_malformed_bbox_is_a_clear_400(client, reports, bbox):
    response = client.get(f"/reports.geojson?bbox={bbox}", headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert "bbox" in response.json["message"]


def test_map_geojson_is_capped(client, city, monkeypatch):
    import bpt311.reports.listing as listing

    monkeypatch.setattr(listing, "MAP_CAP", 3)
    for _ in range(5):
        make_report()
    data = json.loads(client.get("/reports.geojson?bbox=-73.3,41.1,-73.1,41.3").get_data())
    assert len(data["features"]) == 3
    data = json.loads(client.get("/reports.geojson").get_data())
    assert len(data["features"]) == 5  # the export is complete


def test_csv_export_matches_the_filter_and_defuses_formulas(client, city):
    make_report(description='=HYPERLINK("http://evil","click")', address="@SUM(A1)")
    make_report("graffiti", description="Not a pothole")
    response = client.get("/reports.csv?category=pothole")
    body = response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 1
    assert rows[0]["description"].startswith("'=HYPERLINK")
    assert rows[0]["address"] == "'@SUM(A1)"
    assert rows[0]["url"].startswith("http://bpt311.test/reports/BPT-")


def test_exports_never_carry_private_details(client, city):
    make_report(
        contact_name="Maria Private",
        contact_email="maria@example.org",
        contact_phone="203 555 0100",
        anonymous=True,
    )
    for path in ("/reports.csv", "/reports.geojson", "/reports", "/map"):
        body = client.get(path).get_data(as_text=True)
        for secret in ("Maria Private", "maria@example.org", "555 0100"):
            assert secret not in body, (path, secret)


# ---- the map page, neighbourhoods, the report page ------------------------------------------


def test_map_page_has_the_list_as_its_alternative(client, reports):
    html = page(client, "/map", category="pothole")
    assert 'id="reports-map"' in html and 'aria-label="Map of the reports listed below"' in html
    assert "Open (circle)" in html  # a legend that does not rely on colour
    assert reports["pothole_downtown"].tracking_number in html
    assert reports["light_north"].tracking_number not in html


def test_neighbourhood_page_shows_its_reports_and_figures(client, reports):
    html = page(client, "/neighbourhoods/downtown")
    assert "<h1>Downtown</h1>" in html
    assert reports["pothole_downtown"].tracking_number in html
    assert reports["light_north"].tracking_number not in html
    assert "<strong>2</strong> open now" in html  # pothole and graffiti
    assert "8.0</strong> median days to close" in html  # the dumping: 10 days - 2 days
    assert client.get("/neighbourhoods/atlantis").status_code == 404
    index = page(client, "/neighbourhoods")
    assert "North End" in index and "<caption>" in index


def test_report_page_in_full(client, reports):
    report = reports["dumping_closed"]
    html = page(client, f"/reports/{report.tracking_number}")
    assert 'property="og:title"' in html and 'rel="canonical"' in html
    assert "Closed" in html and "after it was reported" in html
    assert "Link to this report" in html and report.tracking_number in html


def test_overdue_report_says_by_how_much(client, city):
    late = make_report("animal_bite", created_at=utcnow() - timedelta(days=2, hours=4))
    html = page(client, f"/reports/{late.tracking_number}")
    assert "Overdue by 2 days" in html


def test_merged_duplicates_link_both_ways(client, city):
    original = make_report()
    copy = make_report(status="closed", duplicate_of_id=original.id)
    assert copy.tracking_number in page(client, f"/reports/{original.tracking_number}")
    assert f'same problem as <a href="/reports/{original.tracking_number}"' in page(
        client, f"/reports/{copy.tracking_number}"
    )


def test_home_page_offers_search_by_address_and_figures(client, reports):
    html = page(client, "/")
    assert 'action="/reports"' in html and 'name="near"' in html
    assert "median days to acknowledge" in html


def test_the_filter_choices_are_read_once_and_a_catalogue_change_shows_at_once(
    make_app, count_queries, monkeypatch
):
    """The kinds and neighbourhoods of the filter form are kept FILTER_CHOICES_SECONDS in a
    process; a change made through the back office shows on the next page all the same."""
    from bpt311 import public_cache
    from bpt311.models import Category
    from bpt311.seed import load_city
    from bpt311.staff.administration.categories import set_category_active
    from tests.factories import make_user

    app = make_app(FILTER_CHOICES_SECONDS=30)
    with app.app_context():
        load_city()
        client = app.test_client()
        first = client.get("/reports").get_data(as_text=True)
        assert 'value="pothole"' in first
        with count_queries() as kept:
            client.get("/reports")
        with count_queries() as read_again:
            client.get("/reports", headers={"Accept-Language": "es"})  # its own choices
        assert read_again.count == kept.count + 2  # the categories and the neighbourhoods

        pothole = db.session.scalar(select(Category).filter_by(service_code="pothole"))
        set_category_active(make_user(email="admin@example.org", role="admin"), pothole, False)
        assert 'value="pothole"' not in client.get("/reports").get_data(as_text=True)

        pothole.active = True  # behind the back office's back: no change announced
        db.session.commit()
        assert 'value="pothole"' not in client.get("/reports").get_data(as_text=True)
        later = public_cache.time.monotonic() + 31
        monkeypatch.setattr(public_cache.time, "monotonic", lambda: later)
        assert 'value="pothole"' in client.get("/reports").get_data(as_text=True)


def test_the_kept_filter_form_follows_each_requests_filters_and_language(client, city):
    """The filter form is rendered once per language, catalogue and filter values and kept:
    another visitor's choices, language or a refused date never show on the next page."""

    def pothole_chosen(html: str) -> bool:
        return bool(
            re.search(
                r'<option[^>]*value="pothole"[^>]*selected|<option[^>]*selected[^>]*value="pothole"',
                html,
            )
        )

    assert pothole_chosen(client.get("/reports?category=pothole").get_data(as_text=True))
    assert not pothole_chosen(client.get("/reports").get_data(as_text=True))
    assert pothole_chosen(client.get("/map?category=pothole").get_data(as_text=True))
    assert not pothole_chosen(client.get("/map").get_data(as_text=True))
    client.set_cookie("lang", "es")
    spanish = client.get("/reports").get_data(as_text=True)
    assert "Todos los tipos" in spanish and "All kinds" not in spanish
    client.set_cookie("lang", "en")
    assert "All kinds" in client.get("/reports").get_data(as_text=True)
    refused = client.get("/reports?date_from=2026-02-30").get_data(as_text=True)
    assert 'value="2026-02-30"' in refused
    assert 'value="2026-02-30"' not in client.get("/reports").get_data(as_text=True)
