"""Account hardening: common passwords refused everywhere a password is chosen, and
sign-in throttled per address and per account."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bpt311 import tokens
from bpt311.accounts.passwords import common_passwords, is_common
from bpt311.accounts.service import hash_password, password_matches
from bpt311.extensions import db
from bpt311.models import User, utcnow
from tests.conftest import csrf_token_from
from tests.factories import make_user

PASSWORD = "correct horse battery"
COMMON = "qwertyuiop"  # ten characters: long enough, and near the top of every list
REFUSED = "one of the most common passwords"


@pytest.fixture
def browser(site):
    return site.test_client()


def resident(email: str = "maria@example.org") -> User:
    return make_user(
        email,
        password_hash=hash_password(PASSWORD),
        display_name="Maria Lopez",
        email_verified_at=utcnow(),
    )


def post_form(client, path: str, data: dict, **kwargs):
    token = csrf_token_from(client, path)
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)


def sign_in(client, email="maria@example.org", password=PASSWORD, address="10.0.0.1"):
    return post_form(
        client,
        "/sign-in",
        {"email": email, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_the_list_is_the_bundled_thirty_thousand():
    assert len(common_passwords()) >= 29_000
    assert is_common("Password123") and is_common(" 1234567890 ")
    assert not is_common(PASSWORD)


def test_registering_with_a_common_password_is_refused_and_keeps_what_was_typed(browser):
    response = post_form(
        browser,
        "/register",
        {
            "email": "new@example.org",
            "display_name": "Nadia Okafor",
            "password": COMMON,
            "confirm": COMMON,
        },
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert REFUSED in html and "Error: " in html
    assert 'value="new@example.org"' in html and 'value="Nadia Okafor"' in html
    assert COMMON not in html  # a password is never sent back
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_resetting_to_a_common_password_is_refused(browser):
    user = resident()
    token = tokens.make_token(
        tokens.RESET_PASSWORD, {"uid": user.id, "pw": tokens.fingerprint(user.password_hash)}
    )
    path = f"/reset/{token}"
    response = post_form(browser, path, {"password": "Password123", "confirm": "Password123"})
    assert response.status_code == 422 and REFUSED in response.get_data(as_text=True)
    db.session.expire_all()
    assert password_matches(db.session.get(User, user.id), PASSWORD)
    good = post_form(
        browser, path, {"password": "lamp staple orbit", "confirm": "lamp staple orbit"}
    )
    assert good.status_code == 303


def test_changing_to_a_common_password_is_refused(browser):
    user = resident()
    assert sign_in(browser).status_code == 303
    response = post_form(
        browser,
        "/me/settings/password",
        {"current_password": PASSWORD, "password": COMMON, "confirm": COMMON},
    )
    assert response.status_code == 422 and REFUSED in response.get_data(as_text=True)
    db.session.expire_all()
    assert password_matches(db.session.get(User, user.id), PASSWORD)


def test_the_command_line_refuses_a_common_password(site):
    result = site.test_cli_runner().invoke(
        args=[
            "users",
            "create",
            "--email",
            "boss@example.org",
            "--role",
            "admin",
            "--password",
            COMMON,
        ]
    )
    assert result.exit_code != 0 and REFUSED in result.output
    assert db.session.scalar(select(func.count(User.id))) == 0


def test_guessing_one_account_from_many_addresses_is_throttled(browser):
    resident()
    for attempt in range(10):
        response = sign_in(browser, password="wrong guess!", address=f"10.0.1.{attempt}")
        assert response.status_code == 422
    blocked = sign_in(browser, password="wrong guess!", address="10.0.2.1")
    assert blocked.status_code == 429
    assert "wait a minute and try again" in blocked.get_data(as_text=True)
    assert blocked.headers["Retry-After"]
    # An address that has guessed at this account waits, even with the right password.
    assert sign_in(browser, address="10.0.2.1").status_code == 429
    assert sign_in(browser, address="10.0.1.3").status_code == 429
    # Another account is not held up by it.
    resident("other@example.org")
    assert sign_in(browser, email="other@example.org", address="10.0.2.3").status_code == 303


def test_successful_sign_ins_do_not_use_up_the_account_allowance(site):
    resident()
    for attempt in range(12):
        fresh_browser = site.test_client()
        assert sign_in(fresh_browser, address=f"10.0.3.{attempt}").status_code == 303
    wrong = sign_in(site.test_client(), password="wrong guess!", address="10.0.4.1")
    assert wrong.status_code == 422


def test_guessing_from_a_few_addresses_does_not_lock_the_owner_out(browser):
    resident()
    for attempt in range(10):
        response = sign_in(browser, password="wrong guess!", address=f"10.0.5.{attempt % 3}")
        assert response.status_code == 422
    assert sign_in(browser, password="wrong guess!", address="10.0.5.0").status_code == 429
    # The owner, on their own phone, with the right password: in.
    owner = sign_in(browser, address="10.0.6.1")
    assert owner.status_code == 303 and owner.headers["Location"] == "/me"


def test_a_reset_link_lifts_the_throttle_for_the_owner(site):
    user = resident()
    owner = site.test_client()
    for _ in range(10):  # the owner forgot the password and tried too often
        assert sign_in(owner, password="is it this one?").status_code == 422
    assert sign_in(owner).status_code == 429
    link = f"/reset/{tokens.password_reset_token(user)}"
    new_password = "a brand new passphrase"
    reset = post_form(
        owner,
        link,
        {"password": new_password, "confirm": new_password},
        environ_base={"REMOTE_ADDR": "10.0.0.1"},
    )
    assert reset.status_code == 303
    assert sign_in(owner, password=new_password).status_code == 303
