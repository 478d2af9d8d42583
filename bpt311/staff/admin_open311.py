"""/staff/admin/open311, on the staff blueprint: the city systems reports are sent on to,
where each department's and category's new reports go, and the sends to retry. Views read
the form, call one function of :mod:`bpt311.staff.open311_setup` and render."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from bpt311.access import admin_required
from bpt311.extensions import db
from bpt311.models import Category, Department, Open311Endpoint, OutboundRequest
from bpt311.outbound311.endpoints import RemoteUnavailable
from bpt311.problems import Refused, onto_form
from bpt311.reports.routing import department_route
from bpt311.staff import admin_forms, open311_setup
from bpt311.staff.views import bp


def _found(model, key: int):
    row = db.session.get(model, key)
    if row is None:
        abort(404)
    return row


def _number(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


def _private(response_value, status: int = 200):
    """A page about a key: never kept by a cache."""
    response = make_response(response_value, status)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/admin/open311")
@admin_required
def admin_open311():
    return _private(
        render_template(
            "staff/admin/open311.html",
            view=open311_setup.overview(),
            method_names=admin_forms.SEND_METHOD_NAMES,
            confirm=admin_forms.ConfirmForm(),
        )
    )


@bp.route("/admin/open311/endpoints/new", methods=["GET", "POST"])
@bp.route("/admin/open311/endpoints/<int:endpoint_id>", methods=["GET", "POST"])
@admin_required
def admin_open311_endpoint(endpoint_id: int | None = None):
    endpoint = _found(Open311Endpoint, endpoint_id) if endpoint_id else None
    form = admin_forms.EndpointForm(obj=endpoint)
    form.api_key.flags.required = endpoint is None
    if form.validate_on_submit():
        values = open311_setup.EndpointValues(
            name=form.name.data or "",
            root_url=form.root_url.data or "",
            api_key=form.api_key.data or "",
            jurisdiction=form.jurisdiction.data or "",
        )
        try:
            endpoint = open311_setup.save_endpoint(current_user, values, endpoint)
        except Refused as refusal:
            onto_form(form, refusal)
        else:
            flash(_("%(name)s was saved.", name=endpoint.name), "success")
            return redirect(url_for(".admin_open311_endpoint", endpoint_id=endpoint.id), 303)
    return _endpoint_page(form, endpoint, 422 if form.errors else 200)


def _endpoint_page(form, endpoint, status: int = 200, **context):
    return _private(
        render_template(
            "staff/admin/open311_endpoint.html",
            form=form,
            endpoint=endpoint,
            key_ending=open311_setup.key_ending(endpoint) if endpoint else "",
            confirm=admin_forms.ConfirmForm(),
            **context,
        ),
        status,
    )


@bp.post("/admin/open311/endpoints/<int:endpoint_id>/test")
@admin_required
def admin_open311_test(endpoint_id: int):
    endpoint = _found(Open311Endpoint, endpoint_id)
    if not admin_forms.ConfirmForm().validate_on_submit():
        abort(400)
    offered, problem = None, ""
    try:
        offered = open311_setup.test_connection(endpoint)
    except RemoteUnavailable as exc:
        problem = str(exc)
    form = admin_forms.EndpointForm(formdata=None, obj=endpoint)
    return _endpoint_page(form, endpoint, tested=True, offered=offered, test_problem=problem)


@bp.route("/admin/open311/departments/<int:department_id>", methods=["GET", "POST"])
@admin_required
def admin_open311_department(department_id: int):
    department = _found(Department, department_id)
    endpoints = open311_setup.all_endpoints()
    form = admin_forms.DepartmentRouteForm(
        formdata=request.form if request.method == "POST" else None,
        method=department.send_method or "none",
        endpoint_id=str(department.send_endpoint_id or ""),
    )
    form.endpoint_id.choices = admin_forms.endpoint_choices(endpoints, _("Choose a city system"))

    def save():
        open311_setup.set_department_route(
            current_user, department, form.method.data or "", _number(form.endpoint_id.data)
        )

    return _route_page(
        form, save, department.name, department=department, category=None, endpoints=endpoints
    )


@bp.route("/admin/open311/categories/<int:category_id>", methods=["GET", "POST"])
@admin_required
def admin_open311_category(category_id: int):
    category = _found(Category, category_id)
    endpoints = open311_setup.all_endpoints()
    questions = list(category.questions)
    stored = category.remote_attributes or {}
    form = admin_forms.category_route_form(
        questions,
        formdata=request.form if request.method == "POST" else None,
        method=category.send_method or "",
        endpoint_id=str(category.send_endpoint_id or ""),
        remote_service_code=category.remote_service_code,
        **{f"attribute_{q.code}": stored.get(q.code, "") for q in questions},
    )
    form.endpoint_id.choices = admin_forms.endpoint_choices(endpoints, _("Choose a city system"))

    def save():
        route = open311_setup.CategoryRoute(
            method=form.method.data or "",
            endpoint_id=_number(form.endpoint_id.data),
            remote_service_code=form.remote_service_code.data or "",
            attributes={q.code: form[f"attribute_{q.code}"].data or "" for q in questions},
        )
        open311_setup.set_category_route(current_user, category, route)

    return _route_page(
        form,
        save,
        category.name,
        department=category.department,
        category=category,
        questions=questions,
        inherited=department_route(category.department),
        method_names=admin_forms.SEND_METHOD_NAMES,
        endpoints=endpoints,
    )


def _route_page(form, save, name: str, **context):
    """Where a department's or a category's reports go: saved, back to the list of
    routes; else the form again, with what was refused."""
    if form.validate_on_submit():
        try:
            save()
        except Refused as refusal:
            onto_form(form, refusal)
        else:
            flash(_("Where %(name)s’s reports go was saved.", name=name), "success")
            return redirect(url_for(".admin_open311") + "#routes", 303)
    return render_template("staff/admin/open311_route.html", form=form, **context), (
        422 if form.errors else 200
    )


@bp.post("/admin/open311/requests/<int:request_id>/retry")
@admin_required
def admin_open311_retry(request_id: int):
    row = _found(OutboundRequest, request_id)
    if not admin_forms.ConfirmForm().validate_on_submit():
        abort(400)
    number = row.report.tracking_number
    try:
        open311_setup.retry_request(current_user, row)
    except Refused as refusal:
        flash(str(refusal), "info")
    else:
        flash(_("%(number)s will be sent again.", number=number), "success")
    return redirect(url_for(".admin_open311") + "#problems", 303)
