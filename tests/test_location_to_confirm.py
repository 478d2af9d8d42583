"""Reports whose place is not a point yet (issue #22 items 1-3, #23 item 2): nobody is
stuck without JavaScript or while the geocoder is down, a photo's point survives every
step, a file name never becomes an address, and a job places what waits."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from bpt311.api.keys import create_key
from bpt311.extensions import db
from bpt311.models import Neighbourhood, Report
from bpt311.reports.locating import place_pending_reports
from bpt311.seed import load_city
from bpt311.staff import details
from tests.factories import make_report, make_user, sign_in_as
from tests.fake_nominatim import FakeNominatim, nominatim_place
from tests.test_reporting import form_data, jpeg, post

LYON_TERRACE = (41.1792, -73.1894)
PHOTO_SPOT = (41.18615, -73.19542)
KNOWN = {"lyon terrace": [nominatim_place(*LYON_TERRACE, house_number="45", road="Lyon Terrace")]}
# Words about tools only the JavaScript map gives: never in markup shown without it.
TOOL_WORDS = re.compile(r"\bpin\b|the map|your location|use my location", re.IGNORECASE)


class BrowserForm(HTMLParser):
    """What a browser without JavaScript sends back from the report form: every hidden and
    text input, checked radios and checkboxes, textareas and selected options."""

    def __init__(self, page: str):
        super().__init__()
        self.fields: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text")
            if kind in ("file", "submit", "button"):
                return
            if kind in ("radio", "checkbox") and "checked" not in a:
                return
            if name == "remove_media":
                return
            self.fields[name] = a.get("value", "") or ""
        elif tag == "textarea" and name:
            self._textarea = name
            self.fields[name] = ""
        elif tag == "select" and name:
            self._select = name
            self.fields.setdefault(name, "")
        elif tag == "option" and self._select and "selected" in a:
            self.fields[self._select] = a.get("value", "")

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.fields[self._textarea] += data


def resend(client, page: str, **changes):
    fields = BrowserForm(page).fields
    fields.update(changes)
    return post(client, fields)


def without_javascript(page: str) -> str:
    """The page as shown with JavaScript off: the hidden map tools left out."""
    return re.sub(r'<div class="map-tools" hidden>.*?</p>\s*</div>', "", page, flags=re.DOTALL)


@pytest.fixture
def down(make_app):
    """An app whose geocoder refuses connections, with the city loaded."""
    app = make_app()
    with app.app_context():
        load_city()
        yield app


def test_geocoder_down_accepts_the_address_as_typed_then_a_job_places_it(down):
    client = down.test_client()
    data = form_data(client, latitude="", longitude="", address="45 Lyon Terrace")
    first = post(client, data)
    page = first.get_data(as_text=True)
    assert first.status_code == 200
    assert "We can&#39;t look up addresses right now" in page
    assert not TOOL_WORDS.search(without_javascript(page))
    # the no-JavaScript way to point at the place: the city's neighbourhoods
    options = re.findall(r'<option value="(\d+)">([^<]+)</option>', page)
    assert len(options) == 13
    downtown = db.session.scalar(select(Neighbourhood.id).where(Neighbourhood.name == "Downtown"))
    assert (str(downtown), "Downtown") in options
    sent = resend(client, page, neighbourhood=str(downtown))
    assert sent.status_code == 303, sent.get_data(as_text=True)
    report = db.session.scalars(select(Report)).one()
    assert (report.latitude, report.longitude) == (None, None)
    assert report.address == "45 Lyon Terrace" and report.location_pending
    assert report.neighbourhood_id == downtown
    receipt = client.get(sent.headers["Location"]).get_data(as_text=True)
    assert report.tracking_number in receipt
    detail = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Location to be confirmed" in detail and "data-map-point" not in detail
    spanish = client.get(f"/reports/{report.tracking_number}", headers={"Accept-Language": "es"})
    assert "Ubicación por confirmar" in spanish.get_data(as_text=True)
    # lists show it; the map's GeoJSON, which needs a point, leaves it out
    assert report.tracking_number in client.get("/reports").get_data(as_text=True)
    features = json.loads(client.get("/reports.geojson").get_data(as_text=True))["features"]
    assert features == []

    # Still down: the job tries, and waits longer before the next try.
    assert place_pending_reports() == 0
    db.session.expire_all()
    assert report.location_attempts == 1 and report.location_retry_at is not None
    assert place_pending_reports() == 0  # not due yet: no second call
    assert report.location_attempts == 1

    # The geocoder is back: the next due try places it.
    with FakeNominatim(KNOWN) as fake:
        down.config["GEOCODER_URL"] = fake.url
        report.location_retry_at = None
        db.session.commit()
        assert place_pending_reports() == 1
    db.session.expire_all()
    assert (report.latitude, report.longitude) == LYON_TERRACE
    assert not report.location_pending and report.address == "45 Lyon Terrace"
    detail = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Location to be confirmed" not in detail and "data-map-point" in detail
    features = json.loads(client.get("/reports.geojson").get_data(as_text=True))["features"]
    assert [f["properties"]["tracking_number"] for f in features] == [report.tracking_number]


def test_an_address_the_geocoder_cannot_find_can_still_be_sent(make_app):
    with FakeNominatim(KNOWN) as fake:
        app = make_app(GEOCODER_URL=fake.url, GEOCODER_TIMEOUT=1)
        with app.app_context():
            load_city()
            client = app.test_client()
            data = form_data(client, latitude="", longitude="", address="Behind the old mill")
            first = post(client, data)
            page = first.get_data(as_text=True)
            assert first.status_code == 422
            assert "We could not find “Behind the old mill” in Bridgeport" in page
            assert not TOOL_WORDS.search(without_javascript(page))
            assert resend(client, page).status_code == 303
            report = db.session.scalars(select(Report)).one()
            assert report.address == "Behind the old mill" and report.latitude is None
            assert report.location_pending and report.neighbourhood_id is None


def test_nothing_given_asks_for_the_place_without_naming_the_map(down):
    client = down.test_client()
    page = post(client, form_data(client, latitude="", longitude="", address="")).get_data(
        as_text=True
    )
    assert "Tell us where the problem is" in page
    assert not TOOL_WORDS.search(without_javascript(page))


def test_the_address_hint_names_the_map_only_in_the_javascript_tools(down):
    client = down.test_client()
    page = client.get("/reports/new?category=pothole").get_data(as_text=True)
    assert "Place the pin on the map" in page  # in the tools the script reveals
    assert not TOOL_WORDS.search(without_javascript(page))


@pytest.fixture
def reverse_geocoder(make_app):
    """A geocoder that knows the photo's spot, by point."""
    with FakeNominatim(
        KNOWN,
        reverse_result=nominatim_place(*PHOTO_SPOT, house_number="990", road="Fairfield Avenue"),
    ) as fake:
        app = make_app(GEOCODER_URL=fake.url, GEOCODER_TIMEOUT=1)
        with app.app_context():
            load_city()
            yield app, fake


def test_photo_point_survives_the_duplicate_question_and_no_file_name_is_shown(
    reverse_geocoder,
):
    app, _fake = reverse_geocoder
    client = app.test_client()
    original = make_report(
        "pothole", latitude=PHOTO_SPOT[0], longitude=PHOTO_SPOT[1], address="990 Fairfield Ave"
    )
    data = form_data(
        client, latitude="", longitude="", address="", photos=[jpeg(PHOTO_SPOT, name="gps.jpg")]
    )
    offered = post(client, data).get_data(as_text=True)
    assert "We found the location stored in your photo" in offered
    duplicates = resend(client, offered)
    page = duplicates.get_data(as_text=True)
    assert duplicates.status_code == 200 and original.tracking_number in page
    sent = resend(client, page, not_duplicate="1")
    assert sent.status_code == 303, sent.get_data(as_text=True)
    report = db.session.scalars(select(Report).where(Report.id != original.id)).one()
    assert (report.latitude, report.longitude) == PHOTO_SPOT
    assert report.address == "990 Fairfield Avenue, Bridgeport"
    assert len(report.media) == 1
    for path in (f"/reports/{report.tracking_number}", "/reports"):
        for language in ("en", "es", "pt"):
            text = client.get(path, headers={"Accept-Language": language}).get_data(as_text=True)
            assert "gps.jpg" not in text and report.tracking_number in text


def test_photo_point_without_a_geocoder_says_location_on_the_map_then_a_job_names_it(down):
    client = down.test_client()
    data = form_data(
        client, latitude="", longitude="", address="", photos=[jpeg(PHOTO_SPOT, name="gps2.jpg")]
    )
    offered = post(client, data).get_data(as_text=True)
    assert resend(client, offered).status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert report.address == "" and report.location_pending
    assert report.neighbourhood is not None
    detail = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", detail).group(1)
    assert f"Location on the map ({report.neighbourhood.name})" in title
    assert "gps2.jpg" not in detail
    assert f"{report.neighbourhood.name} ({report.neighbourhood.name})" not in detail
    spanish = client.get(f"/reports/{report.tracking_number}", headers={"Accept-Language": "es"})
    assert "gps2.jpg" not in spanish.get_data(as_text=True)
    with FakeNominatim(
        reverse_result=nominatim_place(*PHOTO_SPOT, house_number="990", road="Fairfield Avenue")
    ) as fake:
        down.config["GEOCODER_URL"] = fake.url
        assert place_pending_reports() == 1
    db.session.expire_all()
    assert report.address == "990 Fairfield Avenue, Bridgeport" and not report.location_pending


def test_old_rows_named_after_a_photo_are_renamed_by_the_job(reverse_geocoder):
    """What the migration leaves of a row whose address was a file name: no address,
    location pending; the job then reverse-geocodes it."""
    report = make_report("pothole", address="", location_pending=True)
    assert place_pending_reports() == 1
    db.session.expire_all()
    assert report.address == "990 Fairfield Avenue, Bridgeport"


def test_staff_can_place_a_report_that_waits_for_its_point(down):
    report = make_report("pothole", latitude=None, longitude=None, location_pending=True)
    admin = make_user("admin@example.org", role="admin")
    client = down.test_client()
    sign_in_as(client, admin)
    inspector = client.get(f"/staff/reports/{report.tracking_number}")
    assert inspector.status_code == 200
    assert "Location to be confirmed" in inspector.get_data(as_text=True)
    details.edit_details(
        report, admin, report.version, report.description, "45 Lyon Terrace", "41.1792", "-73.1894"
    )
    db.session.expire_all()
    assert (report.latitude, report.longitude) == LYON_TERRACE
    assert not report.location_pending and report.neighbourhood is not None


# ---- Open311 -------------------------------------------------------------------------


def test_open311_address_only_while_the_geocoder_is_down_is_accepted_with_a_notice(down):
    client = down.test_client()
    key = create_key("Test client").secret
    response = client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": key,
            "service_code": "pothole",
            "address_string": "45 Lyon Terrace",
            "description": "A deep pothole in the right lane by the bus stop.",
            "attribute[size]": "medium",
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    [made] = response.get_json()
    assert "location will be confirmed" in made["service_notice"]
    report = db.session.scalars(select(Report)).one()
    assert report.address == "45 Lyon Terrace" and report.location_pending
    shown = client.get(f"/open311/v2/requests/{made['service_request_id']}.json").get_json()
    assert shown[0]["lat"] is None and shown[0]["address"] == "45 Lyon Terrace"
    with FakeNominatim(KNOWN) as fake:
        down.config["GEOCODER_URL"] = fake.url
        assert place_pending_reports() == 1
    db.session.expire_all()
    assert (report.latitude, report.longitude) == LYON_TERRACE


def test_a_changed_address_is_looked_up_again_not_the_kept_point_used(make_app):
    """The kept point belongs to the address it was found for: a resident without
    JavaScript who corrects the address gets the new place."""
    fairfield_avenue = (41.17500, -73.20500)
    places = {
        **KNOWN,
        "fairfield avenue": [
            nominatim_place(*fairfield_avenue, house_number="990", road="Fairfield Avenue")
        ],
    }
    with FakeNominatim(places) as fake:
        app = make_app(GEOCODER_URL=fake.url, GEOCODER_TIMEOUT=1)
        with app.app_context():
            load_city()
            client = app.test_client()
            data = form_data(client, latitude="", longitude="", description="short")
            page = post(client, data).get_data(as_text=True)
            assert "at least 10 characters" in page
            assert BrowserForm(page).fields["latitude"] == f"{LYON_TERRACE[0]:.6f}"
            sent = resend(
                client,
                page,
                description="A deep pothole in the right lane by the bus stop.",
                address="990 Fairfield Avenue",
            )
            assert sent.status_code == 303
            report = db.session.scalars(select(Report)).one()
            assert (report.latitude, report.longitude) == fairfield_avenue


def test_a_geocoder_down_costs_the_sweep_one_try_not_one_per_report(down):
    first, second = (
        make_report("pothole", latitude=None, longitude=None, location_pending=True)
        for _ in range(2)
    )
    assert place_pending_reports() == 0
    db.session.expire_all()
    assert (first.location_attempts, second.location_attempts) == (1, 0)


def test_staff_correcting_the_address_of_an_unplaced_report_has_it_looked_up_again(down):
    report = make_report(
        "pothole",
        latitude=None,
        longitude=None,
        address="45 Lyon Terace",
        location_pending=True,
        location_attempts=12,  # the geocoder could not find the misspelt address
    )
    admin = make_user("admin@example.org", role="admin")
    details.edit_details(
        report, admin, report.version, report.description, "45 Lyon Terrace", "", ""
    )
    db.session.expire_all()
    assert report.address == "45 Lyon Terrace" and report.latitude is None
    assert report.location_pending and report.location_attempts == 0
    with FakeNominatim(KNOWN) as fake:
        down.config["GEOCODER_URL"] = fake.url
        assert place_pending_reports() == 1
    db.session.expire_all()
    assert (report.latitude, report.longitude) == LYON_TERRACE


def test_the_city_hall_kiosk_accepts_an_address_while_the_geocoder_is_down(down):
    client = down.test_client()
    page = client.get("/kiosk/report?category=pothole").get_data(as_text=True)
    fields = BrowserForm(page).fields
    fields.update(
        description="A deep pothole in front of the library steps.",
        answer_size="large",
        address="925 Broad Street",
    )
    offered = client.post("/kiosk/report", data=fields).get_data(as_text=True)
    assert "look up addresses right now" in offered and 'name="neighbourhood"' in offered
    fields = BrowserForm(offered).fields
    sent = client.post("/kiosk/report", data=fields)
    assert sent.status_code == 303 and "/receipt" in sent.headers["Location"]
    report = db.session.scalars(select(Report)).one()
    assert report.source == "kiosk" and report.address == "925 Broad Street"
    assert report.location_pending and report.latitude is None
