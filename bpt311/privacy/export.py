"""A resident's own data, as a JSON document and a ZIP of their photos and videos."""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from typing import IO, Any

from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from bpt311 import storage
from bpt311.backup import json_value
from bpt311.extensions import db
from bpt311.models import (
    Base,
    Comment,
    EmailSubscription,
    Follow,
    Media,
    Notice,
    Report,
    User,
    Vote,
    WatchArea,
    WatchAreaFollow,
    WatchEvent,
    utcnow,
)

# Tables given their own section below; any other table that points at the account is
# listed under "other_records", so data added later is never left out of an export.
CURATED = {
    "report",
    "comment",
    "vote",
    "follow",
    "watch_area",
    "watch_area_follow",
    "notice",
    "timeline_event",
}
# Secrets and hashes are not data about the person: they would only help an attacker.
SECRET_COLUMNS = {"password_hash", "key_hash", "endpoint_hash", "auth", "p256dh"}


def _when(value) -> str | None:
    return value.isoformat() if value else None


def _tracking(report_id: int | None) -> str | None:
    return f"BPT-{report_id:06d}" if report_id else None


def _media(item: Media) -> dict[str, Any]:
    return {
        "kind": item.kind,
        "file": item.file_name,
        "content_type": item.content_type,
        "description": item.alt_text,
        "added_at": _when(item.created_at),
    }


def personal_data(user: User) -> dict[str, Any]:
    """Everything bpt311 holds about ``user``, in words a person can read."""
    reports = db.session.scalars(
        select(Report)
        .where(Report.reporter_id == user.id)
        .options(selectinload(Report.category), selectinload(Report.media))
        .order_by(Report.id)
    ).all()
    comments = db.session.scalars(
        select(Comment).where(Comment.author_id == user.id).order_by(Comment.id)
    ).all()
    comment_media: dict[int, list[Media]] = {}
    if comments:
        for item in db.session.scalars(
            select(Media).where(Media.comment_id.in_([c.id for c in comments]))
        ):
            comment_media.setdefault(item.comment_id, []).append(item)
    areas = db.session.scalars(
        select(WatchArea).where(WatchArea.owner_id == user.id).order_by(WatchArea.id)
    ).all()
    followed_areas = db.session.scalars(
        select(WatchAreaFollow)
        .where(WatchAreaFollow.user_id == user.id)
        .options(selectinload(WatchAreaFollow.area))
        .order_by(WatchAreaFollow.id)
    ).all()
    # Notices of things moderators hid since tell of someone else's words: left out, as
    # on /me/notifications (they are back if the thing is restored).
    notices = db.session.scalars(
        select(Notice)
        .join(WatchEvent, WatchEvent.id == Notice.event_id)
        .where(Notice.user_id == user.id, WatchEvent.publicly_visible)
        .options(selectinload(Notice.event))
        .order_by(Notice.id)
    ).all()
    return {
        "exported_at": utcnow().isoformat(),
        "about": _("Everything Bridgeport 311 keeps about your account. See /privacy."),
        "account": {
            "email": user.email,
            "name": user.display_name,
            "show_name_publicly": user.show_name,
            "language": user.locale or None,
            "role": user.role,
            "department": user.department.name if user.department else None,
            "email_confirmed_at": _when(user.email_verified_at),
            "created_at": _when(user.created_at),
        },
        "reports": [
            {
                "tracking_number": report.tracking_number,
                "kind": report.category.name,
                "description": report.description,
                "address": report.address,
                "latitude": report.latitude,
                "longitude": report.longitude,
                "status": report.status_label,
                "sent_at": _when(report.created_at),
                "closed_at": _when(report.closed_at),
                "answers": report.answers,
                "anonymous": report.anonymous,
                "contact_name": report.contact_name,
                "contact_email": report.contact_email,
                "contact_phone": report.contact_phone,
                "contact_erased_at": _when(report.contact_erased_at),
                # Theirs: photos others added with comments are the others' data.
                "photos_and_videos": [
                    _media(item) for item in report.media if item.comment_id is None
                ],
            }
            for report in reports
        ],
        "comments": [
            {
                "report": _tracking(comment.report_id),
                "text": comment.body,
                "written_at": _when(comment.created_at),
                "changed_at": _when(comment.edited_at),
                "deleted_at": _when(comment.deleted_at),
                "hidden_by_moderators_at": _when(comment.hidden_at),
                "photos": [_media(item) for item in comment_media.get(comment.id, [])],
            }
            for comment in comments
        ],
        "votes": [
            {"report": _tracking(vote.report_id), "at": _when(vote.created_at)}
            for vote in db.session.scalars(
                select(Vote).where(Vote.user_id == user.id).order_by(Vote.id)
            )
        ],
        "follows": [
            {"report": _tracking(follow.report_id), "since": _when(follow.created_at)}
            for follow in db.session.scalars(
                select(Follow).where(Follow.user_id == user.id).order_by(Follow.id)
            )
        ],
        "email_updates_without_signing_in": [
            {"report": _tracking(row.report_id), "since": _when(row.confirmed_at)}
            for row in (
                db.session.scalars(
                    select(EmailSubscription)
                    .where(EmailSubscription.email == user.email.strip().lower())
                    .order_by(EmailSubscription.id)
                )
                if user.email_verified_at is not None  # only an address they proved is theirs
                else ()
            )
        ],
        "watch_areas": [
            {
                "name": area.name,
                "shape": area.shape,
                "geometry": area.geometry_json,
                "radius_metres": area.radius_m,
                "place": area.place_label,
                "delivery": area.delivery,
                "public": area.is_public,
                "paused_at": _when(area.paused_at),
                "created_at": _when(area.created_at),
            }
            for area in areas
        ],
        "watch_areas_followed": [
            {"area": row.area.name, "delivery": row.delivery, "since": _when(row.created_at)}
            for row in followed_areas
        ],
        "notices": [
            {
                "headline": notice.event.headline,
                "report": _tracking(notice.event.report_id),
                "at": _when(notice.created_at),
                "read_at": _when(notice.read_at),
            }
            for notice in notices
        ],
        "other_records": _other_records(user.id),
    }


def _other_records(user_id: int) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in CURATED or table.name == "user_account":
            continue
        columns = [fk.parent for fk in table.foreign_keys if fk.column.table.name == "user_account"]
        if not columns:
            continue
        rows = db.session.execute(
            select(table).where(or_(*(column == user_id for column in columns)))
        ).mappings()
        listed = [
            {key: json_value(value) for key, value in row.items() if key not in SECRET_COLUMNS}
            for row in rows
        ]
        if listed:
            found[table.name] = listed
    return found


def media_of(user: User) -> list[Media]:
    """The photos and videos ``user`` sent, with reports or with comments."""
    return db.session.scalars(
        select(Media)
        .outerjoin(Comment, Comment.id == Media.comment_id)
        .join(Report, Report.id == Media.report_id)
        .where(
            or_(
                Comment.author_id == user.id,
                (Media.comment_id.is_(None)) & (Report.reporter_id == user.id),
            )
        )
        .order_by(Media.id)
    ).all()


def media_zip(user: User) -> IO[bytes]:
    """A ZIP of the person's photos and videos, spooled to disk when large."""
    spooled = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)  # noqa: SIM115  (send_file closes it)
    with zipfile.ZipFile(spooled, "w", zipfile.ZIP_STORED) as archive:
        for item in media_of(user):
            try:
                source = storage.open_file(item.file_name)
            except FileNotFoundError:
                continue
            # Stored, not deflated: photos and videos are compressed already.
            name = f"BPT-{item.report_id:06d}/{item.file_name.rpartition('/')[2]}"
            with source, archive.open(name, "w", force_zip64=True) as out:
                shutil.copyfileobj(source, out, 1024 * 1024)
    spooled.seek(0)
    return spooled
