"""The geometry of the dashboard's charts, drawn as inline SVG by templates/stats/_charts.html.

Only numbers and strings come out of here (positions, sizes, path data), so the templates
hold all the markup and the stylesheet all the colours; no JavaScript draws anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from flask_babel import format_decimal
from flask_babel import gettext as _
from shapely.geometry import LineString, shape

WIDTH = 640
PLOT_LEFT, PLOT_RIGHT, PLOT_TOP, PLOT_BOTTOM = 56, 12, 16, 44
MAX_X_LABELS = 8
CLASSES = 5


def nice_top(value: float) -> float:
    """The smallest round number (1, 2, 2.5 or 5 times a power of ten) at or above value."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power  # pragma: no cover (the loop always returns)


@dataclass
class Tick:
    y: float
    label: str


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    series: str  # the CSS modifier: received, closed, ...
    label: str  # what the bar stands for, in words (for its <title>)


@dataclass
class XLabel:
    x: float
    text: str


@dataclass
class Chart:
    width: float
    height: float
    plot_left: float = PLOT_LEFT
    plot_right: float = WIDTH - PLOT_RIGHT
    baseline: float = 0
    ticks: list[Tick] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    x_labels: list[XLabel] = field(default_factory=list)
    points: str = ""  # a polyline's points
    dots: list[Bar] = field(default_factory=list)  # x, y of each point; label


def _scale(top_value: float, height: float, labels: Callable[[float], str]):
    top = nice_top(top_value)
    baseline = height - PLOT_BOTTOM
    span = baseline - PLOT_TOP

    def y_of(value: float) -> float:
        return baseline - span * (value / top)

    ticks = [Tick(y_of(top * i / 4), labels(top * i / 4)) for i in range(5)]
    return y_of, baseline, ticks


def _x_labels(centres: Sequence[float], texts: Sequence[str]) -> list[XLabel]:
    every = max(1, math.ceil(len(texts) / MAX_X_LABELS))
    return [
        XLabel(x, text)
        for i, (x, text) in enumerate(zip(centres, texts, strict=True))
        if i % every == 0
    ]


def count(value: float) -> str:
    """A number as the page's language writes it: ``1,250`` / ``1.250``, ``2.5`` / ``2,5``."""
    return format_decimal(value, format="#,##0" if value == int(value) else "#,##0.0")


def grouped_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, str, Sequence[float]]],
    height: float = 280,
) -> Chart:
    """Bars side by side for each label: ``series`` is (css name, words, values) each."""
    top = max([max(values, default=0) for _, _, values in series], default=0)
    y_of, baseline, ticks = _scale(top, height, count)
    chart = Chart(WIDTH, height, baseline=baseline, ticks=ticks)
    slot = (chart.plot_right - chart.plot_left) / max(1, len(labels))
    width = slot * 0.8 / max(1, len(series))
    centres = []
    for i, label in enumerate(labels):
        left = chart.plot_left + slot * i + slot * 0.1
        centres.append(chart.plot_left + slot * (i + 0.5))
        for j, (css, words, values) in enumerate(series):
            y = y_of(values[i])
            chart.bars.append(
                Bar(
                    left + j * width,
                    y,
                    width,
                    baseline - y,
                    css,
                    f"{label}: {count(values[i])} {words}",
                )
            )
    chart.x_labels = _x_labels(centres, labels)
    return chart


def line(labels: Sequence[str], values: Sequence[float], words: str, height: float = 240) -> Chart:
    y_of, baseline, ticks = _scale(max(values, default=0), height, count)
    chart = Chart(WIDTH, height, baseline=baseline, ticks=ticks)
    slot = (chart.plot_right - chart.plot_left) / max(1, len(labels))
    centres = [chart.plot_left + slot * (i + 0.5) for i in range(len(labels))]
    chart.dots = [
        Bar(x, y_of(value), 0, 0, "line", f"{label}: {count(value)} {words}")
        for x, label, value in zip(centres, labels, values, strict=True)
    ]
    chart.points = " ".join(f"{dot.x:.0f},{dot.y:.0f}" for dot in chart.dots)
    chart.x_labels = _x_labels(centres, labels)
    return chart


@dataclass
class Row:
    label: str
    y: float  # the label's baseline; the bar sits under it
    width: float
    value_text: str
    series: str


@dataclass
class RowChart:
    width: float
    height: float
    bar_left: float
    bar_height: float
    rows: list[Row]


def rows(
    items: Sequence[tuple[str, float | None]],
    value_text: Callable[[float | None], str],
    top: float | None = None,
    series: str = "received",
) -> RowChart:
    """Horizontal bars, one per (label, value), each label above its bar so long names
    fit a phone; a missing value draws no bar and says so in words."""
    row_height, bar_height, left = 46, 16, 8
    room = WIDTH - left - 96  # space after the bar for its value
    top = top or nice_top(max((v or 0 for _, v in items), default=0))
    drawn = []
    for i, (label, value) in enumerate(items):
        y = 20 + i * row_height
        drawn.append(Row(label, y, room * (value or 0) / top, value_text(value), series))
    return RowChart(WIDTH, 20 + len(items) * row_height, left, bar_height, drawn)


@dataclass
class Area:
    name: str
    path: str
    label_x: float
    label_y: float
    value: float
    value_text: str
    shade: int  # 0 (lightest) .. CLASSES - 1


@dataclass
class LegendEntry:
    shade: int
    text: str


@dataclass
class Choropleth:
    width: float
    height: float
    areas: list[Area]
    legend: list[LegendEntry]


def _rings(geometry: dict) -> list[list[list[float]]]:
    if geometry["type"] == "Polygon":
        return geometry["coordinates"]
    if geometry["type"] == "MultiPolygon":
        return [ring for polygon in geometry["coordinates"] for ring in polygon]
    return []


def _ring_path(points: list[tuple[float, float]]) -> str:
    """A ring as compact path data: simplified to within a unit (a unit is about a
    pixel at full width), whole units, moves relative to the last point. The map is the
    page's heaviest part and must not push the first screen past 14 KB."""
    simple = LineString(points).simplify(0.9) if len(points) > 3 else LineString(points)
    rounded = [(round(x), round(y)) for x, y in simple.coords]
    steps, (last_x, last_y) = [], rounded[0]
    for x, y in rounded[1:]:
        if (x, y) != (last_x, last_y):
            steps.append(f"{x - last_x} {y - last_y}")
            last_x, last_y = x, y
    if len(steps) < 2:
        return ""
    return f"M{rounded[0][0]} {rounded[0][1]}l" + " ".join(steps) + "z"


def choropleth(
    places: Sequence[tuple[str, dict, float]],
    value_text: Callable[[float], str],
    width: float = WIDTH,
) -> Choropleth:
    """Neighbourhood polygons (name, GeoJSON geometry, value) as SVG paths on a local
    equirectangular projection, shaded in CLASSES equal steps from zero to a round top."""
    points = [pt for _, geometry, _ in places for ring in _rings(geometry) for pt in ring]
    if not points:
        return Choropleth(width, 0, [], [])
    min_lon = min(p[0] for p in points)
    max_lon = max(p[0] for p in points)
    min_lat = min(p[1] for p in points)
    max_lat = max(p[1] for p in points)
    stretch = math.cos(math.radians((min_lat + max_lat) / 2))
    margin = 8
    scale = (width - 2 * margin) / max((max_lon - min_lon) * stretch, 1e-9)
    height = (max_lat - min_lat) * scale + 2 * margin

    def xy(lon: float, lat: float) -> tuple[float, float]:
        return margin + (lon - min_lon) * stretch * scale, margin + (max_lat - lat) * scale

    # Counts: at least one report per step, so the legend never splits a report.
    top = max(nice_top(max((value for *_, value in places), default=0)), CLASSES)
    areas = []
    for name, geometry, value in places:
        path = "".join(_ring_path([xy(*pt[:2]) for pt in ring]) for ring in _rings(geometry))
        inside = shape(geometry).representative_point()
        x, y = xy(inside.x, inside.y)
        shade = min(CLASSES - 1, int(CLASSES * value / top)) if value else 0
        areas.append(Area(name, path, x, y, value, value_text(value), shade))
    step = top / CLASSES  # a whole number: top is a round number of at least CLASSES
    legend = [
        LegendEntry(
            i,
            _(
                "%(low)s to %(high)s",
                low=value_text(step * i),
                high=value_text(step * (i + 1) - (1 if i < CLASSES - 1 else 0)),
            ),
        )
        for i in range(CLASSES)
    ]
    return Choropleth(width, height, areas, legend)
