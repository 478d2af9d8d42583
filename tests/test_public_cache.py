"""Public pages for anybody to cache (#25 items 1 and 2): anonymous visitors get them with no
cookie and shared-cache headers, from the app's own cache when it holds them; a change
shows on its own report's page at once, everywhere within PUBLIC_CACHE_SECONDS; signed-in
pages are private and never come from the cache; every POST still needs its token."""

from __future__ import annotations

import re
import uuid

import pytest

from bpt311.community import comments, votes
from bpt311.extensions import db
from bpt311.models import Neighbourhood
from bpt311.staff.status import change_status
from tests.conftest import post_form
from tests.factories import make_report, make_user, sign_in_as

SECONDS = 30


@pytest.fixture
def cached_site(make_app):
    """The app with the public page cache on (conftest turns it off for other tests)."""
    app = make_app(PUBLIC_CACHE=True, PUBLIC_CACHE_SECONDS=SECONDS)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app


def public_paths(report) -> list[str]:
    slug = db.session.scalars(db.select(Neighbourhood.slug)).first()
    number = report.tracking_number
    return [
        "/",
        "/reports",
        "/reports?status=open&sort=votes",
        f"/reports/{number}",
        "/map",
        "/neighbourhoods",
        f"/neighbourhoods/{slug}",
        "/stats",
        "/reports.geojson",
        "/feeds",
        "/categories/pothole/feed.atom",
        f"/reports/{number}/feed.atom",
        "/embed/recent",
        "/open311/v2/services.json",
        "/open311/v2/requests.json",
        f"/open311/v2/requests/{number}.json",
    ]


def test_anonymous_public_pages_set_no_cookie_and_may_be_kept_by_shared_caches(cached_site):
    report = make_report()
    for path in public_paths(report):
        for attempt in ("miss", "hit"):
            response = cached_site.test_client().get(path, headers={"Accept-Encoding": "gzip"})
            assert response.status_code == 200, (path, attempt)
            assert "Set-Cookie" not in response.headers, (path, attempt)
            control = response.headers["Cache-Control"]
            assert control.startswith("public"), (path, attempt, control)
            assert f"s-maxage={SECONDS}" in control and "stale-while-revalidate" in control


def test_a_visitor_with_only_a_csrf_token_in_their_session_still_gets_the_public_page(
    cached_site,
):
    report = make_report()
    client = cached_site.test_client()
    client.get("/sign-in")  # a form page: their session now holds a CSRF token
    response = client.get(f"/reports/{report.tracking_number}")
    assert response.headers["Cache-Control"].startswith("public")
    assert "Set-Cookie" not in response.headers
    assert "csrf_token" not in response.get_data(as_text=True)


def test_public_pages_have_a_strong_validator_answering_304(cached_site):
    make_report()
    client = cached_site.test_client()
    first = client.get("/reports", headers={"Accept-Encoding": "gzip"})
    etag = first.headers["ETag"]
    assert not etag.startswith("W/")
    again = client.get("/reports", headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304
    other_coding = client.get("/reports", headers={"Accept-Encoding": "identity"})
    assert other_coding.headers["ETag"] != etag  # other bytes, another validator


def test_signed_in_pages_are_private_and_never_come_from_the_cache(cached_site):
    report = make_report()
    path = f"/reports/{report.tracking_number}"
    cached_site.test_client().get(path)  # the public page is in the cache now
    alice, bob = make_user("alice@example.org"), make_user("bob@example.org")
    votes.set_vote(report, alice, True)

    browser = cached_site.test_client()
    sign_in_as(browser, alice)
    page = browser.get(path)
    assert page.headers["Cache-Control"].startswith("private")
    assert 'aria-pressed="true"' in page.get_data(as_text=True)  # Alice sees her vote

    browser = cached_site.test_client()
    sign_in_as(browser, bob)
    page = browser.get(path)
    assert page.headers["Cache-Control"].startswith("private")
    text = page.get_data(as_text=True)
    assert 'aria-pressed="false"' in text and 'aria-pressed="true"' not in text  # not Alice's
    assert "X-CSRFToken" in text  # a page for a person carries the token

    anonymous = cached_site.test_client().get(path).get_data(as_text=True)
    assert "aria-pressed" not in anonymous and "X-CSRFToken" not in anonymous


def test_a_new_vote_comment_or_status_shows_at_once_on_its_report_page(cached_site):
    report = make_report()
    path = f"/reports/{report.tracking_number}"
    visitor = cached_site.test_client()
    assert "0</strong> people want this fixed" in visitor.get(path).get_data(as_text=True)
    resident = make_user()
    votes.set_vote(report, resident, True)
    assert "1</strong> person wants this fixed" in visitor.get(path).get_data(as_text=True)
    comments.add_comment(report, resident, "Still there this morning, and deeper.")
    assert "Still there this morning" in visitor.get(path).get_data(as_text=True)
    clerk = make_user("clerk@bridgeportct.gov", role="admin")
    change_status(report, clerk, None, "acknowledge", public_note="Crew scheduled for Monday")
    assert "Crew scheduled for Monday" in visitor.get(path).get_data(as_text=True)


def test_other_pages_catch_up_within_the_configured_seconds(cached_site, monkeypatch):
    import cachelib.simple

    make_report(description="The first pothole on the list.")
    visitor = cached_site.test_client()
    assert "The first pothole" in visitor.get("/reports").get_data(as_text=True)
    make_report(description="A second pothole, further along.")
    assert "A second pothole" not in visitor.get("/reports").get_data(as_text=True)  # kept
    later = cachelib.simple.time() + SECONDS + 1
    monkeypatch.setattr(cachelib.simple, "time", lambda: later)
    assert "A second pothole" in visitor.get("/reports").get_data(as_text=True)


def test_the_maps_box_of_points_is_kept_like_the_pages(cached_site):
    """A bbox answer (no zoom: other clients' way of asking) is at most MAP_CAP points and
    is kept whole; only the export of everything streams."""
    box = "/reports.geojson?bbox=-73.25,41.13,-73.15,41.23"
    make_report(description="The first pothole in the box.")
    visitor = cached_site.test_client()
    assert len(visitor.get(box).get_json()["features"]) == 1
    make_report(description="A second pothole in the box.")
    assert len(visitor.get(box).get_json()["features"]) == 1  # from the cache
    everything = visitor.get("/reports.geojson")
    assert "attachment" in everything.headers["Content-Disposition"]


def test_the_language_switch_works_without_javascript_and_the_cached_page_keeps_its_language(
    cached_site,
):
    english = cached_site.test_client()
    page = english.get("/reports").get_data(as_text=True)
    assert '<html lang="en">' in page
    form = re.search(r'<form class="lang-switch" method="get" action="/language"', page)
    assert form, "the switcher is a plain GET form on a public page"

    spanish = cached_site.test_client()
    switched = spanish.get("/language?lang=es&next=/reports")
    assert switched.status_code == 303 and switched.headers["Location"].endswith("/reports")
    assert "lang=es" in switched.headers["Set-Cookie"]
    page = spanish.get("/reports")
    assert '<html lang="es">' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"].startswith("public")
    assert "Set-Cookie" not in page.headers

    again = english.get("/reports").get_data(as_text=True)  # the same URL, from the cache
    assert '<html lang="en">' in again
    outside = cached_site.test_client().get("/language?lang=es&next=https://evil.example/")
    assert outside.headers["Location"] in ("/", "http://localhost/")


def test_a_guest_who_presses_me_too_gets_the_forms_with_their_token(cached_site):
    report = make_report()
    public = cached_site.test_client().get(f"/reports/{report.tracking_number}")
    text = public.get_data(as_text=True)
    respond = f"/reports/{report.tracking_number}/respond#votes"
    assert f'href="{respond}"' in text and 'method="post"' not in text
    guest = cached_site.test_client()
    page = guest.get(f"/reports/{report.tracking_number}/respond")
    assert page.headers["Cache-Control"] == "private, no-store"
    assert 'name="csrf_token"' in page.get_data(as_text=True)
    voted = post_form(guest, f"/reports/{report.tracking_number}/vote", {"wanted": "1"})
    assert voted.status_code in (302, 303) and "/sign-in" in voted.headers["Location"]


@pytest.mark.parametrize(
    "path",
    [
        "/language",
        "/reports/{n}/vote",
        "/reports/{n}/follow",
        "/reports/{n}/comments",
        "/reports/{n}/email-updates",
        "/sign-in",
    ],
)
def test_every_post_still_needs_its_token(cached_site, path):
    report = make_report()
    client = cached_site.test_client()
    client.get(f"/reports/{report.tracking_number}")
    response = client.post(
        path.format(n=report.tracking_number),
        data={"lang": "es", "wanted": "1", "body": "Hello", "email": "a@example.org"},
    )
    assert response.status_code == 400


@pytest.fixture
def redis_prefix():
    import redis

    client = redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    prefix = f"test-public-cache-{uuid.uuid4().hex[:10]}:"
    yield client, prefix
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_the_cache_lives_in_redis_when_redis_url_is_set(make_app, redis_prefix):
    client, prefix = redis_prefix
    app = make_app(
        PUBLIC_CACHE=True,
        REDIS_URL="redis://127.0.0.1:6379/0",
        PUBLIC_CACHE_PREFIX=prefix,
        JOBS_PREFIX=prefix.rstrip(":"),
    )
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        report = make_report()
        path = f"/reports/{report.tracking_number}"
        visitor = app.test_client()
        first = visitor.get(path)
        assert first.headers["Cache-Control"].startswith("public")
        assert any(
            key.decode().startswith(f"{prefix}page") for key in client.scan_iter(f"{prefix}*")
        )
        assert visitor.get(path).data == first.data  # from Redis
        votes.set_vote(report, make_user(), True)
        assert "1</strong> person wants this fixed" in visitor.get(path).get_data(as_text=True)


def test_a_category_taken_off_the_list_leaves_every_cached_page_at_once(cached_site):
    from bpt311.staff.administration.categories import set_category_active
    from tests.factories import category

    pothole = category("pothole")
    visitor = cached_site.test_client()
    assert f'category={pothole.service_code}"' in visitor.get("/").get_data(as_text=True)
    set_category_active(make_user("admin@bridgeportct.gov", role="admin"), pothole, False)
    assert f'category={pothole.service_code}"' not in visitor.get("/").get_data(as_text=True)
