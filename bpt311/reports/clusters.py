"""The map at any zoom: counts on a grid below street level, points at street level.

``/reports.geojson?bbox=…&zoom=…`` asks for what a map of that box at that zoom can show.
Below :data:`STREET_ZOOM` the matching reports are counted in SQL on a grid of square-ish
cells (``GROUP BY floor(lat/cell), floor(lon/cell)``, with the mean position of each cell),
so the answer is a few hundred small features whether the box holds ten reports or a
hundred thousand. At street level it is the reports themselves, at most
:data:`POINT_CAP`, with ``"truncated": true`` when there were more. Both engines run the
same query; only the rounding down is spelled differently.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sqlalchemy import Integer, cast, func

from bpt311.extensions import db
from bpt311.models import Report
from bpt311.reports import browse

STREET_ZOOM = 16  # from here on the map shows reports, below it counts
MAX_ZOOM = 22
CELL_PIXELS = 64  # a cell is about this many screen pixels wide at the asked zoom
MAX_CELLS_ACROSS = 40  # whatever box and zoom are asked, at most 41 x 41 cells
POINT_CAP = 1000  # reports at street level (about 60 KB compressed, see performance.md)


@dataclass(frozen=True)
class Cell:
    count: int
    latitude: float
    longitude: float


def parse_zoom(text: str) -> int:
    """A map zoom level, a whole number from 0 to :data:`MAX_ZOOM`; ValueError otherwise."""
    message = f"zoom must be a whole number from 0 to {MAX_ZOOM}"
    try:
        zoom = int((text or "").strip())
    except ValueError as exc:
        raise ValueError(message) from exc
    if not 0 <= zoom <= MAX_ZOOM:
        raise ValueError(message)
    return zoom


def shows_points(zoom: int) -> bool:
    return zoom >= STREET_ZOOM


def cell_size(bbox: tuple[float, float, float, float], zoom: int) -> tuple[float, float]:
    """Degrees of latitude and longitude of one grid cell: about :data:`CELL_PIXELS` wide
    on a Web Mercator map at ``zoom``, never so small that the box spans more than
    :data:`MAX_CELLS_ACROSS` cells either way (a box and a zoom that do not go together
    cannot ask for a million cells)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    squash = max(math.cos(math.radians((min_lat + max_lat) / 2)), 0.01)
    lon_cell = 360 / 2**zoom * CELL_PIXELS / 256
    lon_cell = max(lon_cell, (max_lon - min_lon) / MAX_CELLS_ACROSS)
    lat_cell = max(lon_cell * squash, (max_lat - min_lat) / MAX_CELLS_ACROSS)
    return lat_cell, lon_cell


def _cell_index(column, origin: float, size: float):
    """floor((column - origin) / size) in SQL. ``origin`` is the map's edge, so the quotient
    is never negative and SQLite's CAST (which truncates) rounds down; PostgreSQL's CAST
    rounds to nearest, so it gets floor()."""
    quotient = (column - origin) / size
    if db.engine.dialect.name == "postgresql":
        return func.floor(quotient)
    return cast(quotient, Integer)


def cells(filters: browse.Filters, zoom: int, session) -> list[Cell]:
    """The publicly visible reports matching ``filters`` (which hold the box) counted per
    grid cell, with the mean position of each cell's reports. One query."""
    lat_cell, lon_cell = cell_size(filters.bbox, zoom)
    row = _cell_index(Report.latitude, -90.0, lat_cell)
    column = _cell_index(Report.longitude, -180.0, lon_cell)
    query = (
        browse.filtered(filters)
        .order_by(None)
        .where(Report.latitude.is_not(None), Report.longitude.is_not(None))
        .with_only_columns(
            func.count().label("n"),
            func.avg(Report.latitude).label("lat"),
            func.avg(Report.longitude).label("lon"),
        )
        .group_by(row, column)
    )
    return [
        Cell(int(found.n), round(float(found.lat), 5), round(float(found.lon), 5))
        for found in session.execute(query)
    ]
