"""A ban stops every resident write (security issue #21, finding 4): one rule, walked here
write by write as a banned resident, checking that nothing was written; what a banned
person may still do (read, sign out, download and delete their data) keeps working."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import (
    AuditLog,
    Comment,
    Flag,
    Follow,
    Outbox,
    Report,
    TimelineEvent,
    User,
    Vote,
    WatchArea,
    utcnow,
)
from tests.conftest import HTMX, client_for, csrf_token_from
from tests.conftest import post_form as post
from tests.factories import CITY_HALL, make_report

CANNOT_POST = "Your account cannot post"


@pytest.fixture
def scene(site, maria, luis):
    """Maria's open report with her fresh comment, a closed report of Luis's; then the ban."""
    mine = make_report(reporter_id=maria.id, description="My own pothole, in the right lane.")
    closed = make_report("graffiti", reporter_id=luis.id, status="closed", closed_at=utcnow())
    client = client_for(site, maria)
    post(client, f"/reports/{mine.tracking_number}/comments", {"body": "Before the ban"})
    comment = db.session.scalars(select(Comment)).one()
    maria.banned_at = utcnow()
    db.session.commit()
    return {"client": client, "mine": mine, "closed": closed, "comment": comment}


def everything() -> dict:
    """How many rows of every kind a resident's write could add."""
    db.session.expire_all()
    return {
        model.__name__: db.session.scalar(select(func.count()).select_from(model))
        for model in (Report, Comment, TimelineEvent, Vote, Flag, Outbox, WatchArea, AuditLog)
    }


def new_report_form(client, **fields) -> dict:
    return {
        "csrf_token": csrf_token_from(client),
        "category": "pothole",
        "submission_key": "banned-form-key-0001",
        "description": "A deep pothole in the right lane by the bus stop.",
        "latitude": str(CITY_HALL[0]),
        "longitude": str(CITY_HALL[1]),
        "address": "45 Lyon Terrace",
        "answer_size": "medium",
        "contact_name": "Maria",
        "contact_email": "maria@example.org",
        "not_duplicate": "y",
        **fields,
    }


def assert_refused(response, status=403):
    page = response.get_data(as_text=True)
    assert response.status_code == status, page[:500]
    assert CANNOT_POST in page
    return page


def test_a_banned_resident_writes_nothing_anywhere(site, scene):
    client, mine, closed, comment = (scene[k] for k in ("client", "mine", "closed", "comment"))
    before = everything()
    number = mine.tracking_number

    # The report form, signed in, named or anonymous: refused before it is filled in, too.
    assert_refused(client.get("/reports/new?category=pothole"))
    for anonymous in ("", "y"):
        response = client.post(
            "/reports/new",
            data=new_report_form(client, anonymous=anonymous),
            content_type="multipart/form-data",
        )
        assert_refused(response)

    # Comments: a new one keeps its draft in the form; an edit is refused.
    page = assert_refused(
        post(client, f"/reports/{number}/comments", {"body": "After the ban"}), 422
    )
    assert "After the ban" in page  # nothing typed is lost
    assert_refused(post(client, f"/comments/{comment.id}/edit", {"body": "Changed after"}))

    # The report's description, closing, withdrawing, reopening someone else's.
    assert_refused(
        post(client, f"/reports/{number}/edit", {"description": "A description changed later"})
    )
    assert_refused(post(client, f"/reports/{number}/close", {"note": "Fixed"}))
    assert_refused(post(client, f"/reports/{number}/withdraw", {"reason": "Never mind"}))
    assert_refused(
        post(client, f"/reports/{closed.tracking_number}/reopen", {"note": "Still there"})
    )

    # Votes (plain and HTMX) and flags.
    assert_refused(post(client, f"/reports/{number}/vote", {"wanted": "1"}))
    assert post(client, f"/reports/{number}/vote", {"wanted": "1"}, headers=HTMX).status_code == 403
    assert_refused(post(client, f"/flag/report/{closed.id}", {"reason": "spam"}))

    assert everything() == before
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).body == "Before the ban"
    report = db.session.get(Report, mine.id)
    assert report.description == "My own pothole, in the right lane." and report.status == "open"
    assert db.session.get(Report, closed.id).status == "closed"


def test_the_refusal_page_says_what_a_banned_person_can_still_do(site, scene):
    client = scene["client"]
    page = assert_refused(post(client, f"/reports/{scene['mine'].tracking_number}/vote"))
    assert 'href="/privacy"' in page and 'href="/me/data"' in page
    assert "(203) 576-1311" in page  # the city's contact, the only way to ask about it


def test_a_banned_resident_cannot_publish_a_new_public_name(site, scene):
    client = scene["client"]
    before = everything()
    data = {"display_name": "Something rude", "show_name": "y"}
    assert_refused(post(client, "/me/settings", data))
    db.session.expire_all()
    assert db.session.scalars(select(User.display_name).where(User.email.like("maria%"))).one() == (
        "Maria"
    )
    # Taking their name off the public pages is still theirs to do.
    assert post(client, "/me/settings", {"display_name": "Maria"}).status_code == 303
    db.session.expire_all()
    assert (
        db.session.scalars(select(User.show_name).where(User.email.like("maria%"))).one() is False
    )
    assert everything() == before


def test_a_banned_resident_cannot_make_a_public_watch_area(site, scene):
    from bpt311.standing import CannotPost
    from bpt311.watch.service import AreaSettings, create_area, outline_for

    maria = db.session.scalars(select(User).where(User.email == "maria@example.org")).one()
    before = everything()
    settings = AreaSettings(name="Loud street", kinds=["new"], delivery="email", is_public=True)
    with pytest.raises(CannotPost):
        create_area(maria, outline_for_point(outline_for), settings)
    assert everything() == before
    settings.is_public = False  # a private one tells only them: still allowed
    create_area(maria, outline_for_point(outline_for), settings)
    assert everything()["WatchArea"] == before["WatchArea"] + 1


def outline_for_point(outline_for):
    from bpt311.models import Neighbourhood
    from bpt311.watch.service import Where

    slug = db.session.scalars(select(Neighbourhood.slug).order_by(Neighbourhood.id)).first()
    return outline_for(Where(method="neighbourhood", neighbourhood=slug))


def test_a_banned_resident_still_reads_signs_out_and_keeps_their_data(site, scene):
    client, mine, comment = scene["client"], scene["mine"], scene["comment"]
    page = client.get(f"/reports/{mine.tracking_number}").get_data(as_text=True)
    # The page says so where the links to write were, and offers no Change link.
    assert CANNOT_POST in page and 'href="/me/data"' in page
    assert f"/reports/{mine.tracking_number}/edit" not in page
    assert f"/comments/{comment.id}/edit" not in page
    assert f"/comments/{comment.id}/delete" in page  # their own words are theirs to remove
    assert client.get("/me/data").status_code == 200
    assert client.get("/me/data/bpt311-my-data.json").status_code == 200
    # Following only changes what they are sent; deleting their comment removes their words.
    assert post(client, f"/reports/{scene['closed'].tracking_number}/follow").status_code == 303
    assert post(client, f"/comments/{comment.id}/delete").status_code == 303
    db.session.expire_all()
    assert db.session.get(Comment, comment.id).deleted_at is not None
    assert db.session.scalar(select(func.count(Follow.id))) == 2
    assert post(client, "/sign-out").status_code in (302, 303)


def test_open311_reports_are_not_matched_to_banned_accounts_by_email(site, scene):
    """The API has no accounts: its key's holder answers for what it sends, and an email
    typed is not proof of who sent it (refusing it would also tell anyone who is banned)."""
    from bpt311.api.intake import take_request
    from bpt311.models import ApiKey

    key = ApiKey(name="Partner", prefix="abcd1234", key_hash="0" * 64)
    db.session.add(key)
    db.session.commit()
    values = {
        "service_code": "pothole",
        "lat": str(CITY_HALL[0]),
        "long": str(CITY_HALL[1]),
        "description": "A deep pothole in the right lane by the bus stop.",
        "email": "maria@example.org",
        "attribute[size]": "medium",
    }
    from werkzeug.datastructures import MultiDict

    report = take_request(MultiDict(values), key)
    assert report.reporter_id is None


def test_the_ban_window_does_not_outlive_the_ban(site, scene):
    """Lifting the ban lets them write again through the same rule."""
    maria = db.session.scalars(select(User).where(User.email == "maria@example.org")).one()
    maria.banned_at = None
    db.session.commit()
    scene["comment"].created_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = post(scene["client"], f"/comments/{scene['comment'].id}/edit", {"body": "Now ok"})
    assert response.status_code == 303
