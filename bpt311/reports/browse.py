"""Finding reports: the filters of the public list, map and exports, as one query.

Every list-like page parses the same GET parameters with :class:`FilterForm`,
turns them into a :class:`Filters`, and asks :func:`filtered` for a SELECT that
it pages, counts, maps or streams. Bad values never raise: they come back as
messages on the form and the filter is left out (or, for an unknown category or
neighbourhood, matches nothing).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from cachetools import LRUCache
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, literal_column, or_, select, text
from wtforms import Form, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.widgets import CheckboxInput, ListWidget
from wtforms.widgets import Select as SelectWidget

from bpt311 import public_cache
from bpt311.dates import DayField, city_midnight, date_problems
from bpt311.extensions import db
from bpt311.geo import METRES_PER_DEG_LAT, bounding_box
from bpt311.geocoding import GeocoderUnavailable, search
from bpt311.i18n import current_language, translated
from bpt311.models import (
    Category,
    Neighbourhood,
    Report,
    report_id_from_tracking_number,
)
from bpt311.models.search import PG_VECTOR

PAGE_SIZE = 20
MAX_PAGE = 500  # deeper than 10,000 rows, narrow the search instead
COUNT_CAP = PAGE_SIZE * MAX_PAGE  # the public list counts no further than it pages
RADII = [(250, "250 m"), (500, "500 m"), (1000, "1 km"), (2000, "2 km")]
SORTS = [
    ("newest", _l("Newest first")),
    ("votes", _l("Most votes")),
    ("updated", _l("Recently updated")),
    ("nearest", _l("Nearest first")),
]
STATUS_CHOICES = [
    ("open", _l("Open")),
    ("acknowledged", _l("Acknowledged")),
    ("closed", _l("Closed")),
]


class RememberedSelect(SelectWidget):
    """A <select> rendered once per list of options, selection and attributes.

    The filter form's selects hold every category (in groups) and neighbourhood; WTForms
    builds each option's attributes afresh on every page, which cost more than the list's
    own query. The options come from the catalogue in the page's language, so the key (the
    options as shown, the selection, the attributes) changes when either changes: a
    category renamed or added is never shown stale, in any process."""

    _rendered: LRUCache = LRUCache(maxsize=2048)
    _lock = threading.Lock()

    def __call__(self, field, **kwargs):
        key = (
            field.name,
            tuple(sorted((k, str(v)) for k, v in kwargs.items())),
            tuple(_option_key(choice) for choice in field.choices or ()),
            str(field.data),
        )
        with self._lock:
            html = self._rendered.get(key)
        if html is None:
            html = super().__call__(field, **kwargs)
            with self._lock:
                self._rendered[key] = html
        return html


def _option_key(choice) -> tuple:
    if isinstance(choice, SelectChoice):
        render_kw = tuple(sorted((k, str(v)) for k, v in (choice.render_kw or {}).items()))
        return (choice.value, str(choice.label), choice.optgroup, render_kw)
    return tuple(str(part) for part in choice)


class Checkboxes(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class FilterForm(Form):
    """The GET form above every list; no CSRF (it changes nothing)."""

    q = StringField(_l("Search words or a tracking number"))
    category = SelectField(_l("Kind of problem"), validate_choice=False, widget=RememberedSelect())
    group = SelectField(_l("Group"), validate_choice=False, widget=RememberedSelect())
    status = Checkboxes(
        _l("Status"), choices=[SelectChoice(*c) for c in STATUS_CHOICES], validate_choice=False
    )
    neighbourhood = SelectField(
        _l("Neighbourhood"), validate_choice=False, widget=RememberedSelect()
    )
    date_from = DayField(_l("Reported from"))
    date_to = DayField(_l("Reported until"))
    near = StringField(_l("Near an address"))
    radius = SelectField(
        _l("Within"),
        choices=[SelectChoice(str(r), label) for r, label in RADII],
        default="500",
        validate_choice=False,
        widget=RememberedSelect(),
    )
    sort = SelectField(
        _l("Sort by"),
        choices=[SelectChoice(*c) for c in SORTS],
        default="newest",
        validate_choice=False,
        widget=RememberedSelect(),
    )


@dataclass
class Filters:
    q: str = ""
    category: str = ""
    group: str = ""
    statuses: list[str] = field(default_factory=list)
    neighbourhood: str = ""
    date_from: date | None = None
    date_to: date | None = None
    near: str = ""
    latitude: float | None = None
    longitude: float | None = None
    radius: int = 500
    sort: str = "newest"
    page: int = 1
    bbox: tuple[float, float, float, float] | None = None

    @property
    def has_point(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def is_empty(self) -> bool:
        return not (
            self.q
            or self.category
            or self.group
            or self.statuses
            or self.neighbourhood
            or self.date_from
            or self.date_to
            or self.has_point
        )


def finite_number(text: str | None) -> float | None:
    """A query string's number, or None for anything else ("nan" and "inf" included)."""
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def parse_bbox(text: str) -> tuple[float, float, float, float]:
    """``minLon,minLat,maxLon,maxLat`` as a tuple; ValueError with a message otherwise."""
    parts = [p.strip() for p in (text or "").split(",")]
    if len(parts) != 4:
        raise ValueError("bbox must be four numbers: minLon,minLat,maxLon,maxLat")
    try:
        min_lon, min_lat, max_lon, max_lat = (float(p) for p in parts)
    except ValueError as exc:
        raise ValueError("bbox must be four numbers: minLon,minLat,maxLon,maxLat") from exc
    if not all(math.isfinite(v) for v in (min_lon, min_lat, max_lon, max_lat)):
        raise ValueError("bbox must be four finite numbers")
    if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
        raise ValueError("bbox corners must be in order and on the map")
    return min_lon, min_lat, max_lon, max_lat


def filter_form(args) -> tuple[FilterForm, Filters, list[str]]:
    """The filter form bound to ``args``, the filters it means, and messages about bad input."""
    form = FilterForm(args)
    choices = filter_choices()
    form.category.choices = choices.categories
    form.group.choices = choices.groups
    form.neighbourhood.choices = choices.neighbourhoods
    form.validate()
    problems = date_problems(form)
    filters = Filters(
        q=(form.q.data or "").strip()[:200],
        category=(form.category.data or "").strip()[:64],
        group=(form.group.data or "").strip()[:80],
        statuses=[s for s in form.status.data or [] if s in dict(STATUS_CHOICES)],
        neighbourhood=(form.neighbourhood.data or "").strip()[:120],
        date_from=form.date_from.day,
        date_to=form.date_to.day,
        near=(form.near.data or "").strip()[:200],
        sort=form.sort.data if form.sort.data in dict(SORTS) else "newest",
    )
    radius = finite_number(form.radius.data)
    filters.radius = int(radius) if radius and 50 <= radius <= 5000 else 500
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        problems.append(_("The “from” date is after the “until” date, so nothing can match"))
    latitude, longitude = finite_number(args.get("lat")), finite_number(args.get("lon"))
    if (
        latitude is not None
        and longitude is not None
        and abs(latitude) <= 90
        and abs(longitude) <= 180
    ):
        filters.latitude, filters.longitude = latitude, longitude
    elif filters.near:
        _locate(filters, problems)
    page = finite_number(args.get("page"))
    filters.page = max(1, min(int(page), MAX_PAGE + 1)) if page else 1
    if filters.sort == "nearest" and not filters.has_point:
        filters.sort = "newest"
        problems.append(_("To sort by nearest, give an address or use your location"))
    return form, filters, problems


def _locate(filters: Filters, problems: list[str]) -> None:
    try:
        places = search(filters.near, limit=1)
    except GeocoderUnavailable:
        problems.append(_("We cannot look up addresses right now, so “near” was left out"))
        return
    if not places:
        problems.append(_("We could not find “%(place)s” in Bridgeport", place=filters.near))
        return
    filters.latitude, filters.longitude = places[0].latitude, places[0].longitude


@dataclass(frozen=True)
class FilterChoices:
    categories: list[SelectChoice]
    groups: list[SelectChoice]
    neighbourhoods: list[SelectChoice]
    # The filter forms rendered with these choices (reports/listing.py's
    # filter_form_html), by what they show: they go when the choices are read again.
    rendered: LRUCache = field(default_factory=lambda: LRUCache(maxsize=512), compare=False)


def filter_choices() -> FilterChoices:
    """The filter form's kinds, groups and neighbourhoods in the page's language, read
    once per process every FILTER_CHOICES_SECONDS (``public_cache.kept_a_while``) rather
    than on every page: two queries and the translations of every category. A change to
    the catalogue or the places made in this process shows at once (it counts as a
    whole-site change, ``public_cache.changed()``); other processes within the seconds."""

    def read() -> FilterChoices:
        groups = category_choices()
        return FilterChoices(
            categories=[SelectChoice("", _("All kinds")), *groups["categories"]],
            groups=[SelectChoice("", _("All groups")), *groups["groups"]],
            neighbourhoods=[
                SelectChoice("", _("All neighbourhoods")),
                *(SelectChoice(slug, name) for slug, name in neighbourhood_choices()),
            ],
        )

    return public_cache.kept_a_while("filter choices", current_language(), read).value


def category_choices() -> dict[str, list]:
    rows = db.session.execute(
        select(Category.service_code, Category.name, Category.group, Category.translations)
        .where(Category.active)
        .order_by(Category.position)
    ).all()
    # The values stay the English names the filters match; the labels are translated.
    groups = dict((row.group, translated(row, "group")) for row in rows)
    return {
        "categories": [
            SelectChoice(row.service_code, translated(row, "name"), optgroup=groups[row.group])
            for row in rows
        ],
        "groups": [SelectChoice(group, label) for group, label in groups.items()],
    }


def neighbourhood_choices() -> list[tuple[str, str]]:
    rows = db.session.execute(
        select(Neighbourhood.slug, Neighbourhood.name).order_by(Neighbourhood.name)
    ).all()
    return [(row.slug, row.name) for row in rows]


def _squared_metres(latitude: float, longitude: float):
    """Squared distance in metres from a point, in plain SQL arithmetic (both engines)."""
    metres_per_lon = 111_320.0 * math.cos(math.radians(latitude))
    dy = (Report.latitude - latitude) * METRES_PER_DEG_LAT
    dx = (Report.longitude - longitude) * metres_per_lon
    return dy * dy + dx * dx


def _old_number(words: str):
    """Matches a report imported under this number from an earlier system (SCF-1234567)."""
    text_ = words.strip()
    if not text_ or len(text_) > 100 or " " in text_ or not text_.isprintable():
        return None
    wanted = [text_, text_[4:]] if text_.upper().startswith("SCF-") else [text_]
    return Report.import_id.in_(wanted)


def _text_search(query: Select, words: str) -> Select:
    report_id = report_id_from_tracking_number(words)
    if report_id is not None:
        return query.where(Report.id == report_id)
    old = _old_number(words)
    if db.engine.dialect.name == "postgresql":
        found = literal_column(PG_VECTOR).op("@@")(func.websearch_to_tsquery("english", words))
        return query.where(found if old is None else or_(found, old))
    tokens = re.findall(r"\w+", words.lower())[:12]
    if not tokens:
        return query
    # Every word, as a prefix; quoted so nothing typed is read as FTS5 syntax.
    match = " ".join(f'"{token}"*' for token in tokens)
    found = Report.id.in_(
        select(literal_column("rowid"))
        .select_from(text("report_fts"))
        .where(text("report_fts MATCH :match").bindparams(match=match))
    )
    return query.where(found if old is None else or_(found, old))


def statuses_only(filters: Filters, box_allowed: bool = False) -> bool:
    """Whether nothing but statuses (and, with ``box_allowed``, the box) narrows the
    reports: what the map's summary (per fine cell and status) can count alone. A filter
    added to Filters later counts as narrowing until the summary learns it."""
    plain = Filters()
    rest = replace(
        filters,
        statuses=[],
        bbox=None if box_allowed else filters.bbox,
        sort=plain.sort,
        page=plain.page,
        radius=plain.radius,
    )
    return rest == plain


def statuses_wanted(filters: Filters) -> list[str]:
    """The statuses the filter's choice stands for: closed includes archived."""
    wanted = set(filters.statuses)
    if "closed" in wanted:
        wanted.add("archived")
    return sorted(wanted)


def filtered(filters: Filters, include_hidden: bool = False) -> Select:
    """SELECT Report with every filter applied, in the chosen order; reports the
    moderators hid are left out unless ``include_hidden`` (the staff queue)."""
    query = select(Report)
    if not include_hidden:
        query = query.where(Report.publicly_visible)
    if filters.category:
        query = query.where(
            Report.category_id.in_(
                select(Category.id).where(Category.service_code == filters.category)
            )
        )
    if filters.group:
        query = query.where(
            Report.category_id.in_(select(Category.id).where(Category.group == filters.group))
        )
    if filters.statuses:
        query = query.where(Report.status.in_(statuses_wanted(filters)))
    if filters.neighbourhood:
        query = query.where(
            Report.neighbourhood_id.in_(
                select(Neighbourhood.id).where(Neighbourhood.slug == filters.neighbourhood)
            )
        )
    if filters.date_from:
        query = query.where(Report.created_at >= city_midnight(filters.date_from))
    if filters.date_to:
        query = query.where(Report.created_at < city_midnight(filters.date_to + timedelta(days=1)))
    if filters.q:
        query = _text_search(query, filters.q)
    if filters.has_point:
        min_lat, min_lon, max_lat, max_lon = bounding_box(
            filters.latitude, filters.longitude, filters.radius
        )
        query = query.where(
            Report.latitude.between(min_lat, max_lat),
            Report.longitude.between(min_lon, max_lon),
            _squared_metres(filters.latitude, filters.longitude) <= filters.radius**2,
        )
    if filters.bbox:
        min_lon, min_lat, max_lon, max_lat = filters.bbox
        query = query.where(
            Report.latitude.between(min_lat, max_lat),
            Report.longitude.between(min_lon, max_lon),
        )
    return query.order_by(*ordering(filters))


def ordering(filters: Filters):
    if filters.sort == "votes":
        return [Report.vote_count.desc(), Report.id.desc()]
    if filters.sort == "updated":
        return [Report.updated_at.desc(), Report.id.desc()]
    if filters.sort == "nearest" and filters.has_point:
        return [_squared_metres(filters.latitude, filters.longitude), Report.id.desc()]
    return [Report.created_at.desc(), Report.id.desc()]
