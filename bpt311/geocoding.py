"""Addresses to map points and back, through a Nominatim geocoder, cached in the database."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from geopy.adapters import RequestsAdapter
from geopy.exc import GeocoderQueryError, GeocoderServiceError
from geopy.geocoders import Nominatim
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bpt311 import effects
from bpt311.extensions import db
from bpt311.geo import service_area
from bpt311.models import GeocodeCache

log = logging.getLogger(__name__)

USER_AGENT = "bpt311 (Bridgeport 311)"
DEFAULT_TIMEOUT_SECONDS = 4
QUERY_MAX_LENGTH = 300  # GeocodeCache.query is String(300)

# geopy.exc.GeocoderTimedOut, GeocoderUnavailable and GeocoderQueryError are all
# GeocoderServiceError; OSError and ValueError come from sockets and from parsing a bad answer.
GEOCODER_FAILURES = (GeocoderServiceError, GeocoderQueryError, OSError, ValueError)


@dataclass(frozen=True)
class Place:
    latitude: float
    longitude: float
    address: str


class GeocoderUnavailable(Exception):
    """The geocoder is down, slow or refused; str() is a message for residents saying to
    place a pin or use their location instead, or try again later."""

    def __init__(self, message: str | None = None):
        super().__init__(
            message
            or _(
                "We can't look up addresses right now. Place a pin on the map or use your "
                "location instead, or try again in a few minutes."
            )
        )


def search(text: str, limit: int = 5) -> list[Place]:
    """Places in the city matching an address or intersection, best first; [] if none.

    Answers are cached by the normalised text (empty answers are not), and a cache hit
    makes no network call. Commits the cache row, and with it anything else pending in
    the session, so call this before starting your own changes. Raises
    GeocoderUnavailable when the geocoder is down, slow or refuses the query.
    """
    key = normalise(text)
    if not key:
        return []
    cached = _cached("search", key)
    if cached is not None:
        return [Place(**result) for result in cached][:limit]

    query = " ".join(text.split())
    if "bridgeport" not in key:
        query += ", Bridgeport, CT"
    area = service_area()
    min_lon, min_lat, max_lon, max_lat = area.bounds
    try:
        locations = _geocoder().geocode(
            query,
            exactly_one=False,
            limit=limit,
            addressdetails=True,
            country_codes="us",
            viewbox=[(min_lat, min_lon), (max_lat, max_lon)],
            bounded=True,
        )
        places = _places_inside(locations or [], area)
    except GEOCODER_FAILURES as exc:
        log.warning("geocoder search for %r failed: %r", query, exc)
        raise GeocoderUnavailable() from exc

    if places:
        _remember("search", key, places)
    return places


def reverse(latitude: float, longitude: float, strict: bool = False) -> str | None:
    """A short address for a point ("350 Main Street, Bridgeport"), or None.

    None when the geocoder finds nothing or is down or slow: the address is only for
    display, so this never raises for the geocoder's sake, unless ``strict`` (a job that
    retries later), when a geocoder down or slow raises GeocoderUnavailable. Answers are
    cached by the point rounded to 5 decimals (about a metre); commits the cache row,
    like search().
    """
    key = f"{latitude:.5f},{longitude:.5f}"
    cached = _cached("reverse", key)
    if cached is not None:
        return cached[0]["address"] if cached else None

    try:
        location = _geocoder().reverse((latitude, longitude), exactly_one=True, addressdetails=True)
        address = short_address(location.raw) if location else ""
    except GEOCODER_FAILURES as exc:
        log.warning("geocoder reverse for %s failed: %r", key, exc)
        if strict:
            raise GeocoderUnavailable() from exc
        return None
    if not address:
        return None

    _remember("reverse", key, [Place(location.latitude, location.longitude, address)])
    return address


def short_address(raw: dict) -> str:
    """A Nominatim result as a resident would say it: house number, road and town.

    Falls back to the first three parts of the full display name when the result has
    no road (a park, a pier, a building known only by name).
    """
    parts = raw.get("address") or {}
    road = parts.get("road")
    house_number = parts.get("house_number")
    town = parts.get("city") or parts.get("town") or parts.get("village")
    if road:
        street = f"{house_number} {road}" if house_number else road
        return ", ".join(part for part in (street, town) if part)
    display_name = raw.get("display_name") or ""
    return ", ".join(part.strip() for part in display_name.split(",")[:3] if part.strip())


def normalise(text: str) -> str:
    """The cache key for a search: lower case, whitespace collapsed, at most 300 characters."""
    return " ".join(text.split()).lower()[:QUERY_MAX_LENGTH]


def _places_inside(locations, area) -> list[Place]:
    """Places in the service area, in the geocoder's order, one per distinct address."""
    places: list[Place] = []
    seen: set[str] = set()
    for location in locations:
        if not area.contains(location.latitude, location.longitude):
            continue
        address = short_address(location.raw)
        if not address or address in seen:
            continue
        seen.add(address)
        places.append(Place(location.latitude, location.longitude, address))
    return places


def _cached(kind: str, key: str) -> list[dict] | None:
    return db.session.scalar(
        select(GeocodeCache.results).where(GeocodeCache.kind == kind, GeocodeCache.query == key)
    )


def _remember(kind: str, key: str, places: list[Place]) -> None:
    """Cache an answer and commit it; a twin request that cached it first wins quietly."""
    try:
        # The savepoint keeps a duplicate-key failure from undoing the rest of the session.
        with db.session.begin_nested():
            db.session.add(
                GeocodeCache(kind=kind, query=key, results=[asdict(place) for place in places])
            )
    except IntegrityError:
        log.info("geocode cache already had %s %r", kind, key)
    effects.commit()


def _geocoder() -> Nominatim:
    config = current_app.config
    timeout = float(config.get("GEOCODER_TIMEOUT", DEFAULT_TIMEOUT_SECONDS))
    return _nominatim(config["GEOCODER_URL"], timeout)


@lru_cache(maxsize=4)
def _nominatim(url: str, timeout: float) -> Nominatim:
    """One geocoder per URL and timeout, so its HTTP connections are kept alive and reused."""
    parts = urlsplit(url.strip())
    if not parts.netloc:  # "nominatim.example.org" with no scheme
        parts = urlsplit("https://" + url.strip())
    return Nominatim(
        domain=parts.netloc + parts.path.rstrip("/"),
        scheme=parts.scheme,
        user_agent=USER_AGENT,
        timeout=timeout,
        # geopy retries twice by default, read timeouts included, so a slow geocoder would
        # keep a resident waiting three times the timeout.
        adapter_factory=lambda proxies, ssl_context: RequestsAdapter(
            proxies=proxies, ssl_context=ssl_context, max_retries=0
        ),
    )
