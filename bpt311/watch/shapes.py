"""The shape of a watch area: checking what a resident drew or chose, and testing points.

Shapes are kept in lon/lat. The local projection of :mod:`bpt311.geo` only scales each
axis, so a point is inside a polygon in degrees exactly when it is inside in metres;
metres are used for sizes only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import shapely
from babel.numbers import format_decimal
from flask_babel import get_locale
from flask_babel import gettext as _
from shapely.geometry import shape as to_shape

from bpt311.geo import bounding_box, project, service_area
from bpt311.models import Neighbourhood

MAX_VERTICES = 500
MAX_GEOJSON_CHARS = 64_000  # 500 points at full precision fit in about 25,000
MIN_RADIUS_M, MAX_RADIUS_M = 25, 5000
MIN_AREA_M2 = 100
# A drawn shape may overshoot the city line by this much (a street just across it),
# and can never be larger than the city with this margin.
CITY_MARGIN_M = 1000


class InvalidArea(Exception):
    """Something about a watch area the resident can fix; ``field`` is the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Outline:
    """A checked shape, ready to store."""

    shape: str  # "polygon", "circle" or "neighbourhood"
    geometry_json: str
    bbox: tuple[float, float, float, float]  # min_lat, min_lon, max_lat, max_lon
    radius_m: float | None = None
    neighbourhood_id: int | None = None
    place_label: str = ""


def city_shapes():
    """(the service area, the service area with the margin) in local metres: the boundary
    an administrator uploaded when there is one, else the boundary file."""
    area = service_area()
    return area.shape_m, area.with_margin(CITY_MARGIN_M)


def _in_city(latitude: float, longitude: float) -> bool:
    return service_area().contains(latitude, longitude)


def _finite_point(latitude, longitude, field: str) -> tuple[float, float]:
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError) as exc:
        raise InvalidArea(field, _("That place is not a point on the map")) from exc
    if not (math.isfinite(lat) and math.isfinite(lon) and abs(lat) <= 90 and abs(lon) <= 180):
        raise InvalidArea(field, _("That place is not a point on the map"))
    return lat, lon


# ---- circles ---------------------------------------------------------------------------


def parse_radius(text, field: str = "radius") -> float:
    """Metres from what a person typed ("300", "300 m", "1,000"); InvalidArea otherwise."""
    cleaned = str(text or "").strip().lower().removesuffix("m").strip().replace(",", "")
    if not cleaned:
        raise InvalidArea(field, _("Enter how far around the address to watch, in metres"))
    try:
        radius = float(cleaned)
    except ValueError as exc:
        raise InvalidArea(field, _("Enter the distance as a number of metres, like 300")) from exc
    return check_radius(radius, field)


def check_radius(radius: float, field: str = "radius") -> float:
    if not math.isfinite(radius) or not MIN_RADIUS_M <= radius <= MAX_RADIUS_M:
        raise InvalidArea(
            field,
            _(
                "Choose a distance between %(least)s and %(most)s metres (5 km is about 3 miles)",
                least=MIN_RADIUS_M,
                most=_number(MAX_RADIUS_M),
            ),
        )
    return round(radius, 1)


def circle(latitude, longitude, radius_m: float, place_label: str = "", field="address"):
    """A circle around a point in the city."""
    lat, lon = _finite_point(latitude, longitude, field)
    radius = check_radius(float(radius_m), "radius" if field == "address" else field)
    if not _in_city(lat, lon):
        raise InvalidArea(
            field, _("That place is outside Bridgeport. Watch areas must be centred in the city.")
        )
    lat, lon = round(lat, 6), round(lon, 6)
    return Outline(
        shape="circle",
        geometry_json=json.dumps({"type": "Point", "coordinates": [lon, lat]}),
        bbox=bounding_box(lat, lon, radius),
        radius_m=radius,
        place_label=" ".join((place_label or "").split())[:300],
    )


# ---- polygons drawn on the map ------------------------------------------------------------


def _rings(geometry: dict) -> list:
    coordinates = geometry.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates:
        raise ValueError("no coordinates")
    for ring in coordinates:
        if not isinstance(ring, list):
            raise ValueError("a ring is not a list")
        for point in ring:
            if (
                not isinstance(point, list)
                or len(point) != 2
                or not all(
                    isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                    for v in point
                )
                or abs(point[0]) > 180
                or abs(point[1]) > 90
            ):
                raise ValueError("a point is not two numbers on the map")
    return coordinates


def polygon(geojson_text: str, field: str = "geometry") -> Outline:
    """A polygon drawn on the map, as GeoJSON text: valid, small enough, in the city."""
    text = (geojson_text or "").strip()
    if not text:
        raise InvalidArea(field, _("Draw the area on the map, or choose another way to set it"))
    if len(text) > MAX_GEOJSON_CHARS:
        raise InvalidArea(
            field,
            _("That shape has too many points: draw it with at most %(count)s", count=MAX_VERTICES),
        )
    try:
        geometry = json.loads(text)
        if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
            raise ValueError("not a polygon")
        rings = _rings(geometry)
    except ValueError as exc:
        raise InvalidArea(field, _("That shape could not be read. Draw it again.")) from exc
    vertices = sum(len(ring) for ring in rings)
    if vertices > MAX_VERTICES + len(rings):  # a closed ring repeats its first point
        raise InvalidArea(
            field,
            _("That shape has too many points: draw it with at most %(count)s", count=MAX_VERTICES),
        )
    if any(len({tuple(p) for p in ring}) < 3 for ring in rings):
        raise InvalidArea(field, _("An area needs at least three corners. Draw it again."))
    try:
        found = to_shape(geometry)
    except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:
        raise InvalidArea(field, _("That shape could not be read. Draw it again.")) from exc
    if not found.is_valid:
        reason = shapely.is_valid_reason(found)
        if "Self-intersection" in reason:
            raise InvalidArea(
                field,
                _("The outline crosses itself. Draw it again so that its sides do not cross."),
            )
        raise InvalidArea(
            field, _("That shape cannot be used (%(reason)s). Draw it again.", reason=reason)
        )
    in_metres = project(geometry)
    city, city_with_margin = city_shapes()
    if in_metres.area < MIN_AREA_M2:
        raise InvalidArea(field, _("That area is too small to find anything in. Draw it larger."))
    if in_metres.area > city_with_margin.area:
        raise InvalidArea(
            field,
            _(
                "That area is larger than the city. Draw a smaller one, or follow a "
                "neighbourhood's or the city's feed instead."
            ),
        )
    if not in_metres.intersects(city):
        raise InvalidArea(field, _("That area is outside Bridgeport. Draw it inside the city."))
    if not city_with_margin.covers(in_metres):
        raise InvalidArea(
            field,
            _("That area reaches more than 1 km past the city line. Keep it inside Bridgeport."),
        )
    # Stored oriented and rounded to about 10 cm, which is all a drawing means.
    clean = shapely.geometry.polygon.orient(found)
    stored = json.loads(shapely.to_geojson(shapely.set_precision(clean, 1e-6)))
    min_lon, min_lat, max_lon, max_lat = found.bounds
    return Outline(
        shape="polygon",
        geometry_json=json.dumps(stored, separators=(",", ":")),
        bbox=(min_lat, min_lon, max_lat, max_lon),
    )


def drawn(geojson_text: str, radius_text="", field: str = "geometry") -> Outline:
    """What was drawn on the map: a Polygon, or a circle as its centre Point and a radius."""
    text = (geojson_text or "").strip()
    if not text.startswith("{") or len(text) > MAX_GEOJSON_CHARS:
        return polygon(text, field)  # says what is wrong
    try:
        geometry = json.loads(text)
    except ValueError as exc:
        raise InvalidArea(field, _("That shape could not be read. Draw it again.")) from exc
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        return polygon(text, field)
    try:
        lon, lat = geometry["coordinates"]
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidArea(field, _("That circle could not be read. Draw it again.")) from exc
    return circle(lat, lon, parse_radius(radius_text, field), field=field)


# ---- neighbourhoods ------------------------------------------------------------------


def of_neighbourhood(neighbourhood: Neighbourhood | None, field="neighbourhood") -> Outline:
    if neighbourhood is None:
        raise InvalidArea(field, _("Choose a neighbourhood from the list"))
    return Outline(
        shape="neighbourhood",
        geometry_json=neighbourhood.geometry_json,
        bbox=(
            neighbourhood.min_lat,
            neighbourhood.min_lon,
            neighbourhood.max_lat,
            neighbourhood.max_lon,
        ),
        neighbourhood_id=neighbourhood.id,
        place_label=neighbourhood.name,
    )


def _number(value: float, pattern: str = "#,##0") -> str:
    return format_decimal(value, pattern, locale=get_locale() or "en")


def describe(area) -> str:
    """Where an area is, in words, in the page's language."""
    if area.shape == "circle":
        if area.place_label:
            return _(
                "Within %(distance)s m of %(place)s",
                distance=_number(area.radius_m),
                place=area.place_label,
            )
        return _(
            "Within %(distance)s m of a point chosen on the map", distance=_number(area.radius_m)
        )
    if area.shape == "neighbourhood":
        return _("The %(name)s neighbourhood", name=area.place_label)
    hectares = project(json.loads(area.geometry_json)).area / 10_000
    if hectares >= 100:
        return _(
            "A shape drawn on the map, about %(size)s km²", size=_number(hectares / 100, "#,##0.0")
        )
    return _("A shape drawn on the map, about %(size)s hectares", size=_number(hectares, "#,##0.0"))
