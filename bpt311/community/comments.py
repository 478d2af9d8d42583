"""Comments on a report: written (with an optional photo), changed in the first minutes,
deleted by the writer or the report's department staff, each counted once.

Each function is one transaction: the change, its timeline event, the counter it moves and
the emails it sends commit together or not at all; errors are :mod:`bpt311.problems`'s."""

from __future__ import annotations

from datetime import timedelta

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, exists, update

from bpt311 import effects, i18n, public_cache
from bpt311.access import may_act_on
from bpt311.audit import record
from bpt311.community.following import ensure_follow, tell_followers, withdraw_unsent_notices
from bpt311.community.texts import checked_text, public_name
from bpt311.extensions import db
from bpt311.models import (
    Comment,
    Report,
    TimelineEvent,
    User,
    utcnow,
)
from bpt311.notify import enqueue_email, site_link
from bpt311.problems import NotAllowed
from bpt311.reports.service import placed_media
from bpt311.standing import require_may_write
from bpt311.watchers.events import announce

COMMENT_MAX = 2000
REASON_MAX = 500
EDIT_WINDOW = timedelta(minutes=15)


def add_comment(report: Report, user: User, body: str, photo=None) -> Comment:
    """A comment, in the timeline, with an optional photo (already checked and stashed)."""
    require_may_write(user)
    text = checked_text(body, "body", COMMENT_MAX, True, "a comment")
    now = utcnow()
    comment = Comment(
        report_id=report.id, author=user, body=text, by_city=user.is_staff, created_at=now
    )
    db.session.add(comment)
    db.session.flush()
    db.session.add(
        TimelineEvent(
            report_id=report.id,
            kind="comment",
            actor=user,
            actor_label=public_name(user),
            comment=comment,
            created_at=now,
        )
    )
    attach_photo(report, comment, photo, f"Photo with a comment on the {report.category.name}")
    db.session.execute(
        update(Report)
        .where(Report.id == report.id)
        .values(comment_count=Report.comment_count + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    ensure_follow(report.id, user.id)
    headline = _l("%(name)s commented", name=public_name(user))
    tell_followers(report, headline, text, actor=user, comment=comment)
    announce(report, "comment", actor=user, note=text, comment=comment)
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    return comment


def edit_comment(comment: Comment, user: User, body: str) -> Comment:
    require_may_write(user)
    if comment.author_id != user.id:
        raise NotAllowed(_("Only the person who wrote a comment can change it."))
    if comment.deleted_at or utcnow() - comment.created_at > EDIT_WINDOW:
        raise NotAllowed(_("Comments can only be changed in the first 15 minutes."))
    comment.body = checked_text(body, "body", COMMENT_MAX, True, "a comment")
    comment.edited_at = utcnow()
    report = db.session.get(Report, comment.report_id)
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    return comment


def counted_comment(comment_id) -> ColumnElement[bool]:
    """SQL: the comment is one of the conversation's, which is what ``comment_count``
    counts (a reopening's photo is kept as a comment row that is not, and never counted)."""
    return exists().where(TimelineEvent.comment_id == comment_id, TimelineEvent.kind == "comment")


def may_delete(comment: Comment, report: Report, user) -> bool:
    """The writer deletes their own comment; staff one on a report they may moderate (their
    department's; admins all): the rule the moderation queue's hide button follows."""
    if not getattr(user, "is_authenticated", False):
        return False
    return comment.author_id == user.id or may_act_on(user, report)


def delete_comment(comment: Comment, user: User, reason: str = "") -> bool:
    """Delete a comment, moving the report's counter in the same transaction and only if
    this call is the one that deleted it, so deletes at the same moment count once.
    Staff deleting someone else's comment leave an audit row and the writer is told, with
    the reason if one was given. Returns whether this call deleted it."""
    report = db.session.get(Report, comment.report_id)
    if not may_delete(comment, report, user):
        raise NotAllowed(
            _(
                "Only the person who wrote a comment, or staff of its report's department, "
                "can delete it."
            )
        )
    reason = checked_text(reason, "reason", REASON_MAX, False, "a reason")
    gone = db.session.execute(
        update(Comment)
        .where(Comment.id == comment.id, Comment.deleted_at.is_(None))
        .values(deleted_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if gone.rowcount != 1:  # someone else deleted it first: nothing more to do
        effects.rollback()
        return False
    withdraw_unsent_notices(comment.report_id, comment)
    db.session.execute(
        update(Report)
        .where(
            Report.id == comment.report_id,
            Report.comment_count > 0,
            counted_comment(comment.id),
        )
        .values(comment_count=Report.comment_count - 1)
        .execution_options(synchronize_session=False)
    )
    if comment.author_id != user.id:
        record(
            user,
            "comment.delete",
            report=report,
            target_type="comment",
            target_id=comment.id,
            reason=reason,
        )
        _tell_writer_of_removal(comment, report, reason)
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    return True


def _tell_writer_of_removal(comment: Comment, report: Report, reason: str) -> None:
    """Email the writer, in their language, that the city removed their comment."""
    writer = comment.author
    if writer is None or not writer.active:
        return
    enqueue_email(
        writer.email,
        "comment_removed",
        _l("%(number)s: your comment was removed", number=report.tracking_number),
        locale=i18n.known(writer.locale),
        report_id=report.id,
        report=report,
        reason=reason,
        report_hidden=not report.publicly_visible,
        report_url=site_link("community.report", tracking_number=report.tracking_number),
    )


def can_edit(comment: Comment, user) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and comment.author_id == user.id
        and comment.publicly_visible  # not deleted, nor hidden by moderators
        and utcnow() - comment.created_at <= EDIT_WINDOW
    )


# ---- photos added with a comment or a reopening ------------------------------------------


def attach_photo(report: Report, comment: Comment, photo, alt: str) -> None:
    if photo is None:
        return
    media = placed_media(photo, alt, 100, report_id=report.id, comment_id=comment.id)
    db.session.add(media)
