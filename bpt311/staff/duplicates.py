"""A report marked as a duplicate of another: closed into it, its votes and followers
moved to the original, once."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, insert, literal, select, update

from bpt311.audit import record
from bpt311.community.following import tell_followers
from bpt311.extensions import db
from bpt311.models import (
    Follow,
    Report,
    User,
    Vote,
    report_id_from_tracking_number,
    utcnow,
)
from bpt311.problems import InvalidInput
from bpt311.reports import lifecycle
from bpt311.staff.acting import (
    add_event,
    check_may_change,
    commit_or_stale,
)
from bpt311.watchers.events import announce


def mark_duplicate(
    report: Report, actor: User, version: int | None, original_number: str
) -> Report:
    """Close ``report`` as the same problem as another; its followers and votes move over."""
    check_may_change(report, actor, version)
    original_id = report_id_from_tracking_number(original_number or "")
    original = db.session.get(Report, original_id) if original_id else None
    if original is None:
        raise InvalidInput("original", _("No report has that tracking number"))
    if original.id == report.id:
        raise InvalidInput("original", _("A report cannot be a duplicate of itself"))
    if original.duplicate_of_id:
        raise InvalidInput(
            "original",
            _(
                "%(number)s is itself a duplicate: choose the report it points to",
                number=original.tracking_number,
            ),
        )
    now = utcnow()
    try:  # first, so a refusal leaves the followers and votes where they were
        lifecycle.move(report, "merge", lifecycle.STAFF, now)
    except lifecycle.MoveRefused as exc:
        raise InvalidInput("original", str(exc)) from exc
    # Followers and votes move: inserted where the person has none on the original, then
    # removed here, so each counts exactly once.
    db.session.execute(
        insert(Follow).from_select(
            ["report_id", "user_id", "created_at"],
            select(literal(original.id), Follow.user_id, Follow.created_at)
            .where(Follow.report_id == report.id)
            .where(
                ~Follow.user_id.in_(select(Follow.user_id).where(Follow.report_id == original.id))
            ),
        )
    )

    moved_votes = len(
        db.session.scalars(
            insert(Vote)
            .from_select(
                ["report_id", "user_id", "created_at"],
                select(literal(original.id), Vote.user_id, Vote.created_at)
                .where(Vote.report_id == report.id)
                .where(
                    ~Vote.user_id.in_(select(Vote.user_id).where(Vote.report_id == original.id))
                ),
            )
            .returning(Vote.id)
        ).all()
    )
    db.session.execute(delete(Vote).where(Vote.report_id == report.id))
    db.session.execute(delete(Follow).where(Follow.report_id == report.id))
    # The counter moves by the rows just inserted, in one statement: a vote someone adds
    # to the original meanwhile is not overwritten by a figure read earlier.
    db.session.execute(
        update(Report)
        .where(Report.id == original.id)
        .values(vote_count=Report.vote_count + moved_votes)
        .execution_options(synchronize_session=False)
    )
    report.vote_count = 0
    report.duplicate_of = original
    add_event(
        report,
        actor,
        "duplicate",
        public_note=f"The same problem as {original.tracking_number}: follow that report.",
    )
    add_event(
        original,
        actor,
        "note",
        public_note=f"{report.tracking_number} was the same "
        "problem and has been merged into this one.",
    )
    record(
        actor, "mark_duplicate", report, original=original.tracking_number, moved_votes=moved_votes
    )
    tell_followers(
        report,
        _l("Merged into %(number)s", number=original.tracking_number),
        _l("Follow the original report for updates."),
        actor=actor,
    )
    announce(report, "status", actor=actor)
    commit_or_stale()
    return original
