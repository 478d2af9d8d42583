"""Test data made the way the app makes it, with sensible defaults."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Category, Report, TimelineEvent, User, utcnow

CITY_HALL = (41.1792, -73.1894)


def category(code: str = "pothole") -> Category:
    return db.session.scalars(select(Category).where(Category.service_code == code)).one()


def make_report(code: str = "pothole", **fields) -> Report:
    chosen = category(code)
    created = fields.pop("created_at", utcnow())
    report = Report(
        category=chosen,
        department_id=chosen.department_id,
        description=fields.pop("description", "A deep pothole in the right lane."),
        latitude=fields.pop("latitude", CITY_HALL[0]),
        longitude=fields.pop("longitude", CITY_HALL[1]),
        address=fields.pop("address", "45 Lyon Terrace, Bridgeport, CT"),
        created_at=created,
        updated_at=created,
        due_at=created + timedelta(hours=chosen.sla_hours),
        **fields,
    )
    report.events.append(TimelineEvent(kind="submitted", created_at=created))
    db.session.add(report)
    db.session.commit()
    return report


def make_user(email: str = "resident@example.org", role: str = "resident", **fields) -> User:
    """An account with a confirmed address (pass ``email_verified_at=None`` for one without:
    such an account gets no email but its confirmation)."""
    fields.setdefault("email_verified_at", utcnow())
    user = User(email=email, role=role, **fields)
    db.session.add(user)
    db.session.commit()
    return user


def sign_in_as(client, user: User) -> None:
    """Sign a test client in as ``user``, as Flask-Login would after a password check."""
    with client.session_transaction() as session:
        session["_user_id"] = user.get_id()
        session["_fresh"] = True
