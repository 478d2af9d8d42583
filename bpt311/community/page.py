"""What a report page shows of its conversation, loaded in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict

from flask import session
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bpt311.community import comments, forms, votes
from bpt311.extensions import db
from bpt311.models import Comment, Media, Report, TimelineEvent
from bpt311.public_cache import is_public_request
from bpt311.reports import queries
from bpt311.reports.service import sla_in_words
from bpt311.reports.timeline import actor_words, step_words
from bpt311.standing import CannotPost, may_write


def conversation_context(report: Report, user, comment_form=None) -> dict:
    events = db.session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.report_id == report.id)
        .options(selectinload(TimelineEvent.comment).selectinload(Comment.author))
        .order_by(TimelineEvent.created_at, TimelineEvent.id)
    ).all()
    photos = defaultdict(list)
    for media in db.session.scalars(
        select(Media).where(
            Media.report_id == report.id, Media.comment_id.is_not(None), Media.hidden_at.is_(None)
        )
    ):
        photos[media.comment_id].append(media)
    # A public page has no form (it would put a CSRF token in a session): only a link.
    if comment_form is None and not is_public_request():
        pending = session.get("pending") or {}
        draft = ""
        if pending.get("action") == "comment" and pending.get("report") == report.id:
            draft = session.pop("pending").get("draft", "")
        comment_form = forms.CommentForm(formdata=None, body=draft)
    return {
        "report": report,
        "events": [e for e in events if e.is_public],
        "comment_photos": photos,
        "comment_form": comment_form,
        "step_words": step_words,
        "actor_words": actor_words,
        "can_edit_comment": lambda comment: comments.can_edit(comment, user) and may_write(user),
        "can_delete_comment": lambda comment: comments.may_delete(comment, report, user),
        "is_author": lambda comment: (
            getattr(user, "is_authenticated", False) and comment.author_id == user.id
        ),
    }


def report_page_context(report, comment_form=None, email_form=None) -> dict:
    """Everything the report page shows, for the person looking at it."""
    user = current_user
    mine = getattr(user, "is_authenticated", False) and report.reporter_id == user.id
    return {
        # A banned account is told once, where the links to write would be.
        "cannot_post": "" if may_write(user) else str(CannotPost()),
        "merged": queries.merged_into(report),
        "response_time": sla_in_words(report.category.sla_hours),
        "is_reporter": mine,
        "can_change": mine and report.status == "open" and report.acknowledged_at is None,
        **votes.viewer_state(report, user),
        **conversation_context(report, user, comment_form),
        "email_form": email_form
        or (None if is_public_request() else forms.EmailUpdatesForm(formdata=None)),
    }
