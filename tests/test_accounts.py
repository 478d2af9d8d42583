"""Accounts as people use them: register, sign in, reset, settings, claim, delete, the CLI."""

from __future__ import annotations

import contextvars
import re
import time
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from argon2 import PasswordHasher
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner
from sqlalchemy import event, func, select

from bpt311 import tokens
from bpt311.accounts.service import hash_password
from bpt311.extensions import db
from bpt311.models import (
    AuditLog,
    Department,
    Neighbourhood,
    Outbox,
    Report,
    TimelineEvent,
    User,
    utcnow,
)
from bpt311.notify import deliver_due
from bpt311.redirects import safe_next
from tests.conftest import csrf_token_from
from tests.factories import make_report, make_user
from tests.smtp import SMTPServer

PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple paper clip lamp"
MARIA = "maria@example.org"


# ---- helpers -----------------------------------------------------------------------


@pytest.fixture
def smtp():
    with SMTPServer() as server:
        yield server


class Browser(FlaskClient):
    """A test client whose every request gets its own app context, as in production.

    The fixtures keep an app context open for the test's own database work, and
    Flask would otherwise run requests inside it, sharing ``g`` between requests
    and clients: Flask-Login's cached user and Flask-WTF's CSRF token would leak
    from one visitor to the next and hide exactly the bugs these tests look for.
    """

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def site(make_app, smtp):
    """The app with Bridgeport's catalogue loaded and email going to a loopback SMTP server."""
    app = make_app(**smtp.settings)
    app.test_client_class = Browser
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app


@pytest.fixture
def browser(site):
    return site.test_client()


def resident(email: str = MARIA, verified: bool = True, **fields) -> User:
    return make_user(
        email,
        password_hash=hash_password(fields.pop("password", PASSWORD)),
        display_name=fields.pop("display_name", "Maria Lopez"),
        email_verified_at=utcnow() if verified else None,
        **fields,
    )


def post_form(client, page: str, data: dict, action: str | None = None, **kwargs):
    """Fill in the form on ``page`` as a browser would: its CSRF token and our answers."""
    token = csrf_token_from(client, page)
    return client.post(action or page, data={"csrf_token": token, **data}, **kwargs)


def sign_in(client, email: str = MARIA, password: str = PASSWORD, **extra):
    return post_form(client, "/sign-in", {"email": email, "password": password, **extra})


def emails_to(smtp, address: str):
    deliver_due()
    return smtp.mailbox.to(address)


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def link_in(message) -> str:
    """The path of the site link in an email, checked in both the text and the HTML."""
    match = re.search(
        r"http://bpt311\.test(/(?:verify|reset|confirm-email|me)/\S+)", text_of(message)
    )
    assert match, text_of(message)
    html = message.get_body(("html",)).get_content()
    assert f'href="{match.group(0)}"' in html
    return match.group(1)


def page(response) -> str:
    return response.get_data(as_text=True)


def without_tokens(html: str) -> str:
    """A page with its per-session CSRF tokens taken out, to compare two visitors' pages."""
    return re.sub(r'"X-CSRFToken": "[^"]+"|name="csrf_token" type="hidden" value="[^"]+"', "", html)


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


@contextmanager
def links_made_seconds_ago(seconds: int):
    """Emailed links made while this is open carry a timestamp from ``seconds`` ago.

    Only the account tokens are backdated: Flask's session cookie is signed the
    same way and must keep working.
    """
    make_token = tokens.make_token

    def backdated(purpose, payload):
        with mock.patch.object(
            TimestampSigner, "get_timestamp", lambda self: int(time.time()) - seconds
        ):
            return make_token(purpose, payload)

    with mock.patch.object(tokens, "make_token", backdated):
        yield


@contextmanager
def counted_queries():
    statements: list[str] = []

    def count(connection, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", count)


# ---- registering ----------------------------------------------------------------------


def test_registering_emails_a_link_that_confirms_the_address(browser, smtp):
    response = post_form(
        browser,
        "/register",
        {
            "email": " Maria@Example.org ",
            "display_name": "Maria Lopez",
            "show_name": "y",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"] == "/register/check-email"
    assert "Check your email" in page(browser.get("/register/check-email"))

    user = db.session.scalars(select(User)).one()
    assert user.email == MARIA and user.show_name and user.email_verified_at is None
    assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash

    [message] = emails_to(smtp, MARIA)
    assert "Confirm your email address" in message["Subject"]
    confirmed = browser.get(link_in(message))
    assert confirmed.status_code == 200
    assert "Your email address is confirmed" in page(confirmed)
    assert fresh(User, user.id).email_verified_at is not None


def test_registering_an_existing_email_shows_the_same_page_and_sends_a_notice(browser, smtp):
    existing = resident()
    form = {
        "email": "MARIA@example.org",
        "display_name": "Someone Else",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    response = post_form(browser, "/register", form)
    assert response.status_code == 303
    assert response.headers["Location"] == "/register/check-email"
    assert "Check your email" in page(browser.get("/register/check-email"))

    assert db.session.scalar(select(func.count(User.id)).where(User.email == MARIA)) == 1
    assert fresh(User, existing.id).display_name == "Maria Lopez"  # nothing changed
    [notice] = emails_to(smtp, MARIA)
    assert notice["Subject"] == "Someone tried to register with your email address"
    assert "sign in" in text_of(notice).lower() and "/reset" in text_of(notice)
    assert "/verify/" not in text_of(notice)


def test_check_email_page_reads_the_same_for_a_new_and_an_existing_address(site):
    resident()
    pages = []
    for email in (MARIA, "new@example.org"):
        client = site.test_client()
        post_form(
            client,
            "/register",
            {
                "email": email,
                "display_name": "Maria",
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
        )
        pages.append(
            without_tokens(page(client.get("/register/check-email"))).replace(email, "EMAIL")
        )
    assert "<strong>EMAIL</strong>" in pages[0]
    assert pages[0] == pages[1]


def test_register_form_errors_are_summarised_and_typed_answers_kept_except_passwords(browser):
    response = post_form(
        browser,
        "/register",
        {
            "email": "not-an-email",
            "display_name": "Maria Lopez",
            "password": "short",
            "confirm": "different",
        },
    )
    html = page(response)
    assert response.status_code == 422
    assert "<title>Error: Create an account" in html
    assert 'class="error-summary"' in html and 'role="alert"' in html
    assert '<a href="#email">Enter an email address like name@example.com</a>' in html
    assert "must be between 10 and" in html
    assert "The two passwords are not the same" in html
    assert 'value="not-an-email"' in html and 'value="Maria Lopez"' in html
    assert "short" not in html and "different" not in html
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_register_without_csrf_token_is_refused(browser):
    browser.get("/register")
    response = browser.post(
        "/register",
        data={"email": MARIA, "display_name": "M", "password": PASSWORD, "confirm": PASSWORD},
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_verify_link_works_for_an_address_stored_with_capitals(browser, smtp):
    user = resident("Maria.Lopez@Example.org", verified=False)
    sign_in(browser, "maria.lopez@example.org")
    post_form(browser, "/me", {}, action="/me/verify")
    [message] = emails_to(smtp, "Maria.Lopez@Example.org")
    assert browser.get(link_in(message)).status_code == 200
    assert fresh(User, user.id).email_verified_at is not None


def test_verify_link_expires_after_three_days(browser, smtp):
    user = resident(verified=False)
    sign_in(browser)
    with links_made_seconds_ago(3 * 24 * 3600 + 60):
        post_form(browser, "/me", {}, action="/me/verify")
    [message] = emails_to(smtp, MARIA)
    response = browser.get(link_in(message))
    assert response.status_code == 400
    assert "This link has expired" in page(response)
    assert fresh(User, user.id).email_verified_at is None


# ---- signing in and out --------------------------------------------------------------------


def test_sign_in_then_sign_out(browser):
    resident()
    response = sign_in(browser)
    assert response.status_code == 303 and response.headers["Location"] == "/me"
    assert "Signed in as <strong>maria@example.org</strong>" in page(browser.get("/me"))

    response = post_form(browser, "/me", {}, action="/sign-out")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert browser.get("/me").status_code == 302


def test_sign_out_is_a_post_with_a_csrf_token(browser):
    resident()
    sign_in(browser)
    assert browser.get("/sign-out").status_code == 405
    assert browser.post("/sign-out").status_code == 400
    assert browser.get("/me").status_code == 200  # still signed in


def copy_of(client, site):
    """Another browser holding a copy of every cookie ``client`` has now (a stolen jar)."""
    copy = site.test_client()
    for cookie in client._cookies.values():
        copy.set_cookie(
            cookie.decoded_key, cookie.decoded_value, domain=cookie.domain, path=cookie.path
        )
    return copy


def signed_out(client) -> bool:
    response = client.get("/me")
    return response.status_code == 302 and response.headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize("remember", ["", "y"])
def test_signing_out_ends_a_copy_of_the_session_made_before(site, remember):
    resident()
    browser = site.test_client()
    sign_in(browser, remember=remember)
    copy = copy_of(browser, site)
    assert copy.get("/me").status_code == 200
    post_form(browser, "/me", {}, action="/sign-out")
    assert signed_out(copy) and signed_out(browser)
    assert sign_in(browser).status_code == 303  # signing in again works as before


def test_sign_out_everywhere_ends_every_browser_and_says_so(site):
    resident()
    phone, laptop = site.test_client(), site.test_client()
    sign_in(phone, remember="y")
    sign_in(laptop)
    copy = copy_of(laptop, site)
    settings = page(laptop.get("/me/settings"))
    assert 'action="/me/settings/sign-out-everywhere"' in settings
    assert laptop.post("/me/settings/sign-out-everywhere").status_code == 400  # no CSRF token
    assert laptop.get("/me").status_code == 200
    response = post_form(laptop, "/me/settings", {}, action="/me/settings/sign-out-everywhere")
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert "You have been signed out on every device and browser." in page(laptop.get("/"))
    assert signed_out(laptop) and signed_out(copy) and signed_out(phone)


def test_changing_the_password_keeps_this_browser_and_ends_copies(site):
    resident()
    browser = site.test_client()
    sign_in(browser, remember="y")
    copy = copy_of(browser, site)
    response = post_form(
        browser,
        "/me/settings/password",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert response.status_code == 303
    assert browser.get("/me").status_code == 200
    assert signed_out(copy)


def test_a_password_reset_ends_every_session(site, smtp):
    user = resident()
    browser = site.test_client()
    sign_in(browser, remember="y")
    link = f"/reset/{tokens.password_reset_token(user)}"
    stranger = site.test_client()
    post_form(stranger, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert signed_out(browser)


def test_remember_me_sets_the_remember_cookie(site):
    resident()
    forgetful = site.test_client()
    sign_in(forgetful)
    assert forgetful.get_cookie("remember_token") is None

    remembered = site.test_client()
    response = sign_in(remembered, remember="y")
    assert response.status_code == 303
    cookie = remembered.get_cookie("remember_token")
    assert cookie is not None and cookie.http_only and cookie.expires is not None


@pytest.mark.parametrize(
    "email, password", [(MARIA, "wrong password!"), ("nobody@x.org", PASSWORD)]
)
def test_wrong_password_and_unknown_email_give_the_same_message(browser, email, password):
    resident()
    response = sign_in(browser, email, password)
    html = page(response)
    assert response.status_code == 422
    assert "Email or password is not right" in html
    assert "<title>Error: Sign in" in html
    assert f'value="{email}"' in html and password not in html
    assert browser.get("/me").status_code == 302


def test_wrong_password_and_unknown_email_pages_are_identical(site):
    resident()
    pages = []
    for email, password in ((MARIA, "wrong password!"), ("nobody@example.org", PASSWORD)):
        client = site.test_client()
        html = without_tokens(page(sign_in(client, email, password)))
        pages.append(html.replace(email, "EMAIL").replace(password, "PASSWORD"))
    assert "Email or password is not right" in pages[0]
    assert pages[0] == pages[1]


def test_deactivated_account_cannot_sign_in(browser):
    resident(active=False)
    response = sign_in(browser)
    assert response.status_code == 422
    assert "This account has been closed" in page(response)
    assert browser.get("/me").status_code == 302


def test_sign_in_upgrades_a_weaker_password_hash(browser):
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    user = make_user(MARIA, password_hash=weak)
    assert sign_in(browser).status_code == 303
    upgraded = fresh(User, user.id).password_hash
    assert upgraded != weak and "m=65536" in upgraded


def test_next_is_honoured_for_a_report_page(browser):
    resident()
    report = make_report()
    target = f"/reports/{report.tracking_number}"
    login_page = page(browser.get(f"/sign-in?next={target}"))
    assert f'value="{target}"' in login_page
    response = sign_in(browser, next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/phish",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/reports\\..\\evil",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
    ],
)
def test_next_to_another_site_is_refused(browser, target):
    resident()
    assert 'name="next" type="hidden" value=""' in page(
        browser.get("/sign-in", query_string={"next": target})
    )
    response = sign_in(browser, next=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/me"


def test_safe_next_keeps_paths_with_queries():
    assert safe_next("/reports/BPT-000001?tab=photos") == "/reports/BPT-000001?tab=photos"
    assert safe_next("", None) is None and safe_next(None, None) is None


def test_session_cookie_is_httponly_and_samesite_lax(browser):
    resident()
    response = sign_in(browser, remember="y")
    cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
    for name in ("session", "remember_token"):
        assert "HttpOnly" in cookies[name]
        assert "SameSite=Lax" in cookies[name]


def test_sign_in_is_rate_limited_with_when_to_try_again(browser):
    token = csrf_token_from(browser, "/sign-in")
    for _ in range(10):
        response = browser.post(
            "/sign-in", data={"csrf_token": token, "email": MARIA, "password": "guess guess!"}
        )
        assert response.status_code == 422
    response = browser.post(
        "/sign-in", data={"csrf_token": token, "email": MARIA, "password": "guess guess!"}
    )
    assert response.status_code == 429
    assert "wait a minute and try again" in page(response)
    assert 0 < int(response.headers["Retry-After"]) <= 60
    htmx = browser.post(
        "/sign-in",
        data={"csrf_token": token, "email": MARIA, "password": "x"},
        headers={"HX-Request": "true"},
    )
    assert htmx.status_code == 429 and "<html" not in page(htmx)
    assert "wait a minute" in page(htmx) and htmx.headers["Retry-After"]
    assert browser.get("/sign-in").status_code == 200  # only posts are limited


def test_register_and_reset_are_rate_limited_per_hour(browser):
    token = csrf_token_from(browser, "/register")
    for path, data in (("/register", {"email": "bad"}), ("/reset", {"email": "bad"})):
        statuses = [
            browser.post(path, data={"csrf_token": token, **data}).status_code for _ in range(6)
        ]
        assert statuses == [422] * 5 + [429]
        assert "wait an hour" in page(browser.post(path, data={"csrf_token": token, **data}))


# ---- forgotten passwords --------------------------------------------------------------


def test_password_reset_end_to_end(browser, smtp):
    user = resident(verified=False)
    response = post_form(browser, "/reset", {"email": "Maria@Example.org"})
    assert response.status_code == 303 and response.headers["Location"] == "/reset/sent"
    assert "If an account exists for" in page(browser.get("/reset/sent"))

    [message] = emails_to(smtp, MARIA)
    link = link_in(message)
    form = browser.get(link)
    assert form.status_code == 200 and "Choose a new password" in page(form)
    response = post_form(browser, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/sign-in"

    assert sign_in(browser, password=PASSWORD).status_code == 422
    assert sign_in(browser, password=NEW_PASSWORD).status_code == 303
    assert fresh(User, user.id).email_verified_at is not None  # the link proved the address


def test_reset_for_an_unknown_email_answers_the_same_and_sends_nothing(site, smtp):
    resident()
    answers = []
    for email in ("nobody@example.org", MARIA):
        client = site.test_client()
        response = post_form(client, "/reset", {"email": email})
        answers.append(
            (
                response.status_code,
                response.headers["Location"],
                without_tokens(page(client.get("/reset/sent")).replace(email, "EMAIL")),
            )
        )
    assert answers[0][:2] == answers[1][:2] == (303, "/reset/sent")
    assert "<strong>EMAIL</strong>" in answers[0][2]
    assert answers[0][2] == answers[1][2]
    deliver_due()
    assert smtp.mailbox.to("nobody@example.org") == []
    assert len(smtp.mailbox.to(MARIA)) == 1


def test_reset_link_works_only_once(browser, smtp):
    resident()
    post_form(browser, "/reset", {"email": MARIA})
    link = link_in(emails_to(smtp, MARIA)[0])
    post_form(browser, link, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    again = browser.get(link)
    assert again.status_code == 400 and "already been used" in page(again)
    token = csrf_token_from(browser, "/reset")
    reused = browser.post(
        link,
        data={"csrf_token": token, "password": "a third password", "confirm": "a third password"},
    )
    assert reused.status_code == 400
    assert sign_in(browser, password=NEW_PASSWORD).status_code == 303


def test_reset_link_expires_after_an_hour(browser, smtp):
    resident()
    with links_made_seconds_ago(3601):
        post_form(browser, "/reset", {"email": MARIA})
    link = link_in(emails_to(smtp, MARIA)[0])
    response = browser.get(link)
    assert response.status_code == 400 and "This link has expired" in page(response)
    token = csrf_token_from(browser, "/reset")
    refused = browser.post(
        link, data={"csrf_token": token, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}
    )
    assert refused.status_code == 400
    assert sign_in(browser, password=PASSWORD).status_code == 303


def test_a_tampered_reset_link_is_refused(browser, smtp):
    resident()
    post_form(browser, "/reset", {"email": MARIA})
    link = link_in(emails_to(smtp, MARIA)[0])
    response = browser.get(link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB"))
    assert response.status_code == 400 and "not right" in page(response)


# ---- your account --------------------------------------------------------------------------


def test_me_as_a_guest_redirects_to_sign_in_with_next(browser):
    response = browser.get("/me")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2Fme"
    resident()
    assert sign_in(browser, next="/me").headers["Location"] == "/me"


def test_me_lists_only_my_reports_newest_first_with_status(browser):
    me = resident()
    other = resident("other@example.org")
    older = make_report(reporter=me, created_at=utcnow() - timedelta(days=2))
    newer = make_report("streetlight", reporter=me, status="acknowledged")
    theirs = make_report(reporter=other)
    guest = make_report(contact_email=MARIA)
    sign_in(browser)
    html = page(browser.get("/me"))
    assert html.index(newer.tracking_number) < html.index(older.tracking_number)
    assert f'href="/reports/{newer.tracking_number}"' in html
    assert "Acknowledged" in html and newer.category.name in html
    assert theirs.tracking_number not in html and guest.tracking_number not in html


def test_me_runs_a_fixed_number_of_queries(browser):
    me = resident()
    places = db.session.scalars(select(Neighbourhood).order_by(Neighbourhood.id)).all()
    sign_in(browser)
    # No address, so each row names its neighbourhood: that relationship is loaded too.
    make_report(reporter=me, address="", neighbourhood=places[0])
    with counted_queries() as one:
        html = page(browser.get("/me"))
    assert html.count('class="report-row"') == 1 and places[0].name in html
    for n in range(19):
        code = ("pothole", "streetlight", "graffiti")[n % 3]
        make_report(code, reporter=me, address="", neighbourhood=places[n % len(places)])
    with counted_queries() as twenty:
        html = page(browser.get("/me"))
    assert html.count('class="report-row"') == 20
    # the account, its reports, their categories, their neighbourhoods
    assert len(one) == len(twenty), twenty


def test_changing_name_and_show_name_shows_on_my_reports(browser):
    me = resident(show_name=False)
    report = make_report(reporter=me)
    sign_in(browser)
    assert "by A resident" in page(browser.get(f"/reports/{report.tracking_number}"))

    settings = page(browser.get("/me/settings"))
    assert 'value="Maria Lopez"' in settings
    response = post_form(browser, "/me/settings", {"display_name": "Maria L.", "show_name": "y"})
    assert response.status_code == 303 and response.headers["Location"] == "/me/settings"
    assert "by Maria L." in page(browser.get(f"/reports/{report.tracking_number}"))

    empty = post_form(browser, "/me/settings", {"display_name": ""})
    assert empty.status_code == 422 and "Enter your name" in page(empty)


def test_change_password_needs_the_current_password(browser):
    resident()
    sign_in(browser)
    wrong = post_form(
        browser,
        "/me/settings/password",
        {"current_password": "not my password", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 422
    assert '<a href="#current_password">Your password is not right</a>' in page(wrong)
    right = post_form(
        browser,
        "/me/settings/password",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert right.status_code == 303
    post_form(browser, "/me", {}, action="/sign-out")
    assert sign_in(browser, password=NEW_PASSWORD).status_code == 303


def test_email_changes_only_after_the_new_address_confirms(browser, smtp):
    me = resident()
    sign_in(browser)
    response = post_form(
        browser, "/me/settings/email", {"email": "Maria.New@example.org", "password": PASSWORD}
    )
    assert response.status_code == 303
    assert fresh(User, me.id).email == MARIA  # not yet

    [notice] = emails_to(smtp, MARIA)
    assert "maria.new@example.org" in text_of(notice)
    assert "/confirm-email/" not in text_of(notice)  # the old address cannot confirm
    [confirmation] = smtp.mailbox.to("maria.new@example.org")
    link = link_in(confirmation)

    response = browser.get(link)
    assert response.status_code == 200 and "maria.new@example.org" in page(response)
    assert fresh(User, me.id).email == "maria.new@example.org"
    assert browser.get(link).status_code == 400  # used

    post_form(browser, "/me", {}, action="/sign-out")
    assert sign_in(browser).status_code == 422
    assert sign_in(browser, "maria.new@example.org").status_code == 303


def test_changing_the_password_cancels_a_pending_email_change(browser, smtp):
    me = resident()
    sign_in(browser)
    post_form(browser, "/me/settings/email", {"email": "thief@example.org", "password": PASSWORD})
    link = link_in(emails_to(smtp, "thief@example.org")[0])
    post_form(
        browser,
        "/me/settings/password",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert browser.get(link).status_code == 400
    assert fresh(User, me.id).email == MARIA


def test_changing_email_to_an_address_with_an_account_looks_the_same_but_sends_no_link(
    browser, smtp
):
    resident()
    resident("taken@example.org")
    sign_in(browser)
    response = post_form(
        browser, "/me/settings/email", {"email": "taken@example.org", "password": PASSWORD}
    )
    assert response.status_code == 303
    [message] = emails_to(smtp, "taken@example.org")
    assert "/confirm-email/" not in text_of(message)


def test_change_email_needs_the_password_and_a_different_address(browser):
    resident()
    sign_in(browser)
    wrong = post_form(browser, "/me/settings/email", {"email": "n@example.org", "password": "x"})
    assert wrong.status_code == 422 and "Your password is not right" in page(wrong)
    assert 'value="n@example.org"' in page(wrong)
    same = post_form(browser, "/me/settings/email", {"email": MARIA, "password": PASSWORD})
    assert same.status_code == 422 and "already your email address" in page(same)
    assert db.session.scalar(select(func.count(Outbox.id))) == 0


# ---- deleting an account ---------------------------------------------------------------------


def test_deleting_the_account_anonymises_its_reports(browser):
    me = resident(show_name=True, display_name="Maria Lopez")
    report = make_report(reporter=me, contact_name="Maria Lopez", contact_email=MARIA)
    db.session.add(
        TimelineEvent(report=report, kind="comment", actor=me, public_note="Still there")
    )
    db.session.add(AuditLog(actor=me, action="report.comment", report_id=report.id))
    db.session.commit()
    report_id, me_id = report.id, me.id
    detail = f"/reports/{report.tracking_number}"
    sign_in(browser)
    assert "Maria Lopez" in page(browser.get(detail))

    response = post_form(browser, "/me/settings/delete", {"password": PASSWORD})
    assert response.status_code == 303 and response.headers["Location"] == "/"

    assert fresh(User, me_id) is None
    kept = db.session.get(Report, report_id)
    assert kept.reporter_id is None and kept.anonymous
    assert kept.contact_email == "" and kept.contact_name == ""
    assert (
        db.session.scalar(
            select(func.count(TimelineEvent.id)).where(TimelineEvent.actor_id.is_not(None))
        )
        == 0
    )
    assert db.session.scalar(select(AuditLog.actor_id)) is None
    html = page(browser.get(detail))
    assert "Maria Lopez" not in html and "by A resident" in html
    assert browser.get("/me").status_code == 302  # signed out
    assert sign_in(browser).status_code == 422


def test_deleting_needs_the_right_password(browser):
    me = resident()
    sign_in(browser)
    response = post_form(browser, "/me/settings/delete", {"password": "not my password"})
    assert response.status_code == 422 and "Your password is not right" in page(response)
    assert fresh(User, me.id) is not None


# ---- claiming reports sent as a guest ---------------------------------------------------------


def test_claim_links_guest_reports_sent_from_my_email(browser, smtp):
    me = resident()
    mine = [make_report(contact_email="MARIA@example.org"), make_report(contact_email=MARIA)]
    someone_elses = make_report(contact_email="other@example.org")
    owned = make_report(contact_email=MARIA, reporter=resident("other@example.org"))
    sign_in(browser)
    response = post_form(browser, "/me", {}, action="/me/claim")
    assert response.status_code == 303
    link = link_in(emails_to(smtp, MARIA)[0])

    response = browser.get(link)
    assert response.status_code == 303 and response.headers["Location"] == "/me"
    assert "We added 2 reports to your account" in page(browser.get("/me"))
    db.session.expire_all()
    assert {
        r.id for r in db.session.scalars(select(Report).where(Report.reporter_id == me.id))
    } == {r.id for r in mine}
    assert db.session.get(Report, someone_elses.id).reporter_id is None
    assert db.session.get(Report, owned.id).reporter_id != me.id


def test_claim_needs_a_verified_email(browser, smtp):
    resident(verified=False)
    make_report(contact_email=MARIA)
    sign_in(browser)
    assert "Email me a link to add them" not in page(browser.get("/me"))
    post_form(browser, "/me", {}, action="/me/claim")
    assert "Confirm your email address first" in page(browser.get("/me"))
    assert emails_to(smtp, MARIA) == []


def test_claim_link_for_another_account_is_refused(site, smtp):
    resident()
    intruder = resident("intruder@example.org")
    report = make_report(contact_email=MARIA)
    maria = site.test_client()
    sign_in(maria)
    post_form(maria, "/me", {}, action="/me/claim")
    link = link_in(emails_to(smtp, MARIA)[0])

    other = site.test_client()
    sign_in(other, "intruder@example.org")
    assert other.get(link).status_code == 400
    assert fresh(Report, report.id).reporter_id is None
    assert (
        db.session.scalar(select(func.count(Report.id)).where(Report.reporter_id == intruder.id))
        == 0
    )


def test_claim_link_requires_signing_in(browser):
    response = browser.get("/me/claim/anything")
    assert response.status_code == 302 and "/sign-in?next=" in response.headers["Location"]


# ---- the command line ---------------------------------------------------------------------


def test_cli_creates_a_verified_staff_account_in_a_department(site):
    result = site.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            "Crew.Chief@Bridgeportct.gov",
            "--role",
            "staff",
            "--department",
            "roadway maintenance",
            "--password",
            PASSWORD,
        ]
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalars(select(User)).one()
    assert user.email == "crew.chief@bridgeportct.gov" and user.role == "staff"
    assert user.department.name == "Roadway Maintenance" and user.email_verified_at
    assert sign_in(site.test_client(), user.email).status_code == 303

    listing = site.test_cli_runner().invoke(args=["users", "list"])
    assert listing.exit_code == 0
    assert (
        "crew.chief@bridgeportct.gov" in listing.output and "Roadway Maintenance" in listing.output
    )


def test_cli_prompts_for_the_password_when_not_given(site):
    result = site.test_cli_runner().invoke(
        args=["users", "create", "--email", "admin@example.org", "--role", "admin"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert db.session.scalars(select(User)).one().is_admin


@pytest.mark.parametrize(
    "args, message",
    [
        (["--role", "staff", "--department", "Department of Magic"], "no department called"),
        (["--role", "staff"], "needs a department"),
        (["--role", "wizard"], "'wizard' is not one of"),
        (["--role", "resident", "--department", "Animal Control"], "does not belong"),
        (["--role", "admin", "--password", "short"], "at least 10 characters"),
    ],
)
def test_cli_refuses_a_bad_account_with_a_clear_message(site, args, message):
    full = ["users", "create", "--email", "x@example.org", *args]
    if "--password" not in args:
        full += ["--password", PASSWORD]
    result = site.test_cli_runner().invoke(args=full)
    assert result.exit_code != 0
    assert message in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0
    assert db.session.scalar(select(func.count(Department.id))) > 0


def test_cli_refuses_an_email_that_has_an_account(site):
    resident()
    result = site.test_cli_runner().invoke(
        args=["users", "create", "--email", MARIA, "--password", PASSWORD]
    )
    assert result.exit_code != 0 and "already an account" in result.output


# ---- pages -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/register",
        "/register/check-email",
        "/sign-in",
        "/reset",
        "/reset/sent",
        "/me",
        "/me/settings",
        "/me/settings/password",
        "/me/settings/email",
        "/me/settings/delete",
    ],
)
def test_account_pages_are_full_pages_without_inline_style_or_script(browser, path):
    resident(verified=False)
    make_report(reporter=db.session.scalars(select(User)).one())
    if path.startswith("/me"):
        sign_in(browser)
    response = browser.get(path)
    html = page(response)
    assert response.status_code == 200
    assert html.startswith("<!doctype html>") and '<main id="main"' in html
    assert "style=" not in html and "<style" not in html
    assert re.findall(r"<script(?![^>]*\ssrc=)", html) == []
    assert " on" + "click=" not in html
    for form in re.findall(r"<form[^>]*>", html):
        assert 'method="post"' in form and "novalidate" in form


def test_changing_the_password_signs_other_browsers_out(site, browser):
    resident()
    sign_in(browser)
    other = site.test_client()
    sign_in(other)
    assert other.get("/me").status_code == 200
    changed = post_form(
        browser,
        "/me/settings/password",
        {"current_password": PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert changed.status_code == 303
    assert browser.get("/me").status_code == 200  # the one who changed it stays in
    assert other.get("/me").status_code == 302  # the other is sent to sign in
