"""What a city system that keeps a copy in sync needs of the GeoReport server: pages of
requests, the updates feed, discovery where clients look for it, honest OPTIONS, and
addresses that name the server it was asked of."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from bpt311.community.comments import add_comment
from bpt311.extensions import db
from bpt311.models import Report, utcnow
from bpt311.staff.status import change_status
from tests.factories import make_report, make_user

V2 = "/open311/v2"


def _json(response):
    assert response.status_code == 200, response.get_data(as_text=True)
    return json.loads(response.get_data(as_text=True))


def _links(response) -> dict[str, str]:
    """The Link header as {rel: url}."""
    found = {}
    for part in filter(None, (response.headers.get("Link") or "").split(",")):
        url, rel = part.split(";")
        found[rel.strip().removeprefix('rel="').rstrip('"')] = url.strip()[1:-1]
    return found


def _many(count: int) -> list[Report]:
    start = utcnow() - timedelta(days=2)
    return [
        make_report(created_at=start + timedelta(minutes=n), description=f"Report number {n:03}")
        for n in range(count)
    ]


# ---- paging ---------------------------------------------------------------------------


def test_an_integrator_reads_every_request_page_by_page(client, city):
    made = _many(7)
    newest_first = [report.tracking_number for report in reversed(made)]
    seen, url, pages = [], f"{V2}/requests.json?page_size=3&status=open", 0
    while url:
        response = client.get(url)
        seen += [item["service_request_id"] for item in _json(response)]
        url = _links(response).get("next", "").removeprefix("http://bpt311.test")
        pages += 1
    assert seen == newest_first
    assert pages == 3
    # the other parameters ride along with the page number
    last = client.get(f"{V2}/requests.json?page_size=3&status=open&page=3")
    assert parse_qs(urlsplit(_links(last)["prev"]).query) == {
        "page_size": ["3"],
        "status": ["open"],
        "page": ["2"],
    }
    assert "next" not in _links(last)


def test_paging_defaults_to_100_and_no_paging_keeps_the_spec_answer(client, city):
    _many(3)
    unpaged = client.get(f"{V2}/requests.json")
    assert len(_json(unpaged)) == 3 and "Link" not in unpaged.headers
    first = client.get(f"{V2}/requests.xml?page=1")
    assert len(ET.fromstring(first.data)) == 3 and "Link" not in first.headers
    assert _json(client.get(f"{V2}/requests.json?page=2")) == []


# ---- the updates feed ---------------------------------------------------------------------


def test_updates_feed_lists_each_public_step_with_the_status_it_left(client, city):
    clerk = make_user("clerk@bridgeportct.gov", role="admin")
    neighbour = make_user("neighbour@example.org")
    report = make_report(created_at=utcnow() - timedelta(hours=3))
    before = _json(client.get(f"{V2}/requests/{report.tracking_number}.json"))[0]

    change_status(report, clerk, None, "acknowledge", public_note="Crew scheduled for Monday")
    add_comment(report, neighbour, "It is getting worse every day, please hurry.")
    change_status(report, clerk, None, "note", internal_note="Call the contractor")
    change_status(report, clerk, None, "close", public_note="Filled the pothole")

    updates = _json(client.get(f"{V2}/servicerequestupdates.json"))
    assert [(u["status"], u["description"]) for u in updates] == [
        ("closed", "Filled the pothole"),
        ("open", "Crew scheduled for Monday"),
        ("open", "Submitted"),
    ]
    assert {u["service_request_id"] for u in updates} == {report.tracking_number}
    assert set(updates[0]) == {
        "update_id",
        "service_request_id",
        "status",
        "updated_datetime",
        "description",
        "media_url",
    }
    assert len({u["update_id"] for u in updates}) == 3
    # the residents' words and the internal note are not the city's updates
    text = json.dumps(updates)
    assert "hurry" not in text and "contractor" not in text
    # and the request itself says it changed
    after = _json(client.get(f"{V2}/requests/{report.tracking_number}.json"))[0]
    assert after["updated_datetime"] > before["updated_datetime"]
    assert after["updated_datetime"] == updates[0]["updated_datetime"]


def test_updates_feed_in_xml_filtered_by_date_and_never_of_a_hidden_report(client, city):
    old = make_report(created_at=utcnow() - timedelta(days=20))
    recent = make_report(created_at=utcnow() - timedelta(days=1))
    hidden = make_report(created_at=utcnow() - timedelta(days=1))
    hidden.hidden_at = utcnow()
    db.session.commit()
    since = (utcnow() - timedelta(days=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    response = client.get(f"{V2}/servicerequestupdates.xml?start_date={since}")
    assert response.status_code == 200
    root = ET.fromstring(response.data)
    assert root.tag == "service_request_updates"
    assert [u.findtext("service_request_id") for u in root] == [recent.tracking_number]
    assert [u.tag for u in root] == ["request_update"]
    everything = _json(client.get(f"{V2}/servicerequestupdates.json"))
    assert {u["service_request_id"] for u in everything} == {
        old.tracking_number,
        recent.tracking_number,
    }
    bad = client.get(f"{V2}/servicerequestupdates.json?start_date=last+week")
    assert bad.status_code == 400 and "start_date" in bad.get_data(as_text=True)


def test_updates_feed_is_paged_like_requests(client, city):
    _many(5)
    first = client.get(f"{V2}/servicerequestupdates.json?page_size=2")
    assert len(_json(first)) == 2
    assert "page=2" in _links(first)["next"]


# ---- discovery, OPTIONS, addresses ------------------------------------------------------


@pytest.mark.parametrize("path", ["/open311/discovery.json", f"{V2}/discovery.json"])
def test_discovery_answers_at_the_root_and_under_v2(client, city, path):
    found = _json(client.get(path))
    assert found["endpoints"][0]["url"].endswith("/open311/v2")
    xml = client.get(path.replace(".json", ".xml"))
    assert ET.fromstring(xml.data).tag == "discovery"


@pytest.mark.parametrize(
    "path, allowed",
    [
        (f"{V2}/requests.json", "GET, HEAD, OPTIONS, POST"),
        (f"{V2}/services.xml", "GET, HEAD, OPTIONS"),
        (f"{V2}/servicerequestupdates.json", "GET, HEAD, OPTIONS"),
    ],
)
def test_options_names_only_the_methods_that_work(client, city, path, allowed):
    response = client.options(
        path, headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code == 204
    assert response.headers["Allow"] == allowed
    assert response.headers["Access-Control-Allow-Methods"] == allowed
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    for method in allowed.split(", "):
        if method not in ("HEAD", "OPTIONS"):
            assert client.open(path, method=method).status_code != 405
    assert client.options(f"{V2}/nowhere.json").status_code == 404


def test_without_site_url_the_api_names_the_address_it_was_asked_at(make_app):
    from bpt311.config import DEFAULT_SITE_URL

    app = make_app(SITE_URL=DEFAULT_SITE_URL)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        client = app.test_client()
        here = "http://311.example.test:8080"
        discovery = client.get("/open311/discovery.json", base_url=here).get_json()
        assert discovery["endpoints"][0]["url"] == f"{here}/open311/v2"
        assert client.get("/open311/openapi.json", base_url=here).get_json()["servers"] == [
            {"url": here}
        ]
        page = client.get("/developers", base_url=here).get_data(as_text=True)
        assert f"<code>{here}/open311/v2</code>" in page
        assert "127.0.0.1:5000" not in page
        missing = client.get("/open311/v2/nothing.json", base_url=here).get_json()
        assert f"{here}/open311/discovery.json" in missing[0]["description"]


def test_with_site_url_set_the_public_address_wins(client, city):
    discovery = client.get("/open311/discovery.json", base_url="http://elsewhere:1").get_json()
    assert discovery["endpoints"][0]["url"] == "http://bpt311.test/open311/v2"


@pytest.mark.parametrize("language", ["en", "es", "pt"])
def test_developers_page_says_to_encode_plus_as_percent_2b(make_app, language):
    app = make_app()
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        page = app.test_client().get("/developers", headers={"Accept-Language": language})
    text = page.get_data(as_text=True)
    assert "<code>%2B</code>" in text
    assert "%%2B" not in text


def test_count_of_requests_in_the_database_is_unchanged_by_reading(client, city):
    _many(2)
    client.get(f"{V2}/servicerequestupdates.json?page_size=1")
    assert len(db.session.scalars(select(Report)).all()) == 2
