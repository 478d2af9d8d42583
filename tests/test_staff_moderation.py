"""Moderation: the flag queue, hiding, restoring, dismissing, and banning, by staff and admins."""

import re

import pytest
from sqlalchemy import func, select

from bpt311.community.comments import add_comment
from bpt311.community.flags import flag
from bpt311.extensions import db
from bpt311.models import AuditLog, Comment, Flag, Media, Report, TimelineEvent, User
from bpt311.notify import deliver_due
from tests.conftest import HTMX, client_for
from tests.conftest import post_form as post
from tests.factories import make_report, make_user


@pytest.fixture
def ana(site):
    return make_user("ana@example.org")


def page_text(client, path):
    return client.get(path).get_data(as_text=True)


def item_html(page: str, dom_id: str) -> str:
    """One queue item's HTML, cut out of the page."""
    start = page.index(f'<article id="{dom_id}"')
    return page[start : page.index("</article>", start)]


def audit_actions():
    return db.session.scalars(select(AuditLog.action).order_by(AuditLog.id)).all()


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def flagged_report(maria, *flaggers, **fields):
    report = make_report(reporter_id=maria.id, **fields)
    for person in flaggers:
        flag(person, "report", report.id, "spam")
    return report


def make_photo(report, comment=None) -> Media:
    media = Media(
        report_id=report.id,
        comment_id=comment.id if comment else None,
        kind="photo",
        file_name=f"photo-{report.id}-{comment.id if comment else 0}.jpg",
        thumb_name=f"photo-{report.id}-{comment.id if comment else 0}.thumb.jpg",
        content_type="image/jpeg",
        size_bytes=1000,
        width=400,
        height=300,
        alt_text="A photo of the pothole",
    )
    db.session.add(media)
    db.session.commit()
    return media


# ---- who may use moderation --------------------------------------------------------------------

ROUTES = [
    ("get", "/staff/moderation"),
    ("get", "/staff/moderation?view=hidden"),
    ("get", "/staff/audit"),
    ("post", "/staff/moderation/report/{report}/hide"),
    ("post", "/staff/moderation/report/{report}/restore"),
    ("post", "/staff/moderation/report/{report}/dismiss"),
    ("post", "/staff/moderation/users/{user}/ban"),
    ("post", "/staff/moderation/users/{user}/unban"),
]


def _call(client, method, path, report, user):
    url = path.format(report=report.id, user=user.id)
    if method == "get":
        return client.get(url)
    return post(client, url, {"reason": "Spam"})


def test_a_guest_is_sent_to_sign_in_from_every_moderation_and_audit_route(site, maria, luis):
    report = flagged_report(maria, luis)
    guest = client_for(site)
    for method, path in ROUTES:
        response = _call(guest, method, path, report, maria)
        assert response.status_code == 302, path
        assert "/sign-in?next=" in response.headers["Location"], path


def test_a_resident_is_refused_every_moderation_and_audit_route(site, maria, luis):
    report = flagged_report(maria, luis)
    client = client_for(site, luis)
    for method, path in ROUTES:
        assert _call(client, method, path, report, maria).status_code == 403, path
    assert fresh(Report, report.id).hidden_at is None
    assert audit_actions() == []


def test_staff_of_another_department_cannot_see_or_act_on_its_flags(
    site, blight_clerk, maria, luis
):
    report = flagged_report(maria, luis, description="A flagged pothole on Main Street")
    comment = add_comment(report, maria, "A rude comment")
    flag(luis, "comment", comment.id, "offensive")
    client = client_for(site, blight_clerk)
    assert "A flagged pothole" not in page_text(client, "/staff/moderation")
    for target, number in (("report", report.id), ("comment", comment.id)):
        for action in ("hide", "restore", "dismiss"):
            url = f"/staff/moderation/{target}/{number}/{action}"
            assert post(client, url, {"reason": "Spam"}).status_code == 403, url
            assert post(client, url, {"reason": "Spam"}, HTMX).status_code == 403, url
    assert fresh(Report, report.id).hidden_at is None
    assert audit_actions() == []


def test_only_admins_can_ban(site, clerk, maria, luis):
    report = flagged_report(maria, luis)
    client = client_for(site, clerk)
    data = {"item_type": "report", "item_id": report.id}
    assert post(client, f"/staff/moderation/users/{maria.id}/ban", data).status_code == 403
    assert fresh(User, maria.id).banned_at is None
    assert f"/staff/moderation/users/{maria.id}/ban" not in page_text(client, "/staff/moderation")


def test_a_moderation_post_without_its_csrf_token_is_refused(site, clerk, maria, luis):
    report = flagged_report(maria, luis)
    client = client_for(site, clerk)
    response = client.post(f"/staff/moderation/report/{report.id}/hide", data={"reason": "Spam"})
    assert response.status_code == 400
    assert fresh(Report, report.id).hidden_at is None


def test_an_unknown_target_is_not_found(site, clerk):
    client = client_for(site, clerk)
    assert post(client, "/staff/moderation/report/999999/hide", {"reason": "x"}).status_code == 404
    assert post(client, "/staff/moderation/vote/1/hide", {"reason": "x"}).status_code == 404


# ---- the queue ---------------------------------------------------------------------------------


def test_the_queue_groups_flags_by_thing_with_their_reasons_and_how_many_flagged(
    site, clerk, maria, luis, ana
):
    report = flagged_report(maria, luis, description="Pothole described in a flagged way")
    comment = add_comment(report, maria, "Words someone found offensive")
    flag(luis, "comment", comment.id, "offensive")
    flag(ana, "comment", comment.id, "offensive")
    flag(maria, "comment", comment.id, "other", "It names my neighbour")
    photo = make_photo(report)
    flag(ana, "media", photo.id, "personal")
    page = page_text(client_for(site, clerk), "/staff/moderation")
    assert "3 flagged things waiting" in page
    comment_item = item_html(page, f"moderation-comment-{comment.id}")
    assert "3 people flagged it" in comment_item
    assert "Offensive, hateful or abusive (2 people)" in comment_item
    assert "Something else: It names my neighbour" in comment_item
    assert "Words someone found offensive" in comment_item
    assert "maria@example.org" in comment_item  # who posted it, for staff
    # the most flagged first
    assert page.index('id="moderation-comment-') < page.index('id="moderation-report-')
    photo_item = item_html(page, f"moderation-media-{photo.id}")
    assert "Photo on " in photo_item and photo.thumb_name in photo_item
    assert "1 person flagged it" in photo_item


def test_admins_see_every_departments_flags_and_staff_only_their_own(
    site, clerk, admin, maria, luis
):
    pothole = flagged_report(maria, luis, description="Flagged pothole report")
    graffiti = make_report("graffiti", description="Flagged graffiti report")
    flag(luis, "report", graffiti.id, "spam")
    everything = page_text(client_for(site, admin), "/staff/moderation")
    assert pothole.tracking_number in everything and graffiti.tracking_number in everything
    own = page_text(client_for(site, clerk), "/staff/moderation")
    assert pothole.tracking_number in own and graffiti.tracking_number not in own


def test_the_queue_runs_a_bounded_number_of_queries(count_queries, site, admin, maria, luis):
    # count_queries first: its own app context goes under the site's, not over it
    client = client_for(site, admin)

    def flag_some(count):
        for n in range(count):
            report = flagged_report(maria, luis, description=f"Flagged report number {n}")
            comment = add_comment(report, maria, f"Comment {n}")
            flag(luis, "comment", comment.id, "spam")
            flag(luis, "media", make_photo(report).id, "spam")

    flag_some(1)
    with count_queries() as few:
        client.get("/staff/moderation")
    flag_some(5)
    with count_queries() as many:
        client.get("/staff/moderation")
    assert many.count == few.count


# ---- hiding a report ---------------------------------------------------------------------------


def test_hiding_a_report_takes_it_off_the_public_lists_exports_and_page(site, clerk, maria, luis):
    report = flagged_report(maria, luis, description="Buy cheap watches at my site")
    other = make_report(description="A real pothole that stays listed")
    client = client_for(site, clerk)
    response = post(
        client,
        f"/staff/moderation/report/{report.id}/hide",
        {"reason": "Advertising, not a problem", "view": "flagged", "page": "1"},
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/moderation?view=flagged&page=1")
    assert "The report is hidden from the public" in page_text(client, "/staff/moderation")

    public = client_for(site)
    for path in ("/reports", "/reports.geojson", "/reports.csv", "/map"):
        body = page_text(public, path)
        assert report.tracking_number not in body, path
        assert other.tracking_number in body, path
    assert public.get(f"/reports/{report.tracking_number}").status_code == 404
    assert client_for(site, luis).get(f"/reports/{report.tracking_number}").status_code == 404
    staff_view = client.get(f"/reports/{report.tracking_number}")
    assert staff_view.status_code == 200
    assert "Hidden from the public by the moderators: Advertising" in staff_view.get_data(
        as_text=True
    )

    hidden = fresh(Report, report.id)
    assert hidden.hidden_reason == "Advertising, not a problem"
    assert hidden.description == "Buy cheap watches at my site"  # the original is kept
    assert db.session.scalars(select(Flag.resolution)).all() == ["hidden"]
    row = db.session.scalars(select(AuditLog)).one()
    assert (row.action, row.report_id, row.target_type, row.actor_id) == (
        "moderation.hide",
        report.id,
        "report",
        clerk.id,
    )
    assert row.detail["reason"] == "Advertising, not a problem"
    event = hidden.events[-1]
    assert (event.kind, event.actor_label) == ("hidden", "City of Bridgeport")
    assert "Advertising" in event.internal_note and "Advertising" not in event.public_note


def test_hiding_through_htmx_returns_the_item_partial_and_announces(site, clerk, maria, luis):
    report = flagged_report(maria, luis)
    response = post(
        client_for(site, clerk),
        f"/staff/moderation/report/{report.id}/hide",
        {"reason": "Spam"},
        HTMX,
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert fragment.lstrip().startswith(f'<article id="moderation-report-{report.id}"')
    assert 'data-announce="The report is hidden from the public.' in fragment
    assert "HX-Request" in response.headers["Vary"]
    assert "Hidden from the public since" in fragment
    # the hide button's place is taken by the restore button, with the same id for focus
    assert f'id="moderation-report-{report.id}-visibility"' in fragment
    assert f"/staff/moderation/report/{report.id}/restore" in fragment
    assert audit_actions() == ["moderation.hide"]


def test_the_reporter_is_emailed_why_their_report_was_hidden(site, smtp, clerk, maria, luis):
    report = flagged_report(maria, luis)
    post(
        client_for(site, clerk),
        f"/staff/moderation/report/{report.id}/hide",
        {"reason": "It names a private person"},
    )
    deliver_due()
    [message] = smtp.mailbox.to("maria@example.org")
    assert message["Subject"] == f"{report.tracking_number}: your report was hidden"
    body = message.get_body(("plain",)).get_content()
    assert "It names a private person" in body
    assert smtp.mailbox.to("luis@example.org") == []  # flaggers are not told


def test_a_guest_reporter_is_emailed_at_the_address_they_gave(site, smtp, clerk, luis):
    report = make_report(contact_email="guest@example.net")
    flag(luis, "report", report.id, "spam")
    post(client_for(site, clerk), f"/staff/moderation/report/{report.id}/hide", {"reason": "Spam"})
    deliver_due()
    assert len(smtp.mailbox.to("guest@example.net")) == 1


def test_hiding_needs_a_reason(site, clerk, maria, luis):
    report = flagged_report(maria, luis)
    client = client_for(site, clerk)
    url = f"/staff/moderation/report/{report.id}/hide"
    response = post(client, url, {"reason": "  "})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<title>Error: Moderation" in page
    assert 'class="error-summary"' in page
    assert f'href="#moderation-report-{report.id}-reason"' in page
    assert f'id="moderation-report-{report.id}-reason-error"' in page
    response = post(client, url, {"reason": ""}, HTMX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 422 and "<html" not in fragment
    assert "Say why it is being hidden" in fragment
    assert fresh(Report, report.id).hidden_at is None
    assert audit_actions() == []


def test_hiding_twice_says_so_and_changes_nothing_more(site, smtp, clerk, admin, maria, luis):
    report = flagged_report(maria, luis)
    url = f"/staff/moderation/report/{report.id}/hide"
    post(client_for(site, clerk), url, {"reason": "Spam"})
    client = client_for(site, admin)
    response = post(client, url, {"reason": "Also spam"})
    assert response.status_code == 303
    assert "already hidden" in page_text(client, "/staff/moderation")
    fragment = post(client, url, {"reason": "Also spam"}, HTMX).get_data(as_text=True)
    assert "already hidden" in fragment
    assert audit_actions() == ["moderation.hide"]
    assert fresh(Report, report.id).hidden_reason == "Spam"
    deliver_due()
    assert len(smtp.mailbox.to("maria@example.org")) == 1


# ---- hiding comments and photos ------------------------------------------------------------------


def test_hiding_a_comment_shows_it_as_hidden_and_tells_its_writer(site, smtp, clerk, maria, luis):
    report = make_report()
    comment = add_comment(report, luis, "Something nasty about the neighbours")
    flag(maria, "comment", comment.id, "offensive")
    response = post(
        client_for(site, clerk),
        f"/staff/moderation/comment/{comment.id}/hide",
        {"reason": "Abusive"},
    )
    assert response.status_code == 303
    page = page_text(client_for(site), f"/reports/{report.tracking_number}")
    assert "Something nasty" not in page
    assert "This comment was hidden by the city's moderators." in page
    assert "The city&#39;s moderators hid a comment." in page  # the public timeline says so
    assert fresh(Comment, comment.id).body == "Something nasty about the neighbours"
    row = db.session.scalars(select(AuditLog)).one()
    assert (row.action, row.report_id, row.target_type, row.target_id) == (
        "moderation.hide",
        report.id,
        "comment",
        comment.id,
    )
    deliver_due()
    [message] = smtp.mailbox.to("luis@example.org")
    assert message["Subject"] == f"{report.tracking_number}: your comment was hidden"
    assert "Abusive" in message.get_body(("plain",)).get_content()


def test_hiding_a_comment_withdraws_the_emails_about_it_not_yet_sent(
    site, smtp, clerk, maria, luis, ana
):
    """Its followers' emails still in the outbox go with it; other news of the report
    stays, and its writer is told why."""
    report = make_report(reporter_id=maria.id)
    add_comment(report, maria, "The reporter adds that it is getting worse")  # maria follows
    add_comment(report, ana, "A first, kind comment on it")  # ana follows from now on
    comment = add_comment(report, luis, "Something nasty about the neighbours")
    response = post(
        client_for(site, clerk), f"/staff/moderation/comment/{comment.id}/hide", {"reason": "Rude"}
    )
    assert response.status_code == 303
    deliver_due()

    def told(address):
        return [m.get_body(("plain",)).get_content() for m in smtp.mailbox.to(address)]

    assert any("A first, kind comment" in text for text in told("maria@example.org"))
    assert [t for t in told("maria@example.org") + told("ana@example.org") if "nasty" in t] == []
    assert len(told("luis@example.org")) == 1  # "your comment was hidden"


def test_nobody_flags_a_hidden_comment_or_a_photo_with_one(site, clerk, maria, luis):
    report = make_report()
    comment = add_comment(report, luis, "Something nasty about the neighbours")
    photo = make_photo(report, comment)
    post(client_for(site, clerk), f"/staff/moderation/comment/{comment.id}/hide", {"reason": "x"})
    client = client_for(site, maria)
    for path in (f"/flag/comment/{comment.id}", f"/flag/media/{photo.id}"):
        assert client.get(path).status_code == 404
        assert post(client, path, {"reason": "spam"}).status_code == 404
    assert db.session.scalars(select(Flag)).all() == []


def test_hiding_a_photo_takes_it_off_the_report_page(site, clerk, maria, luis):
    report = make_report(reporter_id=maria.id)
    photo = make_photo(report)
    flag(luis, "media", photo.id, "personal")
    assert photo.thumb_name in page_text(client_for(site), f"/reports/{report.tracking_number}")
    response = post(
        client_for(site, clerk),
        f"/staff/moderation/media/{photo.id}/hide",
        {"reason": "Shows a licence plate"},
        HTMX,
    )
    assert 'data-announce="The photo is hidden from the public.' in response.get_data(as_text=True)
    page = page_text(client_for(site), f"/reports/{report.tracking_number}")
    assert photo.thumb_name not in page
    assert "The city&#39;s moderators hid a photo." in page


def test_hiding_a_photo_added_with_a_comment_takes_it_out_of_the_conversation(
    site, clerk, maria, luis
):
    report = make_report()
    comment = add_comment(report, maria, "Here is a photo")
    photo = make_photo(report, comment)
    flag(luis, "media", photo.id, "personal")
    assert photo.thumb_name in page_text(client_for(site), f"/reports/{report.tracking_number}")
    post(client_for(site, clerk), f"/staff/moderation/media/{photo.id}/hide", {"reason": "Face"})
    page = page_text(client_for(site), f"/reports/{report.tracking_number}")
    assert photo.thumb_name not in page and "Here is a photo" in page


# ---- restoring -----------------------------------------------------------------------------------


def test_restoring_a_hidden_report_brings_it_back(site, smtp, clerk, maria, luis):
    report = flagged_report(maria, luis)
    client = client_for(site, clerk)
    post(client, f"/staff/moderation/report/{report.id}/hide", {"reason": "Looked like spam"})
    hidden_list = page_text(client, "/staff/moderation?view=hidden")
    assert "1 thing hidden from the public" in hidden_list
    assert "Reason: Looked like spam" in hidden_list
    response = post(client, f"/staff/moderation/report/{report.id}/restore", {"view": "hidden"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/staff/moderation?view=hidden&page=1")
    public = client_for(site)
    assert public.get(f"/reports/{report.tracking_number}").status_code == 200
    assert report.tracking_number in page_text(public, "/reports")
    assert report.tracking_number in page_text(public, "/reports.csv")
    restored = fresh(Report, report.id)
    assert restored.hidden_at is None and restored.hidden_reason == ""
    assert audit_actions() == ["moderation.hide", "moderation.restore"]
    assert [e.kind for e in restored.events][-2:] == ["hidden", "restored"]
    deliver_due()
    subjects = [m["Subject"] for m in smtp.mailbox.to("maria@example.org")]
    assert subjects[-1] == f"{report.tracking_number}: your report is shown again"


def test_restoring_through_htmx_returns_the_item_with_the_hide_form(site, clerk, maria, luis):
    report = make_report()
    comment = add_comment(report, maria, "Fine words, wrongly flagged")
    flag(luis, "comment", comment.id, "spam")
    client = client_for(site, clerk)
    post(client, f"/staff/moderation/comment/{comment.id}/hide", {"reason": "Spam?"})
    response = post(client, f"/staff/moderation/comment/{comment.id}/restore", {}, HTMX)
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert 'data-announce="The comment is shown to the public again."' in fragment
    assert f"/staff/moderation/comment/{comment.id}/hide" in fragment
    assert "HX-Request" in response.headers["Vary"]
    page = page_text(client_for(site), f"/reports/{report.tracking_number}")
    assert "Fine words, wrongly flagged" in page
    assert "restored a comment" in page


def test_restoring_something_not_hidden_says_so(site, clerk, maria, luis):
    report = flagged_report(maria, luis)
    client = client_for(site, clerk)
    post(client, f"/staff/moderation/report/{report.id}/restore")
    assert "is not hidden any more" in page_text(client, "/staff/moderation")
    assert audit_actions() == []


# ---- dismissing ----------------------------------------------------------------------------------


def test_dismissing_resolves_the_flags_and_leaves_the_thing_alone(site, clerk, maria, luis, ana):
    report = flagged_report(maria, luis, ana)
    client = client_for(site, clerk)
    events_before = db.session.scalar(select(func.count(TimelineEvent.id)))
    response = post(client, f"/staff/moderation/report/{report.id}/dismiss")
    assert response.status_code == 303
    page = page_text(client, "/staff/moderation")
    assert "Dismissed 2 flags" in page and "Nothing is waiting" in page
    flags = db.session.scalars(select(Flag)).all()
    assert {(f.resolution, f.resolved_at is not None) for f in flags} == {("dismissed", True)}
    assert fresh(Report, report.id).hidden_at is None
    assert client_for(site).get(f"/reports/{report.tracking_number}").status_code == 200
    row = db.session.scalars(select(AuditLog)).one()
    assert (row.action, row.detail["flags"]) == ("moderation.dismiss", 2)
    assert db.session.scalar(select(func.count(TimelineEvent.id))) == events_before


def test_dismissing_through_htmx_returns_the_item_without_flags(site, clerk, maria, luis):
    report = flagged_report(maria, luis)
    response = post(
        client_for(site, clerk), f"/staff/moderation/report/{report.id}/dismiss", {}, HTMX
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert 'data-announce="Dismissed 1 flag: the report stays as it is."' in fragment
    assert "No open flags." in fragment
    # the dismiss button is gone; the note that replaces it keeps its id for focus
    assert f'<span id="moderation-report-{report.id}-dismiss" tabindex="-1">' in fragment
    assert audit_actions() == ["moderation.dismiss"]


def test_dismissing_twice_says_there_is_nothing_left(site, clerk, maria, luis):
    report = flagged_report(maria, luis)
    client = client_for(site, clerk)
    post(client, f"/staff/moderation/report/{report.id}/dismiss")
    fragment = post(client, f"/staff/moderation/report/{report.id}/dismiss", {}, HTMX).get_data(
        as_text=True
    )
    assert "no open flags" in fragment
    assert audit_actions() == ["moderation.dismiss"]


# ---- banning -------------------------------------------------------------------------------------


def test_a_banned_resident_can_no_longer_vote_or_comment(site, admin, maria, luis):
    report = make_report()
    comment = add_comment(report, maria, "Spam spam spam")
    flag(luis, "comment", comment.id, "spam")
    response = post(
        client_for(site, admin),
        f"/staff/moderation/users/{maria.id}/ban",
        {"reason": "Repeated spam", "item_type": "comment", "item_id": comment.id},
    )
    assert response.status_code == 303
    assert fresh(User, maria.id).banned_at is not None
    row = db.session.scalars(select(AuditLog)).one()
    assert (row.action, row.target_type, row.target_id, row.report_id) == (
        "user.ban",
        "user",
        maria.id,
        None,
    )
    assert row.detail == {"email": "maria@example.org", "reason": "Repeated spam"}

    resident = client_for(site, maria)
    url = f"/reports/{report.tracking_number}"
    assert post(resident, f"{url}/vote", {"wanted": "1"}).status_code == 403
    response = post(resident, f"{url}/comments", {"body": "More spam from me"})
    assert response.status_code == 422 and "cannot post" in response.get_data(as_text=True)
    assert fresh(Report, report.id).vote_count == 0


def test_banning_through_htmx_redraws_the_item_with_an_unban_button(site, admin, maria, luis):
    report = flagged_report(maria, luis)
    response = post(
        client_for(site, admin),
        f"/staff/moderation/users/{maria.id}/ban",
        {"item_type": "report", "item_id": report.id},
        HTMX,
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert fragment.lstrip().startswith(f'<article id="moderation-report-{report.id}"')
    assert 'data-announce="maria@example.org is banned' in fragment
    assert f"/staff/moderation/users/{maria.id}/unban" in fragment
    assert f'id="moderation-report-{report.id}-ban"' in fragment
    assert "HX-Request" in response.headers["Vary"]


def test_unbanning_lets_them_post_again(site, admin, maria, luis):
    report = flagged_report(maria, luis)
    client = client_for(site, admin)
    post(client, f"/staff/moderation/users/{maria.id}/ban", {"reason": "Spam"})
    fragment = post(
        client,
        f"/staff/moderation/users/{maria.id}/unban",
        {"item_type": "report", "item_id": report.id},
        HTMX,
    ).get_data(as_text=True)
    assert 'data-announce="maria@example.org may post again."' in fragment
    response = post(client, f"/staff/moderation/users/{maria.id}/unban")
    assert response.status_code == 303
    assert "is not banned" in page_text(client, "/staff/moderation")
    assert fresh(User, maria.id).banned_at is None
    assert audit_actions() == ["user.ban", "user.unban"]
    vote = post(client_for(site, maria), f"/reports/{report.tracking_number}/vote", {"wanted": "1"})
    assert vote.status_code == 303


def test_staff_accounts_cannot_be_banned(site, admin, clerk):
    response = post(client_for(site, admin), f"/staff/moderation/users/{clerk.id}/ban")
    assert response.status_code == 303
    assert fresh(User, clerk.id).banned_at is None
    assert audit_actions() == []


# ---- the public report page and hidden things ----------------------------------------------------


def test_a_hidden_report_is_not_found_by_the_public_even_by_its_old_short_number(site, clerk):
    report = make_report()
    report.hidden_at, report.hidden_reason = report.created_at, "Spam"
    db.session.commit()
    short = re.sub(r"BPT-0*", "bpt", report.tracking_number)
    assert client_for(site).get(f"/reports/{short}").status_code == 404
    staff = client_for(site, clerk)
    assert staff.get(f"/reports/{short}").status_code == 301
    page = staff.get(f"/reports/{short}", follow_redirects=True).get_data(as_text=True)
    assert page.count("Hidden from the public by the moderators: Spam") == 1
