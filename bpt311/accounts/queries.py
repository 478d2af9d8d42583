"""Read-only questions about accounts, each answered in a fixed number of queries."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bpt311.extensions import db
from bpt311.models import Follow, Report, User


def reports_by(user_id: int) -> list[Report]:
    """A person's own reports, newest first, with what the list shows loaded up front."""
    return db.session.scalars(
        select(Report)
        .where(Report.reporter_id == user_id)
        .options(selectinload(Report.category), selectinload(Report.neighbourhood))
        .order_by(Report.created_at.desc(), Report.id.desc())
    ).all()


def reports_followed_by(user_id: int) -> list[Report]:
    """Reports someone follows but did not send, most recently changed first."""
    return db.session.scalars(
        select(Report)
        .join(Follow, Follow.report_id == Report.id)
        .where(Follow.user_id == user_id, Report.reporter_id.is_distinct_from(user_id))
        .options(selectinload(Report.category), selectinload(Report.neighbourhood))
        .order_by(Report.updated_at.desc(), Report.id.desc())
    ).all()


def all_users() -> list[User]:
    return db.session.scalars(
        select(User).options(selectinload(User.department)).order_by(User.role, User.email)
    ).all()
