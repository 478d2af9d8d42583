"""The Open311 GeoReport v2 API, as a client of the standard sees it: JSON and XML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert, select

from bpt311.api.keys import create_key, revoke_key
from bpt311.extensions import db
from bpt311.models import ApiKey, AuditLog, Category, Media, Report, TimelineEvent, utcnow
from tests.factories import CITY_HALL, category, make_report, make_user
from tests.fake_nominatim import FakeNominatim, nominatim_place

V2 = "/open311/v2"
FORMATS = ["json", "xml"]
FAIRFIELD = (41.1415, -73.2637)
NEW_YORK = ZoneInfo("America/New_York")

# Element and key names, in order, from http://wiki.open311.org/GeoReport_v2
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
ATTRIBUTE_FIELDS = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
]
REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
W3C = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")


# ---- helpers -----------------------------------------------------------------------


def body(response):
    """The answer as Python values: JSON parsed, or the XML root element."""
    if response.mimetype == "application/json":
        return json.loads(response.get_data(as_text=True))
    assert response.mimetype == "text/xml", response.mimetype
    text = response.get_data(as_text=True)
    assert text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    return ET.fromstring(response.data)


def children(element) -> list[str]:
    return [child.tag for child in element]


def error_descriptions(response, fmt: str) -> list[str]:
    """The descriptions of a GeoReport error answer, checking its shape on the way."""
    parsed = body(response)
    if fmt == "json":
        assert response.mimetype == "application/json"
        assert all(set(entry) == {"code", "description"} for entry in parsed)
        assert all(entry["code"] == response.status_code for entry in parsed)
        return [entry["description"] for entry in parsed]
    assert response.mimetype == "text/xml"
    assert parsed.tag == "errors" and set(children(parsed)) == {"error"}
    for error in parsed:
        assert children(error) == ["code", "description"]
        assert int(error.findtext("code")) == response.status_code
    return [error.findtext("description") for error in parsed]


def ids(response) -> list[str]:
    parsed = body(response)
    if isinstance(parsed, list):
        return [item["service_request_id"] for item in parsed]
    return [request.findtext("service_request_id") for request in parsed]


@pytest.fixture
def api_key(city) -> str:
    return create_key("Test client").secret


def post_request(client, key: str | None, fmt: str = "json", **fields):
    data = {
        "api_key": key,
        "service_code": "pothole",
        "lat": str(CITY_HALL[0]),
        "long": str(CITY_HALL[1]),
        "address_string": "45 Lyon Terrace",
        "description": "A deep pothole in the right lane by the bus stop.",
        "attribute[size]": "medium",
    }
    data.update(fields)
    data = {name: value for name, value in data.items() if value is not None}
    return client.post(f"{V2}/requests.{fmt}", data=data)


def ago(**delta) -> datetime:
    return (utcnow() - timedelta(**delta)).replace(microsecond=0)


def bulk_reports(count: int, code: str = "pothole", **fields) -> None:
    """Many reports at once, newest last, a second apart, without timelines."""
    chosen = category(code)
    start = fields.pop("created_at", ago(hours=2))
    rows = [
        {
            "category_id": chosen.id,
            "department_id": chosen.department_id,
            "description": f"Report number {n}",
            "latitude": CITY_HALL[0],
            "longitude": CITY_HALL[1],
            "created_at": start + timedelta(seconds=n),
            "updated_at": start + timedelta(seconds=n),
            **fields,
        }
        for n in range(count)
    ]
    db.session.execute(insert(Report), rows)
    db.session.commit()


# ---- services ----------------------------------------------------------------------


def test_service_list_in_json_has_every_active_category_with_spec_keys(client, city):
    response = client.get(f"{V2}/services.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    services = body(response)
    active = db.session.scalars(select(Category).where(Category.active)).all()
    assert len(services) == len(active) > 20
    assert all(list(service) == SERVICE_FIELDS for service in services)
    pothole = next(s for s in services if s["service_code"] == "pothole")
    assert pothole["metadata"] is True and pothole["type"] == "realtime"
    assert pothole["service_name"] == "Pothole" and pothole["group"] == "Streets and sidewalks"
    assert "asphalt" in pothole["keywords"]
    sweeping = next(s for s in services if s["service_code"] == "street_sweeping")
    assert sweeping["metadata"] is False


def test_service_list_in_xml_uses_the_spec_element_names(client, city):
    response = client.get(f"{V2}/services.xml")
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = body(response)
    assert root.tag == "services" and set(children(root)) == {"service"}
    assert all(children(service) == SERVICE_FIELDS for service in root)
    pothole = next(s for s in root if s.findtext("service_code") == "pothole")
    assert pothole.findtext("metadata") == "true" and pothole.findtext("type") == "realtime"


def test_service_definition_in_json_lists_attributes_in_order(client, city):
    definition = body(client.get(f"{V2}/services/pothole.json"))
    assert list(definition) == ["service_code", "attributes"]
    assert definition["service_code"] == "pothole"
    size, lane = definition["attributes"]
    assert list(size) == ATTRIBUTE_FIELDS
    assert (size["code"], size["order"], lane["code"], lane["order"]) == (
        "size",
        1,
        "travel_lane",
        2,
    )
    assert size["variable"] is True and size["required"] is True and lane["required"] is False
    assert size["datatype"] == "singlevaluelist"
    assert size["description"] == "How big is it?"
    assert [value["key"] for value in size["values"]] == ["small", "medium", "large"]
    assert all(list(value) == ["key", "name"] for value in size["values"])


def test_service_definition_of_free_text_questions_has_no_values(client, city):
    definition = body(client.get(f"{V2}/services/bulky_item.json"))
    items, count = definition["attributes"]
    assert (items["datatype"], items["values"]) == ("text", [])
    assert count["datatype"] == "number" and "number" in count["datatype_description"]


def test_service_definition_in_xml_uses_the_spec_element_names(client, city):
    root = body(client.get(f"{V2}/services/sidewalk.xml"))
    assert root.tag == "service_definition"
    assert children(root) == ["service_code", "attributes"]
    [attribute] = root.find("attributes")
    assert attribute.tag == "attribute" and children(attribute) == ATTRIBUTE_FIELDS
    assert attribute.findtext("datatype") == "multivaluelist"
    assert attribute.findtext("required") == "true" and attribute.findtext("variable") == "true"
    values = attribute.find("values")
    assert set(children(values)) == {"value"}
    assert all(children(value) == ["key", "name"] for value in values)
    assert "attribute[problem][]" in attribute.findtext("datatype_description")


@pytest.mark.parametrize("fmt", FORMATS)
def test_singular_service_path_gives_the_same_definition(client, city, fmt):
    plural = client.get(f"{V2}/services/pothole.{fmt}")
    singular = client.get(f"{V2}/service/pothole.{fmt}")
    assert singular.status_code == 200 and singular.data == plural.data


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", ["unicorns", "pot%00hole"])
def test_unknown_service_definition_is_a_404_error(client, city, fmt, code):
    response = client.get(f"{V2}/services/{code}.{fmt}")
    assert response.status_code == 404
    [message] = error_descriptions(response, fmt)
    assert "was not found" in message


def test_retired_category_is_neither_offered_nor_accepted(client, city, api_key):
    category("graffiti").active = False
    db.session.commit()
    codes = [s["service_code"] for s in body(client.get(f"{V2}/services.json"))]
    assert "graffiti" not in codes and "pothole" in codes
    assert client.get(f"{V2}/services/graffiti.json").status_code == 404
    assert post_request(client, api_key, service_code="graffiti").status_code == 404


# ---- discovery ---------------------------------------------------------------------


def test_discovery_in_json_points_at_the_v2_endpoint(client, city):
    response = client.get("/open311/discovery.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    found = body(response)
    assert list(found) == ["changeset", "contact", "key_service", "endpoints"]
    [endpoint] = found["endpoints"]
    assert endpoint == {
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": "http://bpt311.test/open311/v2",
        "changeset": found["changeset"],
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }
    assert "http://bpt311.test/developers" in found["key_service"]


def test_discovery_in_xml_uses_the_spec_element_names(client, city):
    root = body(client.get("/open311/discovery.xml"))
    assert root.tag == "discovery"
    assert children(root) == ["changeset", "contact", "key_service", "endpoints"]
    [endpoint] = root.find("endpoints")
    assert endpoint.tag == "endpoint"
    assert children(endpoint) == ["specification", "url", "changeset", "type", "formats"]
    assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]
    assert endpoint.findtext("url") == "http://bpt311.test/open311/v2"


# ---- reading requests ----------------------------------------------------------------


def test_request_in_json_has_every_spec_field_with_the_right_types(client, city):
    winter = datetime(2026, 1, 15, 14, 5, tzinfo=UTC)
    report = make_report(created_at=winter, address="45 Lyon Terrace, Bridgeport, CT")
    response = client.get(f"{V2}/requests/{report.tracking_number}.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    [found] = body(response)
    assert list(found) == REQUEST_FIELDS
    assert found["service_request_id"] == report.tracking_number == "BPT-000001"
    assert found["status"] == "open"
    assert found["service_code"] == "pothole" and found["service_name"] == "Pothole"
    assert found["description"] == "A deep pothole in the right lane."
    assert found["agency_responsible"] == "Roadway Maintenance"
    assert found["service_notice"] == "Expected response time: 3 days."
    assert found["requested_datetime"] == "2026-01-15T09:05:00-05:00"
    assert found["updated_datetime"] == "2026-01-15T09:05:00-05:00"
    assert found["expected_datetime"] == "2026-01-18T09:05:00-05:00"
    assert found["address"] == "45 Lyon Terrace, Bridgeport, CT"
    assert found["address_id"] is None and found["zipcode"] is None
    assert (found["lat"], found["long"]) == CITY_HALL
    assert isinstance(found["lat"], float) and isinstance(found["long"], float)
    assert found["status_notes"] is None and found["media_url"] is None


def test_summer_times_carry_the_daylight_saving_offset(client, city):
    report = make_report(created_at=datetime(2026, 7, 4, 16, 0, tzinfo=UTC))
    [found] = body(client.get(f"{V2}/requests/{report.tracking_number}.json"))
    assert found["requested_datetime"] == "2026-07-04T12:00:00-04:00"


def test_request_in_xml_uses_the_spec_element_names(client, city):
    report = make_report(created_at=ago(days=1))
    response = client.get(f"{V2}/requests/{report.tracking_number}.xml")
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    root = body(response)
    assert root.tag == "service_requests" and children(root) == ["request"]
    [request] = root
    assert children(request) == REQUEST_FIELDS
    assert request.findtext("service_request_id") == report.tracking_number
    assert float(request.findtext("lat")) == CITY_HALL[0]
    assert W3C.match(request.findtext("requested_datetime"))
    assert request.findtext("zipcode") == "" and request.findtext("address_id") == ""


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_single_request_and_the_list_describe_a_request_alike(client, city, fmt):
    report = make_report(created_at=ago(days=1))
    single = client.get(f"{V2}/requests/{report.tracking_number}.{fmt}")
    listed = client.get(f"{V2}/requests.{fmt}")
    assert ids(single) == ids(listed) == [report.tracking_number]
    assert single.data == listed.data


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("wanted", ["BPT-999999", "nonsense", "BPT-00000%00", "BPT-3000000000"])
def test_unknown_request_id_is_a_404_error(client, city, fmt, wanted):
    make_report()
    response = client.get(f"{V2}/requests/{wanted}.{fmt}")
    assert response.status_code == 404
    [message] = error_descriptions(response, fmt)
    assert "was not found" in message


@pytest.mark.parametrize("fmt", FORMATS)
def test_token_is_the_tracking_number(client, city, fmt):
    report = make_report()
    response = client.get(f"{V2}/tokens/{report.tracking_number}.{fmt}")
    assert response.status_code == 200
    parsed = body(response)
    if fmt == "json":
        assert parsed == [{"service_request_id": "BPT-000001", "token": "BPT-000001"}]
    else:
        assert parsed.tag == "service_requests"
        assert children(parsed[0]) == ["service_request_id", "token"]
    for missing in ("BPT-000042", "BPT-3000000000", "banana"):
        response = client.get(f"{V2}/tokens/{missing}.{fmt}")
        assert response.status_code == 404 and error_descriptions(response, fmt)


@pytest.mark.parametrize(
    "ours, theirs",
    [("open", "open"), ("acknowledged", "open"), ("closed", "closed"), ("archived", "closed")],
)
def test_our_four_statuses_are_open_or_closed(client, city, ours, theirs):
    report = make_report(status=ours, created_at=ago(days=1))
    [found] = body(client.get(f"{V2}/requests/{report.tracking_number}.json"))
    assert found["status"] == theirs == report.open311_status


def test_status_notes_are_the_latest_public_note_never_an_internal_one(client, city):
    report = make_report(status="acknowledged", created_at=ago(days=2))
    start = report.created_at
    report.events.extend(
        [
            TimelineEvent(
                kind="acknowledged", public_note="A crew is scheduled.", created_at=start
            ),
            TimelineEvent(kind="note", public_note="Parts are on order.", created_at=start),
            TimelineEvent(
                kind="note",
                internal_note="The caller is the owner's cousin.",
                created_at=start + timedelta(hours=3),
            ),
            TimelineEvent(
                kind="comment",
                public_note="Resident says it got bigger.",
                created_at=start + timedelta(hours=4),
            ),
        ]
    )
    db.session.commit()
    for fmt in FORMATS:
        text = client.get(f"{V2}/requests/{report.tracking_number}.{fmt}").get_data(as_text=True)
        assert "Parts are on order." in text  # the later of two at the same moment, by id
        assert "cousin" not in text and "got bigger" not in text and "crew is" not in text


def test_media_url_is_the_absolute_address_of_the_first_visible_photo(client, city):
    report = make_report(created_at=ago(days=1))
    report.media.extend(
        [
            Media(
                kind="photo",
                file_name="hidden.jpg",
                content_type="image/jpeg",
                size_bytes=1,
                position=0,
                hidden_at=utcnow(),
            ),
            Media(
                kind="video",
                file_name="clip.mp4",
                content_type="video/mp4",
                size_bytes=1,
                position=1,
            ),
            Media(
                kind="photo",
                file_name="first.jpg",
                content_type="image/jpeg",
                size_bytes=1,
                position=2,
            ),
            Media(
                kind="photo",
                file_name="second.jpg",
                content_type="image/jpeg",
                size_bytes=1,
                position=3,
            ),
        ]
    )
    db.session.commit()
    [found] = body(client.get(f"{V2}/requests/{report.tracking_number}.json"))
    assert found["media_url"] == "http://bpt311.test/media/first.jpg"


def test_hidden_reports_are_left_out_everywhere(client, city):
    shown = make_report(created_at=ago(days=1))
    hidden = make_report(created_at=ago(days=1), hidden_at=utcnow(), hidden_reason="abusive")
    assert ids(client.get(f"{V2}/requests.json")) == [shown.tracking_number]
    assert client.get(f"{V2}/requests/{hidden.tracking_number}.json").status_code == 404
    assert client.get(f"{V2}/tokens/{hidden.tracking_number}.json").status_code == 404
    by_id = client.get(f"{V2}/requests.json?service_request_id={hidden.tracking_number}")
    assert ids(by_id) == []


def test_reporters_contact_details_never_appear_in_any_answer(client, city, api_key):
    named = make_user("named.person@example.org", display_name="Named Person", show_name=False)
    make_report(
        created_at=ago(days=1),
        anonymous=True,
        contact_name="Maria Private",
        contact_email="maria@example.org",
        contact_phone="203 555 0100",
    )
    make_report(created_at=ago(days=1), reporter=named)
    filed = post_request(
        client,
        api_key,
        first_name="Luis",
        last_name="Hidden",
        email="luis.hidden@example.org",
        phone="203 555 0199",
    )
    assert filed.status_code == 201
    secrets = [
        "Maria Private",
        "maria@example.org",
        "555 0100",
        "named.person@example.org",
        "Named Person",
        "Luis",
        "Hidden",
        "luis.hidden@example.org",
        "555 0199",
    ]
    paths = [f"{V2}/requests.{fmt}" for fmt in FORMATS]
    paths += [f"{V2}/requests/BPT-00000{n}.{fmt}" for n in (1, 2, 3) for fmt in FORMATS]
    paths += ["/embed/recent"]
    for path in paths:
        text = client.get(path).get_data(as_text=True)
        assert "BPT-00000" in text, path
        for secret in secrets:
            assert secret not in text, (path, secret)
    for secret in secrets:
        assert secret not in filed.get_data(as_text=True)


# ---- filters and defaults -------------------------------------------------------------


def test_without_dates_the_last_90_days_come_back_newest_first(client, city):
    old = make_report(created_at=ago(days=100))
    older_recent = make_report(created_at=ago(days=60))
    newest = make_report(created_at=ago(hours=1))
    assert ids(client.get(f"{V2}/requests.json")) == [
        newest.tracking_number,
        older_recent.tracking_number,
    ]
    before = (utcnow() - timedelta(days=50)).strftime("%Y-%m-%dT%H:%M:%SZ")
    # With only end_date, the 90 days before it.
    assert ids(client.get(f"{V2}/requests.json", query_string={"end_date": before})) == [
        older_recent.tracking_number,
        old.tracking_number,
    ]


def test_at_most_1000_requests_come_back_the_newest(client, city):
    bulk_reports(1003)
    found = body(client.get(f"{V2}/requests.json"))
    assert len(found) == 1000
    assert found[0]["description"] == "Report number 1002"
    assert found[-1]["description"] == "Report number 3"
    assert len(body(client.get(f"{V2}/requests.xml"))) == 1000


def test_service_code_filter_takes_one_code_or_a_list(client, city):
    pothole = make_report("pothole", created_at=ago(days=3))
    graffiti = make_report("graffiti", created_at=ago(days=2))
    make_report("rodents", created_at=ago(days=1))
    get = client.get
    assert ids(get(f"{V2}/requests.json?service_code=pothole")) == [pothole.tracking_number]
    assert ids(get(f"{V2}/requests.json?service_code=pothole,graffiti")) == [
        graffiti.tracking_number,
        pothole.tracking_number,
    ]
    assert ids(get(f"{V2}/requests.json?service_code=pothole&service_code=graffiti")) == [
        graffiti.tracking_number,
        pothole.tracking_number,
    ]
    assert ids(get(f"{V2}/requests.json?service_code=unicorns")) == []
    # A NUL can be in no stored text: refused as malformed, in GeoReport's error shape.
    nul = get(f"{V2}/requests.json?service_code=no%20such%00code")
    assert nul.status_code == 400
    assert "cannot be used" in error_descriptions(nul, "json")[0]


def test_status_filter_maps_open_and_closed_onto_our_statuses(client, city):
    made = {
        status: make_report(status=status, created_at=ago(days=n)).tracking_number
        for n, status in enumerate(["open", "acknowledged", "closed", "archived"], 1)
    }
    get = client.get
    assert ids(get(f"{V2}/requests.json?status=open")) == [made["open"], made["acknowledged"]]
    assert ids(get(f"{V2}/requests.json?status=closed")) == [made["closed"], made["archived"]]
    assert len(ids(get(f"{V2}/requests.json?status=open,closed"))) == 4
    assert len(ids(get(f"{V2}/requests.json?status=CLOSED"))) == 2


def _instant_spellings(moment: datetime) -> dict[str, str]:
    """One instant written the ways clients write it, as raw query-string values."""
    local = moment.astimezone(NEW_YORK).isoformat(timespec="seconds")
    plus_two = moment.astimezone(ZoneInfo("Europe/Athens")).isoformat(timespec="seconds")
    return {
        "Z": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "city offset": local,  # -05:00 or -04:00: a minus needs no encoding
        "encoded plus": plus_two.replace("+", "%2B"),
        "unencoded plus": plus_two,  # arrives as a space, and is still understood
    }


@pytest.mark.parametrize("spelling", ["Z", "city offset", "encoded plus", "unencoded plus"])
def test_date_filters_accept_z_and_offsets(client, city, spelling):
    start = ago(days=10)
    reports = [make_report(created_at=start + timedelta(hours=n)) for n in range(3)]
    after = _instant_spellings(start + timedelta(minutes=30))[spelling]
    before = _instant_spellings(start + timedelta(minutes=90))[spelling]
    response = client.get(f"{V2}/requests.json?start_date={after}&end_date={before}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert ids(response) == [reports[1].tracking_number]
    only_start = client.get(f"{V2}/requests.json?start_date={after}")
    assert ids(only_start) == [reports[2].tracking_number, reports[1].tracking_number]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "query, word",
    [
        ("start_date=yesterday", "start_date"),
        ("end_date=2026-13-45T00:00:00Z", "end_date"),
        ("start_date=2026-11-25T25:00:00Z", "start_date"),
        ("service_request_id=BPT-000001&end_date=tomorrow", "end_date"),
        ("start_date=2026-11-20T00:00:00Z&end_date=2026-11-01T00:00:00Z", "after end_date"),
        ("status=pending", "status"),
        ("service_request_id=123", "BPT-000123"),
    ],
)
def test_nonsense_filters_are_a_400_error_saying_which(client, city, fmt, query, word):
    response = client.get(f"{V2}/requests.{fmt}?{query}")
    assert response.status_code == 400
    [message] = error_descriptions(response, fmt)
    assert word in message


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "query, words",
    [
        # Whose clock? The client's and the city's may be hours apart: ask, don't guess.
        ("start_date=2026-11-20T09:00:00", ["start_date", "time zone", "Z"]),
        ("end_date=2026-11-20T09:00", ["end_date", "time zone"]),
        # The GeoReport limit: a window of at most 90 days, then the next one.
        ("start_date=2026-01-01T00:00:00Z&end_date=2026-11-30T00:00:00Z", ["90 days", "page"]),
        ("start_date=2026-02-30", ["start_date", "calendar"]),
        ("page=0", ["page", "1"]),
        ("page_size=1001", ["page_size", "1,000"]),
        ("page_size=ten", ["page_size"]),
    ],
)
def test_ambiguous_dates_and_ranges_are_a_400_saying_what_to_send(client, city, fmt, query, words):
    response = client.get(f"{V2}/requests.{fmt}?{query}")
    assert response.status_code == 400
    [message] = error_descriptions(response, fmt)
    for word in words:
        assert word in message, (word, message)


def test_a_date_alone_is_that_whole_day_in_bridgeport(client, city):
    day = datetime(2026, 11, 20, tzinfo=NEW_YORK)
    before = make_report(created_at=(day - timedelta(minutes=1)).astimezone(UTC))
    first = make_report(created_at=day.astimezone(UTC))
    last = make_report(created_at=(day + timedelta(hours=23, minutes=59)).astimezone(UTC))
    make_report(created_at=(day + timedelta(days=1)).astimezone(UTC))
    response = client.get(f"{V2}/requests.json?start_date=2026-11-20&end_date=2026-11-20")
    assert ids(response) == [last.tracking_number, first.tracking_number]
    earlier = client.get(f"{V2}/requests.json?start_date=2026-11-19&end_date=2026-11-19")
    assert ids(earlier) == [before.tracking_number]


def test_dates_at_the_ends_of_the_calendar_are_not_errors(client, city):
    make_report(created_at=ago(days=1))
    for query in (
        "start_date=0001-01-01T00:00:00%2B14:00",
        "end_date=0001-01-01T00:00:00Z",
        "end_date=9999-12-31T23:59:59-12:00",
    ):
        assert client.get(f"{V2}/requests.json?{query}").status_code == 200, query


def test_service_request_id_list_overrides_every_other_filter(client, city):
    old_closed = make_report(status="closed", created_at=ago(days=400))
    recent = make_report(created_at=ago(days=1))
    make_report(created_at=ago(days=2))
    wanted = f"{recent.tracking_number}, {old_closed.tracking_number},BPT-009999,BPT-3000000000"
    response = client.get(
        f"{V2}/requests.json",
        query_string={"service_request_id": wanted, "status": "open", "service_code": "rodents"},
    )
    assert ids(response) == [recent.tracking_number, old_closed.tracking_number]
    lenient = client.get(f"{V2}/requests.json?service_request_id=bpt%201")
    assert ids(lenient) == ["BPT-000001"]


def test_empty_parameters_count_as_absent(client, city):
    report = make_report(created_at=ago(days=1))
    query = "service_request_id=&service_code=&status=&start_date=&end_date=&jurisdiction_id="
    assert ids(client.get(f"{V2}/requests.json?{query}")) == [report.tracking_number]


def test_reading_takes_the_same_number_of_queries_for_1_or_30_results(client, city, count_queries):
    make_report(created_at=ago(days=1))
    with count_queries() as one:
        assert len(body(client.get(f"{V2}/requests.json"))) == 1
    bulk_reports(29)
    for n, report in enumerate(db.session.scalars(select(Report)).all()):
        report.events.append(TimelineEvent(kind="note", public_note=f"Note {n}"))
        report.media.append(
            Media(kind="photo", file_name=f"p{n}.jpg", content_type="image/jpeg", size_bytes=1)
        )
    db.session.commit()
    with count_queries() as thirty:
        found = body(client.get(f"{V2}/requests.json"))
    assert len(found) == 30 and all(r["status_notes"] and r["media_url"] for r in found)
    assert one.count == thirty.count <= 2
    with count_queries() as single:
        client.get(f"{V2}/requests/BPT-000001.xml")
    assert single.count <= 2


# ---- filing requests ------------------------------------------------------------------


def test_post_makes_a_report_and_answers_201_with_its_tracking_number(client, api_key):
    response = post_request(client, api_key)
    assert response.status_code == 201, response.get_data(as_text=True)
    report = db.session.scalars(select(Report)).one()
    assert body(response) == [
        {
            "service_request_id": report.tracking_number,
            "service_notice": "Expected response time: 3 days.",
            "account_id": None,
        }
    ]
    assert response.headers["Location"] == (
        f"http://bpt311.test{V2}/requests/{report.tracking_number}.json"
    )
    assert report.source == "api" and report.answers == {"size": "medium"}
    assert report.address == "45 Lyon Terrace"
    assert report.neighbourhood.name == "Downtown"
    assert report.department.name == "Roadway Maintenance"


def test_post_in_xml_answers_in_the_spec_shape(client, api_key):
    response = post_request(client, api_key, fmt="xml")
    assert response.status_code == 201
    root = body(response)
    assert root.tag == "service_requests" and children(root) == ["request"]
    assert children(root[0]) == ["service_request_id", "service_notice", "account_id"]
    assert root[0].findtext("service_request_id") == "BPT-000001"
    assert root[0].findtext("account_id") == ""


def test_post_keeps_the_contact_private_and_records_the_key_used(client, api_key):
    response = post_request(
        client,
        api_key,
        first_name="Ana",
        last_name="Silva",
        email="Ana.Silva@Example.org",
        phone="203 555 0123",
        device_id="phone-1",
        account_id="42",
        jurisdiction_id="bridgeportct.gov",
    )
    assert response.status_code == 201
    report = db.session.scalars(select(Report)).one()
    assert (report.contact_name, report.contact_phone) == ("Ana Silva", "203 555 0123")
    assert report.contact_email == "Ana.Silva@example.org"
    key = db.session.scalars(select(ApiKey)).one()
    assert key.last_used_at is not None
    audit = db.session.scalars(select(AuditLog)).one()
    assert (audit.action, audit.report_id, audit.target_id) == (
        "report.filed_by_api",
        report.id,
        key.id,
    )
    assert api_key not in json.dumps(audit.detail)


def test_post_takes_the_key_from_the_query_string_too(client, api_key):
    response = client.post(
        f"{V2}/requests.json?api_key={api_key}",
        data={
            "service_code": "street_sweeping",
            "lat": "41.1792",
            "long": "-73.1894",
            "description": "Leaves and litter piled along the curb.",
        },
    )
    assert response.status_code == 201


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("which", ["no key", "empty key", "wrong key", "revoked key"])
def test_post_without_a_valid_key_is_a_403_error(client, api_key, fmt, which):
    keys = {
        "no key": None,
        "empty key": "",
        "wrong key": api_key[:-2] + "xx",
        "revoked key": api_key,
    }
    if which == "revoked key":
        revoke_key(api_key[:8])
    response = post_request(client, keys[which], fmt=fmt)
    assert response.status_code == 403
    [message] = error_descriptions(response, fmt)
    assert "api_key" in message
    assert db.session.scalars(select(Report)).all() == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_to_an_unknown_service_is_a_404_error(client, api_key, fmt):
    response = post_request(client, api_key, fmt=fmt, service_code="unicorns")
    assert response.status_code == 404
    assert "service_code 'unicorns' was not found" in error_descriptions(response, fmt)[0]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"service_code": None}, "service_code was not provided"),
        ({"service_code": ""}, "service_code was not provided"),
        ({"lat": None, "long": None, "address_string": None}, "A location is required"),
        ({"long": None}, "Send both lat and long"),
        ({"lat": "north", "long": "west"}, "decimal degrees"),
        ({"lat": "nan", "long": "nan"}, "not a real place"),
        (
            {"lat": None, "long": None, "address_string": None, "address_id": "545483"},
            "address_id is not supported",
        ),
        ({"email": "not-an-email"}, "email: enter an email address"),
        ({"media_url": "javascript:alert(1)"}, "media_url must be an http or https URL"),
    ],
)
def test_post_with_a_missing_or_wrong_field_is_a_400_error(client, api_key, fmt, fields, expected):
    response = post_request(client, api_key, fmt=fmt, **fields)
    assert response.status_code == 400
    assert any(expected in message for message in error_descriptions(response, fmt))
    assert db.session.scalars(select(Report)).all() == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_outside_the_city_is_refused_with_the_services_message(client, api_key, fmt):
    response = post_request(client, api_key, fmt=fmt, lat=FAIRFIELD[0], long=FAIRFIELD[1])
    assert response.status_code == 400
    [message] = error_descriptions(response, fmt)
    assert message.startswith("lat/long: That location is outside the City of Bridgeport")
    assert "Town of Fairfield" in message


def test_post_with_a_short_description_gets_the_services_message(client, api_key):
    response = post_request(client, api_key, description="Hole")
    assert response.status_code == 400
    assert error_descriptions(response, "json") == [
        "description: Describe the problem in at least 10 characters, "
        "so the crew knows what to look for"
    ]
    missing = post_request(client, api_key, description=None)
    assert error_descriptions(missing, "json") == ["description: Describe the problem"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_without_a_required_attribute_is_a_400_error_naming_it(client, api_key, fmt):
    response = post_request(client, api_key, fmt=fmt, **{"attribute[size]": None})
    assert response.status_code == 400
    [message] = error_descriptions(response, fmt)
    assert message == "attribute[size]: Choose an answer to “How big is it?”"


def test_post_reports_every_problem_at_once(client, api_key):
    response = post_request(client, api_key, description="Hole", **{"attribute[size]": "enormous"})
    messages = error_descriptions(response, "json")
    assert len(messages) == 2
    assert messages[0].startswith("description:") and messages[1].startswith("attribute[size]:")


def test_post_with_optional_attributes_and_typed_answers(client, api_key):
    response = post_request(
        client,
        api_key,
        service_code="bulky_item",
        **{"attribute[size]": None, "attribute[items]": "One sofa", "attribute[item_count]": "2"},
    )
    assert response.status_code == 201
    assert db.session.scalars(select(Report)).one().answers == {
        "items": "One sofa",
        "item_count": 2,
    }


def test_post_multi_value_attributes_are_kept_as_a_list(client, api_key):
    response = client.post(
        f"{V2}/requests.json",
        data={
            "api_key": api_key,
            "service_code": "illegal_dumping",
            "lat": "41.1792",
            "long": "-73.1894",
            "description": "Tires and a sofa dumped by the fence.",
            "attribute[what][]": ["tires", "furniture"],
        },
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    assert db.session.scalars(select(Report)).one().answers == {"what": ["tires", "furniture"]}
    wrong = client.post(
        f"{V2}/requests.json",
        data={
            "api_key": api_key,
            "service_code": "illegal_dumping",
            "lat": "41.1792",
            "long": "-73.1894",
            "description": "Tires and a sofa dumped by the fence.",
            "attribute[what][]": ["tires", "spaceship"],
        },
    )
    assert wrong.status_code == 400
    assert "attribute[what]: Choose answers from the list" in error_descriptions(wrong, "json")[0]


def test_post_media_url_round_trips_and_the_description_is_kept_as_sent(client, api_key):
    photo = "https://photos.example.org/p/123.jpg?size=large&v=2"
    answer = post_request(client, api_key, media_url=photo)
    assert answer.status_code == 201
    report = db.session.scalars(select(Report)).one()
    assert report.description == "A deep pothole in the right lane by the bus stop."
    assert report.media == []  # linked, never fetched
    [found] = body(client.get(f"{V2}/requests/{report.tracking_number}.json"))
    assert found["media_url"] == photo
    assert found["description"] == "A deep pothole in the right lane by the bus stop."
    xml = body(client.get(f"{V2}/requests/{report.tracking_number}.xml"))
    assert xml[0].findtext("media_url") == photo
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert 'href="https://photos.example.org/p/123.jpg?size=large&amp;v=2"' in page
    assert 'rel="nofollow noopener noreferrer ugc"' in page
    # A link never makes a too-short description acceptable.
    refused = post_request(client, api_key, media_url=photo, description="Hole")
    assert refused.status_code == 400


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@photos.example.org/p.jpg",
        "https://photos.example.org/p.jpg\r\nX-Injected: 1",
        "https:///p.jpg",
        "data:image/png;base64,AAAA",
    ],
)
def test_post_media_url_that_is_not_a_plain_web_address_is_refused(client, api_key, url):
    refused = post_request(client, api_key, media_url=url)
    assert refused.status_code == 400
    assert "media_url" in error_descriptions(refused, "json")[0]
    assert db.session.scalars(select(Report)).all() == []


def test_post_needs_no_csrf_token_and_leaves_no_cookie(client, api_key):
    response = post_request(client, api_key)
    assert response.status_code == 201
    assert "Set-Cookie" not in response.headers
    for path in (f"{V2}/services.json", f"{V2}/requests.xml", "/open311/nowhere.json"):
        assert "Set-Cookie" not in client.get(path).headers


def test_ids_from_the_web_form_and_the_api_look_alike_and_both_are_listed(client, api_key):
    page = client.get("/reports/new?category=pothole").get_data(as_text=True)

    def hidden(name):
        return re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1)

    web = client.post(
        "/reports/new",
        data={
            "csrf_token": hidden("csrf_token"),
            "submission_key": hidden("submission_key"),
            "category": "pothole",
            "description": "A deep pothole in the right lane by the bus stop.",
            "latitude": str(CITY_HALL[0]),
            "longitude": str(CITY_HALL[1]),
            "address": "45 Lyon Terrace",
            "answer_size": "large",
        },
        content_type="multipart/form-data",
    )
    assert web.status_code == 303
    api = post_request(client, api_key)
    [from_api] = ids(api)
    from_web = re.search(r"/reports/(BPT-\d+)/submitted", web.headers["Location"]).group(1)
    assert re.fullmatch(r"BPT-\d{6}", from_web) and re.fullmatch(r"BPT-\d{6}", from_api)
    sources = {r.tracking_number: r.source for r in db.session.scalars(select(Report))}
    assert sources == {from_web: "web", from_api: "api"}
    for fmt in FORMATS:
        assert ids(client.get(f"{V2}/requests.{fmt}")) == [from_api, from_web]


@pytest.fixture
def geocoded(make_app):
    """An app whose geocoder knows one address, and a key for it."""
    with FakeNominatim(
        {
            "lyon terrace": [
                nominatim_place(41.17920, -73.18940, house_number="45", road="Lyon Terrace")
            ]
        }
    ) as fake:
        app = make_app(GEOCODER_URL=fake.url, GEOCODER_TIMEOUT=1)
        with app.app_context():
            from bpt311.seed import load_city

            load_city()
            yield app.test_client(), create_key("Geocoding client").secret


def test_post_with_an_address_string_is_placed_by_the_geocoder(geocoded):
    client, key = geocoded
    response = post_request(client, key, lat=None, long=None, address_string="45 Lyon Terrace")
    assert response.status_code == 201, response.get_data(as_text=True)
    report = db.session.scalars(select(Report)).one()
    assert (report.latitude, report.longitude) == (41.1792, -73.1894)
    assert report.address.startswith("45 Lyon Terrace")
    missing = post_request(client, key, lat=None, long=None, address_string="1 Nowhere Lane")
    assert missing.status_code == 400
    assert "could not find “1 Nowhere Lane”" in error_descriptions(missing, "json")[0]


def test_post_with_an_address_while_the_geocoder_is_down_is_accepted_to_place_later(
    client, api_key
):
    response = post_request(client, api_key, lat=None, long=None, address_string="45 Lyon Terrace")
    assert response.status_code == 201
    [made] = body(response)
    assert "its location will be confirmed later" in made["service_notice"]
    report = db.session.scalars(select(Report)).one()
    assert report.latitude is None and report.location_pending


# ---- everything else under /open311/ ----------------------------------------------------


@pytest.mark.parametrize(
    "path, fmt",
    [
        ("/open311/v2/nothing.json", "json"),
        ("/open311/v2/nothing.xml", "xml"),
        ("/open311/v2/services.csv", "json"),
        ("/open311/v2/requests/BPT-000001/comments.xml", "xml"),
        ("/open311/", "json"),
        ("/open311/v3/services.json", "json"),
    ],
)
def test_unknown_route_under_open311_is_a_404_in_georeport_shape(client, city, path, fmt):
    response = client.get(path)
    assert response.status_code == 404
    [message] = error_descriptions(response, fmt)
    assert "discovery.json" in message
    assert client.post(path).status_code == 404  # never a CSRF refusal


@pytest.mark.parametrize(
    "method, path, allowed",
    [
        ("post", f"{V2}/services.json", "GET, HEAD, OPTIONS"),
        ("delete", f"{V2}/requests.json", "GET, HEAD, OPTIONS, POST"),
        ("put", f"{V2}/requests/BPT-000001.xml", "GET, HEAD, OPTIONS"),
        ("post", "/open311/discovery.xml", "GET, HEAD, OPTIONS"),
    ],
)
def test_wrong_method_is_a_405_in_georeport_shape_with_allow(client, city, method, path, allowed):
    response = getattr(client, method)(path)
    assert response.status_code == 405
    assert response.headers["Allow"] == allowed
    fmt = "xml" if path.endswith(".xml") else "json"
    [message] = error_descriptions(response, fmt)
    assert method.upper() in message


def test_xml_leaves_out_characters_xml_cannot_carry(client, city):
    report = make_report(description="Bell\x07 and form\x0c feed <b>&</b> “quoted”")
    response = client.get(f"{V2}/requests/{report.tracking_number}.xml")
    assert body(response)[0].findtext("description") == "Bell and form feed <b>&</b> “quoted”"
    [found] = body(client.get(f"{V2}/requests/{report.tracking_number}.json"))
    assert found["description"] == "Bell\x07 and form\x0c feed <b>&</b> “quoted”"


def test_any_web_page_may_read_the_api(client, city):
    for path in (f"{V2}/services.json", f"{V2}/requests.xml", "/open311/nowhere.json"):
        assert client.get(path).headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in client.get("/").headers


def test_a_report_page_links_to_itself_in_open311(client, city):
    report = make_report()
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    link = f"{V2}/requests/{report.tracking_number}.json"
    assert f'href="{link}"' in page
    assert client.get(link).status_code == 200


def test_openapi_document_describes_every_json_endpoint(client, city):
    response = client.get("/open311/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = body(response)
    assert document["openapi"].startswith("3.0")
    assert document["servers"] == [{"url": "http://bpt311.test"}]
    assert set(document["paths"]) == {
        "/open311/discovery.json",
        "/open311/v2/services.json",
        "/open311/v2/services/{service_code}.json",
        "/open311/v2/service/{service_code}.json",
        "/open311/v2/requests.json",
        "/open311/v2/requests/{service_request_id}.json",
        "/open311/v2/servicerequestupdates.json",
        "/open311/v2/tokens/{token}.json",
    }
    listed = document["paths"]["/open311/v2/requests.json"]["get"]["parameters"]
    assert {p["name"] for p in listed} >= {
        "service_request_id",
        "service_code",
        "start_date",
        "end_date",
        "status",
    }
    request_schema = document["components"]["schemas"]["ServiceRequest"]["properties"]
    assert list(request_schema) == REQUEST_FIELDS


def test_answers_stay_english_whatever_language_the_client_asks_for(client, api_key):
    """Open311 answers are data for programs: a client whose Accept-Language is Spanish
    still gets the spec's English messages and names."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es"
    response = post_request(
        client, api_key, description="Hole", lat=FAIRFIELD[0], long=FAIRFIELD[1]
    )
    assert response.status_code == 400
    messages = " ".join(error_descriptions(response, "json"))
    assert "at least 10 characters" in messages and "outside the City of Bridgeport" in messages
    assert '<html lang="es"' in client.get("/developers").get_data(as_text=True)  # pages follow
