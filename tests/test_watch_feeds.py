"""Atom feeds of an area, a neighbourhood, a report and a category: valid, public parts only."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from bpt311.community import comments
from bpt311.extensions import db
from bpt311.models import TimelineEvent
from bpt311.watchers import tokens
from tests.factories import make_report, make_user
from tests.test_watch_support import (
    circle_area,
    client_for,
    polygon_area,
    site_fixture,  # noqa: F401  (the "site" fixture)
    smtp_fixture,  # noqa: F401  (the "smtp" fixture)
)

A = "{http://www.w3.org/2005/Atom}"
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _one(parent, tag):
    found = parent.findall(A + tag)
    assert len(found) == 1, f"{parent.tag} must have exactly one {tag}, has {len(found)}"
    return found[0]


def _date(element) -> datetime:
    assert RFC3339.match(element.text or ""), element.text
    return datetime.fromisoformat(element.text.replace("Z", "+00:00"))


def _iri(text: str) -> None:
    parts = urlsplit(text or "")
    assert parts.scheme and parts.netloc, f"not an absolute IRI: {text!r}"


def valid_atom(response) -> ET.Element:
    """Parse a feed and check what RFC 4287 requires of it; returns the <feed> element."""
    assert response.status_code == 200
    assert response.mimetype == "application/atom+xml"
    root = ET.fromstring(response.get_data())
    assert root.tag == A + "feed"
    _iri(_one(root, "id").text)
    assert _one(root, "title").text
    _date(_one(root, "updated"))
    links = root.findall(A + "link")
    selves = [link for link in links if link.get("rel") == "self"]
    assert len(selves) == 1 and selves[0].get("type") == "application/atom+xml"
    _iri(selves[0].get("href"))
    alternates = [link for link in links if link.get("rel", "alternate") == "alternate"]
    assert len({(link.get("type"), link.get("hreflang")) for link in alternates}) == len(alternates)
    feed_has_author = bool(root.findall(A + "author"))
    ids = set()
    for entry in root.findall(A + "entry"):
        entry_id = _one(entry, "id").text
        _iri(entry_id)
        assert entry_id not in ids, "entry ids must be unique"
        ids.add(entry_id)
        assert _one(entry, "title").text
        _date(_one(entry, "updated"))
        for author in entry.findall(A + "author"):
            assert _one(author, "name").text
        assert feed_has_author or entry.findall(A + "author")
        contents = entry.findall(A + "content")
        assert len(contents) <= 1
        if contents:
            assert contents[0].get("type", "text") in ("text", "html", "xhtml")
        else:
            assert any(
                link.get("rel", "alternate") == "alternate" for link in entry.findall(A + "link")
            )
        if contents and contents[0].get("src"):
            assert entry.findall(A + "summary")
    return root


def entry_texts(root) -> str:
    return " ".join(
        element.text or "" for entry in root.findall(A + "entry") for element in entry.iter()
    )


def test_a_report_feed_is_valid_atom_with_its_public_timeline(site):
    maria = make_user("maria@example.org", display_name="Maria", show_name=True)
    report = make_report()
    comments.add_comment(report, maria, "It got bigger <b>overnight</b> & deeper.")
    report.events.append(TimelineEvent(kind="note", internal_note="Crew is busy this week."))
    db.session.commit()
    root = valid_atom(client_for(site).get(f"/reports/{report.tracking_number}/feed.atom"))
    entries = root.findall(A + "entry")
    assert len(entries) == 2  # reported, and the comment; not the internal note
    text = entry_texts(root)
    assert "It got bigger <b>overnight</b> & deeper." in text  # text, escaped by XML
    assert "Crew is busy" not in text
    assert entries[0].find(A + "author/" + A + "name").text == "Maria"


def test_a_removed_comment_is_not_in_any_feed(site):
    maria = make_user("maria@example.org")
    report = make_report()
    comment = comments.add_comment(report, maria, "Something rude.")
    comments.delete_comment(comment, maria)
    root = valid_atom(client_for(site).get(f"/reports/{report.tracking_number}/feed.atom"))
    assert "Something rude." not in entry_texts(root)


def test_neighbourhood_and_category_feeds_are_valid_and_only_theirs(site):
    from bpt311.reports.service import neighbourhood_at

    make_report(
        description="Downtown pothole by City Hall.",
        neighbourhood_id=neighbourhood_at(41.1792, -73.1894),
    )
    make_report(
        "graffiti",
        description="Graffiti in Black Rock.",
        latitude=41.15,
        longitude=-73.22,
        neighbourhood_id=neighbourhood_at(41.15, -73.22),
    )
    client = client_for(site)
    downtown = entry_texts(valid_atom(client.get("/neighbourhoods/downtown/feed.atom")))
    assert "Downtown pothole" in downtown and "Black Rock" not in downtown
    graffiti = entry_texts(valid_atom(client.get("/categories/graffiti/feed.atom")))
    assert "Graffiti in Black Rock" in graffiti and "Downtown pothole" not in graffiti
    assert valid_atom(client.get("/categories/rodents/feed.atom")).findall(A + "entry") == []
    assert client.get("/neighbourhoods/atlantis/feed.atom").status_code == 404
    assert client.get("/categories/dragons/feed.atom").status_code == 404


def test_a_public_area_feed_is_valid_and_a_private_one_needs_its_key(site):
    owner = make_user()
    public = polygon_area(owner, name="Ward", is_public=True)
    private = circle_area(owner, name="Home")
    make_report(description="Inside both areas, at City Hall.")
    make_report(description="Far away in Black Rock.", latitude=41.15, longitude=-73.22)
    guest = client_for(site)
    text = entry_texts(valid_atom(guest.get(f"/watch/{public.id}/feed.atom")))
    assert "Inside both areas" in text and "Far away" not in text
    assert guest.get(f"/watch/{private.id}/feed.atom").status_code == 404
    key = tokens.feed_key(private.id)
    assert guest.get(f"/watch/{private.id}/feed.atom?key={key}").status_code == 200
    wrong = tokens.feed_key(public.id)
    assert guest.get(f"/watch/{private.id}/feed.atom?key={wrong}").status_code == 404


def test_a_hidden_report_has_no_feed_and_is_in_no_feed(site):
    from bpt311.models import utcnow

    report = make_report(description="Hidden by the moderators.")
    report.hidden_at = utcnow()
    db.session.commit()
    client = client_for(site)
    assert client.get(f"/reports/{report.tracking_number}/feed.atom").status_code == 404
    assert "Hidden by" not in entry_texts(valid_atom(client.get("/categories/pothole/feed.atom")))


def test_pages_name_their_feed_in_the_head(site):
    area = polygon_area(make_user(), name="Ward", is_public=True)
    page = client_for(site).get(f"/watch/{area.id}").get_data(as_text=True)
    head = page.split("</head>")[0]
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="Ward (Atom feed)" '
        f'href="http://bpt311.test/watch/{area.id}/feed.atom">'
    ) in head
    feeds = client_for(site).get("/feeds").get_data(as_text=True)
    assert (
        "/neighbourhoods/downtown/feed.atom" in feeds and "/categories/pothole/feed.atom" in feeds
    )


def test_a_feed_reader_polling_gets_not_modified(site):
    report = make_report()
    client = client_for(site)
    first = client.get(f"/reports/{report.tracking_number}/feed.atom")
    again = client.get(
        f"/reports/{report.tracking_number}/feed.atom",
        headers={"If-None-Match": first.headers["ETag"]},
    )
    assert again.status_code == 304
