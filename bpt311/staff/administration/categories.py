"""The catalogue: categories (what residents can report) and their questions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from bpt311 import effects, public_cache
from bpt311.api.service_requests import SERVICE_CODE_RE
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import QUESTION_TYPES, Category, CategoryQuestion, Department, Report, User
from bpt311.problems import Refused
from bpt311.reports.forms import report_form_class
from bpt311.staff.administration.saving import (
    another_with,
    apply_changes,
    clean_translations,
    save_audited,
)

QUESTION_CODE_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
LIST_TYPES = ("singlevaluelist", "multivaluelist")


@dataclass
class CategoryValues:
    service_code: str
    name: str
    group: str
    description: str
    keywords: str
    department_id: int | None
    sla_hours: int | None
    active: bool
    position: int | None
    # {"es": {"name": ..., "group": ..., "description": ...}, "pt": {...}}; empty = English
    translations: dict[str, dict[str, str]] = field(default_factory=dict)
    form_title: str = ""


def categories_with_counts() -> list[tuple[Category, int]]:
    """Every category, active first, with how many reports it has (two queries)."""
    categories = db.session.scalars(
        select(Category)
        .options(selectinload(Category.department))
        .order_by(Category.active.desc(), Category.position, Category.name)
    ).all()
    counts = dict(
        db.session.execute(
            select(Report.category_id, func.count()).group_by(Report.category_id)
        ).all()
    )
    return [(category, counts.get(category.id, 0)) for category in categories]


def report_count(category: Category) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Report).where(Report.category_id == category.id)
    )


def save_category(
    actor: User, values: CategoryValues, category: Category | None = None
) -> Category:
    code = (values.service_code or "").strip()
    name = " ".join((values.name or "").split())
    group = " ".join((values.group or "").split())
    errors = {}
    if not SERVICE_CODE_RE.match(code):
        errors["service_code"] = _(
            "Enter a service code of letters, digits, dots, dashes or underscores (at most 64)"
        )
    else:
        clash = another_with(Category.service_code, code, category)
        if clash:
            errors["service_code"] = _(
                "The service code %(code)s is already used by %(name)s: choose another",
                code=code,
                name=clash.name,
            )
    if not name:
        errors["name"] = _("Enter the category's name")
    if not group:
        errors["group"] = _("Enter the group residents find it under, like Streets")
    if values.sla_hours is None or values.sla_hours <= 0:
        errors["sla_hours"] = _("Enter the SLA as a whole number of hours, 1 or more")
    department = db.session.get(Department, values.department_id or 0)
    if department is None:
        errors["department_id"] = _("Choose the department that handles it")
    if errors:
        raise Refused(errors)
    category = category or Category()
    is_new = category.id is None
    position = values.position
    if position is None:
        position = category.position if not is_new else _next_category_position()
    keywords = ", ".join(w.strip() for w in (values.keywords or "").split(",") if w.strip())
    changes = apply_changes(
        category,
        {
            "service_code": code,
            "name": name,
            "group": group,
            "form_title": " ".join((values.form_title or "").split()),
            "description": (values.description or "").strip(),
            "keywords": keywords,
            "department_id": department.id,
            "sla_hours": values.sla_hours,
            "active": bool(values.active),
            "position": position,
            "translations": clean_translations(values.translations),
        },
    )
    clash = (
        "service_code",
        _("The service code %(code)s is already used: choose another", code=code),
    )
    save_audited(actor, category, "category", "category", changes, clash, service_code=code)
    return category


def _next_category_position() -> int:
    return (db.session.scalar(select(func.max(Category.position))) or 0) + 1


def set_category_active(actor: User, category: Category, active: bool) -> None:
    if category.active == active:
        return
    category.active = active
    record(
        actor,
        "category.activate" if active else "category.deactivate",
        target_type="category",
        target_id=category.id,
        service_code=category.service_code,
    )
    effects.after_commit(public_cache.changed)
    effects.commit()


def delete_category(actor: User, category: Category) -> None:
    """Only a category no report was ever filed under can go; others are deactivated."""
    count = report_count(category)
    if count:
        raise Refused(
            ngettext(
                "%(name)s has %(num)d report, so it cannot be deleted: deactivate it instead, "
                "and residents will no longer see it.",
                "%(name)s has %(num)d reports, so it cannot be deleted: deactivate it instead, "
                "and residents will no longer see it.",
                count,
                name=category.name,
            )
        )
    record(
        actor,
        "category.delete",
        target_type="category",
        target_id=category.id,
        service_code=category.service_code,
        name=category.name,
    )
    db.session.delete(category)
    effects.after_commit(public_cache.changed)
    effects.commit()


# ---- questions ---------------------------------------------------------------------------


@dataclass
class QuestionValues:
    datatype: str
    code: str
    label: str
    hint: str
    required: bool
    options: str  # one per line: "key | Name", or just the name
    position: int | None
    # {"es": {"label": ..., "hint": ..., "options": "key | Nombre" lines}, "pt": {...}}
    translations: dict[str, dict[str, str]] = field(default_factory=dict)


def parse_options(text: str) -> list[dict[str, str]]:
    """Options typed one per line as ``key | Name`` (or just ``Name``, keyed from it)."""
    options = []
    for line in (text or "").splitlines():
        key, bar, name = line.partition("|")
        key, name = key.strip(), name.strip()
        if not bar:
            key, name = re.sub(r"[^a-z0-9]+", "_", line.strip().lower()).strip("_"), line.strip()
        if key or name:
            options.append({"key": key or re.sub(r"[^a-z0-9]+", "_", name.lower()), "name": name})
    return options


def options_text(options: list[dict[str, str]]) -> str:
    return "\n".join(f"{o.get('key', '')} | {o.get('name', '')}" for o in options or [])


def parse_option_labels(text: str) -> dict[str, str]:
    """Translated option labels typed one per line as ``key | Label``; ``{key: label}``."""
    labels = {}
    for line in (text or "").splitlines():
        key, bar, label = line.partition("|")
        if line.strip():
            labels[key.strip() if bar else ""] = label.strip() if bar else line.strip()
    return labels


def _question_translations(
    values: QuestionValues, options: list[dict[str, str]], errors: dict[str, str]
) -> dict[str, Any]:
    """The typed translations, checked: a translated option must name one of the options."""
    keys = {option["key"] for option in options}
    typed = {}
    for language, fields in (values.translations or {}).items():
        labels = parse_option_labels(fields.get("options", "")) if options else {}
        unknown = [key for key in labels if key not in keys]
        if unknown:
            errors[f"options_{language}"] = (
                _(
                    "Start each line with the key of an option above, like: %(example)s",
                    example=f"{options[0]['key']} | …",
                )
                if "" in unknown
                else _(
                    "No option has the key %(key)s: use the keys of the options above",
                    key=unknown[0],
                )
            )
        typed[language] = {
            "label": fields.get("label", ""),
            "hint": fields.get("hint", ""),
            "options": {key: labels[key] for key in (o["key"] for o in options) if key in labels},
        }
    return clean_translations(typed)


def _checked_question(
    category: Category, values: QuestionValues, question: CategoryQuestion | None
) -> dict[str, Any]:
    """The question's columns from ``values``, or Refused with every problem at once."""
    code, label = (values.code or "").strip(), " ".join((values.label or "").split())
    errors = {}
    if values.datatype not in QUESTION_TYPES:
        errors["datatype"] = _("Choose the kind of answer")
    if not QUESTION_CODE_RE.match(code):
        errors["code"] = _("Enter a code of letters, digits or underscores (at most 64)")
    elif any(
        other.code.lower() == code.lower() and other is not question for other in category.questions
    ):
        errors["code"] = _(
            "%(name)s already has a question with the code %(code)s", name=category.name, code=code
        )
    if not label:
        errors["label"] = _("Enter the question residents will read")
    options = parse_options(values.options) if values.datatype in LIST_TYPES else []
    if values.datatype in LIST_TYPES:
        keys_seen = [option["key"] for option in options]
        if not options:
            errors["options"] = _("A list question needs at least one option: enter one per line")
        elif any(not option["key"] or not option["name"] for option in options):
            errors["options"] = _("Give every option a key and a name, like: small | Small")
        elif len(set(keys_seen)) != len(keys_seen):
            errors["options"] = _("Two options have the same key: give each its own")
        elif any(not QUESTION_CODE_RE.match(key) for key in keys_seen):
            errors["options"] = _("Option keys use letters, digits or underscores only")
    translations = _question_translations(values, options, errors)
    if errors:
        raise Refused(errors)
    position = values.position
    if position is None:
        position = (
            question.position
            if question is not None
            else max((q.position for q in category.questions), default=-1) + 1
        )
    return {
        "datatype": values.datatype,
        "code": code,
        "label": label,
        "hint": (values.hint or "").strip(),
        "required": bool(values.required),
        "options": options,
        "position": position,
        "translations": translations,
    }


def save_question(
    actor: User,
    category: Category,
    values: QuestionValues,
    question: CategoryQuestion | None = None,
) -> CategoryQuestion:
    columns = _checked_question(category, values, question)
    question = question or CategoryQuestion(category=category)
    changes = apply_changes(question, columns)
    clash = ("code", _("%(name)s already has a question with that code", name=category.name))
    save_audited(
        actor,
        question,
        "question",
        "category_question",
        changes,
        clash,
        service_code=category.service_code,
        code=question.code,
    )
    return question


def delete_question(actor: User, question: CategoryQuestion) -> None:
    record(
        actor,
        "question.delete",
        target_type="category_question",
        target_id=question.id,
        service_code=question.category.service_code,
        code=question.code,
    )
    db.session.delete(question)
    effects.after_commit(public_cache.changed)
    effects.commit()


def preview_questions(
    category: Category, values: QuestionValues, question: CategoryQuestion | None = None
):
    """The category's questions as a resident's form would show them, with the one being
    edited as typed (nothing is saved). Whatever cannot be checked yet is shown as best it can."""
    options = parse_options(values.options) if values.datatype in LIST_TYPES else []
    code = (values.code or "").strip()
    draft = CategoryQuestion(  # transient: never added to the session
        code=code if QUESTION_CODE_RE.match(code) else "draft",
        label=" ".join((values.label or "").split()) or _("(Your question)"),
        hint=(values.hint or "").strip(),
        datatype=values.datatype if values.datatype in QUESTION_TYPES else "string",
        required=bool(values.required),
        options=[o for o in options if o["key"] and o["name"]],
        position=values.position if values.position is not None else 10_000,
        translations=_question_translations(values, options, {}),
    )
    others = [q for q in category.questions if q is not question and q.code != draft.code]
    ordered = sorted([*others, draft], key=lambda q: q.position)
    form_class = report_form_class(SimpleNamespace(questions=ordered))
    return form_class(formdata=None, meta={"csrf": False})
