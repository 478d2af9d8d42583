"""Geocoding against a Nominatim look-alike on loopback: bias, cache and outages."""

import time

import pytest
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.geocoding import GeocoderUnavailable, Place, reverse, search, short_address
from bpt311.models import GeocodeCache
from tests.conftest import free_port
from tests.fake_nominatim import FakeNominatim, nominatim_place

CITY_HALL = (41.1792, -73.1894)
CITY_HALL_RESULT = nominatim_place(*CITY_HALL, house_number="45", road="Lyon Terrace")
FAIRFIELD_CENTRE = nominatim_place(41.1415, -73.2637, road="Post Road", city="Fairfield")


def cache_rows(kind):
    return db.session.scalar(
        select(func.count()).select_from(GeocodeCache).where(GeocodeCache.kind == kind)
    )


@pytest.fixture
def nominatim():
    with FakeNominatim() as fake:
        yield fake


@pytest.fixture
def geocoder_app(make_app, nominatim):
    app = make_app(GEOCODER_URL=nominatim.url, GEOCODER_TIMEOUT=0.5)
    with app.app_context():
        yield app


def test_one_match_gives_one_place_with_a_short_address(geocoder_app, nominatim):
    nominatim.results["45 lyon terrace"] = [CITY_HALL_RESULT]

    assert search("45 Lyon Terrace") == [Place(*CITY_HALL, "45 Lyon Terrace, Bridgeport")]


def test_several_matches_give_several_places_in_the_geocoders_order(geocoder_app, nominatim):
    nominatim.results["main street"] = [
        nominatim_place(41.1850, -73.1920, house_number="350", road="Main Street"),
        nominatim_place(41.1700, -73.1960, house_number="999", road="Main Street"),
    ]

    places = search("Main Street")

    assert [place.address for place in places] == [
        "350 Main Street, Bridgeport",
        "999 Main Street, Bridgeport",
    ]
    assert places[0].latitude == 41.1850 and places[0].longitude == -73.1920


def test_nothing_found_gives_an_empty_list(geocoder_app, nominatim):
    assert search("1 Nowhere Lane") == []


def test_a_match_outside_bridgeport_is_dropped(geocoder_app, nominatim):
    nominatim.results["post road"] = [FAIRFIELD_CENTRE]

    assert search("Post Road") == []


def test_places_with_the_same_address_are_listed_once(geocoder_app, nominatim):
    nominatim.results["fairfield avenue"] = [
        nominatim_place(41.1760, -73.2050, road="Fairfield Avenue"),
        nominatim_place(41.1740, -73.2150, road="Fairfield Avenue"),
        nominatim_place(41.1790, -73.1920, house_number="1", road="Fairfield Avenue"),
    ]

    places = search("Fairfield Avenue")

    assert [place.address for place in places] == [
        "Fairfield Avenue, Bridgeport",
        "1 Fairfield Avenue, Bridgeport",
    ]


def test_the_search_is_biased_to_the_city(geocoder_app, nominatim):
    search("45 Lyon Terrace")

    [request] = nominatim.requests
    assert request.path == "/search"
    assert request.params["q"] == "45 Lyon Terrace, Bridgeport, CT"
    assert request.params["bounded"] == "1"
    assert request.params["countrycodes"] == "us"
    assert request.params["addressdetails"] == "1"
    min_lon, min_lat, max_lon, max_lat = (float(n) for n in request.params["viewbox"].split(","))
    assert min_lon < CITY_HALL[1] < max_lon and min_lat < CITY_HALL[0] < max_lat
    assert max_lon - min_lon < 0.2 and max_lat - min_lat < 0.2  # the city, not the state


def test_text_that_names_bridgeport_is_sent_as_typed(geocoder_app, nominatim):
    search("  45 Lyon Terrace,   bridgeport ")

    assert nominatim.requests[0].params["q"] == "45 Lyon Terrace, bridgeport"


def test_a_geocoder_under_a_path_prefix_is_reached(make_app):
    with FakeNominatim({"lyon": [CITY_HALL_RESULT]}, prefix="/osm/nominatim") as fake:
        app = make_app(GEOCODER_URL=fake.url + "/")
        with app.app_context():
            assert len(search("45 Lyon Terrace")) == 1
    assert fake.requests[0].path == "/osm/nominatim/search"


def test_the_same_search_again_is_served_from_the_cache(geocoder_app, nominatim):
    nominatim.results["45 lyon terrace"] = [CITY_HALL_RESULT]
    first = search("45 Lyon Terrace")

    again = search("  45 LYON   terrace ")

    assert again == first
    assert len(nominatim.requests) == 1
    assert cache_rows("search") == 1


def test_an_empty_answer_is_not_cached(geocoder_app, nominatim):
    assert search("45 Lyon Terrace") == []
    nominatim.results["45 lyon terrace"] = [CITY_HALL_RESULT]

    assert len(search("45 Lyon Terrace")) == 1
    assert len(nominatim.requests) == 2


def test_the_cache_row_survives_the_callers_rollback(geocoder_app, nominatim):
    nominatim.results["45 lyon terrace"] = [CITY_HALL_RESULT]
    search("45 Lyon Terrace")

    db.session.rollback()

    assert db.session.scalar(select(GeocodeCache.query)) == "45 lyon terrace"


def test_a_twin_request_that_cached_the_answer_first_wins_quietly(geocoder_app, nominatim):
    nominatim.results["45 lyon terrace"] = [CITY_HALL_RESULT]
    engine = db.engine
    twin_results = [{"latitude": 41.0, "longitude": -73.0, "address": "cached by the twin"}]
    answer = nominatim.answer

    def answer_after_the_twin_caches(path, params):
        # Runs while search() waits for the geocoder, after it found no cache row.
        with engine.begin() as connection:
            connection.execute(
                GeocodeCache.__table__.insert().values(
                    kind="search", query="45 lyon terrace", results=twin_results
                )
            )
        return answer(path, params)

    nominatim.answer = answer_after_the_twin_caches

    assert search("45 Lyon Terrace") == [Place(*CITY_HALL, "45 Lyon Terrace, Bridgeport")]
    db.session.expire_all()
    assert db.session.scalars(select(GeocodeCache.results)).all() == [twin_results]


def test_a_slow_geocoder_gives_up_quickly_with_a_helpful_message(make_app):
    with FakeNominatim({"lyon": [CITY_HALL_RESULT]}, delay=10) as slow:
        app = make_app(GEOCODER_URL=slow.url, GEOCODER_TIMEOUT=0.5)
        with app.app_context():
            started = time.monotonic()
            with pytest.raises(GeocoderUnavailable) as raised:
                search("45 Lyon Terrace")
            waited = time.monotonic() - started
    assert waited < 3  # one timeout, not three (geopy retries unless told not to)
    assert len(slow.requests) == 1
    message = str(raised.value)
    assert "pin" in message and "location" in message and "try again" in message


def test_a_geocoder_that_is_down_is_unavailable(make_app):
    app = make_app(GEOCODER_URL=f"http://127.0.0.1:{free_port()}")
    with app.app_context(), pytest.raises(GeocoderUnavailable):
        search("45 Lyon Terrace")


@pytest.mark.parametrize("status", [503, 500, 429, 403])
def test_a_geocoder_error_status_is_unavailable(make_app, status):
    with FakeNominatim(status=status) as failing:
        app = make_app(GEOCODER_URL=failing.url)
        with app.app_context(), pytest.raises(GeocoderUnavailable):
            search("45 Lyon Terrace")
            assert cache_rows("search") == 0


def test_a_geocoder_answering_garbage_is_unavailable(geocoder_app, nominatim):
    nominatim.results["lyon"] = [{"lat": "north", "lon": "west", "display_name": "?"}]

    with pytest.raises(GeocoderUnavailable):
        search("45 Lyon Terrace")


def test_blank_text_finds_nothing_without_asking(geocoder_app, nominatim):
    assert search("   ") == []
    assert nominatim.requests == []


def test_reverse_gives_a_short_address_and_caches_it(geocoder_app, nominatim):
    nominatim.reverse_result = CITY_HALL_RESULT

    assert reverse(*CITY_HALL) == "45 Lyon Terrace, Bridgeport"
    assert reverse(41.179200001, -73.189400001) == "45 Lyon Terrace, Bridgeport"

    [request] = nominatim.requests
    assert request.path == "/reverse"
    assert (request.params["lat"], request.params["lon"]) == ("41.1792", "-73.1894")
    assert cache_rows("reverse") == 1


def test_reverse_finding_nothing_gives_none(geocoder_app, nominatim):
    assert reverse(41.10, -73.10) is None
    assert cache_rows("reverse") == 0


def test_reverse_when_the_geocoder_is_down_gives_none(make_app):
    app = make_app(GEOCODER_URL=f"http://127.0.0.1:{free_port()}")
    with app.app_context():
        assert reverse(*CITY_HALL) is None


def test_reverse_when_the_geocoder_is_slow_gives_none(make_app):
    with FakeNominatim(reverse_result=CITY_HALL_RESULT, delay=10) as slow:
        app = make_app(GEOCODER_URL=slow.url, GEOCODER_TIMEOUT=0.5)
        with app.app_context():
            assert reverse(*CITY_HALL) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (CITY_HALL_RESULT, "45 Lyon Terrace, Bridgeport"),
        ({"address": {"road": "Main Street", "city": "Bridgeport"}}, "Main Street, Bridgeport"),
        (
            {"address": {"road": "Ferry Access Road", "town": "Stratford"}},
            "Ferry Access Road, Stratford",
        ),
        (
            {
                "address": {"leisure": "Seaside Park", "city": "Bridgeport"},
                "display_name": "Seaside Park, Barnum Avenue, Bridgeport, Fairfield County, CT",
            },
            "Seaside Park, Barnum Avenue, Bridgeport",
        ),
        ({"display_name": "Somewhere"}, "Somewhere"),
        ({}, ""),
    ],
)
def test_short_address(raw, expected):
    assert short_address(raw) == expected
