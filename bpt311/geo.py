"""Where things are: the city's service area, its neighbourhoods and distances in metres."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import shapely
from flask import current_app, has_app_context
from shapely.geometry import Point, shape
from shapely.prepared import prep
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import ServiceBoundary

# Bridgeport spans about 0.1 degree; an equirectangular projection centred on it
# is accurate to well under a metre there, and keeps the maths dependency-free.
ORIGIN_LAT = 41.18
METRES_PER_DEG_LAT = 111_132.0
METRES_PER_DEG_LON = 111_320.0 * math.cos(math.radians(ORIGIN_LAT))


def to_metres(lon: float, lat: float) -> tuple[float, float]:
    """Project lon/lat degrees to x/y metres on the local plane."""
    return lon * METRES_PER_DEG_LON, lat * METRES_PER_DEG_LAT


def project(geometry: dict):
    """A GeoJSON geometry as a shapely shape in local metres."""
    scale = (METRES_PER_DEG_LON, METRES_PER_DEG_LAT)
    return shapely.transform(shape(geometry), lambda xy: xy * scale)


def distance_metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), good for any two points."""
    radius = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """(min_lat, min_lon, max_lat, max_lon) around a point: an index-friendly prefilter."""
    dlat = radius_m / METRES_PER_DEG_LAT
    dlon = radius_m / (111_320.0 * math.cos(math.radians(lat)))
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@dataclass(frozen=True)
class Area:
    name: str
    geometry: dict


def read_areas(path: str | Path) -> list[Area]:
    """The features of a GeoJSON FeatureCollection as named areas."""
    with open(path, encoding="utf-8") as fh:
        collection = json.load(fh)
    return [
        Area(name=feature["properties"].get("name", ""), geometry=feature["geometry"])
        for feature in collection["features"]
    ]


class ServiceArea:
    """The city boundary, with a buffer so piers and shoreline roads still count."""

    def __init__(self, geometry: dict, buffer_m: float):
        self.shape_m = project(geometry).buffer(buffer_m)  # in local metres
        self._prepared = prep(self.shape_m)
        self._margins: dict[float, object] = {}
        self.bounds = shape(geometry).bounds  # (min_lon, min_lat, max_lon, max_lat)

    def with_margin(self, margin_m: float):
        """The area grown by ``margin_m`` metres (in local metres), computed once."""
        if margin_m not in self._margins:
            self._margins[margin_m] = self.shape_m.buffer(margin_m)
        return self._margins[margin_m]

    def contains(self, lat: float, lon: float) -> bool:
        return self._prepared.contains(Point(to_metres(lon, lat)))


def service_area() -> ServiceArea:
    """The city's service area under the app's settings (SERVICE_AREA_FILE, its margin):
    the boundary an administrator uploaded when there is one, else the file."""
    config = current_app.config
    return service_area_from_file(config["SERVICE_AREA_FILE"], config["SERVICE_AREA_BUFFER_METRES"])


def service_area_from_file(path: str, buffer_m: float) -> ServiceArea:
    """The service area: the boundary an administrator uploaded when there is one (the
    newest ``service_boundary`` row), otherwise the boundary file at ``path``.

    Each upload is a new row, so (id, time) is a version: one indexed query per call tells
    every process which shape is current, and each shape is parsed once per process.
    """
    uploaded = uploaded_boundary_version()
    if uploaded is None:
        return _service_area_of_file(path, buffer_m)
    return _service_area_of_upload(uploaded, buffer_m)


def uploaded_boundary_version() -> tuple | None:
    """The newest uploaded boundary's (id, created_at); None without one (or outside an app)."""

    if not has_app_context():
        return None

    row = db.session.execute(
        select(ServiceBoundary.id, ServiceBoundary.created_at)
        .order_by(ServiceBoundary.id.desc())
        .limit(1)
    ).first()
    return tuple(row) if row else None


@lru_cache(maxsize=4)
def _service_area_of_file(path: str, buffer_m: float) -> ServiceArea:
    areas = read_areas(path)
    return ServiceArea(areas[0].geometry, buffer_m)


@lru_cache(maxsize=4)
def _service_area_of_upload(version: tuple, buffer_m: float) -> ServiceArea:
    row = db.session.get(ServiceBoundary, version[0])
    return ServiceArea(json.loads(row.geometry_json), buffer_m)


class NeighbourhoodFinder:
    """Which neighbourhood a point lies in, or the nearest one when it lies in none."""

    def __init__(self, areas: list[tuple[int, dict]], nearest_within_m: float = 1500):
        self._areas = [
            (key, prep(projected), projected)
            for key, geometry in areas
            for projected in [project(geometry)]
        ]
        self._nearest_within_m = nearest_within_m

    def find(self, lat: float, lon: float) -> int | None:
        point = Point(to_metres(lon, lat))
        for key, prepared, _ in self._areas:
            if prepared.contains(point):
                return key
        # The polygons cover about 95 % of the city; the gaps take their nearest neighbour.
        best = min(
            ((projected.distance(point), key) for key, _, projected in self._areas),
            default=None,
        )
        if best and best[0] <= self._nearest_within_m:
            return best[1]
        return None
