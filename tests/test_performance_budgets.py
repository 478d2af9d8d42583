"""The performance budgets of issue 12, measured on the real pages as a browser gets them:
the first round trip (HTML and its stylesheets, compressed) fits 14 KB, a page without
photos and map tiles weighs under 60 KB, static files are cached and precompressed, and
photos are responsive."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Comment, Media, TimelineEvent, utcnow
from tests.factories import make_report, make_user
from tests.test_reporting import form_data, jpeg, post

FIRST_FLIGHT = 14 * 1024
PAGE_WEIGHT = 60 * 1024
GZIP = {"Accept-Encoding": "gzip"}  # the worst coding every browser takes
CATEGORIES = ("pothole", "streetlight", "graffiti", "dumping", "trash", "rodents")
LONG_TEXT = (
    "The pothole in the right lane has grown since last week and cars swerve into the "
    "bus lane to avoid it; a cyclist nearly fell this morning near the corner shop. "
)

STYLESHEET_RE = re.compile(r'<link rel="stylesheet" href="([^"]+)"')
SCRIPT_RE = re.compile(r'<script src="([^"]+)"')
STATIC_IMG_RE = re.compile(r'<img[^>]+src="(/static/[^"]+)"')


def header_bytes(response) -> int:
    """What the status line and headers weigh on the wire (HTTP/1.1, uncompressed)."""
    lines = [f"HTTP/1.1 {response.status}"] + [f"{k}: {v}" for k, v in response.headers.items()]
    return len("\r\n".join(lines).encode()) + 4


def wire_size(client, path: str) -> int:
    response = client.get(path, headers=GZIP)
    assert response.status_code == 200, path
    return len(response.data)


@pytest.fixture
def busy_city(client, city):
    """A city with enough reports, votes and comments to fill every list to its page size."""
    now = utcnow()
    resident = make_user()
    for number in range(60):
        code = CATEGORIES[number % len(CATEGORIES)]
        report = make_report(
            code if _exists(code) else "pothole",
            description=(LONG_TEXT * 3)[: 180 + number * 7],
            created_at=now - timedelta(hours=number * 5),
            vote_count=number % 7,
            address=f"{100 + number} Main Street, Bridgeport, CT",
        )
    for number in range(12):
        comment = Comment(report_id=report.id, author_id=resident.id, body=LONG_TEXT * 2)
        db.session.add(comment)
        db.session.flush()
        report.events.append(
            TimelineEvent(
                kind="comment",
                comment_id=comment.id,
                actor_label="A resident",
                created_at=now + timedelta(minutes=number),
            )
        )
    report.description = (LONG_TEXT * 20)[:2000]
    db.session.commit()
    return report


def _exists(code: str) -> bool:
    from bpt311.models import Category

    return db.session.scalar(select(Category.id).where(Category.service_code == code)) is not None


def primary_pages(report) -> list[str]:
    return ["/", "/reports/new", "/reports", f"/reports/{report.tracking_number}"]


def test_first_round_trip_fits_14_kb(client, busy_city):
    for path in primary_pages(busy_city):
        response = client.get(path, headers=GZIP)
        assert response.status_code == 200, path
        assert response.headers["Content-Encoding"] == "gzip", path
        html = response.data.decode("latin-1")  # compressed: only the size matters
        page = client.get(path).get_data(as_text=True)
        head = page.split("</head>", 1)[0]
        css = sum(wire_size(client, href) for href in STYLESHEET_RE.findall(head))
        first_flight = header_bytes(response) + len(html) + css
        assert first_flight <= FIRST_FLIGHT, f"{path}: {first_flight} bytes in the first flight"


def test_every_page_weighs_under_60_kb_without_photos_and_tiles(client, busy_city):
    for path in [*primary_pages(busy_city), "/reports/new?category=pothole", "/map"]:
        page = client.get(path).get_data(as_text=True)
        total = wire_size(client, path)
        files = STYLESHEET_RE.findall(page) + SCRIPT_RE.findall(page) + STATIC_IMG_RE.findall(page)
        total += sum(wire_size(client, url) for url in set(files))
        assert total <= PAGE_WEIGHT, f"{path}: {total} bytes"


def test_leaflet_is_fetched_only_when_a_map_needs_it(client, busy_city):
    for path in primary_pages(busy_city):
        page = client.get(path).get_data(as_text=True)
        scripts = SCRIPT_RE.findall(page) + STYLESHEET_RE.findall(page)
        assert not any("leaflet" in url for url in scripts), path
    report_page = client.get(f"/reports/{busy_city.tracking_number}").get_data(as_text=True)
    assert "data-leaflet=" in report_page  # maps.js loads it when the map comes into view


def test_static_files_are_fingerprinted_immutable_precompressed_and_revalidate(client, busy_city):
    page = client.get("/").get_data(as_text=True)
    files = STYLESHEET_RE.findall(page) + SCRIPT_RE.findall(page)
    assert any(".css" in url for url in files) and any(".js" in url for url in files)
    for url in files:
        assert re.search(r"\.[0-9a-f]{10}\.(css|js)$", url), url
        response = client.get(url, headers={"Accept-Encoding": "gzip, br"})
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.headers["Content-Encoding"] in {"br", "gzip"}
        assert "Accept-Encoding" in response.headers["Vary"]
        again = client.get(
            url, headers={"Accept-Encoding": "gzip, br", "If-None-Match": response.headers["ETag"]}
        )
        assert again.status_code == 304


def test_pages_answer_304_when_nothing_changed(client, busy_city):
    for path in ["/", "/reports", f"/reports/{busy_city.tracking_number}"]:
        etag = client.get(path, headers=GZIP).headers["ETag"]
        assert client.get(path, headers={**GZIP, "If-None-Match": etag}).status_code == 304


# ---- images -------------------------------------------------------------------------------


def upload(client, size=(1600, 1200)):
    response = post(client, form_data(client, photos=[jpeg(size=size)]))
    assert response.status_code == 303
    return response.headers["Location"].removesuffix("/submitted")


def pictures(page: str) -> list[str]:
    return re.findall(r"<picture>.*?</picture>", page, re.S)


def test_photos_are_responsive_lazy_sized_and_offered_in_modern_formats(client, city):
    report_path = upload(client)
    for path in [report_path, "/reports"]:
        page = client.get(path).get_data(as_text=True)
        [picture] = pictures(page)
        assert '<source type="image/webp" srcset="' in picture
        img = re.search(r"<img [^>]+>", picture).group(0)
        for attribute in ("srcset=", "sizes=", 'loading="lazy"', "width=", "height="):
            assert attribute in img, (path, attribute)
        for url in re.findall(r"(/media/\S+) \d+w", picture):
            assert client.get(url).status_code == 200, url
    detail = pictures(client.get(report_path).get_data(as_text=True))[0]
    assert re.search(r'srcset="[^"]*-960x720\.webp 960w', detail)
    assert 'width="480" height="360"' in detail


def test_photo_stored_before_copies_existed_still_shows(client, city):
    report = make_report()
    db.session.add(
        Media(
            report_id=report.id,
            kind="photo",
            file_name="old.jpg",
            thumb_name="old.thumb.jpg",
            content_type="image/jpeg",
            size_bytes=10,
            width=1200,
            height=1600,
            alt_text="An older photo",
        )
    )
    db.session.commit()
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    [picture] = pictures(page)
    assert "<source" not in picture
    assert 'src="/media/old.thumb.jpg"' in picture
    assert 'width="360" height="480"' in picture and 'loading="lazy"' in picture


# ---- a fixed number of queries on every list-like page ------------------------------------

LIST_PAGES = [
    "/map",
    "/reports.geojson",
    "/reports.geojson?bbox=-73.3,41.1,-73.1,41.3&zoom=12",  # the map's counts
    "/reports.geojson?bbox=-73.3,41.1,-73.1,41.3&zoom=17",  # the map's pins
    "/reports.csv",
    "/neighbourhoods",
    "/neighbourhoods/{slug}",
    "/neighbourhoods/{slug}/feed.atom",
    "/categories/pothole/feed.atom",
    "/reports/{last}/feed.atom",
    "/embed/recent",
    "/me",
]


def grow(count: int, person) -> str:
    """``count`` more reports by ``person`` downtown, each with a photo, a comment, a vote
    and a follow; returns the newest one's tracking number."""
    from bpt311.models import Follow, Neighbourhood, Vote

    place = db.session.scalars(select(Neighbourhood).order_by(Neighbourhood.id)).first()
    report = None
    for number in range(count):
        report = make_report(
            reporter=person,
            neighbourhood_id=place.id,
            description=f"{LONG_TEXT} Number {number}.",
            vote_count=1,
            comment_count=1,
        )
        db.session.add_all(
            [
                Media(
                    report_id=report.id,
                    kind="photo",
                    file_name=f"{report.id}-{number}.jpg",
                    thumb_name=f"{report.id}-{number}.thumb.jpg",
                    content_type="image/jpeg",
                    size_bytes=10,
                    width=640,
                    height=480,
                ),
                Vote(report_id=report.id, user_id=person.id),
                Follow(report_id=report.id, user_id=person.id),
            ]
        )
        comment = Comment(report_id=report.id, author_id=person.id, body=LONG_TEXT)
        db.session.add(comment)
        db.session.flush()
        report.events.append(TimelineEvent(kind="comment", comment_id=comment.id))
    db.session.commit()
    return report.tracking_number


@pytest.mark.parametrize("template", LIST_PAGES)
def test_list_like_page_runs_the_same_queries_for_2_or_12_reports(
    client, city, count_queries, template
):
    from bpt311.models import Neighbourhood
    from tests.factories import sign_in_as

    person = make_user()
    sign_in_as(client, person)
    slug = db.session.scalars(select(Neighbourhood.slug).order_by(Neighbourhood.id)).first()
    counts = []
    for more in (2, 10):
        last = grow(more, person)
        path = template.format(slug=slug, last=last)
        client.get(path)  # warm: the session's user and any first-use caches
        db.session.expire_all()
        with count_queries() as counter:
            response = client.get(path)
            response.get_data()
        assert response.status_code == 200, path
        counts.append(counter.count)
    assert counts[0] == counts[1], (
        f"{template}: {counts[0]} queries for 2 reports, {counts[1]} for 12"
    )
