"""The developer guide, and the pages the city's website frames: latest reports, a button."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from bpt311.models import Neighbourhood, utcnow
from tests.factories import make_report

CITY_SITE = "https://www.bridgeportct.gov"
EMBEDS = ["/embed/recent", "/embed/report-button"]


class Outline(HTMLParser):
    """The parts of a page these tests look at: tags seen, headings, links, pre>code."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.headings: list[int] = []
        self.links: list[dict] = []
        self.html_lang = None
        self.code_in_pre = 0
        self._open: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append(tag)
        if tag == "html":
            self.html_lang = attributes.get("lang")
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "a":
            self.links.append(attributes)
        if tag == "code" and self._open and self._open[-1] == "pre":
            self.code_in_pre += 1
        self._open.append(tag)

    def handle_endtag(self, tag):
        if tag in self._open:
            while self._open.pop() != tag:
                pass


def outline(response) -> Outline:
    parser = Outline()
    parser.feed(response.get_data(as_text=True))
    return parser


@pytest.fixture
def framed(make_app):
    """The app as deployed for the city: its website may frame the embeds."""
    app = make_app(EMBED_ANCESTORS=CITY_SITE)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app.test_client()


@pytest.mark.parametrize("path", EMBEDS)
def test_embeds_may_be_framed_only_by_the_citys_website(framed, path):
    response = framed.get(path)
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    assert f"frame-ancestors {CITY_SITE}" in csp
    assert "X-Frame-Options" not in response.headers
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp


def test_other_pages_still_refuse_to_be_framed(framed):
    for path in ("/developers", "/open311/v2/services.json", "/"):
        response = framed.get(path)
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"], path
        assert response.headers["X-Frame-Options"] == "DENY", path


def test_embeds_without_configured_ancestors_allow_only_the_site_itself(client, city):
    csp = client.get("/embed/recent").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self'" in csp


@pytest.mark.parametrize("path", EMBEDS)
def test_embeds_are_small_standalone_pages_without_script(framed, path):
    response = framed.get(path)
    page = outline(response)
    assert page.html_lang == "en"
    assert page.tags.count("main") == 1
    assert "script" not in page.tags and "nav" not in page.tags and "form" not in page.tags
    text = response.get_data(as_text=True)
    assert re.search(r'<link rel="stylesheet" href="/static/css/embed\.[0-9a-f]{10}\.css">', text)
    assert page.links and all(link.get("target") == "_top" for link in page.links)
    assert "Set-Cookie" not in response.headers
    assert framed.get("/static/css/embed.css").status_code == 200


def test_recent_embed_shows_the_latest_ten_linking_to_their_pages(framed):
    reports = [make_report(created_at=utcnow() - timedelta(hours=20 - n)) for n in range(12)]
    make_report(created_at=utcnow(), hidden_at=utcnow())
    response = framed.get("/embed/recent")
    control = response.headers["Cache-Control"]  # kept by shared caches, like every public page
    assert control.startswith("public") and "s-maxage=" in control
    hrefs = [link["href"] for link in outline(response).links]
    shown = [href for href in hrefs if re.search(r"/reports/BPT-\d+$", href)]
    assert shown == [f"http://bpt311.test/reports/{r.tracking_number}" for r in reports[::-1][:10]]
    assert "http://bpt311.test/reports/new" in hrefs
    page = response.get_data(as_text=True)
    assert "Latest reports</h1>" in page and "Pothole" in page and "hour" in page


def test_recent_embed_can_show_one_neighbourhood(framed):
    from bpt311.extensions import db

    black_rock = db.session.scalars(
        select(Neighbourhood).where(Neighbourhood.slug == "black-rock")
    ).one()
    inside = make_report(address="2800 Fairfield Ave", neighbourhood_id=black_rock.id)
    elsewhere = make_report(address="45 Lyon Terrace")
    response = framed.get("/embed/recent?neighbourhood=black-rock")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Latest reports in Black Rock</h1>" in page
    assert inside.tracking_number in page and elsewhere.tracking_number not in page
    assert 'href="http://bpt311.test/reports?neighbourhood=black-rock"' in page


def test_recent_embed_for_an_unknown_neighbourhood_says_so(framed):
    response = framed.get("/embed/recent?neighbourhood=atlantis")
    assert response.status_code == 404
    assert "There is no neighbourhood called “atlantis”" in response.get_data(as_text=True)
    assert f"frame-ancestors {CITY_SITE}" in response.headers["Content-Security-Policy"]


def test_report_button_opens_the_form_in_the_top_window(framed):
    page = outline(framed.get("/embed/report-button"))
    [button] = page.links
    assert button == {
        "class": "embed-button",
        "href": "http://bpt311.test/reports/new",
        "target": "_top",
    }


def test_developer_page_explains_the_api_with_curl_examples(client, city):
    make_report()
    response = client.get("/developers")
    assert response.status_code == 200
    page = outline(response)
    raw = response.get_data(as_text=True)
    text = html.unescape(raw)
    assert page.html_lang == "en" and page.tags.count("main") == 1
    assert page.headings[0] == 1 and page.headings.count(1) == 1
    # Headings never skip a level on the way down.
    assert all(b <= a + 1 for a, b in zip(page.headings, page.headings[1:], strict=False))
    assert page.code_in_pre >= 8
    assert "API='http://bpt311.test/open311/v2'" in text
    assert 'curl "$API/services.json"' in text
    assert 'curl "$API/requests/BPT-000001.json"' in text
    assert "--data-urlencode 'api_key=YOUR_KEY'" in text
    assert '<iframe src="http://bpt311.test/embed/recent"' in text
    assert "<code>black-rock</code>" in raw
    assert 'href="/open311/discovery.json"' in raw and 'href="/open311/openapi.json"' in raw
    assert re.search(r"\sstyle=", raw) is None and "<script>" not in raw
