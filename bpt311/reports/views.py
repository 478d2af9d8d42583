"""Reports seen and sent by the public."""

from __future__ import annotations

import segno
from flask import (
    Blueprint,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select
from sqlalchemy.orm import selectinload

from bpt311 import storage
from bpt311.errors import partial_or_page, varies_on_htmx, wants_partial
from bpt311.extensions import db, limiter, person_or_address
from bpt311.models import Media
from bpt311.reports import flow, queries
from bpt311.reports.service import (
    active_category,
    possible_duplicates,
    report_url,
    sla_in_words,
)

bp = Blueprint("reports", __name__)


@bp.get("/reports/new")
def new():
    return flow.new_report_page()


@bp.post("/reports/new")
@limiter.limit("20/minute;200/hour", key_func=person_or_address)
def create():
    return flow.create_report()


@bp.get("/reports/nearby")
@limiter.limit("60/minute")
def nearby():
    """Open reports like the one being written, near its point (the duplicate check)."""
    category = active_category(request.args.get("category", ""))
    try:
        latitude = float(request.args.get("latitude", ""))
        longitude = float(request.args.get("longitude", ""))
    except ValueError:
        latitude = longitude = None
    duplicates = []
    if category and latitude is not None and longitude is not None:
        duplicates = possible_duplicates(category.id, latitude, longitude)
    return partial_or_page(
        "reports/_duplicates.html", "reports/nearby.html", duplicates=duplicates, category=category
    )


@bp.get("/reports/<tracking_number>/submitted")
def submitted(tracking_number: str):
    report = queries.report_by_tracking_number(tracking_number)
    if report is None or not report.publicly_visible:
        abort(404)
    link = report_url(report)
    qr = segno.make(link, error="m").svg_inline(
        scale=4,
        border=2,
        title=_("QR code linking to %(link)s", link=link),
        dark="#000",
        light="#fff",
    )
    return render_template(
        "reports/submitted.html",
        report=report,
        link=link,
        qr=qr,
        response_time=sla_in_words(report.category.sla_hours),
        mine=report.id in session.get("my_reports", []),
    )


SERVABLE_TYPES = frozenset(
    {
        "image/jpeg",
        "image/png",
        "image/webp",
        "image/avif",
        "video/mp4",
        "video/quicktime",
        "video/webm",
    }
)


@bp.get("/media/<path:name>")
def media_file(name: str):
    """A stored photo or video, as an image or video and never as anything a browser runs."""
    media = None
    if name.startswith("pending/"):
        token = name.removeprefix("pending/").split(".", 1)[0]
        item = storage.load_stashed(token)
        if item is None or name not in (item.file_name, item.thumb_name):
            abort(404)
        if name == item.file_name and not item.servable:
            abort(404)  # a video as sent, its place and camera inside: never shown
        content_type = "image/jpeg" if name == item.thumb_name else item.content_type
    else:
        media = db.session.scalars(
            select(Media)
            .where(or_(Media.file_name == name, Media.thumb_name == name))
            .options(selectinload(Media.report), selectinload(Media.comment))
        ).first()
        if media is None or not media.visible_to(current_user):
            abort(404)  # hidden by moderators, or with a deleted comment: staff only
        if media.kind == "video" and media.processing_state != "ready":
            abort(404)  # the video as sent, its place and camera inside, until cleaned
        content_type = "image/jpeg" if name == media.thumb_name else media.content_type
    # An upload waiting for its report (media is None): only its uploader has the name.
    return _send_media(name, content_type, None if media is None else media.publicly_visible)


def _send_media(name: str, content_type: str, public: bool | None, stream: bool = False):
    """A stored file as an image or video, never as anything a browser runs; cached as long
    as moderators could not hide it (``public`` None: private to the one who has the name)."""
    inline = content_type in SERVABLE_TYPES  # whatever a row says, never serve markup
    if not inline:
        content_type = "application/octet-stream"
    response = storage.send(name, content_type, inline=inline, stream=stream)
    if response is None:
        abort(404)
    if response.status_code != 302:  # 302: to the object store, the URL was checked above
        response.headers["Content-Disposition"] = "inline" if inline else "attachment"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if public is None:
        response.headers["Cache-Control"] = "private, max-age=86400"
    else:
        storage.cache_while_hideable(response, public=public)
    return response


@bp.get("/media/v/<name>")
def media_variant(name: str):
    """A smaller copy of a photo, shown only while the photo itself may be shown."""
    match = storage.VARIANT_RE.match(name)
    if match is None:
        abort(404)
    rows = db.session.scalars(
        select(Media)
        .where(Media.variant_key == match["key"])
        .options(selectinload(Media.report), selectinload(Media.comment))
    ).all()
    # The photo's own rule (Media.visible_to), as /media/<name> applies it.
    shown = [
        media
        for media in rows
        if f"v/{name}" in storage.variant_files(media) and media.visible_to(current_user)
    ]
    if not shown:
        abort(404)
    public = any(media.publicly_visible for media in shown)
    mimetype = next(k for k, ext in storage.VARIANT_EXTENSIONS.items() if name.endswith(ext))
    return _send_media(f"v/{name}", mimetype, public, stream=True)  # cached as the photo


@bp.get("/reports/<tracking_number>/photos")
def photos(tracking_number: str):
    """The report's photos as a partial, polled while their copies are being made."""
    report = queries.report_by_tracking_number(tracking_number)
    if report is None:
        abort(404)
    if not report.publicly_visible and not getattr(current_user, "is_staff", False):
        abort(404)
    page = url_for("community.report", tracking_number=report.tracking_number)
    if not wants_partial():
        return redirect(page + "#report-photos", 303)
    response = varies_on_htmx(render_template("reports/_photos.html", report=report, polled=True))
    response.headers["Cache-Control"] = "no-store"
    return response
