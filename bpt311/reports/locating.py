"""Confirming a report's location after it was sent: the job that geocodes an address sent
without a point (the geocoder was down, or could not find it) and reverse-geocodes a point
sent without an address, retrying with backoff while the geocoder is down.

The sweep (``flask notify run``, :func:`bpt311.jobs.sweep.sweep_when_due`) calls
:func:`place_pending_reports`; staff can place a report by hand meanwhile (the inspector's
"Correct the details"), which ends the wait.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm.exc import StaleDataError

from bpt311 import effects, public_cache
from bpt311.extensions import db
from bpt311.geocoding import GeocoderUnavailable, reverse, search
from bpt311.models import Report, utcnow
from bpt311.reports import daily
from bpt311.reports.service import neighbourhood_at, service_area
from bpt311.watchers.events import announce

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12  # about two days of backoff; then the report waits for staff
FIRST_RETRY_SECONDS = 60
LONGEST_RETRY_SECONDS = 6 * 3600


def due_ids(limit: int = 20) -> list[int]:
    """Reports whose location is to be confirmed and whose next try is due, oldest first."""
    now = utcnow()
    ids = db.session.scalars(
        select(Report.id)
        .where(
            Report.location_pending,
            Report.location_attempts < MAX_ATTEMPTS,
            or_(Report.location_retry_at.is_(None), Report.location_retry_at <= now),
        )
        .order_by(Report.id)
        .limit(limit)
    ).all()
    effects.rollback()
    return list(ids)


def place_pending_reports(limit: int = 20) -> int:
    """One pass of the job; returns how many reports got their point or address. A geocoder
    found down ends the pass, so a slow one costs the sweep one timeout, not one a report."""
    placed = 0
    for report_id in due_ids(limit):
        try:
            outcome = locate(report_id)
        except StaleDataError:  # staff placed it, or another sweep did, meanwhile
            effects.rollback()
            continue
        if outcome == "retry later":
            break
        placed += outcome == "placed"
    return placed


def locate(report_id: int) -> str:
    """Geocode one report's address, or reverse-geocode its point; commits. Returns what
    happened: "placed", "retry later", "not found" or "nothing to do"."""
    report = db.session.get(Report, report_id)
    if report is None or not report.location_pending:
        effects.rollback()
        return "nothing to do"
    # The geocoder's calls commit their cache rows: make them before changing the report.
    try:
        if report.has_point:
            address = reverse(report.latitude, report.longitude, strict=True)
            places = []
        else:
            address = None
            places = search(report.address, limit=1) if report.address else []
    except GeocoderUnavailable:
        report.location_attempts += 1
        delay = min(
            FIRST_RETRY_SECONDS * 2 ** (report.location_attempts - 1), LONGEST_RETRY_SECONDS
        )
        report.location_retry_at = utcnow() + timedelta(seconds=delay)
        effects.commit()
        log.info("Report %s: geocoder down, location retried in %ss", report_id, delay)
        return "retry later"
    if report.has_point:
        report.address = (address or "")[:300]
        report.location_pending = False  # no address found: the neutral words stay
        report.updated_at = utcnow()
        effects.after_commit(public_cache.changed, report.tracking_number)
        effects.commit()
        return "placed" if address else "not found"
    place = next((p for p in places if service_area().contains(p.latitude, p.longitude)), None)
    if place is None:  # the geocoder cannot find it: staff place it by hand
        report.location_attempts = MAX_ATTEMPTS
        effects.commit()
        return "not found"
    # The address stays as the resident typed it; the point comes from the geocoder.
    report.latitude, report.longitude = round(place.latitude, 6), round(place.longitude, 6)
    report.neighbourhood_id = neighbourhood_at(report.latitude, report.longitude)
    daily.touch(report)  # the figures by neighbourhood count it where it now is
    report.location_pending = False
    report.location_retry_at = None
    report.updated_at = utcnow()  # the map's cached answers renew
    db.session.flush()
    announce(report, "new")  # watch areas match it now that it has a point
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    return "placed"
