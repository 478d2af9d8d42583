"""Location first (#22 item 8), as FixMyStreet and SeeClickFix start: a point chosen on the
map, by the phone's position or by an address, in words, and the reports already near it.
The views are /reports/here and /reports/here.json (listing.py); the report form uses
:func:`describe_point` for a place it is given in its link."""

from __future__ import annotations

from dataclasses import dataclass

from bpt311.extensions import db
from bpt311.geocoding import reverse
from bpt311.models import Neighbourhood
from bpt311.models.reports import place_words
from bpt311.paging import Page
from bpt311.reports import browse, list_pages
from bpt311.reports.service import InvalidReport, check_location, neighbourhood_at

NEAR_METRES = 500  # "near here": the list's 500 m choice, about five minutes' walk
SHOWN = 5  # reports listed beside the map; the rest are a link away


@dataclass(frozen=True)
class PlaceInWords:
    """A point as a resident would read it, or why it cannot be used (``problem``)."""

    latitude: float | None
    longitude: float | None
    address: str = ""  # "" when the geocoder found nothing, or is down or slow
    label: str = ""  # the address, else "Location on the map (Downtown)"
    problem: str = ""  # outside the city, or not a place at all


def describe_point(latitude: float | None, longitude: float | None) -> PlaceInWords:
    """The point in words: its address by reverse geocoding (cached; None, never an error,
    when the geocoder is down), else the neutral words a report placed there would get.
    Commits the geocoder's cache row, so call it before any change of your own."""
    try:
        latitude, longitude = check_location(latitude, longitude)
    except InvalidReport as exc:
        return PlaceInWords(latitude, longitude, problem=exc.errors["location"])
    address = reverse(latitude, longitude) or ""
    neighbourhood = ""
    if not address:
        found = neighbourhood_at(latitude, longitude)
        place = db.session.get(Neighbourhood, found) if found is not None else None
        neighbourhood = place.name if place else ""
    return PlaceInWords(
        latitude, longitude, address, place_words(address, True, neighbourhood), problem=""
    )


def reports_near(place: PlaceInWords) -> Page:
    """Every public report within NEAR_METRES of the place, nearest first (one page)."""
    return list_pages.page_of_reports(
        browse.Filters(
            latitude=place.latitude,
            longitude=place.longitude,
            radius=NEAR_METRES,
            sort="nearest",
        )
    )
