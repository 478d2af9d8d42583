"""Deleting a comment (security issue #21, findings 8 and 12): staff delete only where they
may moderate (their department's reports; admins everywhere), with an audit row and a word
to the writer; and the report's comment counter moves once, with the row, however many
deletes (or a hide and a delete) arrive at the same moment."""

import threading

import pytest
from sqlalchemy import func, select

from bpt311.community.comments import add_comment
from bpt311.extensions import db
from bpt311.models import AuditLog, Comment, Report
from bpt311.notify import deliver_due
from tests.conftest import client_for, csrf_token_from
from tests.conftest import post_form as post
from tests.factories import make_report, make_user


@pytest.fixture
def maria(maria):
    """Maria reads in Spanish."""
    maria.locale = "es"
    db.session.commit()
    return maria


def counted(report) -> int:
    db.session.expire_all()
    return db.session.get(Report, report.id).comment_count


def audit_rows():
    db.session.expire_all()
    return db.session.scalars(select(AuditLog).order_by(AuditLog.id)).all()


def deleted(comment) -> bool:
    db.session.expire_all()
    return db.session.get(Comment, comment.id).deleted_at is not None


# ---- finding 8: one department rule for deleting and hiding, audited, the writer told --------


def test_staff_of_another_department_may_neither_delete_nor_hide_a_comment(
    site, blight_clerk, maria
):
    report = make_report()  # a pothole: Roadway Maintenance's
    comment = add_comment(report, maria, "The lane is still broken")
    client = client_for(site, blight_clerk)
    assert client.get(f"/comments/{comment.id}/delete").status_code == 403
    assert post(client, f"/comments/{comment.id}/delete", {"reason": "No"}).status_code == 403
    hide = post(client, f"/staff/moderation/comment/{comment.id}/hide", {"reason": "No"})
    assert hide.status_code == 403
    assert not deleted(comment) and counted(report) == 1
    assert audit_rows() == []
    # Nor is the link offered on the report page.
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert f"/comments/{comment.id}/delete" not in page


def test_the_departments_staff_delete_with_a_record_and_the_writer_is_told(
    site, smtp, clerk, maria
):
    report = make_report()
    comment = add_comment(report, maria, "My neighbour at number 12 is to blame")
    other = add_comment(report, maria, "Another comment, to hide")
    client = client_for(site, clerk)
    page = client.get(f"/reports/{report.tracking_number}").get_data(as_text=True)
    assert f"/comments/{comment.id}/delete" in page
    form = client.get(f"/comments/{comment.id}/delete").get_data(as_text=True)
    assert 'name="reason"' in form  # staff say why, for the record and the writer
    response = post(
        client, f"/comments/{comment.id}/delete", {"reason": "Names a neighbour <b>x</b>"}
    )
    assert response.status_code == 303
    assert deleted(comment) and counted(report) == 1
    [row] = audit_rows()
    assert (row.action, row.actor_id, row.report_id, row.target_type, row.target_id) == (
        "comment.delete",
        clerk.id,
        report.id,
        "comment",
        comment.id,
    )
    assert row.detail["reason"] == "Names a neighbour <b>x</b>"
    deliver_due()
    [message] = smtp.mailbox.to("maria@example.org")
    assert message["Subject"] == f"{report.tracking_number}: se eliminó su comentario"
    text = message.get_body(("plain",)).get_content()
    assert "Motivo: Names a neighbour <b>x</b>" in text
    html = message.get_body(("html",)).get_content()
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    # The same person may hide on the moderation route.
    hide = post(client, f"/staff/moderation/comment/{other.id}/hide", {"reason": "Rude"})
    assert hide.status_code == 303


def test_an_admin_deletes_anywhere_and_a_writer_deleting_their_own_makes_no_record(
    site, smtp, admin, maria
):
    report = make_report("graffiti")
    theirs = add_comment(report, maria, "First")
    own = add_comment(report, maria, "Second")
    assert post(client_for(site, admin), f"/comments/{theirs.id}/delete").status_code == 303
    [row] = audit_rows()
    assert row.action == "comment.delete" and row.detail.get("reason") is None
    assert post(client_for(site, maria), f"/comments/{own.id}/delete").status_code == 303
    assert len(audit_rows()) == 1 and counted(report) == 0
    deliver_due()
    [message] = smtp.mailbox.to("maria@example.org")  # told once: by the admin's delete
    assert "Motivo" not in message.get_body(("plain",)).get_content()  # no reason given


# ---- finding 12: the counter moves with the row, once ----------------------------------------


def at_once(calls) -> None:
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        call()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)


def test_eight_deletes_of_one_comment_at_once_count_once(site, maria):
    report = make_report()
    add_comment(report, maria, "This one stays")
    comment = add_comment(report, maria, "This one goes")
    clients = [client_for(site, maria) for _ in range(8)]
    tokens = [csrf_token_from(client) for client in clients]
    codes = []
    url = f"/comments/{comment.id}/delete"  # read before the threads: they have no app context

    def delete(client, token):
        return lambda: codes.append(client.post(url, data={"csrf_token": token}).status_code)

    at_once([delete(c, t) for c, t in zip(clients, tokens, strict=True)])
    assert len(codes) == 8 and set(codes) <= {303, 404}
    assert deleted(comment)
    assert counted(report) == 1


def test_staff_and_writer_deleting_at_once_tell_and_record_once(site, smtp, clerk, maria):
    report = make_report()
    comment = add_comment(report, maria, "Goes twice at once")
    people = [client_for(site, clerk) for _ in range(4)] + [
        client_for(site, maria) for _ in range(4)
    ]
    tokens = [csrf_token_from(client) for client in people]
    url = f"/comments/{comment.id}/delete"
    at_once(
        [
            (lambda c=c, t=t: c.post(url, data={"csrf_token": t}))
            for c, t in zip(people, tokens, strict=True)
        ]
    )
    assert counted(report) == 0
    assert len(audit_rows()) <= 1
    deliver_due()
    assert len(smtp.mailbox.to("maria@example.org")) == len(audit_rows())


def test_hiding_and_deleting_one_comment_at_once_leaves_the_count_right(site, clerk, maria):
    report = make_report()
    add_comment(report, maria, "This one stays")
    comment = add_comment(report, maria, "Hidden and deleted at once")
    writer, moderator = client_for(site, maria), client_for(site, clerk)
    tokens = [csrf_token_from(writer), csrf_token_from(moderator)]
    delete_url = f"/comments/{comment.id}/delete"
    hide_url = f"/staff/moderation/comment/{comment.id}/hide"
    at_once(
        [
            lambda: writer.post(delete_url, data={"csrf_token": tokens[0]}),
            lambda: moderator.post(
                hide_url,
                data={"csrf_token": tokens[1], "reason": "Rude"},
            ),
        ]
    )
    # Whichever came first, the comment is gone from the conversation (a hidden comment's
    # own delete link answers 404, so it may stay hidden rather than deleted) and the count
    # moved once.
    db.session.expire_all()
    gone = db.session.get(Comment, comment.id)
    assert gone.deleted_at is not None or gone.hidden_at is not None
    # the count is of comments not deleted (hiding never moves it): it moved once, or not
    assert counted(report) == (1 if gone.deleted_at is not None else 2)


def test_a_comment_never_counted_does_not_move_the_count(site, maria):
    """A reopening's photo is kept as a comment row that is not in the conversation and
    that the counter never counted: deleting it leaves the count of real comments alone."""
    report = make_report()
    add_comment(report, maria, "A real comment")
    stray = Comment(report_id=report.id, author_id=maria.id, body="Not fixed")
    db.session.add(stray)
    db.session.commit()
    assert post(client_for(site, maria), f"/comments/{stray.id}/delete").status_code == 303
    assert counted(report) == 1


def test_deleting_an_account_takes_off_only_the_comments_that_were_counted(site, maria):
    from bpt311.accounts.service import delete_account, hash_password

    maria.password_hash = hash_password("correct horse battery")
    db.session.commit()
    report = make_report()
    add_comment(report, make_user("luis@example.org"), "Luis's comment stays")
    add_comment(report, maria, "Maria's comment goes")
    db.session.add(Comment(report_id=report.id, author_id=maria.id, body="Reopening's photo"))
    db.session.commit()
    assert counted(report) == 2
    delete_account(db.session.get(type(maria), maria.id), "correct horse battery")
    assert counted(report) == 1


# ---- the other counters: votes move with their rows too --------------------------------------


def test_a_vote_on_the_original_while_a_duplicate_merges_is_kept(site, clerk, maria):
    """The merge read the original's count, a resident voted meanwhile, and the merge wrote
    its old figure plus the moved votes back: the resident's vote was lost from the count."""
    from bpt311.models import Vote
    from bpt311.staff.duplicates import mark_duplicate

    original = make_report(description="The first report of the hole")
    copy = make_report(description="The same hole again")
    db.session.add(Vote(report_id=copy.id, user_id=make_user("copy@example.org").id))
    db.session.execute(Report.__table__.update().where(Report.id == copy.id).values(vote_count=1))
    db.session.commit()
    loaded = db.session.get(Report, original.id)
    assert loaded.vote_count == 0  # what the merge's request read
    number = f"/reports/{loaded.tracking_number}/vote"
    assert post(client_for(site, maria), number, {"wanted": "1"}).status_code == 303
    mark_duplicate(db.session.get(Report, copy.id), clerk, None, loaded.tracking_number)
    db.session.expire_all()
    assert db.session.get(Report, original.id).vote_count == 2
    assert db.session.scalar(select(func.count(Vote.id)).where(Vote.report_id == original.id)) == 2
