"""Creating reports: the one path the web form, the kiosk, staff intake and Open311 share."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import current_app
from flask_babel import LazyString, ngettext
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bpt311 import effects, public_cache, storage
from bpt311.extensions import db
from bpt311.geo import (
    NeighbourhoodFinder,
    bounding_box,
    distance_metres,
    service_area,
)
from bpt311.geocoding import reverse
from bpt311.i18n import current_language, translated
from bpt311.models import (
    SOURCES,
    Category,
    CategoryQuestion,
    Follow,
    Media,
    Neighbourhood,
    Report,
    TimelineEvent,
    User,
    utcnow,
)
from bpt311.notify import enqueue_email
from bpt311.reports import daily, lifecycle
from bpt311.reports.routing import send_on
from bpt311.standing import require_may_write
from bpt311.watchers.events import announce

DESCRIPTION_MIN, DESCRIPTION_MAX = 10, 2000
MAX_PHOTOS = 5
DUPLICATE_RADIUS_M = 250
DUPLICATE_DAYS = 30

# Where a point just outside the city most likely is, and who to contact there.
NEIGHBOURS = [
    ("Fairfield", 41.1412, -73.2637),
    ("Stratford", 41.1845, -73.1332),
    ("Trumbull", 41.2429, -73.2007),
    ("Easton", 41.2529, -73.2973),
]


class ReportError(Exception):
    """Something about a report that the resident can fix."""


class InvalidReport(ReportError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass
class NewReport:
    category_code: str
    description: str
    latitude: float | None
    longitude: float | None
    address: str = ""
    answers: Mapping[str, Any] = field(default_factory=dict)
    contact_name: str = ""
    contact_email: str = ""
    contact_phone: str = ""
    anonymous: bool = False
    source: str = "web"
    submission_key: str | None = None
    media: list[storage.StashedMedia] = field(default_factory=list)
    photo_alt: str = ""
    media_url: str = ""  # a photo elsewhere, linked (Open311); checked by the caller
    # Without a point, accept the address as typed: the report's location is then to be
    # confirmed (geocoded later by bpt311.reports.locating, or placed by staff).
    unplaced: bool = False
    # The neighbourhood the resident chose for an unplaced report (a point finds its own).
    neighbourhood_id: int | None = None


def active_category(code: str) -> Category | None:
    return db.session.scalars(
        select(Category).where(Category.service_code == (code or "").strip(), Category.active)
    ).one_or_none()


def sla_in_words(hours: int) -> str:
    """An SLA as a resident would say it: ``4 hours``, ``3 days``, ``about a month``."""
    if hours < 48:
        return ngettext("%(num)d hour", "%(num)d hours", hours)
    days = round(hours / 24)
    if days < 21:
        return ngettext("%(num)d day", "%(num)d days", days)
    return _("about a month") if days < 45 else _("about %(num)d months", num=round(days / 30))


def receipt_subject(report: Report) -> LazyString:
    """The receipt email's subject, written in the recipient's language when it is queued."""
    return LazyString(
        lambda: _(
            "Your report %(number)s: %(category)s",
            number=report.tracking_number,
            category=translated(report.category, "name"),
        )
    )


# ---- answers to a category's questions -------------------------------------------


def _parse_datetime(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:  # a datetime-local input: the city's own clock
        value = value.replace(tzinfo=ZoneInfo(current_app.config["CITY_TIMEZONE"]))
    return value


def _answer(question: CategoryQuestion, raw: Any) -> tuple[Any, str | None]:
    """The stored value of one answer, or an error message for the resident."""
    values = raw if isinstance(raw, list | tuple) else ([] if raw is None else [raw])
    values = [str(v).strip() for v in values if str(v).strip()]
    label = translated(question, "label")
    if not values:
        if question.required:
            if question.is_list:
                return None, _("Choose an answer to “%(question)s”", question=label)
            return None, _("Enter an answer to “%(question)s”", question=label)
        return None, None
    keys = {option["key"] for option in question.options or []}
    if question.datatype == "multivaluelist":
        unknown = [v for v in values if v not in keys]
        if unknown:
            return None, _("Choose answers from the list for “%(question)s”", question=label)
        return list(dict.fromkeys(values)), None
    value = values[0]
    if question.datatype == "singlevaluelist":
        if value not in keys:
            return None, _("Choose an answer from the list for “%(question)s”", question=label)
        return value, None
    if question.datatype == "number":
        try:
            number = float(value.replace(",", ""))
        except ValueError:
            return None, _("“%(question)s” must be a number, like 3", question=label)
        if not math.isfinite(number) or abs(number) > 1e9:
            return None, _("“%(question)s” must be a sensible number", question=label)
        return (int(number) if number.is_integer() else number), None
    if question.datatype == "datetime":
        try:
            moment = _parse_datetime(value)
        except ValueError:
            return None, _(
                "“%(question)s” must be a date and time, like 2026-11-25 14:30", question=label
            )
        return moment.isoformat(timespec="minutes"), None
    limit = 2000 if question.datatype == "text" else 200
    if len(value) > limit:
        return None, _(
            "“%(question)s” must be %(limit)d characters or fewer", question=label, limit=limit
        )
    return value, None


def validate_answers(
    category: Category, raw: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check answers by type and required flag: (answers to store, errors by question code)."""
    answers, errors = {}, {}
    for question in category.questions:
        value, error = _answer(question, raw.get(question.code))
        if error:
            errors[question.code] = error
        elif value is not None:
            answers[question.code] = value
    return answers, errors


# ---- location ----------------------------------------------------------------


def outside_city_message(latitude: float, longitude: float) -> str:
    town = min(NEIGHBOURS, key=lambda t: distance_metres(latitude, longitude, t[1], t[2]))
    nearest = distance_metres(latitude, longitude, town[1], town[2])
    where = (
        _("It looks like it is in %(town)s: contact the Town of %(town)s about it.", town=town[0])
        if nearest < 15_000
        else _("Contact the town or city it is in.")
    )
    return " ".join(
        (
            _("That location is outside the City of Bridgeport, so the city cannot fix it."),
            where,
            _("If the problem is in Bridgeport, check the location you gave."),
        )
    )


def check_location(latitude: float | None, longitude: float | None) -> tuple[float, float]:
    if latitude is None or longitude is None:
        raise InvalidReport(
            {
                "location": _(
                    "Tell us where the problem is, for example an address "
                    "or the nearest intersection"
                )
            }
        )
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180) or not (
        math.isfinite(latitude) and math.isfinite(longitude)
    ):
        raise InvalidReport({"location": _("That location is not a real place on the map")})
    if not service_area().contains(latitude, longitude):
        raise InvalidReport({"location": outside_city_message(latitude, longitude)})
    return round(latitude, 6), round(longitude, 6)


def neighbourhood_at(latitude: float, longitude: float) -> int | None:
    rows = db.session.execute(select(Neighbourhood.id, Neighbourhood.geometry_json)).all()
    finder = NeighbourhoodFinder([(row.id, json.loads(row.geometry_json)) for row in rows])
    return finder.find(latitude, longitude)


def possible_duplicates(
    category_id: int, latitude: float, longitude: float, limit: int = 5
) -> list[tuple[Report, float]]:
    """Open reports of the same category within about 250 m from the last 30 days,
    nearest first, with their distance in metres."""
    min_lat, min_lon, max_lat, max_lon = bounding_box(latitude, longitude, DUPLICATE_RADIUS_M)
    candidates = db.session.scalars(
        select(Report)
        .where(
            Report.category_id == category_id,
            Report.publicly_visible,  # a hidden report is no one's duplicate to see
            Report.status.in_(("open", "acknowledged")),
            Report.created_at >= utcnow() - timedelta(days=DUPLICATE_DAYS),
            Report.latitude.between(min_lat, max_lat),
            Report.longitude.between(min_lon, max_lon),
        )
        .limit(200)
    ).all()
    near = [
        (report, distance_metres(latitude, longitude, report.latitude, report.longitude))
        for report in candidates
    ]
    near = [(report, metres) for report, metres in near if metres <= DUPLICATE_RADIUS_M]
    return sorted(near, key=lambda pair: pair[1])[:limit]


# ---- submitting ----------------------------------------------------------------


def validate(new: NewReport) -> tuple[Category, dict[str, Any], tuple[float, float] | None]:
    """Every check a report must pass, wherever it comes from; raises InvalidReport.

    The point is None for a report accepted with its address alone (``new.unplaced``)."""
    errors: dict[str, str] = {}
    category = active_category(new.category_code)
    if category is None:
        raise InvalidReport({"category": _("Choose what kind of problem it is from the list")})
    description = (new.description or "").strip()
    if not description:
        errors["description"] = _("Describe the problem")
    elif len(description) < DESCRIPTION_MIN:
        errors["description"] = _(
            "Describe the problem in at least %(min)d characters, "
            "so the crew knows what to look for",
            min=DESCRIPTION_MIN,
        )
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = _(
            "Keep the description to %(max)d characters or fewer", max=DESCRIPTION_MAX
        )
    answers, answer_errors = validate_answers(category, new.answers)
    errors.update({f"answer_{code}": message for code, message in answer_errors.items()})
    if new.source not in SOURCES:
        errors["source"] = "Unknown source"
    photos = [m for m in new.media if m.kind == "photo"]
    if len(photos) > MAX_PHOTOS:
        errors["photos"] = _("Send at most %(max)d photos", max=MAX_PHOTOS)
    if len([m for m in new.media if m.kind == "video"]) > 1:
        errors["video"] = _("Send at most one video")
    point: tuple[float, float] | None = None
    address = " ".join((new.address or "").split())
    if new.unplaced and new.latitude is None and new.longitude is None and address:
        if (
            new.neighbourhood_id is not None
            and db.session.get(Neighbourhood, new.neighbourhood_id) is None
        ):
            errors["neighbourhood"] = _("Choose a neighbourhood from the list")
    else:
        try:
            point = check_location(new.latitude, new.longitude)
        except InvalidReport as exc:
            errors.update(exc.errors)
    if errors:
        raise InvalidReport(errors)
    return category, answers, point


def report_url(report: Report) -> str:
    return f"{current_app.config['SITE_URL']}/reports/{report.tracking_number}"


def _place_file(source: str, extension: str) -> str:
    """Give a stashed file its final name; the stash copy stays until the report commits."""
    name = storage.new_name(extension)
    storage.copy(source, name)  # a hard link on disk, a server-side copy in an object store
    return name


def place_stashed(item: storage.StashedMedia) -> tuple[str, str]:
    """Final names for a stashed upload and its thumbnail (empty for a video), deleted
    again if the caller's transaction fails."""
    name = _place_file(item.file_name, item.extension)
    effects.undo_on_rollback(storage.delete, name, unless=storage.file_owned)
    thumb = _place_file(item.thumb_name, ".thumb.jpg") if item.thumb_name else ""
    if thumb:
        effects.undo_on_rollback(storage.delete, thumb, unless=storage.file_owned)
    return name, thumb


def placed_media(item: storage.StashedMedia, alt_text: str, position: int, **columns) -> Media:
    """A Media row for a stashed upload under its final names (deleted again if the
    transaction fails), ready for its copies; ``columns`` adds the row's other values."""
    name, thumb = place_stashed(item)
    media = Media(
        kind=item.kind,
        file_name=name,
        thumb_name=thumb,
        content_type=item.content_type,
        size_bytes=item.size,
        width=item.width,
        height=item.height,
        alt_text=alt_text,
        position=position,
        **columns,
    )
    storage.prepare_new_media(media)
    return media


def find_by_submission_key(key: str | None) -> Report | None:
    if not key:
        return None
    return db.session.scalars(select(Report).where(Report.submission_key == key)).one_or_none()


def submit_report(new: NewReport, reporter: User | None = None) -> Report:
    """Create a report with all its media, its first timeline event and a receipt email,
    in one transaction; or raise InvalidReport and write nothing.

    A second call with the same ``submission_key`` returns the first report.
    """
    require_may_write(reporter)
    existing = find_by_submission_key(new.submission_key)
    if existing:
        return existing
    category, answers, point = validate(new)
    address = " ".join((new.address or "").split())[:300]
    if point is None:  # the address alone: placed later (bpt311.reports.locating)
        latitude = longitude = None
        neighbourhood_id, pending = new.neighbourhood_id, True
    else:
        latitude, longitude = point
        neighbourhood_id, pending = neighbourhood_at(latitude, longitude), False
        if not address:
            address = reverse(latitude, longitude) or ""
            pending = not address  # the geocoder was down or slow: a job asks again
    now = utcnow()
    report = Report(
        category=category,
        department_id=category.department_id,
        description=new.description.strip(),
        latitude=latitude,
        longitude=longitude,
        address=address,
        neighbourhood_id=neighbourhood_id,
        location_pending=pending,
        status=lifecycle.INITIAL,
        created_at=now,
        updated_at=now,
        due_at=now + timedelta(hours=category.sla_hours),
        reporter=reporter,
        contact_name=new.contact_name.strip()[:120],
        contact_email=new.contact_email.strip()[:254],
        contact_phone=new.contact_phone.strip()[:40],
        anonymous=new.anonymous,
        source=new.source,
        media_url=new.media_url,
        answers=answers,
        submission_key=new.submission_key or None,
        locale=current_language(),  # later emails to a reporter without an account use it
    )
    report.events.append(TimelineEvent(kind="submitted", created_at=now, actor=reporter))
    daily.touch(report)  # today's figures count it as the transaction commits
    try:
        photos = [m for m in new.media if m.kind == "photo"]
        for position, item in enumerate(new.media):
            media = placed_media(
                item,
                _alt_text(new, category, item, photos),
                position,
                # A video as sent waits for its clean copy, unserved (storage/video_copies.py).
                processing_state="ready" if item.servable else "processing",
            )
            report.media.append(media)
        db.session.add(report)
        db.session.flush()
        send_on(report, new=True)  # its route: the city system (a job once committed), email
        if reporter is not None:  # the reporter follows their own report
            db.session.add(Follow(report_id=report.id, user_id=reporter.id))
        if report.has_point:  # watchers of an area hear of it once it has a point
            announce(report, "new", actor=reporter)
        if report.contact_email:
            enqueue_email(
                report.contact_email,
                "report_receipt",
                receipt_subject(report),
                locale=report.locale,
                report_id=report.id,
                report=report,
                report_url=report_url(report),
                response_time=LazyString(sla_in_words, category.sla_hours),
            )
        effects.after_commit(public_cache.changed, report.tracking_number)
        effects.commit()
    except IntegrityError:
        effects.rollback()  # the files placed for it go too
        existing = find_by_submission_key(new.submission_key)
        if existing:  # the same form sent twice at once: the other request won
            return existing
        raise
    except Exception:
        effects.rollback()
        raise
    for item in new.media:
        storage.discard_stashed(item)
    return report


def _alt_text(new: NewReport, category: Category, item, photos) -> str:
    if item.kind == "video":
        return f"Video of the reported {category.name.lower()}"
    number = photos.index(item) + 1
    of = f" (photo {number} of {len(photos)})" if len(photos) > 1 else ""
    described = " ".join(new.photo_alt.split())[:250]
    if described:
        return f"{described}{of}"
    return f"Photo of the reported {category.name.lower()}{of}"
