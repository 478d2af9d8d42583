"""Reports seen and sent by the public."""

from __future__ import annotations

import secrets

import segno
from flask import (
    Blueprint,
    abort,
    flash,
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
from bpt311.accounts.standing import CannotPost, may_write, require_may_write
from bpt311.errors import go_to, partial_or_page
from bpt311.extensions import db, limiter, person_or_address
from bpt311.models import Media
from bpt311.pwa import share
from bpt311.reports import queries
from bpt311.reports.forms import report_form_class
from bpt311.reports.intake import take_report
from bpt311.reports.service import (
    active_category,
    possible_duplicates,
    report_url,
    sla_in_words,
)

bp = Blueprint("reports", __name__)


def _paths(staff: bool) -> dict[str, str]:
    """Where the form's steps go: the public flow, or staff intake for a caller."""
    if staff:
        return {"new": url_for("staff.intake"), "create": url_for("staff.intake_create")}
    return {"new": url_for("reports.new"), "create": url_for("reports.create")}


def _category_step(query: str = "", error: str = "", status: int = 200, staff: bool = False):
    groups = queries.search_categories(query)
    return partial_or_page(
        "reports/_category_choices.html",
        "reports/choose.html",
        status,
        groups=groups,
        query=query,
        error=error,
        match_count=sum(len(c) for _, c in groups),
        paths=_paths(staff),
        staff_intake=staff,
    )


def _form_page(form, category, intake=None, status: int = 200, staff: bool = False):
    return partial_or_page(
        "reports/_report_form.html",
        "reports/new.html",
        status,
        form=form,
        category=category,
        intake=intake,
        response_time=sla_in_words(category.sla_hours),
        paths=_paths(staff),
        staff_intake=staff,
    )


def new_report_page(staff: bool = False):
    if not staff:  # a banned account is told before it fills the form in, not after
        require_may_write(current_user)
    code = request.args.get("category", "").strip()
    category = active_category(code) if code else None
    if category is None:
        error = _("That kind of problem is not on our list. Choose one below.") if code else ""
        if not staff:  # a deep link's point waits while the category is chosen
            share.remember_point(request.args.get("lat", ""), request.args.get("lon", ""))
        return _category_step(request.args.get("q", "").strip()[:100], error, staff=staff)
    form = report_form_class(category)(formdata=None)
    form.category.data = category.service_code
    form.submission_key.data = secrets.token_urlsafe(24)
    if current_user.is_authenticated and not staff:  # the receipt goes to the account's email
        form.contact_name.data = current_user.display_name
        form.contact_email.data = current_user.email
    # Deep links (a flyer's QR code, another app) may carry the point.
    for name in ("lat", "lon"):
        value = request.args.get(name, "")
        target = form.latitude if name == "lat" else form.longitude
        target.data = value[:20]
    intake = None
    if not staff:  # a point kept from the category step, photos shared from the phone
        point = share.pending_point()
        if point and not (form.latitude.data or form.longitude.data):
            form.latitude.data, form.longitude.data = point
        intake = share.take_pending(form)
    return _form_page(form, category, intake, staff=staff)


def create_report(staff: bool = False):
    """Send the form: for a resident, or (``staff``) for a caller, with source "staff"."""
    category = active_category(request.form.get("category", ""))
    if category is None:
        return _category_step(
            error=_("Choose what kind of problem it is."), status=422, staff=staff
        )
    form = report_form_class(category)()
    reporter = current_user if current_user.is_authenticated and not staff else None
    intake = take_report(form, category, reporter=reporter, source="staff" if staff else "web")
    if intake.report is None:
        status = 422 if any(f.errors for f in form) else 200
        return _form_page(form, category, intake, status, staff=staff)
    session.setdefault("my_reports", [])
    session["my_reports"] = [*session["my_reports"][-19:], intake.report.id]
    share.forget()
    target = url_for("reports.submitted", tracking_number=intake.report.tracking_number)
    return go_to(target)


@bp.get("/reports/new")
def new():
    return new_report_page()


@bp.post("/reports/new")
@limiter.limit("20/minute;200/hour", key_func=person_or_address)
def create():
    return create_report()


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


def detail_context(report, comment_form=None, email_form=None) -> dict:
    """Everything the report page shows, for the person looking at it."""
    from bpt311.community.forms import EmailUpdatesForm
    from bpt311.community.page import conversation_context
    from bpt311.community.service import viewer_state

    user = current_user
    mine = getattr(user, "is_authenticated", False) and report.reporter_id == user.id
    return {
        # A banned account is told once, where the links to write would be.
        "cannot_post": "" if may_write(user) else str(CannotPost()),
        "merged": queries.merged_into(report),
        "response_time": sla_in_words(report.category.sla_hours),
        "is_reporter": mine,
        "can_change": mine and report.status == "open" and report.acknowledged_at is None,
        **viewer_state(report, user),
        **conversation_context(report, user, comment_form),
        "email_form": email_form or EmailUpdatesForm(formdata=None),
    }


@bp.get("/reports/<tracking_number>")
def detail(tracking_number: str):
    report = queries.report_by_tracking_number(tracking_number)
    if report is None:
        earlier = queries.report_by_old_number(tracking_number)  # imported from SeeClickFix…
        if earlier is None:
            abort(404)
        return redirect(url_for(".detail", tracking_number=earlier.tracking_number), 301)
    hidden = not report.publicly_visible  # moderators hid it: gone for the public, not staff
    if hidden and not getattr(current_user, "is_staff", False):
        abort(404)
    if tracking_number != report.tracking_number:
        return redirect(url_for(".detail", tracking_number=report.tracking_number), 301)
    if hidden:
        flash(
            _("Hidden from the public by the moderators: %(reason)s", reason=report.hidden_reason),
            "info",
        )
    return render_template("reports/detail.html", **detail_context(report))


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
    inline = content_type in SERVABLE_TYPES  # whatever a row says, never serve markup
    if not inline:
        content_type = "application/octet-stream"
    response = storage.send(name, content_type, inline=inline)
    if response is None:
        abort(404)
    if response.status_code == 302:  # to the object store: the URL was checked above
        if media is not None:
            storage.cache_while_hideable(response, public=media.publicly_visible)
        return response
    response.headers["Content-Disposition"] = "inline" if inline else "attachment"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    if media is None:  # an upload waiting for its report: only its uploader has the name
        response.headers["Cache-Control"] = "private, max-age=86400"
    else:
        storage.cache_while_hideable(response, public=media.publicly_visible)
    return response
