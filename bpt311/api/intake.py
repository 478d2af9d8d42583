"""A GeoReport ``POST requests`` turned into a report through the one shared service.

Parameters are GeoReport's: ``service_code``; ``lat`` and ``long`` or ``address_string``;
``description``; ``attribute[code]`` (and ``attribute[code][]`` for a multi-value list);
``first_name``, ``last_name``, ``email``, ``phone`` as private contact details; and
``media_url``. We never fetch a ``media_url`` (it is someone else's server): it is kept
as the report's linked photo, shown on its page and given back as ``media_url``, and the
description is kept as sent. ``jurisdiction_id``, ``device_id`` and ``account_id`` are
accepted and ignored (one city, no accounts through the API).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

from email_validator import EmailNotValidError, validate_email

from bpt311 import effects, names, outbound, public_cache
from bpt311.api.service_requests import SERVICE_CODE_RE, clean
from bpt311.extensions import db
from bpt311.geocoding import GeocoderUnavailable, search
from bpt311.models import ApiKey, AuditLog, Report
from bpt311.problems import Problem
from bpt311.reports.service import (
    InvalidReport,
    NewReport,
    active_category,
    submit_report,
)

ATTRIBUTE_RE = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")
MEDIA_URL_MAX = 500


class RequestRefused(Problem):
    """A request we will not make a report of: the HTTP status and one message per problem."""

    def __init__(self, status: int, *messages: str):
        super().__init__("; ".join(messages))
        self.status = status
        self.messages = messages


def attributes(values) -> dict[str, list[str]]:
    """``attribute[code]=v`` and ``attribute[code][]=v1&...=v2`` as {code: [values]}."""
    answers: dict[str, list[str]] = {}
    for name, given in values.lists():
        match = ATTRIBUTE_RE.match(name)
        if match:
            answers.setdefault(match.group(1), []).extend(clean(value) for value in given)
    return answers


def _coordinate(text: str) -> float:
    try:
        return float(text)
    except ValueError as exc:
        raise RequestRefused(
            400, "lat and long must be WGS84 decimal degrees, like lat=41.1792&long=-73.1894"
        ) from exc


def location(values: Mapping) -> tuple[float | None, float | None, str]:
    """(latitude, longitude, address in words) from lat/long, else a geocoded address_string.

    With the geocoder down the point is (None, None): the request is accepted with its
    address, its location to be confirmed (bpt311.reports.locating)."""
    lat_text, long_text = clean(values.get("lat")), clean(values.get("long"))
    address = " ".join(clean(values.get("address_string")).split())[:300]
    if lat_text or long_text:
        if not (lat_text and long_text):
            raise RequestRefused(400, "Send both lat and long, or address_string instead")
        return _coordinate(lat_text), _coordinate(long_text), address
    if address:
        try:
            places = search(address, limit=1)
        except GeocoderUnavailable:
            return None, None, address
        if not places:
            raise RequestRefused(
                400,
                f"address_string: we could not find “{address}” in Bridgeport. "
                "Check it, or send lat and long instead.",
            )
        return places[0].latitude, places[0].longitude, places[0].address
    if clean(values.get("address_id")):
        raise RequestRefused(
            400, "address_id is not supported here: send lat and long, or address_string"
        )
    raise RequestRefused(400, "A location is required: send lat and long, or address_string")


def _media_url(values: Mapping) -> str:
    url = clean(values.get("media_url"))
    if not url:
        return ""
    problem = outbound.link_problem(url, MEDIA_URL_MAX)
    if problem:
        raise RequestRefused(400, f"media_url {problem}")
    return url


def _email(values: Mapping) -> str:
    email = clean(values.get("email"))
    if not email:
        return ""
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise RequestRefused(400, "email: enter an email address like name@example.com") from exc


def _messages(errors: dict[str, str], by_address: bool) -> list[str]:
    """The service's messages, each led by the GeoReport parameter it is about."""
    names = {
        "category": "service_code",
        "location": "address_string" if by_address else "lat/long",
    }
    messages = []
    for field, message in errors.items():
        name = names.get(field, field)
        if field.startswith("answer_"):
            name = f"attribute[{field.removeprefix('answer_')}]"
        messages.append(f"{name}: {message}")
    return messages


def take_request(values, key: ApiKey) -> Report:
    """Make the report ``values`` describe, filed with ``key``; RequestRefused if it cannot be."""
    service_code = (values.get("service_code") or "").strip()
    if not service_code:
        raise RequestRefused(400, "service_code was not provided")
    if not SERVICE_CODE_RE.match(service_code) or active_category(service_code) is None:
        raise RequestRefused(404, f"service_code {service_code!r} was not found")
    latitude, longitude, address = location(values)
    unplaced = latitude is None or longitude is None
    if not unplaced and not (math.isfinite(latitude) and math.isfinite(longitude)):
        raise RequestRefused(400, "lat/long: that location is not a real place on the map")
    description = clean(values.get("description"))
    media_url = _media_url(values)
    for part in ("first_name", "last_name"):
        if names.has_control_characters(values.get(part)):
            raise RequestRefused(400, f"{part}: {names.MESSAGE}")
    name = " ".join(clean(values.get(part)) for part in ("first_name", "last_name")).strip()
    new = NewReport(
        category_code=service_code,
        description=description,
        latitude=latitude,
        longitude=longitude,
        address=address,
        answers=attributes(values),
        contact_name=name,
        contact_email=_email(values),
        contact_phone=clean(values.get("phone")),
        source="api",
        media_url=media_url,
        unplaced=unplaced,
    )
    try:
        report = submit_report(new)
    except InvalidReport as exc:
        by_address = not clean(values.get("lat"))
        raise RequestRefused(400, *_messages(exc.errors, by_address)) from exc
    # Which key filed which report, so a misbehaving client's reports can be found.
    db.session.add(
        AuditLog(
            action="report.filed_by_api",
            report_id=report.id,
            target_type="api_key",
            target_id=key.id,
            detail={"api_key": key.prefix, "name": key.name},
        )
    )
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    return report
