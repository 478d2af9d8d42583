"""Location first (#22 item 8), without JavaScript: a place chosen from /map or near an
address shows the reports already there, then "Report a problem here" opens the form with
the place filled in, and the report is sent with that point; the place's address is said as
soon as a point is chosen, or neutral words when the geocoder is down."""

from __future__ import annotations

import html
import json
import re

import pytest
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Neighbourhood, Report
from bpt311.reports.service import neighbourhood_at
from bpt311.seed import load_city
from tests.factories import make_report
from tests.fake_nominatim import FakeNominatim, nominatim_place
from tests.test_location_to_confirm import KNOWN, LYON_TERRACE, BrowserForm
from tests.test_reporting import post

FAIRFIELD = (41.1412, -73.2637)  # the next town: not the city's to fix


@pytest.fixture
def geocoder(make_app):
    """A geocoder that finds Lyon Terrace by name and says any point is 45 Lyon Terrace."""
    with FakeNominatim(
        KNOWN, reverse_result=nominatim_place(*LYON_TERRACE, house_number="45", road="Lyon Terrace")
    ) as fake:
        app = make_app(GEOCODER_URL=fake.url, GEOCODER_TIMEOUT=1)
        with app.app_context():
            load_city()
            yield app


@pytest.fixture
def down(make_app):
    """An app whose geocoder refuses connections, with the city loaded."""
    app = make_app(GEOCODER_TIMEOUT=1)
    with app.app_context():
        load_city()
        yield app


def report_here_link(page: str) -> str:
    found = re.search(r'href="([^"]+)">Report a problem here</a>', page)
    assert found, "no Report a problem here link"
    return html.unescape(found.group(1))


def test_from_the_map_near_an_address_to_a_report_sent_at_that_place(geocoder):
    client = geocoder.test_client()
    near = make_report(
        "streetlight",
        description="The street light by the school is out.",
        latitude=LYON_TERRACE[0] + 0.0005,
        longitude=LYON_TERRACE[1],
    )
    far = make_report("streetlight", description="Far away light", latitude=41.2, longitude=-73.2)

    # No JavaScript: the map page's "near" box finds the place; the reports there come first.
    page = client.get("/map?near=45+Lyon+Terrace").get_data(as_text=True)
    assert near.tracking_number in page and far.tracking_number not in page
    link = report_here_link(page)
    assert page.index(near.tracking_number) < page.index("Report a problem here")
    assert link == "/reports/new?lat=41.179200&lon=-73.189400"

    # The category step keeps the place in its form, so choosing sends it on.
    step = client.get(link).get_data(as_text=True)
    assert '<input type="hidden" name="lat" value="41.179200">' in step
    assert '<input type="hidden" name="lon" value="-73.189400">' in step
    form_page = client.get(link + "&category=pothole").get_data(as_text=True)
    assert "The place you chose: <strong>45 Lyon Terrace, Bridgeport</strong>" in form_page
    fields = BrowserForm(form_page).fields
    assert (fields["latitude"], fields["longitude"]) == ("41.179200", "-73.189400")
    assert fields["address"] == "45 Lyon Terrace, Bridgeport"

    fields.update(description="A deep pothole in the right lane.", answer_size="medium")
    sent = post(client, fields)
    assert sent.status_code == 303, sent.get_data(as_text=True)
    report = db.session.scalars(select(Report).where(Report.category.has(service_code="pothole")))
    report = report.one()
    assert (report.latitude, report.longitude) == LYON_TERRACE
    assert report.address == "45 Lyon Terrace, Bridgeport" and not report.location_pending


def test_near_me_lists_the_reports_nearest_first_and_offers_to_report_there(geocoder):
    client = geocoder.test_client()
    make_report(latitude=LYON_TERRACE[0], longitude=LYON_TERRACE[1])
    page = client.get("/reports?lat=41.17920&lon=-73.18940&radius=1000&sort=nearest")
    link = report_here_link(page.get_data(as_text=True))
    assert link == "/reports/new?lat=41.179200&lon=-73.189400"
    # Without a place, no such offer.
    assert "Report a problem here" not in client.get("/reports").get_data(as_text=True)


def test_typing_another_address_on_the_prefilled_form_looks_that_one_up(geocoder):
    client = geocoder.test_client()
    form_page = client.get("/reports/new?category=pothole&lat=41.1800&lon=-73.1900")
    fields = BrowserForm(form_page.get_data(as_text=True)).fields
    assert fields["located_for"] == "@45 Lyon Terrace, Bridgeport"
    fields.update(
        description="A deep pothole in the right lane.",
        answer_size="medium",
        address="Lyon Terrace",
    )
    assert post(client, fields).status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert (report.latitude, report.longitude) == LYON_TERRACE  # the typed one, looked up


def test_the_place_page_says_the_address_and_the_reports_near_it(geocoder):
    client = geocoder.test_client()
    make_report(latitude=LYON_TERRACE[0], longitude=LYON_TERRACE[1])
    page = client.get("/reports/here?lat=41.1792&lon=-73.1894")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Reports near the place you chose</h1>" in text
    assert "<strong>45 Lyon Terrace, Bridgeport</strong>" in text
    assert "1 report is already within 500 m of this place" in text
    assert report_here_link(text) == "/reports/new?lat=41.179200&lon=-73.189400"
    # The panel beside /map's pin: the same, alone, and said in the live region.
    partial = client.get("/reports/here?lat=41.1792&lon=-73.1894", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert "<html" not in body and 'id="here"' in body
    assert 'data-announce="Pin placed: 45 Lyon Terrace, Bridgeport. 1 report near here."' in body
    assert "HX-Request" in partial.headers["Vary"]


def test_a_pin_with_the_geocoder_down_is_the_neighbourhood_in_words(down):
    client = down.test_client()
    name = db.session.get(Neighbourhood, neighbourhood_at(*LYON_TERRACE)).name
    answer = json.loads(client.get("/reports/here.json?lat=41.1792&lon=-73.1894").data)
    assert answer["address"] == "" and answer["problem"] == ""
    assert answer["label"] == f"Location on the map ({name})"
    page = client.get("/reports/new?category=pothole&lat=41.1792&lon=-73.1894")
    text = page.get_data(as_text=True)
    assert f"The place you chose: <strong>Location on the map ({name})</strong>" in text
    fields = BrowserForm(text).fields
    assert fields["latitude"] == "41.1792" and fields["address"] == ""


def test_a_point_outside_the_city_is_refused_and_not_kept(geocoder):
    client = geocoder.test_client()
    query = f"lat={FAIRFIELD[0]}&lon={FAIRFIELD[1]}"
    page = client.get(f"/reports/here?{query}")
    assert page.status_code == 422
    assert "outside the City of Bridgeport" in page.get_data(as_text=True)
    assert "Report a problem here" not in page.get_data(as_text=True)
    answer = json.loads(client.get(f"/reports/here.json?{query}").data)
    assert "outside the City of Bridgeport" in answer["problem"]
    form_page = client.get(f"/reports/new?category=pothole&{query}").get_data(as_text=True)
    assert "outside the City of Bridgeport" in form_page
    fields = BrowserForm(form_page).fields
    assert fields["latitude"] == fields["longitude"] == ""


@pytest.mark.parametrize("query", ["lat=nan&lon=1", "lat=abc&lon=", "", "lat=91&lon=-73"])
def test_a_place_that_is_no_place_is_said_so(geocoder, query):
    page = geocoder.test_client().get(f"/reports/here?{query}")
    assert page.status_code == 422
    assert "Report a problem here" not in page.get_data(as_text=True)
