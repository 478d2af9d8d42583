"""Votes on a report (counted once however often clicked), what the person looking does to
it (votes, follows, may reopen), and an account's votes taken off as it goes."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from bpt311 import effects, public_cache
from bpt311.community.changes import reopenable
from bpt311.extensions import db
from bpt311.models import (
    Follow,
    Report,
    User,
    Vote,
)
from bpt311.standing import require_may_write


def set_vote(report: Report, user: User, wanted: bool) -> tuple[bool, int]:
    """Vote or take the vote back; idempotent, so concurrent clicks count once.
    Returns whether the user now votes, and the report's vote count."""
    require_may_write(user)
    if wanted:
        try:
            with db.session.begin_nested():
                db.session.add(Vote(report_id=report.id, user_id=user.id))
            changed = 1
        except IntegrityError:
            changed = 0  # already voted: the unique key held
    else:
        result = db.session.execute(
            delete(Vote).where(Vote.report_id == report.id, Vote.user_id == user.id)
        )
        changed = -result.rowcount
    if changed:
        db.session.execute(
            update(Report)
            .where(Report.id == report.id)
            .values(vote_count=Report.vote_count + changed)
            .execution_options(synchronize_session=False)
        )
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    count = db.session.scalar(select(Report.vote_count).where(Report.id == report.id))
    return wanted, count


def viewer_state(report: Report, user) -> dict:
    """Whether the person looking votes for and follows the report (two small queries), and
    whether they may reopen it (a guest may, once signed in; an account barred from posting
    may not)."""
    if not getattr(user, "is_authenticated", False):
        return {"voted": False, "following": False, "may_reopen": reopenable(report)}
    voted = db.session.scalar(
        select(func.count(Vote.id)).where(Vote.report_id == report.id, Vote.user_id == user.id)
    )
    following = db.session.scalar(
        select(func.count(Follow.id)).where(
            Follow.report_id == report.id, Follow.user_id == user.id
        )
    )
    return {
        "voted": bool(voted),
        "following": bool(following),
        "may_reopen": reopenable(report) and user.banned_at is None,
    }


def forget_votes_of(user_id: int) -> None:
    """Before an account goes: take its votes off the counters (the rows cascade away)."""
    voted = select(Vote.report_id).where(Vote.user_id == user_id)
    db.session.execute(
        update(Report)
        .where(Report.id.in_(voted))
        .values(vote_count=Report.vote_count - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(delete(Vote).where(Vote.user_id == user_id))
