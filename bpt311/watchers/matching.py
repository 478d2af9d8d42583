"""Who is watching a point: the owners and followers of every area that contains it.

Three queries whatever the number of areas: the candidate areas whose bounding box
holds the point (and that want this kind of event and category), the followers of
the public ones among them, and the people. Exact containment is checked in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import shapely
from sqlalchemy import bindparam, or_, select

from bpt311.extensions import db
from bpt311.geo import distance_metres
from bpt311.models import User, WatchArea, WatchAreaCategory, WatchAreaFollow

# When one person is reached through several areas, the loudest way wins.
LOUDNESS = {"email": 2, "digest": 1, "none": 0}
KIND_COLUMNS = {
    "new": WatchArea.wants_new,
    "status": WatchArea.wants_status,
    "comment": WatchArea.wants_comments,
}


@dataclass(frozen=True)
class Watcher:
    """One person to tell, through one of their subscriptions."""

    user_id: int
    email: str
    area_id: int
    area_name: str
    delivery: str
    scope: str  # "area" for the owner, "follow" for a follower
    subscription_id: int  # the area's id, or the follow's
    locale: str = ""  # the language they chose for pages and emails ("" = none)
    confirmed: bool = True  # their address is confirmed: only then are they emailed


def _candidates_statement(kind: str):
    """Built once per kind: the query is the hot path of every report, and SQLAlchemy
    builds a statement far slower than the database answers this one."""
    return select(
        WatchArea.id,
        WatchArea.owner_id,
        WatchArea.name,
        WatchArea.shape,
        WatchArea.geometry_json,
        WatchArea.radius_m,
        WatchArea.delivery,
        WatchArea.is_public,
        WatchArea.paused_at,
    ).where(
        WatchArea.min_lat <= bindparam("lat"),
        WatchArea.max_lat >= bindparam("lat"),
        WatchArea.min_lon <= bindparam("lon"),
        WatchArea.max_lon >= bindparam("lon"),
        KIND_COLUMNS[kind],
        or_(WatchArea.paused_at.is_(None), WatchArea.is_public),
        or_(
            WatchArea.all_categories,
            WatchArea.id.in_(
                select(WatchAreaCategory.area_id).where(
                    WatchAreaCategory.category_id == bindparam("category")
                )
            ),
        ),
    )


CANDIDATES = {kind: _candidates_statement(kind) for kind in KIND_COLUMNS}
FOLLOWERS = select(
    WatchAreaFollow.id, WatchAreaFollow.area_id, WatchAreaFollow.user_id, WatchAreaFollow.delivery
).where(WatchAreaFollow.area_id.in_(bindparam("areas", expanding=True)))
PEOPLE = select(User.id, User.email, User.locale, User.email_verified_at).where(
    User.id.in_(bindparam("people", expanding=True)), User.active
)


def candidate_areas(latitude: float, longitude: float, kind: str, category_id: int | None):
    """Areas whose bounding box holds the point and that listen for this event."""
    return db.session.execute(
        CANDIDATES[kind],
        {"lat": latitude, "lon": longitude, "category": -1 if category_id is None else category_id},
    ).all()


def watchers_of(
    latitude: float,
    longitude: float,
    kind: str,
    category_id: int | None,
    exclude_user_id: int | None = None,
) -> list[Watcher]:
    """Everyone who should hear of an event at this point, once each, actor left out."""
    areas = [
        area
        for area in candidate_areas(latitude, longitude, kind, category_id)
        if covers(area.shape, area.geometry_json, area.radius_m, latitude, longitude)
    ]
    if not areas:
        return []
    by_id = {area.id: area for area in areas}
    # (user, area, delivery, scope, subscription id), owner's own areas first
    reached = [
        (area.owner_id, area.id, area.delivery, "area", area.id)
        for area in areas
        if area.paused_at is None
    ]
    public_ids = [area.id for area in areas if area.is_public]
    if public_ids:
        follows = db.session.execute(FOLLOWERS, {"areas": public_ids}).all()
        reached += [(f.user_id, f.area_id, f.delivery, "follow", f.id) for f in follows]
    chosen: dict[int, tuple] = {}
    for entry in sorted(reached, key=lambda e: (-LOUDNESS.get(e[2], 0), e[3] != "area", e[1])):
        if entry[0] != exclude_user_id:
            chosen.setdefault(entry[0], entry)
    if not chosen:
        return []
    people = {row.id: row for row in db.session.execute(PEOPLE, {"people": list(chosen)})}
    return [
        Watcher(
            user_id=user_id,
            email=people[user_id].email,
            area_id=area_id,
            area_name=by_id[area_id].name,
            delivery=delivery,
            scope=scope,
            subscription_id=subscription_id,
            locale=people[user_id].locale,
            confirmed=people[user_id].email_verified_at is not None,
        )
        for user_id, (_, area_id, delivery, scope, subscription_id) in sorted(chosen.items())
        if user_id in people
    ]


# ---- is a point inside? ------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _parsed(geometry_json: str):
    """A shape parsed once per process. Keyed by its text, so an edited area is simply a new
    key. Parsing is most of the cost of matching (bench/watch.py); the geometries are not
    prepared, because shapely's prepared geometries are not safe to share between threads."""
    geometry = json.loads(geometry_json)
    if geometry.get("type") == "Point":
        return tuple(geometry["coordinates"])
    return shapely.from_geojson(geometry_json)


def covers(shape: str, geometry_json: str, radius_m: float | None, lat: float, lon: float):
    """Whether a point is in an area; a point on its edge counts, one in a hole does not."""
    parsed = _parsed(geometry_json)
    if shape == "circle":
        centre_lon, centre_lat = parsed
        return distance_metres(centre_lat, centre_lon, lat, lon) <= (radius_m or 0)
    return bool(shapely.intersects_xy(parsed, lon, lat))
