"""Making, changing, pausing, deleting, sharing and following watch areas, through the pages."""

from __future__ import annotations

import json
import re

from bpt311.extensions import db
from bpt311.geocoding import Place
from bpt311.models import WatchArea, WatchAreaFollow
from tests.conftest import HTMX
from tests.factories import make_report, make_user
from tests.test_watch_support import (
    LAT,
    LON,
    circle_area,
    client_for,
    count,
    polygon_area,
    post,
    remember_address,
    site_fixture,  # noqa: F401  (the "site" fixture)
    smtp_fixture,  # noqa: F401  (the "smtp" fixture)
    square,
)

BASICS = {"name": "Our block", "kinds": ["new", "status"], "scope": "all", "delivery": "email"}


def the_only_area() -> WatchArea:
    db.session.expire_all()
    return db.session.scalars(db.select(WatchArea)).one()


def refused(response, message: str) -> None:
    """Shown again with the message in the summary and by the field, and an "Error:" title."""
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[:500]
    assert "<title>Error: " in page
    assert 'class="error-summary"' in page
    assert page.count(message) >= 2, f"{message!r} not in summary and beside the field"


# ---- making one without JavaScript ----------------------------------------------------------


def test_the_new_area_page_works_without_javascript_and_has_no_inline_code(site):
    client = client_for(site, make_user())
    page = client.get("/watch/new").get_data(as_text=True)
    assert 'name="address"' in page and 'name="radius"' in page and 'name="neighbourhood"' in page
    assert "Downtown" in page
    assert re.search(r"<script(?![^>]*\bsrc=)", page) is None  # no inline script
    assert " style=" not in page and "<style" not in page
    assert '<label for="address">' in page
    assert "novalidate" in page


def test_an_area_around_an_address_is_made_without_javascript(site):
    remember_address("45 Lyon Terrace", Place(LAT, LON, "45 Lyon Terrace, Bridgeport"))
    client = client_for(site, make_user())
    response = post(
        client,
        "/watch/new",
        {**BASICS, "method": "address", "address": "45 Lyon Terrace", "radius": "400"},
    )
    area = the_only_area()
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/watch/{area.id}")
    assert (area.shape, area.radius_m, area.place_label) == (
        "circle",
        400,
        "45 Lyon Terrace, Bridgeport",
    )
    assert area.min_lat < LAT < area.max_lat and area.min_lon < LON < area.max_lon
    page = client.get(f"/watch/{area.id}").get_data(as_text=True)
    assert "Within 400 m of 45 Lyon Terrace, Bridgeport" in page


def test_an_address_with_several_matches_offers_a_choice(site):
    remember_address(
        "Main Street",
        Place(41.1800, -73.1900, "100 Main Street, Bridgeport"),
        Place(41.2000, -73.2000, "2000 Main Street, Bridgeport"),
    )
    client = client_for(site, make_user())
    data = {**BASICS, "method": "address", "address": "Main Street", "radius": "300"}
    response = post(client, "/watch/new", data)
    refused(response, "We found more than one place: choose the one you mean")
    assert "2000 Main Street, Bridgeport" in response.get_data(as_text=True)
    assert count(WatchArea) == 0
    response = post(client, "/watch/new", {**data, "place": "41.200000,-73.200000"})
    assert response.status_code == 303
    assert the_only_area().place_label == "2000 Main Street, Bridgeport"


def test_a_neighbourhood_area_is_made_from_the_list(site):
    client = client_for(site, make_user())
    response = post(
        client, "/watch/new", {**BASICS, "method": "neighbourhood", "neighbourhood": "downtown"}
    )
    assert response.status_code == 303
    area = the_only_area()
    assert (area.shape, area.place_label) == ("neighbourhood", "Downtown")


def test_a_shape_drawn_on_the_map_is_kept(site):
    client = client_for(site, make_user())
    response = post(client, "/watch/new", {**BASICS, "method": "map", "geometry": square()})
    assert response.status_code == 303
    area = the_only_area()
    assert area.shape == "polygon"
    assert json.loads(area.geometry_json)["type"] == "Polygon"


def test_a_circle_drawn_on_the_map_is_kept(site):
    client = client_for(site, make_user())
    point = json.dumps({"type": "Point", "coordinates": [LON, LAT]})
    response = post(
        client, "/watch/new", {**BASICS, "method": "map", "geometry": point, "map_radius": "250"}
    )
    assert response.status_code == 303
    assert (the_only_area().shape, the_only_area().radius_m) == ("circle", 250)


# ---- bad input: a clear message, and nothing changed ------------------------------------------


def crossing() -> str:
    bow_tie = [[LON, LAT], [LON + 0.004, LAT + 0.004], [LON + 0.004, LAT], [LON, LAT + 0.004]]
    return json.dumps({"type": "Polygon", "coordinates": [[*bow_tie, bow_tie[0]]]})


def circle_of_points(n: int, radius_deg: float = 0.003) -> str:
    import math

    ring = [
        [
            round(LON + radius_deg * math.cos(2 * math.pi * k / n), 6),
            round(LAT + radius_deg * math.sin(2 * math.pi * k / n), 6),
        ]
        for k in range(n)
    ]
    return json.dumps({"type": "Polygon", "coordinates": [[*ring, ring[0]]]})


def test_bad_areas_are_refused_with_a_clear_message_and_nothing_saved(site):
    remember_address("45 Lyon Terrace", Place(LAT, LON, "45 Lyon Terrace, Bridgeport"))
    client = client_for(site, make_user())
    whole_county = square(d=0.3)
    new_haven = square(lat=41.3083, lon=-72.9279, d=0.003)
    cases = [
        ({"method": "map", "geometry": crossing()}, "The outline crosses itself"),
        ({"method": "map", "geometry": circle_of_points(3000)}, "too many points"),
        ({"method": "map", "geometry": whole_county}, "larger than the city"),
        ({"method": "map", "geometry": new_haven}, "outside Bridgeport"),
        ({"method": "map", "geometry": "not json"}, "could not be read"),
        ({"method": "map", "geometry": ""}, "Draw the area on the map"),
        (
            {"method": "address", "address": "45 Lyon Terrace", "radius": "0"},
            "between 25 and 5,000 metres",
        ),
        (
            {"method": "address", "address": "45 Lyon Terrace", "radius": "100000"},
            "between 25 and 5,000 metres",
        ),
        (
            {"method": "address", "address": "45 Lyon Terrace", "radius": "lots"},
            "as a number of metres",
        ),
        ({"method": "neighbourhood", "neighbourhood": "atlantis"}, "Choose a neighbourhood"),
        ({"method": "teleport"}, "Choose how to set the area"),
    ]
    for fields, message in cases:
        response = post(client, "/watch/new", {**BASICS, **fields})
        refused(response, message)
    assert count(WatchArea) == 0


def test_a_map_circle_of_zero_or_100_km_is_refused(site):
    client = client_for(site, make_user())
    point = json.dumps({"type": "Point", "coordinates": [LON, LAT]})
    for radius in ("0", "100000"):
        response = post(
            client,
            "/watch/new",
            {**BASICS, "method": "map", "geometry": point, "map_radius": radius},
        )
        refused(response, "between 25 and 5,000 metres")
    assert count(WatchArea) == 0


def test_an_address_not_found_or_a_geocoder_down_is_a_message_not_an_error(site):
    remember_address("nowhere road")  # the geocoder found nothing for it
    client = client_for(site, make_user())
    base = {**BASICS, "method": "address", "radius": "300"}
    refused(post(client, "/watch/new", {**base, "address": "nowhere road"}), "could not find")
    # not cached: asks the geocoder, which is not there
    refused(
        post(client, "/watch/new", {**base, "address": "1 Unknown Lane"}),
        "look up addresses right now",
    )
    refused(post(client, "/watch/new", {**base, "address": ""}), "Enter an address")
    assert count(WatchArea) == 0


def test_the_other_settings_are_checked_too(site):
    client = client_for(site, make_user())
    response = post(
        client,
        "/watch/new",
        {
            "name": "",
            "method": "neighbourhood",
            "neighbourhood": "downtown",
            "scope": "some",
            "delivery": "carrier pigeon",
        },
    )
    refused(response, "Give the area a name")
    refused(response, "Choose at least one kind of update")
    refused(response, "Choose at least one kind of problem")
    refused(response, "Choose how you want to hear")
    assert count(WatchArea) == 0


def test_a_post_without_the_csrf_token_is_refused(site):
    client = client_for(site, make_user())
    response = client.post(
        "/watch/new", data={**BASICS, "method": "neighbourhood", "neighbourhood": "downtown"}
    )
    assert response.status_code == 400
    assert count(WatchArea) == 0


def test_guests_are_asked_to_sign_in_to_make_an_area(site):
    response = client_for(site).get("/watch/new")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


# ---- changing, pausing, deleting ----------------------------------------------------------


def test_an_area_can_be_renamed_keeping_its_shape_and_set_to_some_categories(site):
    owner = make_user()
    area = polygon_area(owner)
    shape = area.geometry_json
    client = client_for(site, owner)
    assert client.get(f"/watch/{area.id}/edit").status_code == 200
    response = post(
        client,
        f"/watch/{area.id}/edit",
        {
            **BASICS,
            "name": "Lyon Terrace",
            "method": "keep",
            "scope": "some",
            "categories": ["graffiti", "pothole"],
            "delivery": "digest",
        },
    )
    assert response.status_code == 303
    area = the_only_area()
    assert (area.name, area.geometry_json, area.delivery) == ("Lyon Terrace", shape, "digest")
    assert sorted(c.service_code for c in area.categories) == ["graffiti", "pothole"]


def test_a_bad_new_shape_leaves_the_area_as_it_was(site):
    owner = make_user()
    area = polygon_area(owner)
    before = (area.name, area.geometry_json)
    response = post(
        client_for(site, owner),
        f"/watch/{area.id}/edit",
        {**BASICS, "name": "Changed", "method": "map", "geometry": crossing()},
    )
    refused(response, "The outline crosses itself")
    area = the_only_area()
    assert (area.name, area.geometry_json) == before


def test_pause_resume_and_delete_from_the_account_page(site):
    owner = make_user()
    area = circle_area(owner, name="Around home")
    client = client_for(site, owner)
    me = client.get("/me").get_data(as_text=True)
    assert "Around home" in me and f'action="/watch/{area.id}/pause"' in me
    response = post(client, f"/watch/{area.id}/pause", {"paused": "1", "back": "me"})
    assert response.status_code == 303 and response.headers["Location"].endswith("/me#watch-areas")
    assert the_only_area().paused_at is not None
    assert "Paused" in client.get("/me").get_data(as_text=True)
    post(client, f"/watch/{area.id}/pause", {"paused": "0"})
    assert the_only_area().paused_at is None
    assert "Delete “Around home”?" in client.get(f"/watch/{area.id}/delete").get_data(as_text=True)
    response = post(client, f"/watch/{area.id}/delete")
    assert response.status_code == 303
    assert count(WatchArea) == 0


def test_nobody_else_can_see_change_or_delete_a_private_area(site):
    area = circle_area(make_user("owner@example.org"))
    other = client_for(site, make_user("other@example.org"))
    assert other.get(f"/watch/{area.id}").status_code == 404
    assert client_for(site).get(f"/watch/{area.id}").status_code == 404
    assert other.get(f"/watch/{area.id}/edit").status_code == 404
    assert post(other, f"/watch/{area.id}/pause", {"paused": "1"}).status_code == 404
    assert post(other, f"/watch/{area.id}/delete").status_code == 404
    assert the_only_area().paused_at is None


# ---- public areas and following them -------------------------------------------------------


def test_a_public_area_shows_its_reports_to_anyone_and_can_be_followed(site):
    area = polygon_area(make_user("ward@example.org"), name="Ward 130", is_public=True)
    make_report(description="Inside the ward, by the steps.")
    make_report(description="Far away in Black Rock.", latitude=41.15, longitude=-73.22)
    guest = client_for(site)
    page = guest.get(f"/watch/{area.id}").get_data(as_text=True)
    assert "Inside the ward" in page and "Far away" not in page
    assert "ward@example.org" not in page  # who made it is not shown
    assert "Ward 130" in guest.get("/watch").get_data(as_text=True)

    response = guest.post(f"/watch/{area.id}/follow", data={"wanted": "1"})
    assert response.status_code in (303, 400)  # no token: refused, or sent to sign in
    fan = make_user("fan@example.org")
    client = client_for(site, fan)
    response = post(client, f"/watch/{area.id}/follow", {"wanted": "1", "delivery": "email"})
    assert response.status_code == 303
    follow = db.session.scalars(db.select(WatchAreaFollow)).one()
    assert (follow.user_id, follow.delivery) == (fan.id, "email")
    assert "You follow this area" in client.get(f"/watch/{area.id}").get_data(as_text=True)
    post(client, f"/watch/{area.id}/follow", {"wanted": "0"})
    assert count(WatchAreaFollow) == 0


def test_a_guest_who_wants_to_follow_is_sent_to_sign_in(site):
    area = polygon_area(make_user("ward@example.org"), is_public=True)
    guest = client_for(site)
    response = post(guest, f"/watch/{area.id}/follow", {"wanted": "1"})
    assert response.status_code == 303 and "/sign-in" in response.headers["Location"]
    assert count(WatchAreaFollow) == 0


def test_a_private_area_cannot_be_followed(site):
    area = polygon_area(make_user("owner@example.org"))
    client = client_for(site, make_user("fan@example.org"))
    assert post(client, f"/watch/{area.id}/follow", {"wanted": "1"}).status_code == 404
    assert count(WatchAreaFollow) == 0


def test_the_area_page_has_its_map_as_data_and_in_words(site):
    owner = make_user()
    area = circle_area(owner, radius=300)
    page = client_for(site, owner).get(f"/watch/{area.id}", headers=HTMX).get_data(as_text=True)
    assert "data-watch-area" in page and "Within 300 m of" in page


def test_deleting_an_account_removes_its_areas_follows_and_notices(site):
    from bpt311.accounts.service import create_account, delete_account
    from bpt311.models import Notice
    from bpt311.watchers.events import announce
    from tests.test_watch_support import follow

    person = create_account("maria@example.org", "resident", "correct horse battery")
    circle_area(person)
    follow(circle_area(make_user("ward@example.org"), is_public=True), person)
    announce(make_report(), "new")
    db.session.commit()
    delete_account(person, "correct horse battery")
    assert count(WatchAreaFollow) == 0 and count(Notice) == 1  # the ward's owner's
    assert count(WatchArea) == 1
