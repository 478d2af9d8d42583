"""Property-based tests (Hypothesis) of what parses input: the report form, Open311 POST
arguments, list filters and query strings, tracking numbers and coordinates. Whatever is
sent, the answer is a page, a form error or an API error: never a 500. The OpenAPI
document's own fuzzing is in tests/test_open311_schemathesis.py."""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bpt311.models import report_id_from_tracking_number
from bpt311.models.reports import Report
from tests.conftest import client_for, csrf_token_from
from tests.factories import make_report

BOUNDED = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as people and robots send it: any unicode (NUL and controls included), long runs,
# numbers written oddly, and markup.
hostile_text = st.one_of(
    st.text(max_size=300),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=50),
    st.sampled_from(
        [
            "",
            " ",
            "\x00",
            "nan",
            "inf",
            "-inf",
            "1e999",
            "-0",
            "0x1f",
            "１２３",
            "٣",
            "null",
            "<script>",
            "' OR 1=1 --",
            "%00",
            "../../etc/passwd",
            "BPT-",
            "🕳️" * 40,
            "\r\n",
        ]
    ),
)
numbers_as_text = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    hostile_text,
)


# ---- tracking numbers -------------------------------------------------------------------


@given(st.text(max_size=40))
def test_any_text_gives_a_report_id_or_none(text):
    found = report_id_from_tracking_number(text)
    assert found is None or (isinstance(found, int) and found >= 0)


@given(
    st.integers(min_value=1, max_value=2**31 - 1), st.sampled_from(["BPT-", "bpt ", "BPT", "bpt-"])
)
def test_every_spelling_of_a_tracking_number_gives_its_id(number, prefix):
    canonical = Report(id=number).tracking_number
    assert report_id_from_tracking_number(canonical) == number
    assert report_id_from_tracking_number(f"{prefix}{number}") == number


@given(st.integers(min_value=2**63))
def test_numbers_no_report_can_have_give_none(number):
    assert report_id_from_tracking_number(f"BPT-{number}") is None


# ---- pages that take a tracking number or filters -----------------------------------------


@pytest.fixture
def browsing(site):
    make_report()
    return site


FILTER_NAMES = [
    "q",
    "status",
    "category",
    "neighbourhood",
    "group",
    "sort",
    "page",
    "bbox",
    "since",
    "from",
    "to",
    "department",
    "assignee",
    "overdue",
    "source",
    "view",
    "order",
    "limit",
    "per_page",
]
filters = st.dictionaries(st.sampled_from(FILTER_NAMES), hostile_text, max_size=5)


@BOUNDED
@given(query=filters)
def test_list_filters_never_crash(browsing, query):
    client = browsing.test_client()
    for path in ("/reports", "/reports.geojson", "/reports.csv", "/map"):
        assert client.get(path, query_string=query).status_code < 500, (path, query)


@BOUNDED
@given(query=filters)
def test_staff_queue_filters_never_crash(browsing, admin, query):
    client = client_for(browsing, admin)
    assert client.get("/staff", query_string=query).status_code < 500, query


@BOUNDED
@given(number=hostile_text)
def test_any_tracking_number_in_a_url_is_a_page_or_404(browsing, number):
    client = browsing.test_client()
    for path in (f"/reports/{number}", f"/open311/v2/requests/{number}.json"):
        code = client.get(path.replace("?", "%3F").replace("#", "%23")).status_code
        assert code in (200, 301, 302, 303, 308, 400, 404), (path, code)


OPEN311_QUERY = [
    "service_code",
    "start_date",
    "end_date",
    "status",
    "service_request_id",
    "lat",
    "long",
    "radius",
    "page",
    "page_size",
    "jurisdiction_id",
]


@BOUNDED
@given(query=st.dictionaries(st.sampled_from(OPEN311_QUERY), numbers_as_text, max_size=5))
def test_open311_list_arguments_never_crash(browsing, query):
    client = browsing.test_client()
    for fmt in ("json", "xml"):
        code = client.get(f"/open311/v2/requests.{fmt}", query_string=query).status_code
        assert code in (200, 400, 404), (query, code)


@BOUNDED
@given(latitude=numbers_as_text, longitude=numbers_as_text, category=hostile_text)
def test_the_duplicate_check_takes_any_coordinates(browsing, latitude, longitude, category):
    client = browsing.test_client()
    response = client.get(
        "/reports/nearby",
        query_string={"latitude": latitude, "longitude": longitude, "category": category},
    )
    assert response.status_code in (200, 400, 422, 429)


# ---- the report form ---------------------------------------------------------------------


@pytest.fixture
def form_site(make_app):
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app


report_fields = st.fixed_dictionaries(
    {},
    optional={
        "category": st.one_of(st.just("pothole"), hostile_text),
        "description": hostile_text,
        "address": hostile_text,
        "latitude": numbers_as_text,
        "longitude": numbers_as_text,
        "contact_name": hostile_text,
        "contact_email": hostile_text,
        "contact_phone": hostile_text,
        "answer_size": st.one_of(st.sampled_from(["small", "medium", "large"]), hostile_text),
        "answer_travel_lane": hostile_text,
        "anonymous": hostile_text,
        "not_duplicate": hostile_text,
        "submission_key": hostile_text,
        "pending_media": hostile_text,
        "remove_media": hostile_text,
        "place": hostile_text,
    },
)


@BOUNDED
@given(fields=report_fields)
def test_the_report_form_answers_any_input_with_a_page(form_site, fields):
    client = form_site.test_client()
    token = csrf_token_from(client, "/reports/new?category=pothole")
    response = client.post("/reports/new", data={"csrf_token": token, **fields})
    assert response.status_code in (200, 303, 400, 422), (fields, response.status_code)


@BOUNDED
@given(
    latitude=st.floats(allow_nan=True, allow_infinity=True),
    longitude=st.floats(allow_nan=True, allow_infinity=True),
)
def test_a_report_point_is_accepted_only_inside_the_city(form_site, latitude, longitude):
    client = form_site.test_client()
    token = csrf_token_from(client, "/reports/new?category=pothole")
    response = client.post(
        "/reports/new",
        data={
            "csrf_token": token,
            "category": "pothole",
            "description": "A deep pothole in the right lane.",
            "latitude": repr(latitude),
            "longitude": repr(longitude),
            "answer_size": "small",
            "not_duplicate": "1",
        },
    )
    inside = (
        math.isfinite(latitude)
        and math.isfinite(longitude)
        and 41.13 < latitude < 41.24
        and -73.25 < longitude < -73.14
    )
    if not inside:
        assert response.status_code in (200, 422), (latitude, longitude)
    else:
        assert response.status_code in (200, 303, 422)


# ---- Open311 POST --------------------------------------------------------------------------

OPEN311_POST = [
    "service_code",
    "lat",
    "long",
    "address_string",
    "address_id",
    "description",
    "email",
    "first_name",
    "last_name",
    "phone",
    "device_id",
    "account_id",
    "media_url",
    "attribute[size]",
    "attribute[travel_lane]",
    "jurisdiction_id",
]


@pytest.fixture
def api_key(form_site):
    from bpt311.api.keys import create_key

    return create_key("Property tests").secret


@BOUNDED
@given(args=st.dictionaries(st.sampled_from(OPEN311_POST), numbers_as_text, max_size=8))
def test_open311_post_answers_any_arguments_in_georeport_shape(form_site, api_key, args):
    client = form_site.test_client()
    for fmt in ("json", "xml"):
        response = client.post(f"/open311/v2/requests.{fmt}", data={"api_key": api_key, **args})
        assert response.status_code in (200, 201, 400, 403, 404, 422), (args, response.status_code)
        if fmt == "json":
            assert isinstance(response.get_json(), list)


@pytest.mark.parametrize(
    "path", ["/staff?q=%00", "/reports/nearby?category=%00", "/reports?q=a%00b", "/map?status=%00"]
)
def test_a_nul_in_a_query_string_is_a_400_not_a_database_error(browsing, admin, path):
    """PostgreSQL refuses NUL in text; found by the properties above on /staff and
    /reports/nearby."""
    client = client_for(browsing, admin)
    response = client.get(path, headers={"Accept": "text/html"})
    assert response.status_code == 400
    assert "cannot be used" in response.get_data(as_text=True)
