"""In-site notices: the unread count, the list, marking read with and without JavaScript."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bpt311.community.comments import add_comment, delete_comment
from bpt311.extensions import db
from bpt311.models import User
from bpt311.staff.moderation.queries import load_items
from bpt311.staff.moderation.service import hide, restore
from bpt311.watchers.events import announce
from tests.conftest import HTMX
from tests.factories import make_report, make_user
from tests.test_watch_support import (
    circle_area,
    client_for,
    notices_of,
    post,
    site_fixture,  # noqa: F401  (the "site" fixture)
    smtp_fixture,  # noqa: F401  (the "smtp" fixture)
)


def two_notices_for(user):
    circle_area(user, delivery="none")
    first, second = make_report(), make_report("graffiti")
    announce(first, "new")
    announce(second, "new")
    db.session.commit()
    return sorted(notices_of(user), key=lambda notice: notice.id)


def test_signed_in_people_see_their_unread_count_in_the_navigation(site):
    maria = make_user("maria@example.org")
    two_notices_for(maria)
    page = client_for(site, maria).get("/").get_data(as_text=True)
    assert '<span id="unread-count"> (2<span class="visually-hidden"> unread</span>)</span>' in page
    assert "unread-count" not in client_for(site).get("/").get_data(as_text=True)


def test_the_list_shows_each_notice_with_its_report_and_area(site):
    maria = make_user("maria@example.org")
    two_notices_for(maria)
    page = client_for(site, maria).get("/me/notifications").get_data(as_text=True)
    assert "New report: Pothole" in page and "New report: Graffiti" in page
    assert page.count("Unread:") == 2
    assert "Mark all 2 as read" in page


def test_marking_read_without_javascript_redirects_back(site):
    maria = make_user("maria@example.org")
    first, second = two_notices_for(maria)
    client = client_for(site, maria)
    response = post(client, f"/me/notifications/{first.id}/read")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/me/notifications#notice-{first.id}")
    assert "HX-Request" in response.headers["Vary"]
    read = {n.id: n.read_at is not None for n in notices_of(maria)}
    assert read == {first.id: True, second.id: False}
    assert "(1<span" in client.get("/").get_data(as_text=True)


def test_marking_read_through_htmx_returns_the_notice_and_the_new_count(site):
    maria = make_user("maria@example.org")
    first, _ = two_notices_for(maria)
    response = post(client_for(site, maria), f"/me/notifications/{first.id}/read", headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert fragment.lstrip().startswith(f'<li id="notice-{first.id}"')
    assert 'data-announce="Marked as read."' in fragment
    assert '<span id="unread-count" hx-swap-oob="true"> (1<span' in fragment
    assert "Mark as read" not in fragment
    assert "HX-Request" in response.headers["Vary"]


def test_mark_all_read_with_and_without_javascript(site):
    maria = make_user("maria@example.org")
    two_notices_for(maria)
    client = client_for(site, maria)
    response = post(client, "/me/notifications/read", headers=HTMX)
    fragment = response.get_data(as_text=True)
    assert fragment.lstrip().startswith('<section id="notices"')
    assert 'data-announce="2 marked as read."' in fragment
    assert '<span id="unread-count" hx-swap-oob="true"></span>' in fragment
    assert all(n.read_at for n in notices_of(maria))
    response = post(client, "/me/notifications/read")
    assert response.status_code == 303 and response.headers["Location"].endswith(
        "/me/notifications"
    )


def test_nobody_can_mark_someone_elses_notice(site):
    maria, luis = make_user("maria@example.org"), make_user("luis@example.org")
    first, _ = two_notices_for(maria)
    assert post(client_for(site, luis), f"/me/notifications/{first.id}/read").status_code == 404
    assert all(n.read_at is None for n in notices_of(maria))


def test_marking_read_without_the_csrf_token_is_refused(site):
    maria = make_user("maria@example.org")
    first, _ = two_notices_for(maria)
    response = client_for(site, maria).post(f"/me/notifications/{first.id}/read")
    assert response.status_code == 400
    assert notices_of(maria)[0].read_at is None


def test_guests_are_asked_to_sign_in_for_notifications(site):
    response = client_for(site).get("/me/notifications")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


@pytest.mark.parametrize("how", ["hidden", "deleted"])
def test_a_notice_of_a_comment_since_hidden_or_deleted_no_longer_shows_its_words(site, how):
    maria, luis = make_user("maria@example.org"), make_user("luis@example.org")
    circle_area(maria, delivery="none")
    report = make_report()
    comment = add_comment(report, luis, "Rude words about the family at number 12")
    client = client_for(site, maria)
    assert "Rude words" in client.get("/me/notifications").get_data(as_text=True)
    [notice] = notices_of(maria)
    if how == "hidden":
        item = load_items([("comment", comment.id)])[0]
        hide(item, make_user("mod@bridgeport.example", role="admin"), "Abusive")
    else:
        delete_comment(comment, luis)
    page = client.get("/me/notifications").get_data(as_text=True)
    assert "Rude words" not in page and '<span id="unread-count"></span>' in page
    assert post(client, f"/me/notifications/{notice.id}/read", {}).status_code == 404
    if how == "hidden":  # restored by the moderators: the notice is back
        restore(load_items([("comment", comment.id)])[0], moderator())
        assert "Rude words" in client.get("/me/notifications").get_data(as_text=True)


def moderator():
    return db.session.scalars(select(User).where(User.role == "admin")).one()
