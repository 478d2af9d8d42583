"""Administration under /staff/admin, on the staff blueprint: departments, people and
roles, Open311 keys, the city's boundary and neighbourhoods, past imports (the catalogue:
:mod:`bpt311.staff.admin_catalogue`). Views read the form, call one function of
:mod:`bpt311.staff.administration` (a module per thing: departments, categories, people,
api_keys, geography) and render; a refusal comes back as form errors, 422. ``found``,
``form_page`` and ``number`` are the admin views' own helpers."""

from __future__ import annotations

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from bpt311 import effects
from bpt311.access import admin_required
from bpt311.api import keys
from bpt311.extensions import db
from bpt311.imports.service import past_imports
from bpt311.models import ApiKey, Department, User
from bpt311.problems import Refused, onto_form
from bpt311.staff import admin_forms, queries
from bpt311.staff.administration import api_keys, departments, geography, people
from bpt311.staff.views import bp


def found(model, key: int):
    row = db.session.get(model, key)
    if row is None:
        abort(404)
    return row


def form_page(template: str, form, status: int | None = None, **context):
    """A form page: 422 when it carries errors (htmx swaps those), 200 otherwise."""
    status = status or (422 if form.errors or context.get("problem") else 200)
    return render_template(template, form=form, **context), status


def number(value) -> int | None:
    return int(value) if str(value or "").isdigit() else None


@bp.get("/admin")
@admin_required
def admin_home():
    return render_template("staff/admin/home.html")


# ---- departments -------------------------------------------------------------------------


@bp.get("/admin/departments")
@admin_required
def admin_departments():
    return render_template(
        "staff/admin/departments.html", departments=departments.departments_with_staff()
    )


@bp.route("/admin/departments/new", methods=["GET", "POST"])
@bp.route("/admin/departments/<int:department_id>", methods=["GET", "POST"])
@admin_required
def admin_department(department_id: int | None = None):
    department = found(Department, department_id) if department_id else None
    form = admin_forms.DepartmentForm(obj=department)
    if department is not None:
        admin_forms.fill_translations(
            form, department.translations, admin_forms.DEPARTMENT_TRANSLATED_FIELDS, request.form
        )
    if form.validate_on_submit():
        try:
            departments.save_department(
                current_user,
                form.name.data,
                form.email.data or "",
                form.phone.data or "",
                department,
                translations=admin_forms.typed_translations(
                    form, admin_forms.DEPARTMENT_TRANSLATED_FIELDS
                ),
            )
        except Refused as refusal:
            onto_form(form, refusal)
        else:
            flash(_("%(name)s was saved.", name=form.name.data.strip()), "success")
            return redirect(url_for(".admin_departments"), 303)
    return form_page(
        "staff/admin/department_form.html",
        form,
        department=department,
        translated_languages=admin_forms.TRANSLATED_LANGUAGES,
    )


# ---- people ------------------------------------------------------------------------------


@bp.get("/admin/users")
@admin_required
def admin_users():
    form = admin_forms.UserSearchForm(request.args)
    matching = people.users_matching(form.q.data or "", form.role.data or "")
    return render_template(
        "staff/admin/users.html", form=form, people=matching, role_names=admin_forms.ROLE_NAMES
    )


@bp.route("/admin/users/invite", methods=["GET", "POST"])
@admin_required
def admin_invite():
    form = admin_forms.InviteForm()
    form.department_id.choices = admin_forms.department_choices(
        queries.departments(), _("No department")
    )
    if form.validate_on_submit():
        try:
            person = people.invite_staff(
                current_user,
                form.email.data,
                form.display_name.data or "",
                form.role.data,
                number(form.department_id.data),
            )
        except Refused as refusal:
            onto_form(form, refusal)
        else:
            flash(
                _(
                    "%(email)s was invited: they have an email to set a password.",
                    email=person.email,
                ),
                "success",
            )
            return redirect(url_for(".admin_users"), 303)
    return form_page("staff/admin/invite.html", form)


@bp.route("/admin/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def admin_user(user_id: int):
    person = found(User, user_id)
    form = admin_forms.AccessForm(obj=person)
    form.department_id.choices = admin_forms.department_choices(
        queries.departments(), _("No department")
    )
    if request.method == "GET":
        form.department_id.data = str(person.department_id or "")
    problem = ""
    if form.validate_on_submit():
        try:
            people.change_access(
                current_user, person, form.role.data, number(form.department_id.data)
            )
        except Refused as refusal:
            effects.rollback()
            problem = onto_form(form, refusal)
        else:
            flash(_("%(email)s’s access was saved.", email=person.email), "success")
            return redirect(url_for(".admin_user", user_id=person.id), 303)
    return form_page(
        "staff/admin/user.html",
        form,
        person=person,
        problem=problem,
        confirm=admin_forms.ConfirmForm(),
    )


@bp.post("/admin/users/<int:user_id>/active")
@admin_required
def admin_user_active(user_id: int):
    person = found(User, user_id)
    if not admin_forms.ConfirmForm().validate_on_submit():
        abort(400)
    active = request.form.get("active") == "1"
    try:
        people.set_user_active(current_user, person, active)
    except Refused as refusal:
        effects.rollback()
        flash(str(refusal), "error")
    else:
        if active:
            flash(_("%(email)s was reactivated.", email=person.email), "success")
        else:
            flash(
                _("%(email)s was deactivated: they can no longer sign in.", email=person.email),
                "success",
            )
    return redirect(url_for(".admin_user", user_id=user_id), 303)


# ---- Open311 API keys --------------------------------------------------------------------


@bp.route("/admin/api-keys", methods=["GET", "POST"])
@admin_required
def admin_api_keys():
    form = admin_forms.ApiKeyForm()
    made = None
    if form.validate_on_submit():
        try:
            made = api_keys.create_api_key(current_user, form.name.data)
        except Refused as refusal:
            onto_form(form, refusal)
        else:
            form = admin_forms.ApiKeyForm(formdata=None)
    response = make_response(
        form_page(
            "staff/admin/api_keys.html",
            form,
            status=201 if made else None,
            made=made,
            rows=keys.all_keys(),
            confirm=admin_forms.ConfirmForm(),
        )
    )
    # The new key is in this page only: no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/admin/api-keys/<int:key_id>/revoke")
@admin_required
def admin_api_key_revoke(key_id: int):
    key = found(ApiKey, key_id)
    if not admin_forms.ConfirmForm().validate_on_submit():
        abort(400)
    api_keys.revoke_api_key(current_user, key)
    flash(
        _("The key %(prefix)s… (%(name)s) was revoked.", prefix=key.prefix, name=key.name),
        "success",
    )
    return redirect(url_for(".admin_api_keys"), 303)


# ---- the boundary and neighbourhoods -----------------------------------------------------


@bp.get("/admin/places")
@admin_required
def admin_places():
    shapes = geography.current_shapes("neighbourhoods")
    return render_template(
        "staff/admin/places.html",
        form=admin_forms.GeoUploadForm(),
        shapes=shapes,
        drawing=geography.drawing(shapes) if shapes else None,
    )


@bp.post("/admin/places/preview")
@admin_required
def admin_places_preview():
    form = admin_forms.GeoUploadForm()
    upload = None
    if form.validate_on_submit():
        sent = request.files.get("file")
        if sent is None or not sent.filename:
            form.file.errors = [_("Choose a GeoJSON file to upload")]
        else:
            text = sent.read(geography.MAX_UPLOAD_BYTES + 1).decode("utf-8", "replace")
            try:
                upload = geography.check_upload(text, form.kind.data)
            except Refused as refusal:
                onto_form(form, refusal)
    if upload is None:
        shapes = geography.current_shapes("neighbourhoods")
        return form_page(
            "staff/admin/places.html",
            form,
            shapes=shapes,
            drawing=geography.drawing(shapes) if shapes else None,
        )
    confirm = admin_forms.GeoConfirmForm(
        formdata=None, kind=upload.kind, source_name=sent.filename[:200], geojson=upload.text
    )
    return render_template(
        "staff/admin/places_preview.html",
        upload=upload,
        form=confirm,
        drawing=geography.drawing(upload.shapes),
    )


@bp.post("/admin/places/apply")
@admin_required
def admin_places_apply():
    form = admin_forms.GeoConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        upload = geography.apply_upload(
            current_user, form.geojson.data or "", form.kind.data, form.source_name.data or ""
        )
    except Refused as refusal:
        effects.rollback()
        flash(_("Nothing was changed: %(problem)s", problem=refusal), "error")
        return redirect(url_for(".admin_places"), 303)
    if upload.kind == "boundary":
        flash(_("The new service-area boundary is in use."), "success")
    else:
        saved = ngettext(
            "%(num)d neighbourhood was saved.",
            "%(num)d neighbourhoods were saved.",
            len(upload.shapes),
        )
        moved = ngettext(
            "%(num)d open report moved to its new neighbourhood.",
            "%(num)d open reports moved to their new neighbourhood.",
            upload.open_reports_moving,
        )
        flash(f"{saved} {moved}", "success")
    return redirect(url_for(".admin_places"), 303)


# ---- past imports --------------------------------------------------------------------------


@bp.get("/admin/imports")
@admin_required
def admin_imports():
    return render_template("staff/admin/imports.html", runs=past_imports())
