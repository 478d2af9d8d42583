"""Uploading the service-area boundary and the neighbourhoods: check, preview, apply.

An upload is checked with shapely (JSON, Polygon or MultiPolygon features, valid
geometry, names for neighbourhoods), previewed (a drawing, and per shape its area
and how many existing reports it holds), and applied only when the admin confirms,
in one transaction with its audit row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import shapely
from flask_babel import gettext as _
from flask_babel import ngettext
from shapely.errors import GEOSException
from shapely.geometry import mapping, shape
from shapely.ops import unary_union
from shapely.validation import explain_validity
from sqlalchemy import func, select, update

from bpt311 import effects, public_cache
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.geo import NeighbourhoodFinder, project, slugify
from bpt311.models import Neighbourhood, Report, ServiceBoundary, User, WatchArea
from bpt311.problems import Refused
from bpt311.reports import daily

KINDS = ("boundary", "neighbourhoods")
MAX_UPLOAD_BYTES = 400_000  # the confirm form carries the text back; keep it well in bounds
OPEN_STATUSES = ("open", "acknowledged")
OVERLAP_ALLOWED_M2 = 5_000
PALETTE = ("#1d70b8", "#00703c", "#d4351c", "#6f72af", "#f47738", "#5694ca", "#912b88")


@dataclass
class Shape:
    name: str
    geometry: dict
    area_km2: float
    reports: int = 0  # existing reports inside it
    status: str = ""  # for neighbourhoods: "new" or "changed"


@dataclass
class Upload:
    kind: str
    text: str  # the upload, normalised: what the confirm form sends back
    shapes: list[Shape]
    kept: list[tuple[str, str]] = field(default_factory=list)  # (name, why) not in the file
    removed: list[str] = field(default_factory=list)  # not in the file and nothing uses them
    open_reports_moving: int = 0
    reports_outside: int = 0


def _fail(message: str):
    raise Refused({"file": message})


def read_features(text: str, kind: str) -> list[tuple[str, dict]]:
    """(name, geometry) for each shape of a GeoJSON text, or Refused saying what is wrong."""
    if len(text.encode("utf-8")) > MAX_UPLOAD_BYTES:
        _fail(
            _(
                "The file is larger than %(size)d KB: simplify the shapes",
                size=MAX_UPLOAD_BYTES // 1000,
            )
        )
    try:
        document = json.loads(text)
    except ValueError as exc:
        _fail(_("The file is not GeoJSON: it is not valid JSON (%(problem)s)", problem=exc))
    if not isinstance(document, dict):
        _fail(_("The file is not GeoJSON: expected a FeatureCollection"))
    if document.get("type") == "FeatureCollection":
        features = document.get("features")
    elif document.get("type") == "Feature":
        features = [document]
    elif document.get("type") in ("Polygon", "MultiPolygon"):
        features = [{"type": "Feature", "properties": {}, "geometry": document}]
    else:
        _fail(_("The file is not GeoJSON: expected a FeatureCollection of polygons"))
    if not isinstance(features, list) or not features:
        _fail(_("The file has no features: it needs at least one polygon"))
    found, names = [], set()
    for number, feature in enumerate(features, 1):
        if not isinstance(feature, dict):
            _fail(_("Feature %(number)d is not a GeoJSON feature", number=number))
        properties = feature.get("properties") or {}
        name = " ".join(str(properties.get("name") or "").split())
        label = _("Feature %(number)d", number=number) + (f" ({name})" if name else "")
        geometry = feature.get("geometry") or {}
        kind_of = geometry.get("type") if isinstance(geometry, dict) else None
        if kind_of not in ("Polygon", "MultiPolygon"):
            _fail(
                _(
                    "%(feature)s is a %(kind)s: only Polygon and MultiPolygon shapes can be used",
                    feature=label,
                    kind=kind_of,
                )
                if kind_of
                else _(
                    "%(feature)s has no geometry: only Polygon and MultiPolygon shapes can be used",
                    feature=label,
                )
            )
        try:
            parsed = shape(geometry)
        except (GEOSException, ValueError, TypeError, IndexError, KeyError):
            _fail(_("%(feature)s has coordinates that do not make a polygon", feature=label))
        if parsed.is_empty:
            _fail(_("%(feature)s is empty", feature=label))
        if not parsed.is_valid:
            _fail(
                _(
                    "%(feature)s is not a valid shape: %(problem)s",
                    feature=label,
                    problem=explain_validity(parsed),
                )
            )
        min_lon, min_lat, max_lon, max_lat = parsed.bounds
        if not (-180 <= min_lon <= max_lon <= 180 and -90 <= min_lat <= max_lat <= 90):
            _fail(
                _(
                    "%(feature)s is not in longitude and latitude (WGS 84) coordinates",
                    feature=label,
                )
            )
        if kind == "neighbourhoods":
            if not name:
                _fail(
                    _(
                        '%(feature)s has no name: give every neighbourhood a "name" property',
                        feature=label,
                    )
                )
            if name.lower() in names:
                _fail(
                    _(
                        "Two features are called %(name)s: each neighbourhood needs its own name",
                        name=name,
                    )
                )
            names.add(name.lower())
            if len(name) > 120:
                _fail(_("The name of %(feature)s is longer than 120 characters", feature=label))
        found.append((name, mapping(parsed)))
    if kind == "neighbourhoods":
        _refuse_overlaps(found)
    if kind == "boundary":
        union = unary_union([shape(geometry) for _, geometry in found])
        found = [("Service area", mapping(union))]
    return found


def _refuse_overlaps(found: list[tuple[str, dict]]) -> None:
    """Neighbourhoods may touch and, as drawn by hand, overlap a little (the city's own file
    does by up to 0.1 ha); more than that would leave a report in two places."""
    projected = [(name, project(geometry)) for name, geometry in found]
    tree = shapely.STRtree([outline for _, outline in projected])
    for index, (name, outline) in enumerate(projected):
        for other in tree.query(outline):
            if other <= index:
                continue
            shared = outline.intersection(projected[other][1]).area
            if shared > OVERLAP_ALLOWED_M2:
                _fail(
                    _(
                        "%(name)s and %(other)s overlap by %(hectares).1f ha: neighbourhoods "
                        "must not overlap, or a report would be in two",
                        name=name,
                        other=projected[other][0],
                        hectares=shared / 10_000,
                    )
                )


def _area_km2(geometry: dict) -> float:
    return round(project(geometry).area / 1_000_000, 2)


def _reports_inside(geometry: dict, statuses: tuple[str, ...] | None = None) -> int:
    """Reports inside a shape: an indexed bounding-box query, then exact containment."""
    outline = shape(geometry)
    min_lon, min_lat, max_lon, max_lat = outline.bounds
    query = select(Report.longitude, Report.latitude).where(
        Report.latitude.between(min_lat, max_lat), Report.longitude.between(min_lon, max_lon)
    )
    if statuses:
        query = query.where(Report.status.in_(statuses))
    points = db.session.execute(query).all()
    if not points:
        return 0
    lons, lats = zip(*points, strict=True)
    return int(shapely.contains_xy(outline, lons, lats).sum())


def _in_use() -> dict[int, str]:
    """Neighbourhoods something points to, with what (two grouped queries)."""
    reports = db.session.execute(
        select(Report.neighbourhood_id, func.count())
        .where(Report.neighbourhood_id.is_not(None))
        .group_by(Report.neighbourhood_id)
    ).all()
    areas = db.session.execute(
        select(WatchArea.neighbourhood_id, func.count())
        .where(WatchArea.neighbourhood_id.is_not(None))
        .group_by(WatchArea.neighbourhood_id)
    ).all()
    why: dict[int, str] = {}
    for key, count in reports:
        why[key] = ngettext("%(num)d report points to it", "%(num)d reports point to it", count)
    for key, count in areas:
        watch = ngettext("%(num)d watch area uses it", "%(num)d watch areas use it", count)
        why[key] = (
            _("%(reports)s, and %(areas)s", reports=why[key], areas=watch) if key in why else watch
        )
    return why


def check_upload(text: str, kind: str) -> Upload:
    """Check an upload and describe what applying it would do; nothing is changed."""
    if kind not in KINDS:
        _fail(_("Choose what the file holds"))
    features = read_features(text, kind)
    shapes = [Shape(name, geometry, _area_km2(geometry)) for name, geometry in features]
    for item in shapes:
        item.reports = _reports_inside(item.geometry)
    normalised = json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {"type": "Feature", "properties": {"name": s.name}, "geometry": s.geometry}
                for s in shapes
            ],
        }
    )
    upload = Upload(kind, normalised, shapes)
    if kind == "boundary":
        total = db.session.scalar(select(func.count()).select_from(Report))
        upload.reports_outside = total - shapes[0].reports
        return upload
    existing = {n.name.lower(): n for n in db.session.scalars(select(Neighbourhood))}
    for item in shapes:
        item.status = "changed" if item.name.lower() in existing else "new"
    uploaded = {item.name.lower() for item in shapes}
    in_use = _in_use()
    for key, row in sorted(existing.items()):
        if key in uploaded:
            continue
        if row.id in in_use:
            upload.kept.append((row.name, in_use[row.id]))
        else:
            upload.removed.append(row.name)
    upload.open_reports_moving = len(_open_report_moves(shapes, existing, upload.removed))
    return upload


def _open_report_moves(
    shapes: list[Shape], existing: dict[str, Neighbourhood], removed: list[str]
) -> dict:
    """{report id: new neighbourhood name} for open reports whose neighbourhood would change.
    (Closed reports keep theirs: past figures by neighbourhood should not move.)"""
    leaving = {item.name.lower() for item in shapes} | {name.lower() for name in removed}
    areas = [(item.name, item.geometry) for item in shapes] + [
        (row.name, row.geometry) for key, row in existing.items() if key not in leaving
    ]
    finder = NeighbourhoodFinder(areas)
    names_by_id = {row.id: row.name for row in existing.values()}
    rows = db.session.execute(
        select(Report.id, Report.latitude, Report.longitude, Report.neighbourhood_id).where(
            Report.status.in_(OPEN_STATUSES),
            Report.latitude.is_not(None),  # not placed yet: keeps the neighbourhood chosen
        )
    ).all()
    moves = {}
    for row in rows:
        name = finder.find(row.latitude, row.longitude)
        if name != names_by_id.get(row.neighbourhood_id):
            moves[row.id] = name
    return moves


def apply_upload(actor: User, text: str, kind: str, source_name: str = "") -> Upload:
    """Apply a checked upload (checked again: the form may have been altered), in one
    transaction with its audit row."""
    upload = check_upload(text, kind)
    if kind == "boundary":
        geometry = upload.shapes[0].geometry
        row = ServiceBoundary(
            geometry_json=json.dumps(geometry),
            source_name=source_name[:200],
            uploaded_by_id=actor.id,
        )
        db.session.add(row)
        db.session.flush()
        record(
            actor,
            "geo.boundary",
            target_type="service_boundary",
            target_id=row.id,
            source=source_name,
            area_km2=upload.shapes[0].area_km2,
            reports_outside=upload.reports_outside,
        )
        effects.commit()
        return upload
    existing = {n.name.lower(): n for n in db.session.scalars(select(Neighbourhood))}
    moves = _open_report_moves(upload.shapes, existing, upload.removed)
    for item in upload.shapes:
        row = existing.get(item.name.lower()) or Neighbourhood(
            name=item.name, slug=_free_slug(item.name, existing)
        )
        min_lon, min_lat, max_lon, max_lat = shape(item.geometry).bounds
        row.geometry_json = json.dumps(item.geometry)
        row.min_lat, row.min_lon, row.max_lat, row.max_lon = min_lat, min_lon, max_lat, max_lon
        db.session.add(row)
        existing[item.name.lower()] = row
    for name in upload.removed:
        db.session.delete(existing.pop(name.lower()))
    db.session.flush()
    ids_by_name = {row.name: row.id for row in existing.values()}
    moved_to: dict[int | None, list[int]] = {}
    for report_id, name in moves.items():
        moved_to.setdefault(ids_by_name.get(name), []).append(report_id)
    for neighbourhood_id, report_ids in moved_to.items():
        daily.touch_where(Report.id.in_(report_ids))  # figures by neighbourhood move with them
        db.session.execute(
            update(Report)
            .where(Report.id.in_(report_ids))
            .values(neighbourhood_id=neighbourhood_id)
            .execution_options(synchronize_session=False)
        )
    record(
        actor,
        "geo.neighbourhoods",
        target_type="neighbourhood",
        source=source_name,
        new=[s.name for s in upload.shapes if s.status == "new"],
        changed=[s.name for s in upload.shapes if s.status == "changed"],
        removed=upload.removed,
        kept=[name for name, _ in upload.kept],
        open_reports_moved=len(moves),
    )
    effects.after_commit(public_cache.changed)  # the places on every page's filters and map
    effects.commit()
    return upload


def _free_slug(name: str, existing: dict[str, Neighbourhood]) -> str:
    taken = {row.slug for row in existing.values()}
    slug, number = slugify(name) or "neighbourhood", 2
    candidate = slug
    while candidate in taken:
        candidate, number = f"{slug}-{number}", number + 1
    return candidate


def current_shapes(kind: str) -> list[Shape]:
    """What is in use now, for the page before any upload."""
    if kind == "neighbourhoods":
        rows = db.session.scalars(select(Neighbourhood).order_by(Neighbourhood.name))
        return [Shape(row.name, row.geometry, _area_km2(row.geometry)) for row in rows]
    return []


# ---- drawing -----------------------------------------------------------------------------


@dataclass
class Drawing:
    view_box: str
    paths: list[tuple[str, str, str]]  # (name, path data, fill colour)


def drawing(shapes: list[Shape], width: float = 600.0) -> Drawing:
    """The shapes as SVG paths, north up, scaled to ``width`` (lon/lat on a local plane)."""
    projected = [project(item.geometry) for item in shapes]
    min_x, min_y, max_x, max_y = unary_union(projected).bounds
    scale = width / max(max_x - min_x, 1.0)
    height = max((max_y - min_y) * scale, 1.0)

    def ring(coords) -> str:
        points = [f"{(x - min_x) * scale:.1f},{(max_y - y) * scale:.1f}" for x, y in coords]
        return "M" + " L".join(points) + " Z"

    paths = []
    for number, (item, outline) in enumerate(zip(shapes, projected, strict=True)):
        polygons = getattr(outline, "geoms", [outline])
        data = " ".join(
            ring(polygon.exterior.coords) + "".join(" " + ring(i.coords) for i in polygon.interiors)
            for polygon in polygons
        )
        paths.append((item.name, data, PALETTE[number % len(PALETTE)]))
    return Drawing(f"0 0 {width:.0f} {height:.0f}", paths)
