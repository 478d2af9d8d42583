"""The API over real HTTP, as its users meet it: a published Open311 client library
(``georeport`` from PyPI, read-only) and a plain form POST for filing, on loopback."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from georeport import GeoReport
from werkzeug.serving import make_server

from bpt311.api.keys import create_key
from bpt311.extensions import db
from bpt311.models import Report, utcnow
from tests.conftest import free_port
from tests.factories import make_report


@pytest.fixture
def live(make_app):
    """The app on a free loopback port, with the city, three reports and an API key."""
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        for hours, status in ((30, "closed"), (20, "acknowledged"), (10, "open")):
            make_report(created_at=utcnow() - timedelta(hours=hours), status=status)
        key = create_key("Client library test").secret
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    app.base_url = f"http://127.0.0.1:{server.server_port}"
    app.api_key = key
    yield app
    server.shutdown()
    thread.join(timeout=5)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_published_client_lists_services_and_reads_a_definition(live, fmt):
    client = GeoReport(f"{live.base_url}/open311/v2", output_format=fmt)
    services = client.get_service_list()
    pothole = next(s for s in services if s["service_code"] == "pothole")
    assert pothole["service_name"] == "Pothole"
    assert pothole["metadata"] in (True, "true")  # JSON boolean; XML text
    definition = client.get_service_definition("pothole")
    assert definition["service_code"] == "pothole"
    attributes = definition["attributes"]
    first = attributes[0] if fmt == "json" else attributes["attribute"][0]
    assert first["code"] == "size" and first["datatype"] == "singlevaluelist"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_published_client_reads_requests_with_filters(live, fmt):
    client = GeoReport(f"{live.base_url}/open311/v2", output_format=fmt)
    everything = client.get_service_requests()
    assert [r["service_request_id"] for r in everything] == [
        "BPT-000003",
        "BPT-000002",
        "BPT-000001",
    ]
    open_ones = client.get_service_requests(status="open", service_code="pothole")
    assert [r["status"] for r in open_ones] == ["open", "open"]
    start = (utcnow() - timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = client.get_service_requests(start_date=start, end_date=utcnow().isoformat())
    assert len(recent) == 2
    one = client.get_service_request("BPT-000001")
    assert one["service_request_id"] == "BPT-000001" and one["status"] == "closed"
    assert one["requested_datetime"][-6:] in ("-05:00", "-04:00")
    with pytest.raises(requests.HTTPError) as refused:
        client.get_service_request("BPT-999999")
    assert refused.value.response.status_code == 404


def test_filing_by_a_form_post_then_following_it_with_the_client(live):
    answer = requests.post(
        f"{live.base_url}/open311/v2/requests.json",
        data={
            "api_key": live.api_key,
            "service_code": "sidewalk",
            "lat": "41.1792",
            "long": "-73.1894",
            "address_string": "45 Lyon Terrace",
            "description": "Raised slabs and cracks all along the block.",
            "attribute[problem][]": ["raised", "cracked"],
            "email": "resident@example.org",
            "media_url": "https://photos.example.org/slabs.jpg",
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["Content-Type"] == "application/json; charset=utf-8"
    [made] = answer.json()
    assert made["service_request_id"] == "BPT-000004" and made["account_id"] is None
    followed = GeoReport(f"{live.base_url}/open311/v2").get_service_request("BPT-000004")
    assert followed["service_code"] == "sidewalk" and followed["status"] == "open"
    # what was sent comes back as sent
    assert followed["description"] == "Raised slabs and cracks all along the block."
    assert followed["media_url"] == "https://photos.example.org/slabs.jpg"
    assert "resident@example.org" not in str(followed)
    with live.app_context():
        assert db.session.get(Report, 4).answers == {"problem": ["raised", "cracked"]}


def test_discovery_and_errors_over_http(live):
    discovery = requests.get(f"{live.base_url}/open311/discovery.json", timeout=10).json()
    assert discovery["endpoints"][0]["url"] == "http://bpt311.test/open311/v2"
    refused = requests.post(
        f"{live.base_url}/open311/v2/requests.xml", data={"service_code": "pothole"}, timeout=10
    )
    assert refused.status_code == 403
    assert refused.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert "<errors><error><code>403</code>" in refused.text
