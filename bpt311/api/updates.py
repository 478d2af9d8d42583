"""The updates feed (``servicerequestupdates``, FixMyStreet's GeoReport extension): every
public step in every public report's life, for systems that keep a copy in sync.

An update is a timeline event the public sees (a status move, the city's public note, a
correction), never a resident's comment (residents' words are not the city's status, as
in ``status_notes``), an internal-only note, or anything of a hidden report. Each carries
the request's GeoReport status as it stood after that step. One SELECT, however many.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import aliased

from bpt311.api.georeport import w3c_datetime
from bpt311.api.service_requests import (
    RequestQuery,
    between_dates,
    newest_first,
    parse_query,
    tracking_number,
)
from bpt311.extensions import db
from bpt311.models import Report, TimelineEvent
from bpt311.reports.timeline import step_words
from bpt311.site import city_zone

# The steps that change what GeoReport calls a request's status, and the status they leave.
STATUS_AFTER = {
    "submitted": "open",
    "acknowledged": "open",
    "reopened": "open",
    "closed": "closed",
    "withdrawn": "closed",
    "duplicate": "closed",
    "archived": "closed",
}


def parse_updates_query(args: Mapping) -> RequestQuery:
    """``start_date``/``end_date`` (on ``updated_datetime``) and paging, read as for requests;
    the request filters mean nothing here and are ignored."""
    wanted = {name: args.get(name, "") for name in ("start_date", "end_date", "page", "page_size")}
    return parse_query(wanted)  # without start_date: the 90 days up to end_date, or now


def _matching(query: RequestQuery) -> Select:
    earlier = aliased(TimelineEvent)
    status_kind = (
        select(earlier.kind)
        .where(
            earlier.report_id == TimelineEvent.report_id,
            earlier.kind.in_(STATUS_AFTER),
            or_(
                earlier.created_at < TimelineEvent.created_at,
                and_(
                    earlier.created_at == TimelineEvent.created_at,
                    earlier.id <= TimelineEvent.id,
                ),
            ),
        )
        .order_by(earlier.created_at.desc(), earlier.id.desc())
        .limit(1)
        .correlate(TimelineEvent)
        .scalar_subquery()
    )
    rows = (
        select(
            TimelineEvent.id,
            TimelineEvent.report_id,
            TimelineEvent.kind,
            TimelineEvent.public_note,
            TimelineEvent.created_at,
            status_kind.label("status_kind"),
        )
        .join(Report, Report.id == TimelineEvent.report_id)
        .where(
            Report.publicly_visible,
            TimelineEvent.kind != "comment",
            or_(TimelineEvent.kind != "note", TimelineEvent.public_note != ""),
        )
    )
    rows = between_dates(rows, query, TimelineEvent.created_at)
    return newest_first(rows, query, TimelineEvent.created_at, TimelineEvent.id)


def updates_matching(query: RequestQuery) -> tuple[Iterator[dict], bool]:
    """The updates, newest first, and whether another page follows."""
    zone = city_zone()
    rows = db.session.execute(_matching(query)).all()
    more = query.paged and len(rows) > query.limit
    if query.paged:
        rows = rows[: query.limit]
    return (
        {
            "update_id": str(row.id),
            "service_request_id": tracking_number(row.report_id),
            "status": STATUS_AFTER.get(row.status_kind, "open"),
            "updated_datetime": w3c_datetime(row.created_at, zone),
            "description": row.public_note or step_words(row.kind),
            "media_url": None,
        }
        for row in rows
    ), more
