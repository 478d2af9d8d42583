"""What a report page shows of its conversation, loaded in a fixed number of queries."""

from __future__ import annotations

from collections import defaultdict

from flask import session
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bpt311.community import forms, service
from bpt311.extensions import db
from bpt311.models import Comment, Media, Report, TimelineEvent


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
    if comment_form is None:
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
        "can_edit_comment": lambda comment: service.can_edit(comment, user),
        "is_author": lambda comment: (
            getattr(user, "is_authenticated", False) and comment.author_id == user.id
        ),
    }
