"""Hostile text in every field a resident, staff member or administrator can fill,
rendered on every page, feed, export, API answer and email that shows it: nothing
becomes markup, nothing breaks the document, no spreadsheet formula survives.

The payloads are in tests/corpus/xss.txt; each carries the marker ``xss-canary``, so a
parser can tell whether a payload became an element or an attribute.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from bpt311.community.comments import add_comment
from bpt311.community.following import set_follow
from bpt311.extensions import db
from bpt311.models import (
    Category,
    CategoryQuestion,
    Outbox,
    ResponseTemplate,
    TimelineEvent,
    WatchArea,
)
from tests.conftest import client_for, department
from tests.factories import make_report, make_user

CORPUS = Path(__file__).resolve().parent / "corpus" / "xss.txt"
PAYLOADS = [
    line
    for line in CORPUS.read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("# ")
]
CANARY = "xss-canary"
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster", "srcset"}
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"-?\d+(\.\d+)?(e-?\d+)?")


def test_the_corpus_is_big_and_marked():
    assert len(PAYLOADS) >= 40
    assert all(CANARY in payload for payload in PAYLOADS)


class MarkupCheck(HTMLParser):
    """Collects every sign that text became markup: the canary as a tag or attribute,
    event handlers, inline scripts, script from elsewhere, javascript: URLs, frames."""

    def __init__(self, where: str):
        super().__init__(convert_charrefs=True)
        self.where = where
        self.problems: list[str] = []
        self._inline_script = False

    def _problem(self, text: str) -> None:
        self.problems.append(f"{self.where}: {text}")

    def handle_starttag(self, tag, attrs):
        if CANARY in tag:
            self._problem(f"<{tag}> element from a payload")
        if tag in ("iframe", "object", "embed", "base", "style", "frame", "frameset"):
            self._problem(f"<{tag}> element")
        names = dict(attrs)
        if tag == "script":
            src = names.get("src") or ""
            if not src:
                self._inline_script = True
            elif src.startswith(("http:", "https:", "//")):
                self._problem(f"<script src={src}>")
        for name, value in attrs:
            value = value or ""
            if CANARY in name:
                self._problem(f"{name}= attribute from a payload on <{tag}>")
            if name.startswith("on"):
                self._problem(f"{name}= event handler on <{tag}>")
            if name == "style":
                self._problem(f"style= on <{tag}>")
            squeezed = re.sub(r"[\s\x00-\x1f]", "", html.unescape(value)).lower()
            if name in URL_ATTRIBUTES and squeezed.startswith(("javascript:", "vbscript:")):
                self._problem(f"{name}={value!r} on <{tag}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self._inline_script = False

    def handle_data(self, data):
        if self._inline_script and data.strip():
            self._problem(f"inline script {data.strip()[:60]!r}")


def markup_problems(text: str, where: str) -> list[str]:
    checker = MarkupCheck(where)
    checker.feed(text)
    checker.close()
    return checker.problems


def test_the_checker_fails_on_raw_payloads():
    """Unescaped, nearly every payload is caught: the checks below can fail."""
    caught = [
        p
        for p in PAYLOADS
        if markup_problems(f"<p>{p}</p>", "text")
        or markup_problems(f'<input value="{p}">', "double-quoted attribute")
        or markup_problems(f"<input value='{p}'>", "single-quoted attribute")
    ]
    assert len(caught) >= 28, len(caught)
    assert markup_problems(html.escape("<script>alert(1)</script>"), "escaped") == []


# ---- one world with a payload in every field ------------------------------------------------


@pytest.fixture
def hostile(site):
    roads = department("Roadway Maintenance")
    owner = make_user("owner@example.org")
    commenter = make_user("commenter@example.org", display_name="Neighbour", show_name=True)
    staff = make_user("roads@bridgeport.example", role="staff", department=roads)
    admin = make_user("admin@bridgeport.example", role="admin")
    # What an administrator would type: a category's name and a question with options.
    pothole = db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()
    pothole.description = PAYLOADS[1]
    size = db.session.scalars(
        select(CategoryQuestion).where(
            CategoryQuestion.category_id == pothole.id, CategoryQuestion.code == "size"
        )
    ).one()
    size.label, size.hint = PAYLOADS[2], PAYLOADS[3]
    size.options = [{"key": "small", "name": PAYLOADS[4]}, {"key": "medium", "name": PAYLOADS[5]}]
    graffiti = db.session.scalars(select(Category).where(Category.service_code == "graffiti")).one()
    graffiti.name = PAYLOADS[0][:120]
    db.session.add(ResponseTemplate(status="closed", title=PAYLOADS[6][:120], body=PAYLOADS[7]))
    db.session.commit()
    set_display_name = PAYLOADS[8][:80]
    commenter.display_name = set_display_name
    db.session.commit()

    reports = []
    for number, payload in enumerate(PAYLOADS):
        report = make_report(
            "graffiti" if number % 5 == 0 else "pothole",
            description=f"{payload} (report {number})",
            address=payload[:300],
            contact_name=payload[:120],
            contact_email="guest@example.org",
            reporter_id=owner.id,
            answers={"size": payload} if number % 2 else {"size": "small"},
        )
        report.events.append(
            TimelineEvent(
                kind="acknowledged",
                actor_label=payload[:120],
                public_note=payload,
                internal_note=payload,
            )
        )
        db.session.commit()
        set_follow(report, owner, True)
        add_comment(report, commenter, f"{payload} (comment {number})")
        reports.append(report)
    db.session.add(
        WatchArea(
            owner=owner,
            name=PAYLOADS[9][:80],
            shape="circle",
            geometry_json=json.dumps({"type": "Point", "coordinates": [-73.1894, 41.1792]}),
            radius_m=500,
            place_label=PAYLOADS[10][:300],
            min_lat=41.17,
            min_lon=-73.2,
            max_lat=41.19,
            max_lon=-73.18,
            is_public=True,
        )
    )
    db.session.commit()
    return {
        "site": site,
        "reports": reports,
        "owner": owner,
        "staff": staff,
        "admin": admin,
        "area": db.session.scalars(select(WatchArea)).one(),
    }


def pages(client, paths: list[str]) -> list[str]:
    problems = []
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)
        problems += markup_problems(response.get_data(as_text=True), path)
    return problems


def test_public_pages_show_every_payload_as_text(hostile):
    guest = client_for(hostile["site"])
    numbers = [report.tracking_number for report in hostile["reports"]]
    paths = ["/", "/reports", "/reports?q=canary", "/map", "/embed/recent", "/feeds"]
    paths += ["/reports/new", "/reports/new?category=pothole", "/reports/new?q=canary"]
    paths += ["/neighbourhoods", f"/watch/{hostile['area'].id}"]
    paths += [f"/reports/{number}" for number in numbers]
    paths += [f"/reports/{numbers[0]}/submitted"]
    assert pages(guest, paths) == []
    # the template payload was shown, not evaluated
    page = guest.get(f"/reports/{numbers[PAYLOADS.index(next(p for p in PAYLOADS if '{{' in p))]}")
    assert "{{7*7}}" in html.unescape(page.get_data(as_text=True))


def test_signed_in_pages_show_every_payload_as_text(hostile):
    owner = client_for(hostile["site"], hostile["owner"])
    area = hostile["area"].id
    assert pages(owner, ["/me", "/watch", f"/watch/{area}", f"/watch/{area}/edit"]) == []
    number = hostile["reports"][3].tracking_number
    assert pages(owner, [f"/reports/{number}/edit", f"/reports/{number}/close"]) == []


def test_staff_pages_show_every_payload_as_text(hostile):
    staff = client_for(hostile["site"], hostile["staff"])
    paths = ["/staff", "/staff?q=canary", "/staff/intake?category=pothole", "/staff/moderation"]
    assert pages(staff, paths) == []
    admin = client_for(hostile["site"], hostile["admin"])
    paths = [f"/staff/reports/{report.tracking_number}" for report in hostile["reports"]]
    assert pages(admin, paths) == []
    template = db.session.scalars(select(ResponseTemplate)).one()
    assert (
        pages(admin, ["/staff/templates", f"/staff/templates/{template.id}", "/staff/audit"]) == []
    )


def test_feeds_stay_valid_atom_with_the_payloads_as_text(hostile):
    guest = client_for(hostile["site"])
    paths = ["/categories/pothole/feed.atom", "/categories/graffiti/feed.atom"]
    paths += [f"/reports/{r.tracking_number}/feed.atom" for r in hostile["reports"]]
    texts = []
    for path in paths:
        response = guest.get(path)
        assert response.status_code == 200, path
        root = ET.fromstring(response.data)  # raises if a payload broke the document
        assert root.tag == "{http://www.w3.org/2005/Atom}feed"
        assert all(CANARY not in element.tag for element in root.iter())
        texts += [element.text or "" for element in root.iter()]
        # Atom "html" content is HTML once unescaped by a feed reader: check that too.
        for element in root.iter("{http://www.w3.org/2005/Atom}content"):
            if element.get("type") == "html":
                assert markup_problems(element.text or "", path) == []
    assert any(PAYLOADS[0] in text for text in texts)


def test_geojson_and_open311_json_parse_and_keep_the_text(hostile):
    guest = client_for(hostile["site"])
    collection = json.loads(guest.get("/reports.geojson").data)
    descriptions = {f["properties"].get("description", "") for f in collection["features"]}
    assert len(collection["features"]) == len(PAYLOADS)
    for path in ("/open311/v2/requests.json", "/open311/v2/services.json"):
        json.loads(guest.get(path).data)
    requests = json.loads(guest.get("/open311/v2/requests.json").data)
    assert any("<script>" in (item.get("description") or "") for item in requests)
    definition = json.loads(guest.get("/open311/v2/services/pothole.json").data)
    assert PAYLOADS[2] in json.dumps(definition, ensure_ascii=False)
    assert any(PAYLOADS[0] in text for text in descriptions)
    # A map popup shows these: our scripts build popups from DOM nodes with textContent
    # (maps.js popupFor) and put only the server's own escaped partials into innerHTML.
    risky = re.compile(
        r"innerHTML\s*=(?!\s*event\.detail\.xhr\.responseText|\s*['\"])"
        r"|insertAdjacentHTML|outerHTML\s*=|document\.write|bindPopup\((?!popupFor)"
    )
    scripts = (Path(__file__).resolve().parent.parent / "static" / "js").glob("*.js")
    assert [p.name for p in scripts if risky.search(p.read_text())] == []


def test_open311_xml_parses_with_the_payloads_as_text(hostile):
    guest = client_for(hostile["site"])
    for path in (
        "/open311/v2/requests.xml",
        "/open311/v2/services.xml",
        "/open311/v2/services/pothole.xml",
        f"/open311/v2/requests/{hostile['reports'][0].tracking_number}.xml",
    ):
        root = ET.fromstring(guest.get(path).data)
        assert all(CANARY not in element.tag for element in root.iter()), path
    root = ET.fromstring(guest.get("/open311/v2/requests.xml").data)
    assert any(PAYLOADS[0] in (element.text or "") for element in root.iter())


def csv_cells(body: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(body)) for cell in row]


@pytest.mark.parametrize("who", ["guest", "staff"])
def test_csv_exports_defuse_every_formula(hostile, who):
    client = client_for(hostile["site"], hostile["staff"] if who == "staff" else None)
    paths = ["/reports.csv"] + (["/staff/export.csv"] if who == "staff" else [])
    for path in paths:
        response = client.get(path)
        if response.status_code == 404:
            continue  # the staff export is another helper's, landing now
        assert response.status_code == 200, path
        cells = csv_cells(response.get_data(as_text=True))
        # A plain number (a longitude, -73.19) is a number to a spreadsheet, not a formula.
        dangerous = [
            cell for cell in cells if cell.startswith(FORMULA_START) and not NUMBER.fullmatch(cell)
        ]
        assert dangerous == [], (path, dangerous[:5])
        if path == "/reports.csv":
            assert any(cell.startswith("'=HYPERLINK") for cell in cells), path


def test_emails_about_the_reports_show_the_payloads_as_text(hostile):
    rows = db.session.scalars(select(Outbox)).all()
    assert rows, "commenting on a followed report queues emails"
    problems = []
    for row in rows:
        problems += markup_problems(row.body_html, f"email {row.id} {row.subject[:30]}")
        assert "\n" not in row.subject and "\r" not in row.subject
    assert problems == []
    assert any(CANARY in row.body_html for row in rows)


def test_staff_notes_and_replies_posted_through_the_forms_stay_text(hostile):
    """The same payloads typed into the inspector and the saved-reply form."""
    from tests.conftest import post_form

    site = hostile["site"]
    staff = client_for(site, hostile["staff"])
    report = hostile["reports"][1]
    for payload in PAYLOADS[:12]:
        db.session.expire_all()
        version = db.session.get(type(report), report.id).version
        response = post_form(
            staff,
            f"/staff/reports/{report.tracking_number}/status",
            {
                "version": str(version),
                "action": "acknowledge",
                "public_note": payload,
                "internal_note": payload,
            },
        )
        assert response.status_code in (200, 303, 409, 422), response.status_code
    assert pages(staff, [f"/staff/reports/{report.tracking_number}"]) == []
    assert pages(client_for(site), [f"/reports/{report.tracking_number}"]) == []
    admin = client_for(site, hostile["admin"])
    response = post_form(
        admin,
        "/staff/templates/new",
        {"title": PAYLOADS[13][:100], "status": "acknowledged", "body": PAYLOADS[14]},
    )
    assert response.status_code in (200, 303, 422)
    assert pages(admin, ["/staff/templates"]) == []


def test_a_resident_typing_payloads_into_the_report_form_gets_text_back(hostile):
    """Through the real form: description, address, contact name and an answer."""
    from tests.test_reporting import form_data, post

    site = hostile["site"]
    client = client_for(site)
    created = 0
    for payload in PAYLOADS[::4]:
        data = form_data(
            client,
            description=f"{payload} is what I saw here",
            address=payload[:200],
            contact_name=payload[:100],
            contact_email="guest@example.org",
            answer_size="medium",
            not_duplicate="1",
        )
        response = post(client, data)
        assert response.status_code in (200, 303, 422), response.status_code
        body = response.get_data(as_text=True)
        assert markup_problems(body, "form answer") == []
        if response.status_code == 303:
            created += 1
            page = client.get(response.headers["Location"])
            assert markup_problems(page.get_data(as_text=True), "submitted") == []
    assert created >= len(PAYLOADS[::4]) // 2
