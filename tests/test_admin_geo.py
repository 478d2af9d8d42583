"""Uploading the service-area boundary and the neighbourhoods: checked, previewed, applied."""

import io
import json

import pytest
from shapely.geometry import mapping, shape
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.models import Neighbourhood, Report, ServiceBoundary
from bpt311.reports.service import InvalidReport, check_location
from tests.conftest import client_for
from tests.conftest import post_form as post
from tests.factories import make_report
from tests.test_admin_catalogue import audit_actions, page

CITY_HALL = (41.1792, -73.1894)
BLACK_ROCK = (41.1552, -73.2266)
SOUTH_END = (41.1577, -73.207)


@pytest.fixture
def browser(site, admin):
    return client_for(site, admin)


def box(lat: float, lon: float, half: float) -> dict:
    ring = [
        [lon - half, lat - half],
        [lon + half, lat - half],
        [lon + half, lat + half],
        [lon - half, lat + half],
        [lon - half, lat - half],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def collection(*features: tuple[str | None, dict]) -> str:
    return json.dumps(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "properties": {"name": name} if name else {},
                    "geometry": geometry,
                }
                for name, geometry in features
            ],
        }
    )


def upload(browser, text: str, kind: str, filename: str = "shapes.geojson"):
    return post(
        browser,
        "/staff/admin/places/preview",
        {"kind": kind, "file": (io.BytesIO(text.encode()), filename)},
        content_type="multipart/form-data",
    )


def confirm(browser, preview_html: str):
    """Press the preview page's Apply button, sending back its hidden fields."""
    import html
    import re

    fields = dict(
        re.findall(
            r'<input id="(kind|source_name|geojson)" name="\1" type="hidden" value="([^"]*)"',
            preview_html,
        )
    )
    values = {name: html.unescape(value) for name, value in fields.items()}
    return post(browser, "/staff/admin/places/apply", values)


def neighbourhood_names() -> list[str]:
    db.session.expire_all()
    return db.session.scalars(select(Neighbourhood.name).order_by(Neighbourhood.name)).all()


BOWTIE = {
    "type": "Polygon",
    "coordinates": [
        [[-73.2, 41.17], [-73.18, 41.19], [-73.18, 41.17], [-73.2, 41.19], [-73.2, 41.17]]
    ],
}


@pytest.mark.parametrize(
    ("kind", "text", "message"),
    [
        ("boundary", "{not json", "The file is not GeoJSON: it is not valid JSON"),
        ("boundary", json.dumps([1, 2]), "expected a FeatureCollection"),
        ("boundary", collection(), "The file has no features"),
        (
            "boundary",
            collection(
                ("Line", {"type": "LineString", "coordinates": [[-73.2, 41.1], [-73.1, 41.2]]})
            ),
            "Feature 1 (Line) is a LineString: only Polygon and MultiPolygon shapes can be used",
        ),
        (
            "neighbourhoods",
            collection(("Knot", BOWTIE)),
            "Feature 1 (Knot) is not a valid shape: Self-intersection",
        ),
        (
            "neighbourhoods",
            collection(("Downtown", box(*CITY_HALL, 0.01)), (None, box(*SOUTH_END, 0.01))),
            'Feature 2 has no name: give every neighbourhood a "name" property',
        ),
        (
            "neighbourhoods",
            collection(("Downtown", box(*CITY_HALL, 0.01)), ("downtown", box(*SOUTH_END, 0.01))),
            "Two features are called downtown",
        ),
        (
            "neighbourhoods",
            collection(("Downtown", box(*CITY_HALL, 0.01)), ("Uptown", box(*CITY_HALL, 0.005))),
            "Downtown and Uptown overlap by",
        ),
        (
            "boundary",
            collection(
                (
                    "Far",
                    {
                        "type": "Polygon",
                        "coordinates": [[[500, 41], [501, 41], [501, 42], [500, 41]]],
                    },
                )
            ),
            "not in longitude and latitude",
        ),
    ],
)
def test_bad_geojson_is_refused_with_a_clear_message_and_nothing_changes(
    browser, kind, text, message
):
    before = neighbourhood_names()
    response = upload(browser, text, kind)
    assert response.status_code == 422
    html = page(response)
    assert message in html.replace("&#34;", '"').replace("&quot;", '"')
    assert 'role="alert"' in html and f'<option selected value="{kind}">' in html
    assert db.session.scalar(select(func.count()).select_from(ServiceBoundary)) == 0
    assert neighbourhood_names() == before


def test_an_upload_without_a_file_is_refused(browser):
    response = post(
        browser,
        "/staff/admin/places/preview",
        {"kind": "boundary"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422 and "Choose a GeoJSON file" in page(response)


def test_a_new_boundary_is_previewed_then_used_at_once_by_every_app(make_app, site, browser):
    make_report(latitude=CITY_HALL[0], longitude=CITY_HALL[1])
    make_report(latitude=BLACK_ROCK[0], longitude=BLACK_ROCK[1])
    check_location(*BLACK_ROCK)  # inside the city as the file draws it

    response = upload(
        browser, collection(("Core", box(*CITY_HALL, 0.012))), "boundary", "core.geojson"
    )
    assert response.status_code == 200
    preview = page(response)
    assert '<svg viewBox="0 0 600 ' in preview and '<path d="M' in preview
    assert "1 existing report lie outside it" in preview
    assert db.session.scalar(select(func.count()).select_from(ServiceBoundary)) == 0  # not yet

    response = confirm(browser, preview)
    assert response.status_code == 303
    assert "The new service-area boundary is in use." in page(
        browser.get(response.headers["Location"])
    )
    assert audit_actions()[-1] == "geo.boundary"
    check_location(*CITY_HALL)
    with pytest.raises(InvalidReport):
        check_location(*BLACK_ROCK)

    # Another process (another app on the same database) sees the same boundary.
    other = make_app()
    with other.app_context(), pytest.raises(InvalidReport):
        check_location(*BLACK_ROCK)
    resident = client_for(site)
    form = post(
        resident,
        "/reports/new",
        {
            "category": "pothole",
            "description": "A deep hole in the road here.",
            "latitude": str(BLACK_ROCK[0]),
            "longitude": str(BLACK_ROCK[1]),
        },
    )
    assert form.status_code == 422 and "outside the City of Bridgeport" in page(form)


def test_a_tampered_confirmation_changes_nothing(browser):
    response = post(
        browser,
        "/staff/admin/places/apply",
        {"kind": "boundary", "source_name": "x", "geojson": "{broken"},
    )
    assert response.status_code == 303
    assert "Nothing was changed" in page(browser.get(response.headers["Location"]))
    assert db.session.scalar(select(func.count()).select_from(ServiceBoundary)) == 0


def test_neighbourhoods_update_by_name_add_new_keep_used_and_move_open_reports(browser):
    with open(browser.application.config["NEIGHBOURHOODS_FILE"], encoding="utf-8") as fh:
        original = json.load(fh)["features"]
    by_name = {row.name: row for row in db.session.scalars(select(Neighbourhood))}
    black_rock_report = make_report(
        latitude=BLACK_ROCK[0], longitude=BLACK_ROCK[1], neighbourhood_id=by_name["Black Rock"].id
    )
    open_report = make_report(
        latitude=SOUTH_END[0], longitude=SOUTH_END[1], neighbourhood_id=by_name["South End"].id
    )
    closed_report = make_report(
        latitude=SOUTH_END[0],
        longitude=SOUTH_END[1],
        status="closed",
        neighbourhood_id=by_name["South End"].id,
    )
    seaside_village = box(*SOUTH_END, 0.002)
    kept = [
        (f["properties"]["name"], f["geometry"])
        for f in original
        if f["properties"]["name"] not in ("Black Rock", "Mill Hill", "Downtown", "South End")
    ]
    south_end = next(f["geometry"] for f in original if f["properties"]["name"] == "South End")
    kept.append(("South End", mapping(shape(south_end).difference(shape(seaside_village)))))
    text = collection(
        *kept,
        ("Downtown", box(*CITY_HALL, 0.004)),
        ("Seaside Village", seaside_village),
    )
    response = upload(browser, text, "neighbourhoods")
    preview = page(response)
    assert response.status_code == 200
    assert "Seaside Village <strong>(new)</strong>" in preview
    assert "Black Rock is not in the file but is kept, because 1 report points to it." in preview
    assert "Mill Hill is not in the file and nothing points to it: it is removed." in preview
    print(preview[preview.find("What applying") :][:1500])
    assert "1 open or acknowledged report move to the neighbourhood" in preview
    assert "Closed reports keep theirs" in preview
    assert "Seaside Village" not in neighbourhood_names()  # not yet

    assert confirm(browser, preview).status_code == 303
    names = neighbourhood_names()
    assert "Seaside Village" in names and "Black Rock" in names and "Mill Hill" not in names
    downtown = db.session.scalars(
        select(Neighbourhood).where(Neighbourhood.name == "Downtown")
    ).one()
    assert downtown.geometry == box(*CITY_HALL, 0.004)
    assert round(downtown.max_lat, 3) == round(CITY_HALL[0] + 0.004, 3)
    seaside = db.session.scalars(
        select(Neighbourhood).where(Neighbourhood.name == "Seaside Village")
    ).one()
    assert seaside.slug == "seaside-village"
    assert db.session.get(Report, open_report.id).neighbourhood_id == seaside.id
    assert db.session.get(Report, closed_report.id).neighbourhood_id == by_name["South End"].id
    assert db.session.get(Report, black_rock_report.id).neighbourhood_id == by_name["Black Rock"].id
    assert audit_actions()[-1] == "geo.neighbourhoods"


def test_the_places_page_draws_the_neighbourhoods_in_use(browser):
    html = page(browser.get("/staff/admin/places"))
    assert html.count("<path d=") == 13
    assert '<title id="shapes-title">The neighbourhoods now in use</title>' in html
    assert "Black Rock" in html and "km²" in html


def test_watch_areas_are_checked_against_the_uploaded_boundary(site):
    """A shape drawn for a watch area must lie near the service area the city uses now."""
    from shapely.geometry import Point

    from bpt311.geo import to_metres
    from bpt311.watch.shapes import city_shapes

    inside_old_city = Point(to_metres(CITY_HALL[1], CITY_HALL[0]))
    far_away = (41.30, -73.00)  # well outside Bridgeport
    city, _ = city_shapes()
    assert city.contains(inside_old_city)
    db.session.add(ServiceBoundary(geometry_json=json.dumps(box(*far_away, 0.01))))
    db.session.commit()
    city, with_margin = city_shapes()
    assert city.contains(Point(to_metres(far_away[1], far_away[0])))
    assert not with_margin.contains(inside_old_city)


def test_open311_clients_revalidate_the_catalogue_and_see_an_edit_at_once(site):
    from bpt311.models import Category

    client = site.test_client()
    first = client.get("/open311/v2/services.json")
    # max-age=0: a client asks again every time (a proxy may keep it PUBLIC_CACHE_SECONDS)
    assert "max-age=0" in first.headers["Cache-Control"] and first.headers.get("ETag")
    unchanged = client.get(
        "/open311/v2/services.json", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert unchanged.status_code == 304
    pothole = db.session.scalars(select(Category).where(Category.service_code == "pothole")).one()
    pothole.name = "Pothole or sunken road"
    db.session.commit()
    edited = client.get(
        "/open311/v2/services.json", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert edited.status_code == 200
    assert "Pothole or sunken road" in edited.get_data(as_text=True)
