"""The new-report flow: choose a category, fill the form in, send it. One flow for the
public pages (/reports/new), for staff taking a report from a caller (/staff/intake) and
for the city-hall kiosk (/kiosk/report): each is a ``Desk``, and the views pass a flag."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from flask import redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from bpt311.errors import go_to, partial_or_page
from bpt311.reports import here, queries
from bpt311.reports import shared as share
from bpt311.reports.browse import finite_number
from bpt311.reports.forms import report_form_class
from bpt311.reports.intake import Intake, take_report
from bpt311.reports.service import active_category, sla_in_words
from bpt311.standing import require_may_write

# All a kiosk's session holds after a report, and nothing personal: the report's id (its
# receipt can then be emailed or texted) and which receipts went out (kiosk/views.py).
KIOSK_REPORT = "kiosk_report"
KIOSK_SENT = "kiosk_sent"


@dataclass(frozen=True)
class Desk:
    """Where a report is made, and what that changes in the flow."""

    source: str  # the report's source
    new: str  # endpoint of the category step and the empty form
    create: str  # endpoint the form is sent to
    templates: str  # folder of its choose.html, new.html and _report_form.html
    own_device: bool  # a resident's own browser: their account, kept points, shared photos
    takes_points: bool  # a link's lat/lon place the report (the kiosk has no map, no links)


WEB = Desk("web", "reports.new", "reports.create", "reports", True, True)
STAFF = Desk("staff", "staff.intake", "staff.intake_create", "reports", False, True)
KIOSK = Desk("kiosk", "kiosk.new_report", "kiosk.create_report", "kiosk", False, False)


def _desk(staff: bool, kiosk: bool) -> Desk:
    return KIOSK if kiosk else STAFF if staff else WEB


def _context(desk: Desk) -> dict:
    """What every step's templates are told about the desk."""
    return {
        "paths": {"new": url_for(desk.new), "create": url_for(desk.create)},
        "staff_intake": desk is STAFF,
        "kiosk": desk is KIOSK,  # big targets, autocomplete off, links that stay on the kiosk
    }


def _category_step(desk: Desk, query: str = "", error: str = "", status: int = 200):
    groups = queries.search_categories(query)
    # A place chosen first (/map, near me, a deep link) rides along in the query string.
    latitude, longitude = (finite_number(request.args.get(n)) for n in ("lat", "lon"))
    point = None
    if desk.takes_points and latitude is not None and longitude is not None:
        point = (latitude, longitude)
    return partial_or_page(
        "reports/_category_choices.html",
        f"{desk.templates}/choose.html",
        status,
        groups=groups,
        query=query,
        error=error,
        match_count=sum(len(c) for _, c in groups),
        point=point,
        **_context(desk),
    )


def _form_page(desk: Desk, form, category, intake=None, status: int = 200, chosen=None):
    return partial_or_page(
        f"{desk.templates}/_report_form.html",
        f"{desk.templates}/new.html",
        status,
        form=form,
        category=category,
        intake=intake,
        response_time=sla_in_words(category.sla_hours),
        chosen=chosen,
        **_context(desk),
    )


def new_report_page(staff: bool = False, kiosk: bool = False):
    desk = _desk(staff, kiosk)
    if desk.own_device:  # a banned account is told before it fills the form in, not after
        require_may_write(current_user)
    code = request.args.get("category", "").strip()
    category = active_category(code) if code else None
    if category is None:
        error = _("That kind of problem is not on our list. Choose one below.") if code else ""
        if desk.own_device:  # a deep link's point waits while the category is chosen
            share.remember_point(request.args.get("lat", ""), request.args.get("lon", ""))
        return _category_step(desk, request.args.get("q", "").strip()[:100], error)
    form = report_form_class(category)(formdata=None)
    form.category.data = category.service_code
    form.submission_key.data = secrets.token_urlsafe(24)
    if current_user.is_authenticated and desk.own_device:  # the receipt goes to their email
        form.contact_name.data = current_user.display_name
        form.contact_email.data = current_user.email
    # Deep links (a flyer's QR code, another app) may carry the point.
    for name in ("lat", "lon") if desk.takes_points else ():
        value = request.args.get(name, "")
        target = form.latitude if name == "lat" else form.longitude
        target.data = value[:20]
    intake = None
    if desk.own_device:  # a point kept from the category step, photos shared from the phone
        point = share.pending_point()
        if point and not (form.latitude.data or form.longitude.data):
            form.latitude.data, form.longitude.data = point
        intake = share.take_pending(form)
    chosen = _chosen_place(form) if form.latitude.data or form.longitude.data else None
    if chosen is not None and chosen.problem:
        intake = intake or Intake()
        intake.notice = chosen.problem
    return _form_page(desk, form, category, intake, chosen=chosen)


def _chosen_place(form) -> here.PlaceInWords:
    """A place the link carries (#22 item 8), checked and in words: the address field takes
    its address, tied to the point as a geocoded one is (changing it without JavaScript
    looks the new one up). Outside the city or not a place: the point is dropped, and why
    is said, so the resident places the pin or types the address instead."""
    chosen = here.describe_point(
        finite_number(form.latitude.data), finite_number(form.longitude.data)
    )
    if chosen.problem:
        form.latitude.data = form.longitude.data = ""
        return chosen
    if chosen.address and not form.address.data:
        form.address.data = chosen.address
        form.located_for.data = "@" + chosen.address
    return chosen


def create_report(staff: bool = False, kiosk: bool = False):
    """Send the form: for a resident, for a caller (``staff``, source "staff"), or at the
    kiosk (source "kiosk", on to its receipt screen)."""
    desk = _desk(staff, kiosk)
    category = active_category(request.form.get("category", ""))
    if category is None:
        if desk is KIOSK:  # the kiosk simply starts the visitor at its list of problems
            return redirect(url_for(desk.new), 303)
        return _category_step(desk, error=_("Choose what kind of problem it is."), status=422)
    form = report_form_class(category)()
    reporter = current_user if current_user.is_authenticated and desk.own_device else None
    intake = take_report(form, category, reporter=reporter, source=desk.source)
    if intake.report is None:
        status = 422 if any(f.errors for f in form) else 200
        return _form_page(desk, form, category, intake, status)
    number = intake.report.tracking_number
    if desk is KIOSK:
        # Only the report's id: the contact details stay in the report, not in the session.
        session[KIOSK_REPORT] = intake.report.id
        session[KIOSK_SENT] = []
        return go_to(url_for("kiosk.receipt", tracking_number=number))
    session.setdefault("my_reports", [])
    session["my_reports"] = [*session["my_reports"][-19:], intake.report.id]
    share.forget()
    return go_to(url_for("reports.submitted", tracking_number=number))
