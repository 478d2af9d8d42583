"""The back office: the queue, the report inspector, intake and response templates."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from bpt311 import dates, effects
from bpt311.access import (
    admin_required,
    may_act_on,
    require_may_act_on,
    staff_required,
)
from bpt311.community import forms as community_forms
from bpt311.errors import go_to, partial_or_page, wants_partial
from bpt311.extensions import db
from bpt311.i18n import translated
from bpt311.models import ResponseTemplate
from bpt311.problems import InvalidInput, NotAllowed, Problem, onto_form
from bpt311.redirects import safe_referrer
from bpt311.reports import flow, list_pages
from bpt311.reports import queries as report_queries
from bpt311.reports.service import possible_duplicates, sla_in_words
from bpt311.reports.timeline import step_words
from bpt311.staff import forms, queries, saved
from bpt311.staff.acting import StaleReport, fill_template
from bpt311.staff.assignment import assign, reassign_department, recategorise, set_due
from bpt311.staff.bulk import bulk
from bpt311.staff.details import edit_details
from bpt311.staff.duplicates import mark_duplicate
from bpt311.staff.filter_chips import chosen_filters
from bpt311.staff.status import change_status
from bpt311.templating import local_time

bp = Blueprint("staff", __name__, url_prefix="/staff")


# ---- the queue -----------------------------------------------------------------------------


def _queue_form(args):
    form = forms.QueueForm(args)
    form.department.choices = forms.choices(
        [("", _("All departments"))] + [(d.id, d.name) for d in queries.departments()]
    )
    people = queries.colleagues(current_user.department_id)
    form.assignee.choices = forms.choices(
        [("", _("Anyone or no one")), ("me", _("Me")), ("none", _("No one yet"))]
        + [(p.id, p.display_name or p.email) for p in people]
    )
    return form, people


def _bulk_form(people):
    form = forms.BulkForm()
    form.assignee.choices = forms.choices(
        [("", _("No one"))] + [(p.id, p.display_name or p.email) for p in people]
    )
    form.category.choices = forms.choices(
        [(c.service_code, translated(c, "name")) for c in queries.active_categories()]
    )
    return form


@bp.get("")
@bp.get("/")
@staff_required
def queue():
    # A tracking number in the search box opens that report (hidden ones too: staff see
    # them); the live search shows a link to it on top of the results instead.
    typed_report = report_queries.report_typed(request.args.get("q", "")[:40], include_hidden=True)
    if typed_report is not None and not wants_partial():
        return go_to(url_for(".inspect", tracking_number=typed_report.tracking_number))
    extra, people = _queue_form(request.args)
    selection = queries.queue_selection(request.args, extra, current_user)
    if wants_partial() and (refused := dates.refusal(selection.filter_form)):
        return refused  # already varies on HX-Request and Accept
    filters, department_id = selection.filters, selection.department_id
    page = list_pages.page_of(selection.query, filters.page)
    query_string = urlencode(
        [(k, v) for k, v in request.args.items(multi=True) if k != "page" and v != ""]
    )
    context = dict(
        form=selection.filter_form,
        extra=extra,
        filters=filters,
        problems=selection.problems,
        page=page,
        counts=queries.queue_counts(current_user, department_id),
        saved=queries.saved_filters(current_user),
        bulk=_bulk_form(people),
        save_form=forms.SaveFilterForm(query=query_string),
        query_string=query_string,
        source_names=dict(forms.SOURCES),
        typed_report=typed_report,
        typed_report_url=typed_report
        and url_for(".inspect", tracking_number=typed_report.tracking_number),
        chips=chosen_filters(
            request.args,
            {**selection.filter_form._fields, **extra._fields},
            url_for(".queue"),
            defaults={"sort": ["newest"], "status": queries.QUEUE_STATUSES},
        ),
    )
    status = dates.status_for(selection.filter_form)
    return partial_or_page("staff/_queue_results.html", "staff/queue.html", status, **context)


@bp.post("/bulk")
@staff_required
def bulk_action():
    form = _bulk_form(queries.colleagues(current_user.department_id))
    selections = []
    for value in request.form.getlist("ids"):
        number, _colon, version = value.partition(":")
        if number.isdigit() and version.isdigit():
            selections.append((int(number), int(version)))
    try:
        if not form.validate():
            abort(400)
        done = bulk(
            current_user,
            selections,
            form.action.data or "",
            assignee_id=form.assignee.data,
            service_code=form.category.data,
            public_note=form.public_note.data or "",
        )
    except Problem as exc:
        flash(str(exc), "error")
    else:
        flash(
            ngettext("Done: %(num)d report changed.", "Done: %(num)d reports changed.", done),
            "success",
        )
    return redirect(safe_referrer(url_for(".queue")), 303)


@bp.post("/filters")
@staff_required
def save_filter():
    form = forms.SaveFilterForm()
    if form.validate_on_submit():
        saved.save_filter(current_user, form.name.data, form.query.data)
        flash(_("Saved the filter “%(name)s”.", name=form.name.data.strip()), "success")
    else:
        flash(_("Give the filter a name to save it."), "error")
    return redirect(url_for(".queue") + ("?" + form.query.data if form.query.data else ""), 303)


@bp.post("/filters/<int:filter_id>/delete")
@staff_required
def delete_filter(filter_id: int):
    try:
        saved.delete_filter(current_user, filter_id)
    except NotAllowed:
        abort(404)
    flash(_("The saved filter was deleted."), "success")
    return redirect(url_for(".queue"), 303)


# ---- the report inspector ---------------------------------------------------------------------

ACTION_FORMS = {
    "status": forms.StatusForm,
    "assign": forms.AssignForm,
    "department": forms.DepartmentForm,
    "due": forms.DueForm,
    "category": forms.CategoryForm,
    "duplicate": forms.DuplicateForm,
    "details": forms.DetailsForm,
}


def _report(tracking_number: str):
    report = queries.full_report(tracking_number)
    if report is None:
        abort(404)
    return report


def _inspector_forms(report, bound: str | None = None, template_id: str = "", bound_form=None):
    """The action forms, drawn from the report's current version; ``bound`` is the one the
    request filled in (``bound_form``, with its errors), so nothing typed is lost."""
    made = {}
    for name, form_class in ACTION_FORMS.items():
        if name == bound:
            form = bound_form or form_class()
            form.version.data = str(report.version)  # a resend applies to what is shown
        else:
            form = form_class(formdata=None, obj=report if name == "details" else None)
            form.version.data = str(report.version)
        made[name] = form
    people = queries.colleagues(report.department_id)
    made["assign"].assignee.choices = forms.choices(
        [("", _("No one"))] + [(p.id, p.display_name or p.email) for p in people]
    )
    if bound != "assign":
        made["assign"].assignee.data = str(report.assignee_id or "")
    made["department"].department.choices = forms.choices(
        [(d.id, d.name) for d in queries.departments()]
    )
    if bound != "department":
        made["department"].department.data = str(report.department_id)
    made["category"].category.choices = forms.choices(
        [(c.service_code, translated(c, "name")) for c in queries.active_categories()]
    )
    if bound != "category":
        made["category"].category.data = report.category.service_code
    if bound != "due" and report.due_at:
        made["due"].due.data = local_time(report.due_at, "%Y-%m-%dT%H:%M")
    if template_id.isdigit() and bound != "status":
        chosen = db.session.get(ResponseTemplate, int(template_id))
        if chosen is not None:
            made["status"].public_note.data = fill_template(chosen, report)
            made["status"].action.data = {
                "acknowledged": "acknowledge",
                "closed": "close",
                "open": "reopen",
            }.get(chosen.status, "note")
    return made


def _inspector(
    report,
    status: int = 200,
    bound: str | None = None,
    notice: str = "",
    announce: str = "",
    bound_form=None,
    used: str = "",
):
    """``used`` names the form just sent (or "template"): its result is shown beside it,
    where focus goes back after an HTMX swap, and ``announce`` is said in the live region."""
    require_may_act_on(current_user, report)
    context = dict(
        report=report,
        forms=_inspector_forms(report, bound, request.args.get("template", ""), bound_form),
        audit=queries.audit_trail(report),
        sent_on=queries.sent_on(report),
        templates=queries.templates_for(report),
        nearby=possible_duplicates(report.category_id, report.latitude, report.longitude)
        if report.has_point
        else [],
        response_time=sla_in_words(report.category.sla_hours),
        notice=notice,
        announce=announce,
        used=used,
        source_names=dict(forms.SOURCES),
        reply_kinds=dict(forms.REPLY_KINDS),
        step_words=step_words,
    )
    return partial_or_page("staff/_inspector.html", "staff/inspector.html", status, **context)


@bp.get("/reports/<tracking_number>")
@staff_required
def inspect(tracking_number: str):
    if request.args.get("template", "").isdigit():
        message = _("The saved reply is in the note for the public: check it, then save.")
        return _inspector(_report(tracking_number), announce=message, used="template")
    return _inspector(_report(tracking_number))


@bp.post("/reports/<tracking_number>/<action>")
@staff_required
def act(tracking_number: str, action: str):
    if action not in ACTION_FORMS:
        abort(404)
    report = _report(tracking_number)
    require_may_act_on(current_user, report)
    form = ACTION_FORMS[action]()
    version = form.version_number
    try:
        if not form.validate():
            raise InvalidInput("version", _("The form had expired: send it again."))
        message = _perform(action, report, form, version)
    except (StaleReport, StaleDataError):
        effects.rollback()
        return _inspector(
            _report(tracking_number),
            409,
            bound=action,
            bound_form=form,
            notice=str(StaleReport()),
        )
    except InvalidInput as exc:
        effects.rollback()
        onto_form(form, exc, fallback="*")
        return _inspector(_report(tracking_number), 422, bound=action, bound_form=form)
    except NotAllowed as exc:
        abort(403, str(exc))
    report = _report(tracking_number)
    if not may_act_on(current_user, report):
        # Passed to another department: it is theirs now, so back to the queue.
        flash(f"{tracking_number}: {message}", "success")
        return go_to(url_for(".queue"))
    if wants_partial():
        return _inspector(report, announce=message, used=action)
    flash(message, "success")
    return redirect(url_for(".inspect", tracking_number=tracking_number), 303)


def _perform(action: str, report, form, version) -> str:
    user = current_user._get_current_object()
    if action == "status":
        photo = community_forms.photo_from(form.photo)
        if form.photo.errors:
            raise InvalidInput("photo", form.photo.errors[0])
        change_status(
            report,
            user,
            version,
            form.action.data or "",
            form.public_note.data,
            form.internal_note.data,
            photo,
        )
        return _("Saved: the report is %(status)s.", status=report.status_label.lower())
    if action == "assign":
        assign(report, user, version, int(form.assignee.data or 0) or None)
        if report.assignee:
            return _(
                "Saved: assigned to %(name)s.",
                name=report.assignee.display_name or report.assignee.email,
            )
        return _("Saved: no one is assigned.")
    if action == "department":
        reassign_department(
            report, user, version, int(form.department.data or 0), form.internal_note.data
        )
        return _("Passed to %(department)s.", department=report.department.name)
    if action == "due":
        set_due(report, user, version, form.due.data)
        return _("The due date was changed.")
    if action == "category":
        recategorise(report, user, version, form.category.data or "")
        return _("Now filed as %(category)s.", category=translated(report.category, "name"))
    if action == "duplicate":
        original = mark_duplicate(report, user, version, form.original.data)
        return _("Closed as the same problem as %(number)s.", number=original.tracking_number)
    edit_details(
        report,
        user,
        version,
        form.description.data,
        form.address.data,
        form.latitude.data,
        form.longitude.data,
    )
    return _("The details were corrected.")


# ---- staff intake: a report for a caller -----------------------------------------------------


@bp.get("/intake")
@staff_required
def intake():
    return flow.new_report_page(staff=True)


@bp.post("/intake")
@staff_required
def intake_create():
    return flow.create_report(staff=True)


# ---- response templates (admins) -------------------------------------------------------------


def _template_form(template=None):
    form = forms.TemplateForm(obj=template)
    form.department.choices = forms.choices(
        [("", _("Every department"))] + [(d.id, d.name) for d in queries.departments()]
    )
    if template is not None and request.method == "GET":
        form.department.data = str(template.department_id or "")
    return form


@bp.get("/templates")
@admin_required
def templates():
    rows = db.session.scalars(
        db.select(ResponseTemplate).order_by(ResponseTemplate.status, ResponseTemplate.title)
    ).all()
    return render_template(
        "staff/templates.html",
        rows=rows,
        departments={d.id: d.name for d in queries.departments()},
        reply_kinds=dict(forms.REPLY_KINDS),
    )


@bp.route("/templates/new", methods=["GET", "POST"])
@bp.route("/templates/<int:template_id>", methods=["GET", "POST"])
@admin_required
def edit_template(template_id: int | None = None):
    template = db.session.get(ResponseTemplate, template_id) if template_id else None
    if template_id and template is None:
        abort(404)
    form = _template_form(template)
    if form.validate_on_submit():
        saved.save_template(
            current_user,
            template,
            department_id=int(form.department.data) if form.department.data else None,
            status=form.status.data,
            title=form.title.data,
            body=form.body.data,
        )
        flash(_("The reply was saved."), "success")
        return redirect(url_for(".templates"), 303)
    status = 422 if form.errors else 200
    return render_template("staff/template_form.html", form=form, template=template), status


@bp.post("/templates/<int:template_id>/delete")
@admin_required
def delete_template(template_id: int):
    template = db.session.get(ResponseTemplate, template_id)
    if template is None:
        abort(404)
    saved.delete_template(current_user, template)
    flash(_("The reply was deleted."), "success")
    return redirect(url_for(".templates"), 303)
