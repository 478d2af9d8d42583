"""Residents on a report: votes, follows, comments, flags, closing, reopening, editing."""

import io
import re
import threading
from datetime import timedelta

from PIL import Image
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import Comment, Flag, Follow, Media, Report, Vote, utcnow
from bpt311.notify import deliver_due
from tests.conftest import HTMX, client_for, csrf_token_from
from tests.conftest import post_form as post
from tests.factories import make_report, make_user, sign_in_as


def fresh(report):
    db.session.expire_all()
    return db.session.get(Report, report.id)


def photo_file(name="after.jpg"):
    buffer = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 120, 10)).save(buffer, "JPEG")
    buffer.seek(0)
    return (buffer, name)


# ---- votes -----------------------------------------------------------------------------------


def test_vote_without_javascript_counts_and_returns_to_the_report(site, maria):
    report = make_report()
    client = client_for(site, maria)
    response = post(client, f"/reports/{report.tracking_number}/vote", {"wanted": "1"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/reports/{report.tracking_number}#votes")
    assert fresh(report).vote_count == 1
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "<strong>1</strong> person wants this fixed" in page
    assert 'aria-pressed="true"' in page


def test_vote_through_htmx_returns_only_the_vote_partial_and_announces(site, maria):
    report = make_report()
    client = client_for(site, maria)
    response = post(
        client, f"/reports/{report.tracking_number}/vote", {"wanted": "1"}, headers=HTMX
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert fragment.startswith('<div id="votes"')
    assert 'data-announce="Vote added. 1 person wants this fixed."' in fragment
    assert "HX-Request" in response.headers["Vary"]


def test_voting_twice_counts_once_and_can_be_taken_back(site, maria):
    report = make_report()
    client = client_for(site, maria)
    for _ in range(2):
        post(client, f"/reports/{report.tracking_number}/vote", {"wanted": "1"})
    assert fresh(report).vote_count == 1
    post(client, f"/reports/{report.tracking_number}/vote", {"wanted": "0"})
    assert fresh(report).vote_count == 0
    assert db.session.scalar(select(func.count(Vote.id))) == 0


def test_a_guest_who_votes_signs_in_and_comes_back_with_the_vote_applied(site, maria):
    report = make_report()
    guest = client_for(site)
    response = post(guest, f"/reports/{report.tracking_number}/vote", {"wanted": "1"})
    assert response.status_code == 303
    assert "/sign-in?next=" in response.headers["Location"]
    assert fresh(report).vote_count == 0
    sign_in_as(guest, maria)  # as the sign-in form does
    back = guest.get(f"/reports/{report.tracking_number}/resume")
    assert back.status_code == 303
    assert back.headers["Location"].endswith(f"/reports/{report.tracking_number}#votes")
    assert fresh(report).vote_count == 1


def test_a_guest_vote_through_htmx_is_redirected_to_sign_in(site):
    report = make_report()
    response = post(
        client_for(site), f"/reports/{report.tracking_number}/vote", {"wanted": "1"}, headers=HTMX
    )
    assert response.status_code == 204 and "/sign-in" in response.headers["HX-Redirect"]


def test_fifty_people_voting_at_once_make_fifty_votes(site):
    report = make_report()
    people = [make_user(f"voter{n}@example.org") for n in range(50)]
    clients = [client_for(site, person) for person in people]
    tokens = [csrf_token_from(client) for client in clients]
    barrier = threading.Barrier(len(clients))
    codes = []

    url = f"/reports/{report.tracking_number}/vote"

    def vote(client, token):
        barrier.wait()
        response = client.post(url, data={"csrf_token": token, "wanted": "1"})
        codes.append(response.status_code)

    threads = [
        threading.Thread(target=vote, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert codes.count(303) == 50
    assert fresh(report).vote_count == 50
    assert db.session.scalar(select(func.count(Vote.id))) == 50


def test_one_person_voting_twice_at_once_counts_once(site, maria):
    report = make_report()
    clients = [client_for(site, maria) for _ in range(2)]
    tokens = [csrf_token_from(client) for client in clients]
    barrier = threading.Barrier(2)

    url = f"/reports/{report.tracking_number}/vote"

    def vote(client, token):
        barrier.wait()
        client.post(url, data={"csrf_token": token, "wanted": "1"})

    threads = [
        threading.Thread(target=vote, args=pair) for pair in zip(clients, tokens, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert fresh(report).vote_count == 1


# ---- comments ------------------------------------------------------------------------------


def test_comment_is_escaped_linked_and_added_to_the_timeline(site, maria):
    report = make_report()
    client = client_for(site, maria)
    body = "Still there <script>alert(1)</script> see https://example.org/photo.jpg."
    response = post(client, f"/reports/{report.tracking_number}/comments", {"body": body})
    assert response.status_code == 303
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert (
        '<a href="https://example.org/photo.jpg" rel="nofollow ugc noopener">'
        "https://example.org/photo.jpg</a>."
    ) in page
    assert "Comment</strong> by Maria" in page
    assert fresh(report).comment_count == 1
    # the commenter now follows the report
    assert db.session.scalar(select(func.count(Follow.id))) == 1


def test_comment_through_htmx_returns_the_conversation_and_announces(site, maria):
    report = make_report()
    client = client_for(site, maria)
    response = post(
        client,
        f"/reports/{report.tracking_number}/comments",
        {"body": "Saw it again today"},
        headers=HTMX,
    )
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and "<html" not in fragment
    assert fragment.lstrip().startswith('<section id="conversation"')
    assert "Saw it again today" in fragment
    assert 'data-announce="Your comment was added."' in fragment
    empty = post(
        client, f"/reports/{report.tracking_number}/comments", {"body": "  "}, headers=HTMX
    )
    assert empty.status_code == 422 and "Write a comment" in empty.get_data(as_text=True)


def test_an_empty_comment_without_javascript_shows_the_page_with_the_error(site, maria):
    report = make_report()
    response = post(
        client_for(site, maria), f"/reports/{report.tracking_number}/comments", {"body": ""}
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<title>" in page and "Write a comment" in page and "<html" in page


def test_comment_with_a_photo_uses_the_media_pipeline(site, maria):
    report = make_report()
    client = client_for(site, maria)
    response = post(
        client,
        f"/reports/{report.tracking_number}/comments",
        {"body": "Here is how it looks now", "photo": photo_file()},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    [media] = db.session.scalars(select(Media)).all()
    assert media.comment_id is not None
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert media.thumb_name in page
    bad = post(
        client,
        f"/reports/{report.tracking_number}/comments",
        {"body": "Keep this text", "photo": (io.BytesIO(b"%PDF-1.4"), "x.jpg")},
        content_type="multipart/form-data",
    )
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "x.jpg is not a photo" in text and "Keep this text" in text


def test_a_guest_comment_is_kept_while_they_sign_in(site, maria):
    report = make_report()
    guest = client_for(site)
    response = post(
        guest, f"/reports/{report.tracking_number}/comments", {"body": "My long careful comment"}
    )
    assert "/sign-in" in response.headers["Location"]
    sign_in_as(guest, maria)
    back = guest.get(f"/reports/{report.tracking_number}/resume")
    assert back.headers["Location"].endswith("#add-comment")
    page = guest.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "My long careful comment</textarea>" in page


def test_staff_comments_are_marked_as_the_citys(site):
    from bpt311.models import Department

    roads = db.session.scalars(
        select(Department).where(Department.name == "Roadway Maintenance")
    ).one()
    clerk = make_user(
        "clerk@bridgeport.example",
        role="staff",
        department=roads,
        display_name="Private Clerk Name",
    )
    report = make_report()
    post(
        client_for(site, clerk),
        f"/reports/{report.tracking_number}/comments",
        {"body": "A crew is booked for Tuesday."},
    )
    page = client_for(site).get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "The city replied</strong> by City of Bridgeport, Roadway Maintenance" in page
    assert "Private Clerk Name" not in page


def test_a_comment_can_be_changed_for_fifteen_minutes_by_its_writer_only(site, maria, luis):
    report = make_report()
    client = client_for(site, maria)
    post(client, f"/reports/{report.tracking_number}/comments", {"body": "Frist comment"})
    comment = db.session.scalars(select(Comment)).one()
    assert (
        post(client, f"/comments/{comment.id}/edit", {"body": "First comment"}).status_code == 303
    )
    db.session.expire_all()
    assert comment.body == "First comment" and comment.edited_at is not None
    assert (
        post(
            client_for(site, luis), f"/comments/{comment.id}/edit", {"body": "Hijacked"}
        ).status_code
        == 403
    )
    comment.created_at = utcnow() - timedelta(minutes=16)
    db.session.commit()
    assert post(client, f"/comments/{comment.id}/edit", {"body": "Too late"}).status_code == 403


def test_a_writer_deletes_their_comment_and_others_cannot(site, maria, luis):
    report = make_report()
    client = client_for(site, maria)
    post(client, f"/reports/{report.tracking_number}/comments", {"body": "Oops, wrong report"})
    comment = db.session.scalars(select(Comment)).one()
    assert post(client_for(site, luis), f"/comments/{comment.id}/delete").status_code == 403
    assert client_for(site).get(f"/comments/{comment.id}/delete").status_code == 302
    assert post(client, f"/comments/{comment.id}/delete").status_code == 303
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert "Oops, wrong report" not in page and "This comment was deleted." in page
    assert fresh(report).comment_count == 0


# ---- follows and emails ---------------------------------------------------------------------


def test_followers_hear_of_comments_and_can_unsubscribe_in_one_click(site, smtp, maria, luis):
    report = make_report()
    post(client_for(site, luis), f"/reports/{report.tracking_number}/follow", {"wanted": "1"})
    post(
        client_for(site, maria),
        f"/reports/{report.tracking_number}/comments",
        {"body": "It got worse after the rain"},
    )
    deliver_due()
    [message] = smtp.mailbox.to("luis@example.org")
    assert smtp.mailbox.to("maria@example.org") == []  # never about your own action
    assert "Maria commented" in message["Subject"]
    assert "It got worse after the rain" in message.get_body(("plain",)).get_content()
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = re.search(r"<(http://bpt311.test(/unfollow/[^>]+))>", message["List-Unsubscribe"])
    # one click from the mail client: a POST without session or CSRF token
    response = site.test_client().post(link.group(2))
    assert response.status_code == 200
    assert db.session.scalar(select(func.count(Follow.id)).where(Follow.user_id == luis.id)) == 0


def test_a_forged_unsubscribe_link_changes_nothing(site, luis):
    report = make_report()
    post(client_for(site, luis), f"/reports/{report.tracking_number}/follow", {"wanted": "1"})
    response = site.test_client().post("/unfollow/not-a-real-token")
    assert response.status_code == 400
    assert db.session.scalar(select(func.count(Follow.id))) == 1


def test_follow_toggles_in_place_with_htmx(site, maria):
    report = make_report()
    client = client_for(site, maria)
    response = post(
        client, f"/reports/{report.tracking_number}/follow", {"wanted": "1"}, headers=HTMX
    )
    fragment = response.get_data(as_text=True)
    assert fragment.startswith('<div id="follow"') and "You will get an email" in fragment
    response = post(client, f"/reports/{report.tracking_number}/follow", {"wanted": "0"})
    assert response.status_code == 303
    assert db.session.scalar(select(func.count(Follow.id))) == 0


def test_a_signed_in_reporter_follows_their_own_report(site, maria):
    client = client_for(site, maria)
    page = client.get("/reports/new?category=graffiti").get_data(as_text=True)
    key = re.search(r'name="submission_key"[^>]*value="([^"]+)"', page).group(1)
    response = post(
        client,
        "/reports/new",
        {
            "category": "graffiti",
            "submission_key": key,
            "answer_surface": "public",
            "description": "Tags all over the bus shelter",
            "latitude": "41.1792",
            "longitude": "-73.1894",
            "address": "45 Lyon Terrace",
        },
    )
    assert response.status_code == 303
    report = db.session.scalars(select(Report)).one()
    assert report.reporter_id == maria.id
    assert db.session.scalar(select(Follow.user_id)) == maria.id


# ---- flags ----------------------------------------------------------------------------------


def test_repeated_flags_from_one_person_count_once(site, maria, luis):
    report = make_report()
    for client in (client_for(site, maria), client_for(site, maria), client_for(site, luis)):
        response = post(client, f"/flag/report/{report.id}", {"reason": "spam"})
        assert response.status_code == 303
    assert db.session.scalar(select(func.count(Flag.id))) == 2


def test_a_flag_needs_a_reason_and_a_guest_signs_in_first(site, maria):
    report = make_report()
    response = post(client_for(site, maria), f"/flag/report/{report.id}", {})
    assert response.status_code == 422 and "Choose why" in response.get_data(as_text=True)
    assert client_for(site).get(f"/flag/report/{report.id}").status_code == 302
    assert client_for(site, maria).get("/flag/report/999999").status_code == 404


# ---- closing, reopening, editing, withdrawing ----------------------------------------------------


def test_the_reporter_closes_their_report_as_fixed(site, smtp, maria, luis):
    report = make_report(reporter_id=maria.id)
    post(client_for(site, luis), f"/reports/{report.tracking_number}/follow", {"wanted": "1"})
    assert (
        post(
            client_for(site, luis), f"/reports/{report.tracking_number}/close", {"note": "no"}
        ).status_code
        == 403
    )
    response = post(
        client_for(site, maria),
        f"/reports/{report.tracking_number}/close",
        {"note": "Filled this morning"},
    )
    assert response.status_code == 303
    report = fresh(report)
    assert report.status == "closed" and report.closed_at is not None
    assert report.events[-1].kind == "closed" and report.events[-1].actor_label == "The reporter"
    deliver_due()
    assert "The reporter says it is fixed" in smtp.mailbox.to("luis@example.org")[0]["Subject"]


def test_any_resident_reopens_a_closed_report_with_a_note_and_photo(site, smtp, luis):
    report = make_report(status="closed", closed_at=utcnow())
    client = client_for(site, luis)
    missing = post(client, f"/reports/{report.tracking_number}/reopen", {"note": ""})
    assert missing.status_code == 422
    response = post(
        client,
        f"/reports/{report.tracking_number}/reopen",
        {"note": "Still a hole", "photo": photo_file()},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    report = fresh(report)
    assert report.status == "open" and report.closed_at is None
    assert report.events[-1].kind == "reopened"
    assert db.session.scalar(select(func.count(Media.id))) == 1
    deliver_due()
    assert smtp.mailbox.to("roadway@bridgeport.example")  # back in the department's queue


def test_a_guest_cannot_reopen(site):
    report = make_report(status="closed", closed_at=utcnow())
    assert client_for(site).get(f"/reports/{report.tracking_number}/reopen").status_code == 302


def test_the_reporter_edits_or_withdraws_only_before_acknowledgement(site, maria, luis):
    report = make_report(reporter_id=maria.id)
    client = client_for(site, maria)
    response = post(
        client,
        f"/reports/{report.tracking_number}/edit",
        {"description": "Deep pothole, now two of them, by the bus stop"},
    )
    assert response.status_code == 303
    assert fresh(report).description.startswith("Deep pothole, now two")
    assert (
        post(
            client_for(site, luis),
            f"/reports/{report.tracking_number}/edit",
            {"description": "Vandalised text"},
        ).status_code
        == 403
    )
    report = fresh(report)
    report.status, report.acknowledged_at = "acknowledged", utcnow()
    db.session.commit()
    assert post(client, f"/reports/{report.tracking_number}/withdraw", {}).status_code == 403


def test_withdrawing_closes_the_report_with_a_timeline_event(site, maria):
    report = make_report(reporter_id=maria.id)
    response = post(
        client_for(site, maria),
        f"/reports/{report.tracking_number}/withdraw",
        {"reason": "Wrong street"},
    )
    assert response.status_code == 303
    report = fresh(report)
    assert report.status == "closed" and report.events[-1].kind == "withdrawn"


def test_deleting_an_account_takes_its_votes_off_the_count(site, maria):
    from bpt311.accounts.service import delete_account, hash_password

    maria.password_hash = hash_password("correct horse battery")
    db.session.commit()
    report = make_report()
    post(client_for(site, maria), f"/reports/{report.tracking_number}/vote", {"wanted": "1"})
    assert fresh(report).vote_count == 1
    delete_account(db.session.get(type(maria), maria.id), "correct horse battery")
    assert fresh(report).vote_count == 0


def test_a_banned_resident_cannot_vote_or_comment(site, maria):
    maria.banned_at = utcnow()
    db.session.commit()
    report = make_report()
    client = client_for(site, maria)
    assert (
        post(client, f"/reports/{report.tracking_number}/vote", {"wanted": "1"}).status_code == 403
    )
    response = post(client, f"/reports/{report.tracking_number}/comments", {"body": "Hello"})
    assert response.status_code == 422 and "cannot post" in response.get_data(as_text=True)


def test_the_report_page_runs_a_fixed_number_of_queries(site, maria, count_queries):
    report = make_report()
    client = client_for(site, maria)
    post(client, f"/reports/{report.tracking_number}/comments", {"body": "one"})
    with count_queries() as few:
        client.get(f"/reports/{report.tracking_number}")
    for n in range(10):
        post(client, f"/reports/{report.tracking_number}/comments", {"body": f"more {n}"})
    with count_queries() as many:
        client.get(f"/reports/{report.tracking_number}")
    assert many.count == few.count


def test_my_page_lists_what_i_follow(site, maria):
    mine = make_report(reporter_id=maria.id, description="My own pothole report")
    theirs = make_report("graffiti", description="Someone else's graffiti")
    client = client_for(site, maria)
    post(client, f"/reports/{theirs.tracking_number}/follow", {"wanted": "1"})
    post(client, f"/reports/{mine.tracking_number}/follow", {"wanted": "1"})
    page = client.get("/me").get_data(as_text=True)
    following = page.split("<h2>Reports you follow</h2>")[1].split("<h2>")[0]
    assert theirs.tracking_number in following and mine.tracking_number not in following


def test_a_comment_moderators_hid_is_not_changed_deleted_or_flagged_through_its_links(
    site, maria, luis
):
    """Its writer's links (change, delete) and anyone's flag link find nothing, as on a
    report moderators hid; the moderators restore it or not."""
    report = make_report()
    client = client_for(site, maria)
    post(client, f"/reports/{report.tracking_number}/comments", {"body": "A comment to hide."})
    comment = db.session.scalars(select(Comment)).one()
    comment.hidden_at, comment.hidden_reason = utcnow(), "Abusive"
    db.session.commit()
    for path in (f"/comments/{comment.id}/edit", f"/comments/{comment.id}/delete"):
        assert client.get(path).status_code == 404, path
        assert post(client, path, {"body": "Changed words"}).status_code == 404, path
    assert client_for(site, luis).get(f"/flag/comment/{comment.id}").status_code == 404
    assert db.session.get(Comment, comment.id).body == "A comment to hide."
    assert db.session.get(Comment, comment.id).deleted_at is None
