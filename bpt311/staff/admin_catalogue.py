"""The catalogue's administration under /staff/admin, on the staff blueprint: categories
(their department, SLA, routing, translations) and each category's questions, with a preview
of the question as residents will see it. Views read the form, call one function of
:mod:`bpt311.staff.administration.categories` and render; a refusal comes back as form
errors, 422."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from bpt311.access import admin_required
from bpt311.errors import varies_on_htmx, wants_partial
from bpt311.i18n import LANGUAGES, current_language, force_locale
from bpt311.models import Category, CategoryQuestion
from bpt311.problems import Refused, onto_form
from bpt311.staff import admin_forms, queries
from bpt311.staff.admin import form_page, found, number
from bpt311.staff.administration import categories
from bpt311.staff.views import bp

# ---- categories --------------------------------------------------------------------------


@bp.get("/admin/categories")
@admin_required
def admin_categories():
    return render_template(
        "staff/admin/categories.html", categories=categories.categories_with_counts()
    )


def _category_form(category: Category | None):
    form = admin_forms.CategoryForm(obj=category)
    form.department_id.choices = admin_forms.department_choices(
        queries.departments(), _("Choose a department")
    )
    if request.method == "GET" and category is not None:
        form.department_id.data = str(category.department_id)
    if category is not None:
        admin_forms.fill_translations(
            form, category.translations, admin_forms.CATEGORY_TRANSLATED_FIELDS, request.form
        )
    return form


@bp.route("/admin/categories/new", methods=["GET", "POST"])
@bp.route("/admin/categories/<int:category_id>", methods=["GET", "POST"])
@admin_required
def admin_category(category_id: int | None = None):
    category = found(Category, category_id) if category_id else None
    form = _category_form(category)
    if form.validate_on_submit():
        values = categories.CategoryValues(
            service_code=form.service_code.data,
            name=form.name.data,
            group=form.group.data,
            form_title=form.form_title.data or "",
            description=form.description.data or "",
            keywords=form.keywords.data or "",
            department_id=number(form.department_id.data),
            sla_hours=form.sla_hours.data,
            active=form.active.data,
            position=form.position.data,
            translations=admin_forms.typed_translations(
                form, admin_forms.CATEGORY_TRANSLATED_FIELDS
            ),
        )
        try:
            category = categories.save_category(current_user, values, category)
        except Refused as refusal:
            onto_form(form, refusal)
        else:
            flash(_("%(name)s was saved.", name=category.name), "success")
            return redirect(url_for(".admin_category", category_id=category.id), 303)
    reports = categories.report_count(category) if category else 0
    return form_page(
        "staff/admin/category_form.html",
        form,
        category=category,
        reports=reports,
        confirm=admin_forms.ConfirmForm(),
        translated_languages=admin_forms.TRANSLATED_LANGUAGES,
        question_types=admin_forms.QUESTION_TYPE_NAMES,
    )


@bp.post("/admin/categories/<int:category_id>/active")
@admin_required
def admin_category_active(category_id: int):
    category = found(Category, category_id)
    if admin_forms.ConfirmForm().validate_on_submit():
        active = request.form.get("active") == "1"
        categories.set_category_active(current_user, category, active)
        if active:
            flash(_("%(name)s is now offered to residents.", name=category.name), "success")
        else:
            flash(
                _("%(name)s is deactivated: residents no longer see it.", name=category.name),
                "success",
            )
    return redirect(url_for(".admin_category", category_id=category.id), 303)


@bp.post("/admin/categories/<int:category_id>/delete")
@admin_required
def admin_category_delete(category_id: int):
    category = found(Category, category_id)
    if not admin_forms.ConfirmForm().validate_on_submit():
        abort(400)
    try:
        categories.delete_category(current_user, category)
    except Refused as refusal:
        flash(str(refusal), "error")
        return redirect(url_for(".admin_category", category_id=category.id), 303)
    flash(_("%(name)s was deleted.", name=category.name), "success")
    return redirect(url_for(".admin_categories"), 303)


# ---- questions ---------------------------------------------------------------------------


def _question_values(form) -> categories.QuestionValues:
    return categories.QuestionValues(
        datatype=form.datatype.data or "",
        code=form.code.data or "",
        label=form.label.data or "",
        hint=form.hint.data or "",
        required=bool(form.required.data),
        options=form.options.data or "",
        position=form.position.data,
        translations=admin_forms.typed_translations(form, admin_forms.QUESTION_TRANSLATED_FIELDS),
    )


def _preview(category, form, question):
    """The category's questions as residents will see them in the language chosen for the
    preview (the admin's own language unless they choose another), and that language."""
    language = form.preview_language.data
    if language not in LANGUAGES:
        language = current_language()
        form.preview_language.data = language
    with force_locale(language):
        preview = categories.preview_questions(category, _question_values(form), question)
        html = render_template(
            "reports/_questions.html", questions=preview.answer_fields(), category=category
        )
    return Markup(html), language


@bp.route("/admin/categories/<int:category_id>/questions/new", methods=["GET", "POST"])
@bp.route(
    "/admin/categories/<int:category_id>/questions/<int:question_id>", methods=["GET", "POST"]
)
@admin_required
def admin_question(category_id: int, question_id: int | None = None):
    category = found(Category, category_id)
    question = found(CategoryQuestion, question_id) if question_id else None
    if question is not None and question.category_id != category.id:
        abort(404)
    form = admin_forms.QuestionForm(obj=question)
    if question is not None and "options" not in request.form:
        # The stored options are a list; the form edits them as lines of text. (A POST that
        # leaves the field out keeps the stored options rather than meeting a list.)
        form.options.data = categories.options_text(question.options)
    if question is not None:
        admin_forms.fill_translations(
            form, question.translations, admin_forms.QUESTION_TRANSLATED_FIELDS, request.form
        )
    previewing = request.method == "POST" and "preview" in request.form
    if request.method == "POST" and not previewing and form.validate_on_submit():
        try:
            categories.save_question(current_user, category, _question_values(form), question)
        except Refused as refusal:
            onto_form(form, refusal)
        else:
            flash(
                _("The question “%(label)s” was saved.", label=form.label.data.strip()), "success"
            )
            return redirect(url_for(".admin_category", category_id=category.id), 303)
    preview, preview_language = _preview(category, form, question)
    if previewing and wants_partial():
        return varies_on_htmx(
            render_template(
                "staff/admin/_question_preview.html",
                preview=preview,
                preview_language=preview_language,
                category=category,
            )
        )
    return varies_on_htmx(
        form_page(
            "staff/admin/question_form.html",
            form,
            status=200 if previewing else None,
            category=category,
            question=question,
            preview=preview,
            preview_language=preview_language,
            confirm=admin_forms.ConfirmForm(),
            translated_languages=admin_forms.TRANSLATED_LANGUAGES,
        )
    )


@bp.post("/admin/categories/<int:category_id>/questions/<int:question_id>/delete")
@admin_required
def admin_question_delete(category_id: int, question_id: int):
    question = found(CategoryQuestion, question_id)
    if question.category_id != category_id:
        abort(404)
    if not admin_forms.ConfirmForm().validate_on_submit():
        abort(400)
    categories.delete_question(current_user, question)
    flash(_("The question “%(label)s” was removed.", label=question.label), "success")
    return redirect(url_for(".admin_category", category_id=category_id), 303)
