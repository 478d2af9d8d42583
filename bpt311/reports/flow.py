"""The new-report flow: choose a category, fill the form in, send it. One flow for the
public pages (/reports/new) and for staff taking a report from a caller (/staff/intake)."""

from __future__ import annotations

import secrets

from flask import request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from bpt311.accounts.standing import require_may_write
from bpt311.errors import go_to, partial_or_page
from bpt311.reports import here, queries
from bpt311.reports import shared as share
from bpt311.reports.browse import finite_number
from bpt311.reports.forms import report_form_class
from bpt311.reports.intake import Intake, take_report
from bpt311.reports.service import active_category, sla_in_words


def _paths(staff: bool) -> dict[str, str]:
    """Where the form's steps go: the public flow, or staff intake for a caller."""
    if staff:
        return {"new": url_for("staff.intake"), "create": url_for("staff.intake_create")}
    return {"new": url_for("reports.new"), "create": url_for("reports.create")}


def _category_step(query: str = "", error: str = "", status: int = 200, staff: bool = False):
    groups = queries.search_categories(query)
    # A place chosen first (/map, near me, a deep link) rides along in the query string.
    latitude, longitude = (finite_number(request.args.get(n)) for n in ("lat", "lon"))
    point = (latitude, longitude) if latitude is not None and longitude is not None else None
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
        point=point,
    )


def _form_page(form, category, intake=None, status: int = 200, staff: bool = False, chosen=None):
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
        chosen=chosen,
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
    chosen = _chosen_place(form) if form.latitude.data or form.longitude.data else None
    if chosen is not None and chosen.problem:
        intake = intake or Intake()
        intake.notice = chosen.problem
    return _form_page(form, category, intake, staff=staff, chosen=chosen)


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
