"""Fixtures and helpers the watch-area tests share (this module holds no tests itself)."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import pytest
from sqlalchemy import func, select

from bpt311.extensions import db
from bpt311.geocoding import Place, normalise
from bpt311.models import GeocodeCache, Notice, Outbox, WatchArea, WatchAreaFollow
from bpt311.watch import service, shapes
from tests.conftest import csrf_token_from
from tests.factories import CITY_HALL, sign_in_as
from tests.smtp import SMTPServer

LAT, LON = CITY_HALL
D = 0.002  # about 220 m north-south, 170 m east-west


def square(lat=LAT, lon=LON, d=D, hole=None) -> str:
    """A GeoJSON square around a point, optionally with a square hole of half-size ``hole``."""
    ring = [
        [round(lon - d, 6), round(lat - d, 6)],
        [round(lon + d, 6), round(lat - d, 6)],
        [round(lon + d, 6), round(lat + d, 6)],
        [round(lon - d, 6), round(lat + d, 6)],
        [round(lon - d, 6), round(lat - d, 6)],
    ]
    rings = [ring]
    if hole:
        rings.append(
            [
                [round(lon - hole, 6), round(lat - hole, 6)],
                [round(lon - hole, 6), round(lat + hole, 6)],
                [round(lon + hole, 6), round(lat + hole, 6)],
                [round(lon + hole, 6), round(lat - hole, 6)],
                [round(lon - hole, 6), round(lat - hole, 6)],
            ]
        )
    return json.dumps({"type": "Polygon", "coordinates": rings})


def settings(name="Our block", **fields) -> service.AreaSettings:
    fields.setdefault("kinds", ["new", "status", "comment"])
    return service.AreaSettings(name=name, **fields)


def polygon_area(owner, geojson=None, **fields) -> WatchArea:
    return service.create_area(owner, shapes.polygon(geojson or square()), settings(**fields))


def circle_area(owner, lat=LAT, lon=LON, radius=300, **fields) -> WatchArea:
    return service.create_area(owner, shapes.circle(lat, lon, radius), settings(**fields))


def follow(area, user, delivery="email") -> WatchAreaFollow:
    service.set_follow(area, user, True, delivery)
    return db.session.scalars(
        select(WatchAreaFollow).where(
            WatchAreaFollow.area_id == area.id, WatchAreaFollow.user_id == user.id
        )
    ).one()


def remember_address(text: str, *places: Place) -> None:
    """Put a geocoder answer in the cache, so a lookup needs no network."""
    db.session.add(
        GeocodeCache(
            kind="search", query=normalise(text), results=[asdict(place) for place in places]
        )
    )
    db.session.commit()


def outbox_to(address: str) -> list[Outbox]:
    return db.session.scalars(
        select(Outbox).where(Outbox.recipient == address).order_by(Outbox.id)
    ).all()


def notices_of(user) -> list[Notice]:
    db.session.expire_all()
    return db.session.scalars(select(Notice).where(Notice.user_id == user.id)).all()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def client_for(app, user=None):
    client = app.test_client()
    if user is not None:
        sign_in_as(client, user)
    return client


def post(client, path, data=None, headers=None, **kwargs):
    token = csrf_token_from(client)
    return client.post(
        path, data={"csrf_token": token, **(data or {})}, headers=headers or {}, **kwargs
    )


UNSUBSCRIBE_RE = re.compile(r"<(http://bpt311\.test/watch/unsubscribe/[^>]+)>")


def unsubscribe_path(row_or_header) -> str:
    header = (
        row_or_header
        if isinstance(row_or_header, str)
        else row_or_header.headers["List-Unsubscribe"]
    )
    return UNSUBSCRIBE_RE.search(header).group(1).removeprefix("http://bpt311.test")


# Named fixtures: a test module imports these functions and asks for "smtp" and "site".
@pytest.fixture(name="smtp")
def smtp_fixture():
    with SMTPServer() as server:
        yield server


@pytest.fixture(name="site")
def site_fixture(make_app, smtp):
    app = make_app(**smtp.settings)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        yield app
