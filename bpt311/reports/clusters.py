"""The map at any zoom: counts on a grid below street level, points at street level.

``/reports.geojson?bbox=…&zoom=…`` asks for what a map of that box at that zoom can show.
Below :data:`STREET_ZOOM` the matching reports are counted in SQL per fine cell of a fixed
grid (models/map_cells.py: ``GROUP BY floor(lat/cell), floor(lon/cell)`` with the count and
mean position), and the fine cells are added up here into cells 2, 4, 8… fine cells wide,
about CELL_PIXELS on the screen at that zoom; so the answer is at most MAX_CELLS small
features whether the box holds ten reports or a hundred thousand. At street level it is the
reports themselves, at most :data:`POINT_CAP`, with ``"truncated": true`` when there were
more. Both engines give the same cells; only how SQL rounds down is spelled differently.

When the map asks for nothing but the box (and perhaps statuses), the fine cells are read
from the map's summary instead (``map_cell``, reports/map_summary.py: a few thousand rows
for a whole city, whatever the number of reports), except the fine cells the box's edges
cut through: the summary cannot tell which of their reports are inside, so those are
counted exactly from ``report``, as before. A fine cell strictly inside the box holds only
reports inside it (the rounding down is monotonic), so the answer is the same as counting
every report: same cells, same counts, same mean positions. Any other filter (words, a
kind, a group, a neighbourhood, dates, a point) is counted from ``report`` throughout.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from fractions import Fraction

from sqlalchemy import Float, Integer, bindparam, cast, func, literal_column, select

from bpt311.extensions import db
from bpt311.models import Report, map_cell, map_cells
from bpt311.models.map_cells import FINE_LAT, FINE_LON, KEY_BASE, micro
from bpt311.reports import browse, map_summary

STREET_ZOOM = 16  # from here on the map shows reports, below it counts
MAX_ZOOM = 22
CELL_PIXELS = 64  # a cell is about this many screen pixels wide at the asked zoom
MAX_CELLS = 1900  # whatever box and zoom are asked, at most this many cells (features)
MAX_FINE_CELLS = 60_000  # boxes holding more fine cells are counted on their own grid
POINT_CAP = 500  # reports at street level: more is a blur of pins (about 15 KB compressed)


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


def _span(low: float, high: float, origin: float, size: float) -> tuple[int, int]:
    """The first and last cell index a range covers (the operands are never negative, so
    int() rounds down)."""
    return int((low - origin) / size), int((high - origin) / size)


def _cells_in(bbox, lat_cell: float, lon_cell: float) -> int:
    min_lon, min_lat, max_lon, max_lat = bbox
    first_row, last_row = _span(min_lat, max_lat, -90.0, lat_cell)
    first_col, last_col = _span(min_lon, max_lon, -180.0, lon_cell)
    return (last_row - first_row + 1) * (last_col - first_col + 1)


def grid_step(bbox: tuple[float, float, float, float], zoom: int) -> int:
    """How many fine cells (map_cells.FINE_LON wide) make one cell of the answer, as a
    power of two: about CELL_PIXELS on a Web Mercator map at ``zoom``, and never so small
    that the box holds more than MAX_CELLS (a box and a zoom that do not go together
    cannot ask for a million cells)."""
    wanted = 360 / 2**zoom * CELL_PIXELS / 256
    step = max(0, round(math.log2(wanted / FINE_LON)))
    while _cells_in(bbox, FINE_LAT * 2**step, FINE_LON * 2**step) > MAX_CELLS:
        step += 1
    return step


def cell_size(bbox: tuple[float, float, float, float], zoom: int) -> tuple[float, float]:
    """Degrees of latitude and longitude of one cell of the answer."""
    step = grid_step(bbox, zoom)
    return FINE_LAT * 2**step, FINE_LON * 2**step


def _visible(filters: browse.Filters):
    return (
        browse.filtered(filters)
        .order_by(None)
        .where(Report.latitude.is_not(None), Report.longitude.is_not(None))
    )


def _totals():
    """How many reports, and the sums of their coordinates in millionths of a degree:
    integers, exact whatever order the database adds them in (reports are placed to the
    millionth), so every path gives the same mean positions to the last digit."""
    return (
        func.count().label("n"),
        func.sum(micro(Report.latitude)).label("lat"),
        func.sum(micro(Report.longitude)).label("lon"),
    )


def _fine_rows(filters: browse.Filters, session):
    """(row, column, count, latitude sum, longitude sum) per fine cell in the box, counted
    from ``report`` (sums in millionths of a degree)."""
    totals = _totals()
    if db.engine.dialect.name == "sqlite":
        # Grouped in the order of the fine-cell index (no sort); the key's range is what
        # makes SQLite choose that index.
        key = literal_column(map_cells.sqlite_key("report"))
        min_lon, min_lat, max_lon, max_lat = filters.bbox
        first_row, last_row = _span(min_lat, max_lat, -90.0, FINE_LAT)
        query = (
            _visible(filters)
            .where(
                key >= first_row * map_cells.KEY_BASE,
                key < (last_row + 1) * map_cells.KEY_BASE,
            )
            .with_only_columns(key.label("key"), *totals)
            .group_by(key)
        )
        for found in session.execute(query):
            row, column = divmod(int(found.key), map_cells.KEY_BASE)
            yield row, column, found.n, found.lat, found.lon
        return
    row = func.floor((Report.latitude + 90.0) / FINE_LAT)
    column = func.floor((Report.longitude + 180.0) / FINE_LON)
    query = (
        _visible(filters)
        .with_only_columns(row.label("row"), column.label("col"), *totals)
        .group_by(row, column)
    )
    for found in session.execute(query):
        yield int(found.row), int(found.col), found.n, found.lat, found.lon


def _coarse_rows(filters: browse.Filters, step: int, session):
    """The same, counted straight on cells 2**step fine cells wide: for boxes too big for
    the fine grid (a whole region at a low zoom). floor(x / (c * 2**k)) is exactly
    floor(floor(x / c) / 2**k), so the cells are the same as the fine grid's."""
    lat_cell, lon_cell = FINE_LAT * 2**step, FINE_LON * 2**step
    if db.engine.dialect.name == "postgresql":
        row = func.floor((Report.latitude + 90.0) / lat_cell)
        column = func.floor((Report.longitude + 180.0) / lon_cell)
    else:
        row = cast((Report.latitude + 90.0) / lat_cell, Integer)
        column = cast((Report.longitude + 180.0) / lon_cell, Integer)
    query = (
        _visible(filters)
        .with_only_columns(row.label("row"), column.label("col"), *_totals())
        .group_by(row, column)
    )
    for found in session.execute(query):
        yield int(found.row), int(found.col), found.n, found.lat, found.lon


def _summary_rows(filters: browse.Filters, session):
    """The same rows as :func:`_fine_rows`, from the map's summary (two queries): the
    box's fine cells, then those its edges cut through counted again from ``report``."""
    min_lon, min_lat, max_lon, max_lat = filters.bbox
    first_row, last_row = _span(min_lat, max_lat, -90.0, FINE_LAT)
    first_col, last_col = _span(min_lon, max_lon, -180.0, FINE_LON)
    table = map_cell.c
    query = (
        select(
            table.cell,
            func.sum(table.reports).label("n"),
            func.sum(table.latitude_sum).label("lat"),
            func.sum(table.longitude_sum).label("lon"),
        )
        .where(
            table.cell.between(first_row * KEY_BASE + first_col, last_row * KEY_BASE + last_col),
            (table.cell % KEY_BASE).between(first_col, last_col),
            table.hidden.is_(False),
        )
        .group_by(table.cell)
    )
    if filters.statuses:
        query = query.where(table.status.in_(browse.statuses_wanted(filters)))
    found, edges = {}, []
    for cell, n, lat, lon in session.execute(query):
        row, column = divmod(int(cell), KEY_BASE)
        if row in (first_row, last_row) or column in (first_col, last_col):
            edges.append(int(cell))
        else:
            found[row, column] = (n, lat, lon)
    # Asked even when no edge cell holds a report: the map runs two queries, whatever
    # the box holds. The box is written into the statement, like the cells: given as
    # parameters, PostgreSQL's plan for a statement psycopg has prepared (from its fifth
    # run) would walk the latitude index through the whole box.
    dialect = db.engine.dialect.name
    key = map_summary.key_of(dialect)
    exact = (
        _visible(replace(filters, bbox=None))
        .where(
            map_summary.in_cells(dialect, edges),
            Report.latitude.between(_written(min_lat), _written(max_lat)),
            Report.longitude.between(_written(min_lon), _written(max_lon)),
        )
        .with_only_columns(key.label("key"), *_totals())
        .group_by(key)
    )
    for cell, n, lat, lon in session.execute(exact):
        found[divmod(int(cell), KEY_BASE)] = (n, lat, lon)
    for (row, column), (n, lat, lon) in found.items():
        yield row, column, n, lat, lon


def _written(value: float):
    """A number written into the SQL statement rather than sent as a parameter."""
    return bindparam(None, float(value), type_=Float, literal_execute=True)


def cells(filters: browse.Filters, zoom: int, session) -> list[Cell]:
    """The publicly visible reports matching ``filters`` (which hold the box) counted per
    cell of the grid for ``zoom``, with the mean position of each cell's reports: counted
    per fine cell (from the map's summary, or in SQL from ``report`` when other filters
    are asked) and added up here, a few thousand rows at most."""
    step = grid_step(filters.bbox, zoom)
    if browse.statuses_only(filters, box_allowed=True):
        rows, shift = _summary_rows(filters, session), step
    elif _cells_in(filters.bbox, FINE_LAT, FINE_LON) > MAX_FINE_CELLS:
        rows, shift = _coarse_rows(filters, step, session), 0
    else:
        rows, shift = _fine_rows(filters, session), step
    sums: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for row, column, n, lat, lon in rows:
        total = sums[(row >> shift, column >> shift)]
        total[0] += int(n)
        total[1] += int(lat)
        total[2] += int(lon)
    return [Cell(n, _degrees(lat, n), _degrees(lon, n)) for n, lat, lon in sums.values()]


def _degrees(total: int, n: int) -> float:
    """The mean of ``n`` coordinates summing to ``total`` millionths of a degree, rounded
    to 5 decimals (about a metre) exactly, halves to even."""
    return round(Fraction(total, n * 10)) / 100_000
