"""Rate limits on every write and on the expensive reads (search, exports, the duplicate
check, geocoding through the report form), kept in Redis when one is configured so
every gunicorn worker counts together."""

from __future__ import annotations

import uuid

import pytest

from bpt311.extensions import limiter
from tests.conftest import client_for, csrf_token_from
from tests.factories import CITY_HALL, make_report, make_user

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

# Writes without a limit of their own, and why that is safe.
UNLIMITED_WRITES = {
    "/staff*": "signed-in city staff only, every action audited; a limit would stop a clerk",
    "/sign-out": "ends your own session, nothing to abuse",
    "/unfollow/<token>": "signed single-purpose token, idempotent",
    "/watch/unsubscribe/<token>": "signed single-purpose token, idempotent",
    "/kiosk/reset": "clears the kiosk's own session",
    "/me/settings/push/unsubscribe": "deletes the caller's own push subscription",
    "/open311/": "the catch-all that answers 404/405",
    "/open311/<path:rest>": "the catch-all that answers 404/405",
}

# Reads that cost a query plan or a geocoder call, with the request that is limited.
EXPENSIVE_READS = {
    "reports.index": "/reports?q=pothole",
    "reports.nearby": f"/reports/nearby?category=pothole&latitude={CITY_HALL[0]}"
    f"&longitude={CITY_HALL[1]}",
    "reports.place_here": f"/reports/here?lat={CITY_HALL[0]}&lon={CITY_HALL[1]}",
    "reports.place_here_json": f"/reports/here.json?lat={CITY_HALL[0]}&lon={CITY_HALL[1]}",
    "reports.csv_export": "/reports.csv",
    "reports.geojson": "/reports.geojson",
}


def limited_views() -> set[str]:
    return set(limiter.limit_manager._decorated_limits)


def has_limit(app, endpoint: str) -> bool:
    view = app.view_functions[endpoint]
    prefix = f"{view.__module__}.{view.__name__}."
    return any(key.startswith(prefix) for key in limited_views())


def unlimited_allowed(rule: str) -> bool:
    return any(
        rule == pattern or (pattern.endswith("*") and rule.startswith(pattern[:-1]))
        for pattern in UNLIMITED_WRITES
    )


def test_every_write_has_a_rate_limit(app):
    missing = [
        f"{rule.rule} ({rule.endpoint})"
        for rule in app.url_map.iter_rules()
        if rule.methods & WRITE_METHODS
        and not has_limit(app, rule.endpoint)
        and not unlimited_allowed(rule.rule)
    ]
    assert missing == []


def test_expensive_reads_have_a_rate_limit(app):
    assert [e for e in EXPENSIVE_READS if not has_limit(app, e)] == []


@pytest.fixture
def limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app


def hit(client, path: str, times: int) -> list[int]:
    return [client.get(path).status_code for _ in range(times)]


@pytest.mark.parametrize("endpoint", sorted(EXPENSIVE_READS))
def test_the_request_past_a_read_limit_gets_429_with_words(limited, endpoint):
    client = limited.test_client()
    path = EXPENSIVE_READS[endpoint]
    limit = {"reports.index": 120, "reports.nearby": 60}.get(endpoint, 30)
    codes = hit(client, path, limit + 1)
    assert codes[:limit] == [200] * limit
    assert codes[-1] == 429
    page = client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 429
    assert "Please wait a minute" in page.get_data(as_text=True)
    assert int(page.headers["Retry-After"]) > 0


def test_the_map_may_ask_more_often_than_an_export(limited):
    # The map asks again on every pan and zoom: 120 small answers a minute, not 30.
    client = limited.test_client()
    path = "/reports.geojson?bbox=-73.3,41.1,-73.1,41.3&zoom=13"
    codes = hit(client, path, 121)
    assert codes[:120] == [200] * 120 and codes[120] == 429


def test_browsing_without_a_search_is_not_limited(limited):
    client = limited.test_client()
    assert set(hit(client, "/reports", 130)) == {200}


def test_votes_are_limited_per_person_not_per_address(limited):
    for number in range(2):
        make_report(description=f"Pothole number {number} in the lane")
    first = client_for(limited, make_user("first@example.org"))
    token = csrf_token_from(first)
    codes = [
        first.post(
            "/reports/BPT-000001/vote",
            data={"wanted": "1" if n % 2 == 0 else "0"},
            headers={"X-CSRFToken": token, "HX-Request": "true"},
        ).status_code
        for n in range(31)
    ]
    assert codes[:30] == [200] * 30 and codes[30] == 429
    # a neighbour behind the same address still votes
    second = client_for(limited, make_user("second@example.org"))
    response = second.post(
        "/reports/BPT-000001/vote",
        data={"wanted": "1"},
        headers={"X-CSRFToken": csrf_token_from(second), "HX-Request": "true"},
    )
    assert response.status_code == 200


def test_report_submissions_are_limited(limited):
    client = limited.test_client()
    token = csrf_token_from(client, "/reports/new?category=pothole")
    codes = [
        client.post("/reports/new", data={"csrf_token": token, "category": "pothole"}).status_code
        for _ in range(21)
    ]
    assert codes[:20] == [422] * 20  # an empty form: refused with errors, but counted
    assert codes[20] == 429


def test_open311_posts_are_limited(limited):
    client = limited.test_client()
    codes = [
        client.post("/open311/v2/requests.json", data={"api_key": "wrong"}).status_code
        for _ in range(61)
    ]
    assert 429 not in codes[:60] and codes[60] == 429


def test_one_open311_key_is_limited_however_many_addresses_it_comes_from(make_app):
    from bpt311.api.keys import create_key

    app = make_app(RATELIMIT_ENABLED=True, OPEN311_KEY_RATE_LIMIT="3/minute")
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        secret = create_key("Busy partner").secret
        other = create_key("Quiet partner").secret
        client = app.test_client()

        def post(key: str, address: str) -> int:
            return client.post(
                "/open311/v2/requests.json",
                data={"api_key": key, "service_code": "pothole"},
                environ_base={"REMOTE_ADDR": address},
            ).status_code

        codes = [post(secret, f"10.0.0.{n}") for n in range(1, 5)]
        assert 429 not in codes[:3] and codes[3] == 429
        assert post(other, "10.0.0.9") != 429  # another partner's allowance is its own


# ---- Redis ------------------------------------------------------------------------------

REDIS_URL = "redis://127.0.0.1:6379/15"


def _redis():
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return client


@pytest.fixture
def redis_prefix():
    """A key prefix of our own in DB 15, removed afterwards: we flush only our keys."""
    client = _redis()
    prefix = f"bpt311-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    for key in client.scan_iter(f"*{prefix}*"):
        client.delete(key)
    client.close()


def test_limits_live_in_redis_and_are_shared_between_workers(make_app, redis_prefix):
    settings = {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": REDIS_URL,
        "RATELIMIT_KEY_PREFIX": redis_prefix,
    }
    worker_a, worker_b = make_app(**settings), make_app(**settings)
    with worker_a.app_context():
        from bpt311.seed import load_city

        load_city()
    assert type(limiter.storage).__name__.startswith("Redis")
    codes = hit(worker_a.test_client(), "/reports.csv", 20)
    codes += hit(worker_b.test_client(), "/reports.csv", 11)
    assert codes[:30] == [200] * 30 and codes[30] == 429
    keys = list(_redis().scan_iter(f"*{redis_prefix}*"))
    assert keys, "the counters are in Redis"


def test_request_body_too_large_is_413_with_a_clear_message(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024 * 1024)
    client = app.test_client()
    token = csrf_token_from(client, "/reports/new")
    response = client.post(
        "/reports/new",
        data={"csrf_token": token, "description": "x" * (2 * 1024 * 1024)},
        headers={"Accept": "text/html"},
    )
    assert response.status_code == 413
    assert "larger than the 1 MB we accept" in response.get_data(as_text=True)
