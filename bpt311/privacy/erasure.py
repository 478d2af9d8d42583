"""Erasing a person who deletes their account, everywhere they left a trace.

What stays and what goes is written on the privacy page; in short: reports stay for
the public record without any link to the person or their contact details; their
comments become "This comment was deleted" (words and photos gone); votes, follows,
watch areas, notices, saved filters and push subscriptions go; emails to them go;
the staff audit log keeps its rows with the person's name and address taken out.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update

from bpt311 import storage
from bpt311.community.comments import counted_comment
from bpt311.community.votes import forget_votes_of
from bpt311.extensions import db
from bpt311.models import (
    AuditLog,
    Base,
    Comment,
    EmailSubscription,
    Media,
    Outbox,
    Report,
    TimelineEvent,
    User,
    WatchEvent,
    utcnow,
)

FORMER = "A former resident"


def erase_person(user: User) -> list[str]:
    """Remove or anonymise everything of ``user`` and delete the account, in the caller's
    transaction (not committed). Returns the media files to delete once it commits."""

    now = utcnow()
    user_id, email = user.id, (user.email or "").strip().lower()
    shown_name = user.display_name if (user.show_name and user.display_name) else ""
    forget_votes_of(user_id)

    contact_cleared = {
        "contact_name": "",
        "contact_email": "",
        "contact_phone": "",
        "notify_contact": False,
        "contact_erased_at": now,
    }
    db.session.execute(
        update(Report)
        .where(Report.reporter_id == user_id)
        .values(reporter_id=None, anonymous=True, **contact_cleared)
        .execution_options(synchronize_session=False)
    )
    if email and user.email_verified_at is not None:
        # Update emails this (proven) address asked for without signing in.
        db.session.execute(
            delete(EmailSubscription)
            .where(EmailSubscription.email == email)
            .execution_options(synchronize_session=False)
        )
        # Reports sent as a guest from this (proven) address, never claimed.
        db.session.execute(
            update(Report)
            .where(Report.reporter_id.is_(None), func.lower(Report.contact_email) == email)
            .values(**contact_cleared)
            .execution_options(synchronize_session=False)
        )

    files = _erase_comments(user_id, shown_name, now)

    for model in (TimelineEvent, AuditLog):
        db.session.execute(
            update(model)
            .where(model.actor_id == user_id)
            .values(actor_id=None)
            .execution_options(synchronize_session=False)
        )
    for row in db.session.scalars(
        select(AuditLog).where(AuditLog.target_type == "user", AuditLog.target_id == user_id)
    ):
        if "email" in (row.detail or {}):
            row.detail = {**row.detail, "email": "(account deleted)"}
    if email:
        db.session.execute(delete(Outbox).where(func.lower(Outbox.recipient) == email))
    _forget_in_waiting_watch_events(user_id, email)
    _detach_other_references(user_id)
    db.session.execute(delete(User).where(User.id == user_id))
    return files


def _erase_comments(user_id: int, shown_name: str, now) -> list[str]:
    """A resident's comments lose their words and photos; the city's replies stay."""

    theirs = select(Comment.id).where(Comment.author_id == user_id, Comment.by_city.is_(False))
    photos = [
        storage.files_to_delete(
            db.session.scalars(select(Media).where(Media.comment_id.in_(theirs)))
        )
    ]
    bodies = db.session.execute(
        select(Comment.report_id, Comment.body).where(Comment.id.in_(theirs))
    ).all()
    db.session.execute(delete(Media).where(Media.comment_id.in_(theirs)))
    still_counted = (
        select(func.count(Comment.id))
        .where(
            Comment.report_id == Report.id,
            Comment.author_id == user_id,
            Comment.by_city.is_(False),
            Comment.deleted_at.is_(None),
            counted_comment(Comment.id),
        )
        .scalar_subquery()
    )
    db.session.execute(
        update(Report)
        .where(Report.id.in_(select(Comment.report_id).where(Comment.id.in_(theirs))))
        .values(comment_count=Report.comment_count - still_counted)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Comment)
        .where(Comment.id.in_(theirs))
        .values(body="", author_id=None, deleted_at=func.coalesce(Comment.deleted_at, now))
        .execution_options(synchronize_session=False)
    )
    # Their public name on the timeline and in watchers' notices goes too.
    db.session.execute(
        update(TimelineEvent)
        .where(
            TimelineEvent.actor_id == user_id,
            TimelineEvent.actor_label.not_in(("The reporter", "A resident", "")),
            ~TimelineEvent.actor_label.startswith("City of Bridgeport"),
        )
        .values(actor_label=FORMER)
        .execution_options(synchronize_session=False)
    )
    report_ids = {report_id for report_id, _ in bodies}
    texts = {body for _, body in bodies if body}
    if report_ids:
        for event in db.session.scalars(
            select(WatchEvent).where(
                WatchEvent.kind == "comment", WatchEvent.report_id.in_(report_ids)
            )
        ):
            if event.note in texts:
                event.note = ""
            if shown_name and event.headline.startswith(f"{shown_name} commented"):
                event.headline = FORMER + event.headline[len(shown_name) :]
    return [name for names in photos for name in names if name]


def _forget_in_waiting_watch_events(user_id: int, email: str) -> None:
    """Watch events whose notices a job has yet to write remember who acted and who was
    already emailed (``WatchEvent.already_told``): those go too."""
    for event in db.session.scalars(select(WatchEvent).where(WatchEvent.fanned_out_at.is_(None))):
        told = event.already_told or {}
        emails = [address for address in told.get("emails", []) if address.lower() != email]
        pushed = [someone for someone in told.get("pushed", []) if someone != user_id]
        if emails != told.get("emails", []) or pushed != told.get("pushed", []):
            event.already_told = {**told, "emails": emails, "pushed": pushed}
        if event.actor_id == user_id:
            event.actor_id = None


def _detach_other_references(user_id: int) -> None:
    """Any other table pointing at the account without ON DELETE (added by later work)
    lets go of it, so the account row can go."""
    handled = {"report", "timeline_event", "audit_log"}
    for table in Base.metadata.sorted_tables:
        if table.name in handled:
            continue
        for fk in table.foreign_keys:
            if fk.column.table.name != "user_account" or fk.ondelete:
                continue
            column = fk.parent
            if column.nullable:
                db.session.execute(
                    table.update().where(column == user_id).values({column.name: None})
                )
            else:
                db.session.execute(table.delete().where(column == user_id))
