"""Changing watch areas: making, editing, pausing, deleting and following them, stopping
their emails from a link, and marking notices read.

Each function is one transaction and takes the acting user; it raises
:class:`AreaErrors` (messages by form field) or :class:`NotAllowed`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from bpt311 import effects
from bpt311.extensions import db
from bpt311.geocoding import GeocoderUnavailable, Place, search
from bpt311.models import (
    DELIVERIES,
    Category,
    Neighbourhood,
    Notice,
    User,
    WatchArea,
    WatchAreaFollow,
    utcnow,
)
from bpt311.problems import NotAllowed, Problem, Refused
from bpt311.standing import require_may_write
from bpt311.watch import shapes
from bpt311.watch.shapes import InvalidArea, Outline

NAME_MAX = 80
MAX_AREAS_PER_PERSON = 50
KIND_LABELS = {
    "new": _l("New reports"),
    "status": _l("Status changes (acknowledged, closed, reopened)"),
    "comment": _l("Comments"),
}
DELIVERY_LABELS = {
    "email": _l("An email for each update"),
    "digest": _l("One email a day with all the updates"),
    "none": _l("No emails: I will look on the site or in the feed"),
}
METHODS = ("keep", "address", "neighbourhood", "map")


class AreaErrors(Refused):
    """The area's form, with a message per field."""


class ChooseAPlace(Problem):
    """The address matched several places: the person picks one."""

    def __init__(self, places: list[Place]):
        super().__init__("Choose which place you mean")
        self.places = places


@dataclass
class AreaSettings:
    """What an area's owner chose, as plain values from the form."""

    name: str
    kinds: list[str] = field(default_factory=lambda: ["new", "status"])
    all_categories: bool = True
    category_codes: list[str] = field(default_factory=list)
    delivery: str = "email"
    is_public: bool = False


@dataclass
class Where:
    """How the person set the area's shape, as plain values from the form."""

    method: str
    address: str = ""
    radius: str = ""
    place: str = ""  # "lat,lon" of a place chosen among several matches
    neighbourhood: str = ""  # slug
    geometry: str = ""  # GeoJSON drawn on the map: a Polygon, or a circle's centre Point
    map_radius: str = ""


# ---- the shape -----------------------------------------------------------------------


def outline_for(where: Where) -> Outline | None:
    """The checked shape the person asked for; None to keep an area's current one.

    Looks an address up first (which commits the geocoder's cache), so call this before
    changing anything. Raises AreaErrors, or ChooseAPlace when an address is ambiguous.
    """
    try:
        if where.method == "keep":
            return None
        if where.method == "neighbourhood":
            chosen = db.session.scalars(
                select(Neighbourhood).where(Neighbourhood.slug == (where.neighbourhood or ""))
            ).first()
            return shapes.of_neighbourhood(chosen)
        if where.method == "map":
            return shapes.drawn(where.geometry, where.map_radius)
        if where.method == "address":
            return _around_address(where)
    except InvalidArea as exc:
        raise AreaErrors({exc.field: str(exc)}) from exc
    raise AreaErrors({"method": _("Choose how to set the area")})


def _around_address(where: Where) -> Outline:
    errors = {}
    radius = None
    try:
        radius = shapes.parse_radius(where.radius)
    except InvalidArea as exc:
        errors[exc.field] = str(exc)
    text = " ".join((where.address or "").split())
    if not text:
        errors["address"] = _("Enter an address or an intersection in Bridgeport")
        raise AreaErrors(errors)
    try:
        places = search(text)
    except GeocoderUnavailable:
        errors["address"] = _(
            "We can't look up addresses right now. Choose a neighbourhood or draw the area "
            "on the map instead, or try again in a few minutes."
        )
        raise AreaErrors(errors) from None
    if not places:
        errors["address"] = _(
            "We could not find “%(address)s” in Bridgeport. Check the address.", address=text
        )
    if errors:
        raise AreaErrors(errors)
    place = places[0]
    if len(places) > 1:
        chosen = [p for p in places if f"{p.latitude:.6f},{p.longitude:.6f}" == where.place]
        if not chosen:
            raise ChooseAPlace(places)
        place = chosen[0]
    return shapes.circle(place.latitude, place.longitude, radius, place.address)


# ---- the settings ------------------------------------------------------------------------


def _checked(settings: AreaSettings) -> tuple[AreaSettings, list[Category], dict[str, str]]:
    errors: dict[str, str] = {}
    name = " ".join((settings.name or "").split())
    if not name:
        errors["name"] = _("Give the area a name, like “Our block” or “Ward 130”")
    elif len(name) > NAME_MAX:
        errors["name"] = _("Keep the name to %(count)s characters or fewer", count=NAME_MAX)
    kinds = [kind for kind in KIND_LABELS if kind in (settings.kinds or [])]
    if not kinds:
        errors["kinds"] = _("Choose at least one kind of update to hear about")
    categories: list[Category] = []
    if not settings.all_categories:
        codes = sorted(set(settings.category_codes or []))
        if codes:
            categories = db.session.scalars(
                select(Category).where(Category.service_code.in_(codes))
            ).all()
        if not codes or len(categories) != len(codes):
            errors["categories"] = _("Choose at least one kind of problem from the list")
    if settings.delivery not in DELIVERIES:
        errors["delivery"] = _("Choose how you want to hear about updates")
    cleaned = AreaSettings(
        name=name,
        kinds=kinds,
        all_categories=settings.all_categories,
        category_codes=[c.service_code for c in categories],
        delivery=settings.delivery,
        is_public=bool(settings.is_public),
    )
    return cleaned, categories, errors


def _apply(area: WatchArea, settings: AreaSettings, categories: list[Category]) -> None:
    area.name = settings.name
    area.wants_new = "new" in settings.kinds
    area.wants_status = "status" in settings.kinds
    area.wants_comments = "comment" in settings.kinds
    area.all_categories = settings.all_categories
    area.categories = [] if settings.all_categories else categories
    area.delivery = settings.delivery
    area.is_public = settings.is_public


def _apply_outline(area: WatchArea, outline: Outline) -> None:
    area.shape = outline.shape
    area.geometry_json = outline.geometry_json
    area.radius_m = outline.radius_m
    area.neighbourhood_id = outline.neighbourhood_id
    area.place_label = outline.place_label
    area.min_lat, area.min_lon, area.max_lat, area.max_lon = outline.bbox


def create_area(owner: User, outline: Outline, settings: AreaSettings) -> WatchArea:
    if settings.is_public:  # its name is shown to others; a private area tells only its owner
        require_may_write(owner)
    cleaned, categories, errors = _checked(settings)
    count = db.session.scalar(
        select(func.count(WatchArea.id)).where(WatchArea.owner_id == owner.id)
    )
    if count >= MAX_AREAS_PER_PERSON:
        errors["name"] = _(
            "You already have %(count)s watch areas, the most one account can have. "
            "Delete one you no longer need first.",
            count=MAX_AREAS_PER_PERSON,
        )
    if errors:
        raise AreaErrors(errors)
    now = utcnow()
    area = WatchArea(owner=owner, created_at=now, updated_at=now)
    _apply_outline(area, outline)
    _apply(area, cleaned, categories)
    db.session.add(area)
    effects.commit()
    return area


def _own(area: WatchArea, user: User) -> None:
    if area.owner_id != user.id:
        raise NotAllowed(_("Only the person who made a watch area can change it."))


def update_area(
    area: WatchArea, user: User, outline: Outline | None, settings: AreaSettings
) -> WatchArea:
    _own(area, user)
    if settings.is_public:
        require_may_write(user)
    cleaned, categories, errors = _checked(settings)
    if errors:
        raise AreaErrors(errors)
    if outline is not None:
        _apply_outline(area, outline)
    _apply(area, cleaned, categories)
    area.updated_at = utcnow()
    if area.delivery != "digest":
        _no_pending_digest(area.owner_id, [area.id])
    effects.commit()
    return area


def set_paused(area: WatchArea, user: User, paused: bool) -> WatchArea:
    _own(area, user)
    if paused and area.paused_at is None:
        area.paused_at = utcnow()
    elif not paused:
        area.paused_at = None
    effects.commit()
    return area


def delete_area(area: WatchArea, user: User) -> None:
    _own(area, user)
    db.session.execute(delete(WatchArea).where(WatchArea.id == area.id))
    effects.commit()


# ---- following someone else's public area ------------------------------------------------


def set_follow(area: WatchArea, user: User, wanted: bool, delivery: str = "digest") -> bool:
    """Follow a public area (or change how), or stop; returns whether the user follows."""
    if not wanted:
        db.session.execute(
            delete(WatchAreaFollow).where(
                WatchAreaFollow.area_id == area.id, WatchAreaFollow.user_id == user.id
            )
        )
        _no_pending_digest(user.id, [area.id])
        effects.commit()
        return False
    if not area.is_public:
        raise NotAllowed(_("Only a public watch area can be followed."))
    if area.owner_id == user.id:
        raise NotAllowed(_("This is your own watch area: you hear about it already."))
    if delivery not in DELIVERIES:
        raise AreaErrors({"delivery": _("Choose how you want to hear about updates")})
    existing = db.session.scalars(
        select(WatchAreaFollow).where(
            WatchAreaFollow.area_id == area.id, WatchAreaFollow.user_id == user.id
        )
    ).first()
    if existing is None:
        try:
            with db.session.begin_nested():
                db.session.add(WatchAreaFollow(area_id=area.id, user_id=user.id, delivery=delivery))
        except IntegrityError:  # a second click at the same moment
            existing = db.session.scalars(
                select(WatchAreaFollow).where(
                    WatchAreaFollow.area_id == area.id, WatchAreaFollow.user_id == user.id
                )
            ).one()
    if existing is not None:
        existing.delivery = delivery
    if delivery != "digest":
        _no_pending_digest(user.id, [area.id])
    effects.commit()
    return True


# ---- stopping emails from a link, without signing in ---------------------------------------


@dataclass
class Unsubscribed:
    what: str  # in words: "emails about “Our block”", "daily digests"
    area: WatchArea | None = None
    scope: str = ""

    @property
    def question(self) -> str:
        """The unsubscribe page's heading, as one sentence in the page's language."""
        if self.scope == "area" and self.area is not None:
            return _("Stop emails about your watch area “%(name)s”?", name=self.area.name)
        if self.scope == "follow" and self.area is not None:
            return _("Stop emails about the watch area “%(name)s”?", name=self.area.name)
        return _("Stop all your daily digest emails?")

    @property
    def done(self) -> str:
        if self.scope == "area" and self.area is not None:
            return _(
                "You will not get emails about your watch area “%(name)s” any more",
                name=self.area.name,
            )
        if self.scope == "follow" and self.area is not None:
            return _(
                "You will not get emails about the watch area “%(name)s” any more",
                name=self.area.name,
            )
        return _("You will not get all your daily digest emails any more")


def describe_token(payload: dict) -> Unsubscribed | None:
    """What an unsubscribe link would stop, if it still names a subscription of its person."""
    scope, ident, user_id = payload.get("s"), payload.get("i"), payload.get("u")
    if not isinstance(user_id, int):
        return None
    if scope == "digest":
        return Unsubscribed("all your daily digest emails", scope="digest")
    if scope == "area":
        area = db.session.get(WatchArea, ident) if isinstance(ident, int) else None
        if area is None or area.owner_id != user_id:
            return None
        return Unsubscribed(f"emails about your watch area “{area.name}”", area, "area")
    if scope == "follow":
        follow = db.session.get(WatchAreaFollow, ident) if isinstance(ident, int) else None
        if follow is None or follow.user_id != user_id:
            return None
        return Unsubscribed(
            f"emails about the watch area “{follow.area.name}”", follow.area, "follow"
        )
    return None


def unsubscribe(payload: dict) -> Unsubscribed | None:
    """Stop the emails a link was made for; the area and follows stay, on the site only.
    None when the link names nothing (any more), and then nothing changes."""
    found = describe_token(payload)
    if found is None:
        return None
    scope, ident, user_id = payload["s"], payload.get("i"), payload["u"]
    if scope == "digest":
        owned = db.session.scalars(
            select(WatchArea.id).where(
                WatchArea.owner_id == user_id, WatchArea.delivery == "digest"
            )
        ).all()
        followed = db.session.scalars(
            select(WatchAreaFollow.area_id).where(
                WatchAreaFollow.user_id == user_id, WatchAreaFollow.delivery == "digest"
            )
        ).all()
        db.session.execute(update(WatchArea).where(WatchArea.id.in_(owned)).values(delivery="none"))
        db.session.execute(
            update(WatchAreaFollow)
            .where(WatchAreaFollow.user_id == user_id, WatchAreaFollow.delivery == "digest")
            .values(delivery="none")
        )
        _no_pending_digest(user_id, [*owned, *followed])
    elif scope == "area":
        db.session.execute(update(WatchArea).where(WatchArea.id == ident).values(delivery="none"))
        _no_pending_digest(user_id, [ident])
    else:
        db.session.execute(
            update(WatchAreaFollow).where(WatchAreaFollow.id == ident).values(delivery="none")
        )
        _no_pending_digest(user_id, [found.area.id])
    effects.commit()
    return found


def _no_pending_digest(user_id: int, area_ids: list[int]) -> None:
    """Someone who stopped a digest must not get the one already gathering."""
    if not area_ids:
        return
    db.session.execute(
        update(Notice)
        .where(
            Notice.user_id == user_id,
            Notice.area_id.in_(area_ids),
            Notice.delivery == "digest",
            Notice.digested_at.is_(None),
        )
        .values(delivery="none")
        .execution_options(synchronize_session=False)
    )


# ---- notices ------------------------------------------------------------------------------


def mark_read(user: User, notice_id: int) -> Notice | None:
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.user_id != user.id or not notice.event.publicly_visible:
        return None
    if notice.read_at is None:
        notice.read_at = utcnow()
        effects.commit()
    return notice


def mark_all_read(user: User) -> int:
    result = db.session.execute(
        update(Notice)
        .where(Notice.user_id == user.id, Notice.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    effects.commit()
    return result.rowcount
