"""Reading watch areas, their reports and people's notices, each in a fixed number of queries."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from bpt311.extensions import db
from bpt311.models import (
    Category,
    Comment,
    Notice,
    Report,
    TimelineEvent,
    WatchArea,
    WatchAreaCategory,
    WatchAreaFollow,
    WatchEvent,
)
from bpt311.reports.rows import ListRow, list_rows
from bpt311.watchers.matching import covers

NOTICES_PER_PAGE = 50
# How many reports in an area's bounding box a page looks through for the latest ones
# inside it: enough for any real area, and a bound on a pathological one.
SCAN_LIMIT = 5000


def area_by_id(area_id: int) -> WatchArea | None:
    return db.session.scalars(
        select(WatchArea)
        .where(WatchArea.id == area_id)
        .options(selectinload(WatchArea.categories), selectinload(WatchArea.owner))
    ).one_or_none()


def areas_of(user_id: int) -> list[WatchArea]:
    return db.session.scalars(
        select(WatchArea)
        .where(WatchArea.owner_id == user_id)
        .options(selectinload(WatchArea.categories))
        .order_by(func.lower(WatchArea.name), WatchArea.id)
    ).all()


def follows_of(user_id: int) -> list[WatchAreaFollow]:
    """The public areas someone follows (an area made private again drops out)."""
    return db.session.scalars(
        select(WatchAreaFollow)
        .join(WatchAreaFollow.area)
        .where(WatchAreaFollow.user_id == user_id, WatchArea.is_public)
        .options(selectinload(WatchAreaFollow.area))
        .order_by(func.lower(WatchArea.name))
    ).all()


def follow_of(area: WatchArea, user) -> WatchAreaFollow | None:
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalars(
        select(WatchAreaFollow).where(
            WatchAreaFollow.area_id == area.id, WatchAreaFollow.user_id == user.id
        )
    ).first()


def public_areas(limit: int = 200) -> list[tuple[WatchArea, int]]:
    """Public areas with how many people follow each, most followed first."""
    followers = (
        select(WatchAreaFollow.area_id, func.count().label("n"))
        .group_by(WatchAreaFollow.area_id)
        .subquery()
    )
    rows = db.session.execute(
        select(WatchArea, func.coalesce(followers.c.n, 0))
        .outerjoin(followers, followers.c.area_id == WatchArea.id)
        .where(WatchArea.is_public)
        .order_by(func.coalesce(followers.c.n, 0).desc(), func.lower(WatchArea.name))
        .limit(limit)
    ).all()
    return [(area, count) for area, count in rows]


def _in_area(query: Select, area: WatchArea) -> Select:
    query = query.where(
        Report.latitude.between(area.min_lat, area.max_lat),
        Report.longitude.between(area.min_lon, area.max_lon),
        Report.publicly_visible,
    )
    if not area.all_categories:
        query = query.where(
            Report.category_id.in_(
                select(WatchAreaCategory.category_id).where(WatchAreaCategory.area_id == area.id)
            )
        )
    return query


def _inside(area: WatchArea, rows, limit: int) -> list[int]:
    found = []
    for row in rows:
        if covers(area.shape, area.geometry_json, area.radius_m, row.latitude, row.longitude):
            found.append(row.id)
            if len(found) == limit:
                break
    return found


def reports_in(area: WatchArea, limit: int = 50) -> list[ListRow]:
    """The latest reports inside an area (of its categories), newest first."""
    rows = db.session.execute(
        _in_area(select(Report.id, Report.latitude, Report.longitude), area)
        .order_by(Report.created_at.desc(), Report.id.desc())
        .limit(SCAN_LIMIT)
    )
    ids = _inside(area, rows, limit)
    if not ids:
        return []
    reports = list_rows(select(Report).where(Report.id.in_(ids)))
    order = {report_id: n for n, report_id in enumerate(ids)}
    return sorted(reports, key=lambda report: order[report.id])


def _public_steps(query: Select) -> Select:
    """Timeline steps the public may see: not internal-only notes, not removed comments,
    not on hidden reports."""
    return (
        query.join(Report, Report.id == TimelineEvent.report_id)
        .outerjoin(Comment, Comment.id == TimelineEvent.comment_id)
        .where(
            Report.publicly_visible,
            (TimelineEvent.kind != "note") | (TimelineEvent.public_note != ""),
            TimelineEvent.comment_id.is_(None) | Comment.publicly_visible,
        )
    )


def _load_steps(ids: list[int]) -> list[TimelineEvent]:
    if not ids:
        return []
    steps = db.session.scalars(
        select(TimelineEvent)
        .where(TimelineEvent.id.in_(ids))
        .options(
            selectinload(TimelineEvent.comment),
            selectinload(TimelineEvent.report).selectinload(Report.category),
            selectinload(TimelineEvent.report).selectinload(Report.neighbourhood),
        )
    ).all()
    order = {step_id: n for n, step_id in enumerate(ids)}
    return sorted(steps, key=lambda step: order[step.id])


def latest_steps(limit: int = 50, **where) -> list[TimelineEvent]:
    """The newest public timeline steps of one report, neighbourhood or category."""
    query = _public_steps(select(TimelineEvent.id))
    if "report_id" in where:
        query = query.where(TimelineEvent.report_id == where["report_id"])
    if "neighbourhood_id" in where:
        query = query.where(Report.neighbourhood_id == where["neighbourhood_id"])
    if "category_id" in where:
        query = query.where(Report.category_id == where["category_id"])
    ids = db.session.scalars(
        query.order_by(TimelineEvent.created_at.desc(), TimelineEvent.id.desc()).limit(limit)
    ).all()
    return _load_steps(list(ids))


def latest_steps_in(area: WatchArea, limit: int = 50) -> list[TimelineEvent]:
    """The newest public timeline steps of reports inside an area."""
    rows = db.session.execute(
        _in_area(_public_steps(select(TimelineEvent.id, Report.latitude, Report.longitude)), area)
        .order_by(TimelineEvent.created_at.desc(), TimelineEvent.id.desc())
        .limit(SCAN_LIMIT)
    )
    return _load_steps(_inside(area, rows, limit))


def category_by_code(code: str) -> Category | None:
    return db.session.scalars(select(Category).where(Category.service_code == code)).first()


# ---- notices -----------------------------------------------------------------------------


def _still_visible(query: Select) -> Select:
    """Notices of what the public may still see: not of a report or comment hidden (or a
    comment deleted) since; they come back if moderators restore it."""
    return query.join(WatchEvent, WatchEvent.id == Notice.event_id).where(
        WatchEvent.publicly_visible
    )


def unread_count(user_id: int) -> int:
    return db.session.scalar(
        _still_visible(select(func.count(Notice.id))).where(
            Notice.user_id == user_id, Notice.read_at.is_(None)
        )
    )


def notices_for(user_id: int, page: int = 1) -> tuple[list[Notice], bool]:
    """A page of someone's notices, newest first, and whether there is another page."""
    rows = db.session.scalars(
        _still_visible(select(Notice))
        .where(Notice.user_id == user_id)
        .options(
            selectinload(Notice.area),
            selectinload(Notice.event)
            .selectinload(WatchEvent.report)
            .selectinload(Report.neighbourhood),
        )
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(NOTICES_PER_PAGE + 1)
        .offset((page - 1) * NOTICES_PER_PAGE)
    ).all()
    return list(rows[:NOTICES_PER_PAGE]), len(rows) > NOTICES_PER_PAGE
