"""Staff correct a report's details (description, place), a point still to be confirmed
kept waiting for one."""

from __future__ import annotations

from flask_babel import gettext as _

from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import (
    Report,
    User,
)
from bpt311.problems import InvalidInput
from bpt311.reports import daily
from bpt311.reports.service import DESCRIPTION_MIN, InvalidReport, check_location, neighbourhood_at
from bpt311.staff.acting import (
    add_event,
    check_may_change,
    checked_text,
    commit_or_stale,
)
from bpt311.watchers.events import announce


def edit_details(
    report: Report,
    actor: User,
    version: int | None,
    description: str,
    address: str,
    latitude: str,
    longitude: str,
) -> None:
    check_may_change(report, actor, version)
    text = checked_text(description, "description", required=True)
    if len(text) < DESCRIPTION_MIN:
        raise InvalidInput(
            "description",
            _("Describe it in at least %(num)d characters", num=DESCRIPTION_MIN),
        )
    if not report.has_point and not (latitude or "").strip() and not (longitude or "").strip():
        _keep_waiting_for_a_point(report, actor, text, address)
        return
    try:
        lat, lon = check_location(float(latitude), float(longitude))
    except ValueError as exc:
        raise InvalidInput("latitude", _("Latitude and longitude must be numbers")) from exc
    except InvalidReport as exc:
        raise InvalidInput("latitude", next(iter(exc.errors.values()))) from exc
    before = {
        "description": report.description,
        "address": report.address,
        "latitude": report.latitude,
        "longitude": report.longitude,
    }
    report.description, report.address = text, " ".join((address or "").split())[:300]
    placed = not report.has_point  # sent with its address alone: staff place it now
    moved = (lat, lon) != (report.latitude, report.longitude)
    if moved:
        daily.touch(report)  # the map's cell it leaves
    report.latitude, report.longitude = lat, lon
    if moved:
        report.neighbourhood_id = neighbourhood_at(lat, lon)
        daily.touch(report)  # the figures by neighbourhood and the map's cell it moves to
    if placed or report.address:
        report.location_pending = False  # nothing left for the geocoding job to do
    add_event(report, actor, "edited", public_note="The city corrected the details.")
    if placed:
        db.session.flush()
        announce(report, "new", actor=actor)  # watch areas match it now it has a point
    # The original text is kept here, in the audit trail.
    record(
        actor,
        "edit_details",
        report,
        before=before,
        after={"description": text, "address": report.address, "latitude": lat, "longitude": lon},
    )
    commit_or_stale()


def _keep_waiting_for_a_point(report: Report, actor: User, text: str, address: str) -> None:
    """Details corrected for a report not placed yet, still without a point: a changed
    address is geocoded afresh by the job (bpt311.reports.locating)."""
    address = " ".join((address or "").split())[:300]
    if not address:
        raise InvalidInput("address", _("Give the address, or the latitude and longitude"))
    before = {"description": report.description, "address": report.address}
    if address != report.address:
        report.location_attempts, report.location_retry_at = 0, None
    report.description, report.address, report.location_pending = text, address, True
    add_event(report, actor, "edited", public_note="The city corrected the details.")
    record(
        actor,
        "edit_details",
        report,
        before=before,
        after={"description": text, "address": address},
    )
    commit_or_stale()
