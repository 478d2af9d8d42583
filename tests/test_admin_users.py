"""Administration of people (invitations, roles, deactivation, the last admin) and of
Open311 API keys."""

import re
import threading

import pytest
from sqlalchemy import func, select

from bpt311.api.keys import key_in_use
from bpt311.extensions import db
from bpt311.models import ApiKey, User
from bpt311.notify import deliver_due
from tests.conftest import client_for, csrf_token_from, department
from tests.conftest import post_form as post
from tests.factories import make_user
from tests.test_admin_catalogue import audit_actions, page

PASSWORD = "a long enough password"


@pytest.fixture
def browser(site, admin):
    return client_for(site, admin)


def fresh(user_id: int) -> User:
    db.session.expire_all()
    return db.session.get(User, user_id)


# ---- inviting staff -----------------------------------------------------------------------


def test_an_invited_colleague_gets_an_email_and_sets_a_password_to_sign_in(site, browser, smtp):
    roads = department("Roadway Maintenance")
    response = post(
        browser,
        "/staff/admin/users/invite",
        {
            "email": "New.Crew@Bridgeport.example",
            "display_name": "Nia Crew",
            "role": "staff",
            "department_id": str(roads.id),
        },
    )
    assert response.status_code == 303
    person = db.session.scalars(
        select(User).where(User.email == "new.crew@bridgeport.example")
    ).one()
    assert (person.role, person.department_id, person.active) == ("staff", roads.id, True)
    assert audit_actions()[-1] == "user.invite"

    deliver_due()
    [message] = smtp.mailbox.to("new.crew@bridgeport.example")
    text = message.get_body(("plain",)).get_content()
    assert "Ada Admin has made you a Bridgeport 311 account as staff in Roadway Maintenance" in text
    link = re.search(r"http://bpt311\.test(/reset/\S+)", text).group(1)

    newcomer = client_for(site)
    response = post(newcomer, link, {"password": PASSWORD, "confirm": PASSWORD})
    assert response.status_code == 303
    response = post(
        newcomer, "/sign-in", {"email": "new.crew@bridgeport.example", "password": PASSWORD}
    )
    assert response.status_code == 303
    assert newcomer.get("/staff/").status_code == 200
    assert newcomer.get("/staff/admin").status_code == 403


def test_inviting_an_address_that_has_an_account_or_staff_without_a_department_is_refused(
    browser, admin
):
    response = post(
        browser,
        "/staff/admin/users/invite",
        {"email": "ADMIN@bridgeport.example", "role": "staff", "department_id": ""},
    )
    assert response.status_code == 422
    html = page(response)
    assert "There is already an account for admin@bridgeport.example" in html
    assert "Staff work for a department: choose one" in html
    assert 'value="ADMIN@bridgeport.example"' in html
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_people_can_be_searched_by_email_or_name(browser):
    make_user("maria@example.org", display_name="Maria Lopez")
    make_user("sam@example.org", display_name="Sam Ortiz")
    html = page(browser.get("/staff/admin/users?q=lopez"))
    assert "maria@example.org" in html and "sam@example.org" not in html
    html = page(browser.get("/staff/admin/users?role=admin"))
    assert "admin@bridgeport.example" in html and "maria@example.org" not in html


# ---- roles and the last admin -------------------------------------------------------------


def test_an_admin_changes_someones_role_and_department(browser):
    person = make_user("maria@example.org")
    parks = department("Parks and Recreation")
    response = post(
        browser,
        f"/staff/admin/users/{person.id}",
        {"role": "staff", "department_id": str(parks.id)},
    )
    assert response.status_code == 303
    assert (fresh(person.id).role, fresh(person.id).department_id) == ("staff", parks.id)
    assert audit_actions()[-1] == "user.access"

    post(browser, f"/staff/admin/users/{person.id}", {"role": "resident", "department_id": ""})
    assert (fresh(person.id).role, fresh(person.id).department_id) == ("resident", None)


def test_the_last_active_admin_cannot_be_demoted(browser, admin):
    make_user("retired@bridgeport.example", role="admin", active=False)  # does not count
    before = audit_actions()
    response = post(
        browser,
        f"/staff/admin/users/{admin.id}",
        {"role": "staff", "department_id": str(department("Roadway Maintenance").id)},
    )
    assert response.status_code == 422
    assert "admin@bridgeport.example is the last active administrator" in page(response)
    assert fresh(admin.id).role == "admin"
    assert audit_actions() == before


def test_the_last_admin_cannot_be_deactivated_and_no_one_deactivates_themselves(
    site, browser, admin
):
    other = make_user("boss@bridgeport.example", role="admin")
    response = post(browser, f"/staff/admin/users/{admin.id}/active", {"active": "0"})
    followed = page(browser.get(response.headers["Location"]))
    assert "You cannot deactivate your own account" in followed
    assert fresh(admin.id).active

    boss = client_for(site, other)
    # With two admins, one may go; then the one left is the last and stays.
    post(boss, f"/staff/admin/users/{admin.id}", {"role": "resident", "department_id": ""})
    assert fresh(admin.id).role == "resident"
    third = make_user("third@bridgeport.example", role="admin", active=False)
    response = post(browser, f"/staff/admin/users/{other.id}/active", {"active": "0"})
    assert response.status_code == 403  # no longer an admin
    assert fresh(other.id).active and fresh(third.id).active is False


def test_another_admin_can_be_deactivated_and_reactivated(browser):
    other = make_user("boss@bridgeport.example", role="admin")
    response = post(browser, f"/staff/admin/users/{other.id}/active", {"active": "0"})
    assert response.status_code == 303
    assert fresh(other.id).active is False
    assert audit_actions()[-1] == "user.deactivate"
    post(browser, f"/staff/admin/users/{other.id}/active", {"active": "1"})
    assert fresh(other.id).active is True
    assert audit_actions()[-1] == "user.reactivate"


def test_a_deactivated_account_cannot_sign_in(site, browser):
    from bpt311.accounts.service import hash_password

    person = make_user("maria@example.org", password_hash=hash_password(PASSWORD))
    closed = post(browser, f"/staff/admin/users/{person.id}/active", {"active": "0"})
    assert closed.status_code == 303
    visitor = client_for(site)
    response = post(visitor, "/sign-in", {"email": "maria@example.org", "password": PASSWORD})
    assert response.status_code == 422
    assert "This account has been closed." in page(response)
    assert "/sign-in" in visitor.get("/me").headers["Location"]  # still signed out


# ---- Open311 keys -------------------------------------------------------------------------


def test_a_key_is_shown_once_works_and_can_be_revoked(site, browser):
    response = post(browser, "/staff/admin/api-keys", {"name": "Mayor's office app"})
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-key"[^>]*value="([^"]+)"', page(response)).group(1)
    key = db.session.scalars(select(ApiKey)).one()
    assert secret.startswith(key.prefix) and key.key_hash != secret
    assert audit_actions()[-1] == "api_key.create"

    listing = page(browser.get("/staff/admin/api-keys"))
    assert secret not in listing and f"{key.prefix}…" in listing and "never used" in listing
    assert key_in_use(secret) is not None
    assert "never used" not in page(browser.get("/staff/admin/api-keys"))

    post(browser, f"/staff/admin/api-keys/{key.id}/revoke")
    assert key_in_use(secret) is None
    assert audit_actions()[-1] == "api_key.revoke"
    assert "Revoked" in page(browser.get("/staff/admin/api-keys"))


def test_a_key_needs_a_name(browser):
    response = post(browser, "/staff/admin/api-keys", {"name": "   "})
    assert response.status_code == 422
    assert "Give the key a name" in page(response)
    assert db.session.scalar(select(func.count()).select_from(ApiKey)) == 0


def test_two_admins_demoting_each_other_at_once_leave_one_admin(site, admin):
    other = make_user("boss@bridgeport.example", role="admin")
    browsers = [client_for(site, admin), client_for(site, other)]
    tokens = [csrf_token_from(b) for b in browsers]
    targets = [other.id, admin.id]
    barrier = threading.Barrier(2)
    codes = []

    def demote(browser, token, target):
        barrier.wait()
        response = browser.post(
            f"/staff/admin/users/{target}",
            data={"csrf_token": token, "role": "resident", "department_id": ""},
        )
        codes.append(response.status_code)

    threads = [
        threading.Thread(target=demote, args=args)
        for args in zip(browsers, tokens, targets, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    # One demotion wins; the other is refused: as "the last admin" (422) when both were
    # checked at once, or as no longer an admin (403) when the winner committed first.
    winner, loser = sorted(codes)
    assert winner == 303 and loser in (403, 422), codes
    db.session.expire_all()
    admins = db.session.scalar(select(func.count()).select_from(User).where(User.role == "admin"))
    assert admins == 1
