"""The service area and neighbourhoods, from the city's real boundaries."""

import json

import pytest

from bpt311.geo import (
    NeighbourhoodFinder,
    bounding_box,
    distance_metres,
    read_areas,
    service_area_from_file,
    slugify,
)
from bpt311.models import Neighbourhood

CITY_HALL = (41.1792, -73.1894)


@pytest.fixture
def area(app):
    return service_area_from_file(app.config["SERVICE_AREA_FILE"], 150)


@pytest.fixture
def finder(city):
    from sqlalchemy import select

    from bpt311.extensions import db

    rows = db.session.scalars(select(Neighbourhood)).all()
    names = {row.id: row.name for row in rows}
    return NeighbourhoodFinder([(row.id, json.loads(row.geometry_json)) for row in rows]), names


def test_city_hall_is_in_the_city_and_downtown(area, finder):
    assert area.contains(*CITY_HALL)
    find, names = finder
    assert names[find.find(*CITY_HALL)] == "Downtown"


def test_towns_next_door_are_outside(area):
    assert not area.contains(41.1415, -73.2637)  # Fairfield centre
    assert not area.contains(41.2287, -73.1337)  # Stratford
    assert not area.contains(40.7128, -74.0060)  # New York


def test_points_just_off_the_shoreline_are_accepted_within_the_buffer(app):
    plain = service_area_from_file(app.config["SERVICE_AREA_FILE"], 0)
    buffered = service_area_from_file(app.config["SERVICE_AREA_FILE"], 150)
    # Step south from Seaside Park until the unbuffered boundary is crossed.
    lat, lon = 41.1580, -73.2100
    while plain.contains(lat, lon):
        lat -= 0.0002
    assert buffered.contains(lat, lon)  # within ~20 m of the line
    assert not buffered.contains(lat - 0.01, lon)  # a kilometre out in the Sound


def test_a_point_in_no_neighbourhood_takes_the_nearest_or_none(finder):
    find, names = finder
    assert find.find(41.0, -73.0) is None  # far out at sea: none, not an error


def test_distance_and_bounding_box():
    assert distance_metres(*CITY_HALL, *CITY_HALL) == 0
    # One thousandth of a degree of latitude is about 111 m.
    assert 110 < distance_metres(41.179, -73.19, 41.180, -73.19) < 112
    min_lat, min_lon, max_lat, max_lon = bounding_box(*CITY_HALL, 250)
    assert distance_metres(min_lat, CITY_HALL[1], max_lat, CITY_HALL[1]) == pytest.approx(500, 1)
    assert distance_metres(CITY_HALL[0], min_lon, CITY_HALL[0], max_lon) == pytest.approx(500, 1)


def test_slugs_and_area_files(app):
    assert slugify("Brooklawn-St. Vincent") == "brooklawn-st-vincent"
    assert slugify("West End-West Side") == "west-end-west-side"
    names = [a.name for a in read_areas(app.config["NEIGHBOURHOODS_FILE"])]
    assert len(names) == 13 and "Black Rock" in names
