"""Error pages: a page for a browser, a partial for HTMX, JSON for API clients."""

import json

import pytest
from flask import Blueprint, abort, request
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import Department
from tests.conftest import HTMX, csrf_token_from

probe = Blueprint("probe", __name__)


@probe.get("/_probe/abort/<int:code>")
def abort_with(code):
    abort(code)


@probe.get("/_probe/boom")
def boom():
    db.session.add(Department(name="Half-written department"))
    db.session.flush()
    raise RuntimeError("something broke")


@probe.post("/_probe/form")
def form():
    return {"received": request.form.get("text", "")}


@pytest.fixture
def probed(make_app):
    app = make_app(MAX_CONTENT_LENGTH=1024)
    app.register_blueprint(probe)
    with app.app_context():
        yield app


JSON = {"Accept": "application/json"}
CODES = [400, 403, 404, 405, 413, 422, 429, 500]


@pytest.mark.parametrize("code", CODES)
def test_browser_gets_a_full_error_page(probed, code):
    response = probed.test_client().get(f"/_probe/abort/{code}")
    page = response.get_data(as_text=True)
    assert response.status_code == code
    assert response.mimetype == "text/html"
    assert page.startswith("<!doctype html>")
    assert '<main id="main"' in page and "<h1>" in page
    assert "Skip to main content" in page


@pytest.mark.parametrize("code", CODES)
def test_htmx_request_gets_only_the_error_partial(probed, code):
    response = probed.test_client().get(f"/_probe/abort/{code}", headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == code
    assert "<html" not in fragment and "<main" not in fragment
    assert 'role="alert"' in fragment
    assert f'data-error-code="{code}"' in fragment
    assert "HX-Request" in response.headers["Vary"]


@pytest.mark.parametrize("code", CODES)
def test_json_client_gets_json(probed, code):
    response = probed.test_client().get(f"/_probe/abort/{code}", headers=JSON)
    assert response.status_code == code
    assert response.mimetype == "application/json"
    body = json.loads(response.get_data())
    assert body["status"] == code and body["error"] and body["message"]


def test_unknown_address_is_a_404_page_that_helps(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)
    assert "BPT-000123" in response.get_data(as_text=True)


def test_wrong_method_is_405_with_allow_header(client):
    token = csrf_token_from(client)
    response = client.delete("/", headers={"X-CSRFToken": token})
    assert response.status_code == 405
    assert "GET" in response.headers["Allow"]


def test_unexpected_error_rolls_back_and_shows_a_500_page(probed):
    client = probed.test_client()
    response = client.get("/_probe/boom")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "something broke" not in response.get_data(as_text=True)  # no internals shown
    count = db.session.scalar(
        select(func.count(Department.id)).where(Department.name == "Half-written department")
    )
    assert count == 0


def test_too_large_request_is_413_with_the_limit_in_words(probed):
    client = probed.test_client()
    token = csrf_token_from(client)
    response = client.post("/_probe/form", data={"csrf_token": token, "text": "x" * 5000})
    assert response.status_code == 413
    assert "larger than" in response.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(probed):
    client = probed.test_client()
    response = client.post("/_probe/form", data={"text": "hello"})
    assert response.status_code == 400
    assert "security token" in response.get_data(as_text=True)


def test_htmx_post_without_csrf_header_is_refused(probed):
    client = probed.test_client()
    client.get("/")
    response = client.post("/_probe/form", data={"text": "hello"}, headers=HTMX)
    assert response.status_code == 400
    assert 'role="alert"' in response.get_data(as_text=True)


def test_post_with_csrf_token_in_form_or_htmx_header_is_accepted(probed):
    client = probed.test_client()
    token = csrf_token_from(client)
    response = client.post("/_probe/form", data={"csrf_token": token, "text": "hello"})
    assert response.status_code == 200 and response.json == {"received": "hello"}
    response = client.post(
        "/_probe/form", data={"text": "again"}, headers={**HTMX, "X-CSRFToken": token}
    )
    assert response.status_code == 200 and response.json == {"received": "again"}


def test_a_connection_lost_while_closing_the_session_does_not_spoil_the_answer(
    client, city, monkeypatch
):
    """The page was made; the database then vanished before the session's closing
    ROLLBACK. The visitor still gets the page, not a bare server error."""
    from sqlalchemy.exc import OperationalError

    from bpt311.extensions import db

    real_remove = db.session.remove
    calls = []

    def remove_on_a_dead_connection():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("ROLLBACK", {}, Exception("server closed the connection"))
        real_remove()

    monkeypatch.setattr(db.session, "remove", remove_on_a_dead_connection)
    response = client.get("/")
    assert response.status_code == 200
    assert "Report a problem" in response.get_data(as_text=True)
    assert len(calls) >= 1
