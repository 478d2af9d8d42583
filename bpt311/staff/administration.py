"""What administrators change: departments, the catalogue, staff accounts and API keys.

Each function takes plain values and the acting admin, checks everything first,
then makes the change, its audit row (and any email) in one transaction. A
refusal raises :class:`Refused` with messages keyed by form field, before
anything is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from bpt311 import effects, public_cache, tokens
from bpt311.accounts.service import normalise_email, user_by_email
from bpt311.api import keys
from bpt311.api.service_requests import SERVICE_CODE_RE
from bpt311.extensions import db
from bpt311.models import (
    QUESTION_TYPES,
    ROLES,
    ApiKey,
    Category,
    CategoryQuestion,
    Department,
    Report,
    User,
    utcnow,
)
from bpt311.notify import enqueue_email, site_link
from bpt311.problems import Refused
from bpt311.reports.forms import report_form_class
from bpt311.staff.audit import record

QUESTION_CODE_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
LIST_TYPES = ("singlevaluelist", "multivaluelist")
STAFF_ROLES = ("staff", "admin")


def _apply(target: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set ``values`` on ``target``; the fields that changed, as {field: [before, after]}."""
    changes = {}
    for name, value in values.items():
        before = getattr(target, name)
        if before != value:
            changes[name] = [before, value]
            setattr(target, name, value)
    return changes


def _another_with(column, value: str, row: Any):
    """Another row whose ``column`` is ``value`` whatever its case (``row`` itself aside)."""
    model = column.class_
    return db.session.scalars(
        select(model).where(func.lower(column) == value.lower(), model.id != (row.id if row else 0))
    ).first()


def _commit_or_clash(field: str, message: str) -> None:
    """Commit; a unique index that a concurrent change beat us to becomes a form error."""
    try:
        effects.commit()
    except IntegrityError as exc:
        effects.rollback()
        raise Refused({field: message}) from exc


def _save_audited(
    actor: User,
    row: Any,
    action: str,
    target_type: str,
    changes: dict,
    clash: tuple[str, str],
    **detail,
) -> None:
    """Write ``row`` and its audit entry (``<action>.create`` or ``.update``) in one
    commit; a unique name a concurrent change took first becomes the form error ``clash``
    (field, message)."""
    is_new = row.id is None
    db.session.add(row)
    db.session.flush()
    record(
        actor,
        f"{action}.create" if is_new else f"{action}.update",
        target_type=target_type,
        target_id=row.id,
        **detail,
        changes=changes,
    )
    effects.after_commit(public_cache.changed)  # names and questions on every public page
    _commit_or_clash(*clash)


# ---- departments -------------------------------------------------------------------------


def departments_with_staff() -> list[tuple[Department, list[User]]]:
    """Every department with its staff and admins (two queries)."""
    departments = db.session.scalars(select(Department).order_by(Department.name)).all()
    people = db.session.scalars(
        select(User)
        .where(User.role.in_(STAFF_ROLES), User.department_id.is_not(None))
        .order_by(User.display_name, User.email)
    ).all()
    by_department: dict[int, list[User]] = {}
    for person in people:
        by_department.setdefault(person.department_id, []).append(person)
    return [(department, by_department.get(department.id, [])) for department in departments]


def save_department(
    actor: User,
    name: str,
    email: str,
    phone: str,
    department: Department | None = None,
    translations: dict[str, dict[str, str]] | None = None,
) -> Department:
    name, email, phone = " ".join(name.split()), email.strip(), phone.strip()
    errors = {}
    if not name:
        errors["name"] = _("Enter the department's name")
    else:
        clash = _another_with(Department.name, name, department)
        if clash:
            errors["name"] = _("There is already a department called %(name)s", name=clash.name)
    if email:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            errors["email"] = _("Enter an email address like roads@bridgeport.example")
    if errors:
        raise Refused(errors)
    department = department or Department()
    values = {"name": name, "email": email, "phone": phone}
    if translations is not None:  # (callers that do not translate keep what is stored)
        values["translations"] = clean_translations(translations)
    changes = _apply(department, values)
    clash = ("name", _("There is already a department called %(name)s", name=name))
    _save_audited(actor, department, "department", "department", changes, clash, name=name)
    return department


# ---- categories --------------------------------------------------------------------------


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


def clean_translations(typed: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Typed translations with blank boxes left out (those fall back to English), so an
    untouched form stores ``{}``."""
    cleaned = {}
    for language, fields in (typed or {}).items():
        kept = {}
        for name, value in fields.items():
            if isinstance(value, dict):
                value = {key: " ".join(text.split()) for key, text in value.items() if text.strip()}
            elif name == "description":
                value = (value or "").strip()
            else:
                value = " ".join((value or "").split())
            if value:
                kept[name] = value
        if kept:
            cleaned[language] = kept
    return cleaned


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
        clash = _another_with(Category.service_code, code, category)
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
    changes = _apply(
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
    _save_audited(actor, category, "category", "category", changes, clash, service_code=code)
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
    changes = _apply(question, columns)
    clash = ("code", _("%(name)s already has a question with that code", name=category.name))
    _save_audited(
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


# ---- people ------------------------------------------------------------------------------


def users_matching(words: str = "", role: str = "", limit: int = 100) -> list[User]:
    """Accounts whose email or name contains ``words``, staff and admins first (one query)."""
    query = select(User).options(selectinload(User.department))
    words = (words or "").strip()
    if words:
        words = words.lower()
        query = query.where(
            or_(
                func.lower(User.email).contains(words, autoescape=True),
                func.lower(User.display_name).contains(words, autoescape=True),
            )
        )
    if role in ROLES:
        query = query.where(User.role == role)
    order = func.lower(User.email)
    staff_first = (User.role == "resident").asc()
    return db.session.scalars(query.order_by(staff_first, order).limit(limit)).all()


def _role_and_department(role: str, department_id: int | None) -> Department | None:
    errors = {}
    if role not in ROLES:
        errors["role"] = _("Choose a role")
    department = db.session.get(Department, department_id) if department_id else None
    if role == "staff" and department is None:
        errors["department_id"] = _("Staff work for a department: choose one")
    if errors:
        raise Refused(errors)
    return None if role == "resident" else department


def _last_admin(user: User, what: str) -> str:
    if what == "deactivate":
        return _(
            "%(email)s is the last active administrator, so you cannot deactivate them. "
            "Make someone else an administrator first.",
            email=user.email,
        )
    return _(
        "%(email)s is the last active administrator, so you cannot make them anything else. "
        "Make someone else an administrator first.",
        email=user.email,
    )


def _refuse_if_last_admin(user: User, what: str) -> None:
    """Lock every active admin's row (in id order, so two admins demoting each other
    queue up), and refuse when ``user`` is the only one left."""
    admins = db.session.scalars(
        select(User.id).where(User.role == "admin", User.active).order_by(User.id).with_for_update()
    ).all()
    if user.id in admins and len(admins) == 1:
        raise Refused({"role": _last_admin(user, what)})


def _refuse_if_no_admin_left(user: User, what: str) -> None:
    """Checked again after the change, inside its transaction: where the engine has no row
    locks (SQLite), two admins demoting each other at once are caught here instead."""
    db.session.flush()
    left = db.session.scalar(
        select(func.count()).select_from(User).where(User.role == "admin", User.active)
    )
    if not left:
        effects.rollback()
        raise Refused({"role": _last_admin(user, what)})


def invite_staff(
    actor: User, email: str, display_name: str, role: str, department_id: int | None
) -> User:
    """An account for a new colleague, and an email with a link to set their password."""
    errors = {}
    try:
        email = normalise_email(validate_email(email or "", check_deliverability=False).normalized)
    except EmailNotValidError:
        errors["email"] = _("Enter an email address like name@bridgeport.example")
    else:
        if user_by_email(email) is not None:
            errors["email"] = _(
                "There is already an account for %(email)s: find it in the list and "
                "change its role",
                email=email,
            )
    if role not in STAFF_ROLES:
        errors["role"] = _("Choose staff or administrator")
    try:
        department = _role_and_department(role, department_id)
    except Refused as exc:
        errors = {**exc.errors, **errors}
    if errors:
        raise Refused(errors)
    user = User(
        email=email,
        display_name=" ".join((display_name or "").split()),
        role=role,
        department=department,
        password_hash="",  # no password until they follow the link
    )
    db.session.add(user)
    db.session.flush()
    token = tokens.password_reset_token(user)
    enqueue_email(
        user.email,
        "staff_invite",
        _l("You are invited to Bridgeport 311's back office"),
        locale=user.locale,
        user=user,
        inviter=actor,
        department=department,
        link=site_link("accounts.reset_password", token=token),
        reset_link=site_link("accounts.reset_request"),
    )
    record(
        actor,
        "user.invite",
        target_type="user",
        target_id=user.id,
        email=email,
        role=role,
        department=department.name if department else None,
    )
    _commit_or_clash("email", _("There is already an account for %(email)s", email=email))
    return user


def change_access(actor: User, user: User, role: str, department_id: int | None) -> None:
    """Change what someone may do: their role and the department they work for."""
    department = _role_and_department(role, department_id)
    if user.role == "admin" and role != "admin":
        _refuse_if_last_admin(user, "demote")
    before = {
        "role": user.role,
        "department": user.department.name if user.department else None,
    }
    user.role, user.department = role, department
    after = {"role": role, "department": department.name if department else None}
    changes = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if not changes:
        return
    if before["role"] == "admin":
        _refuse_if_no_admin_left(user, "demote")
    record(actor, "user.access", target_type="user", target_id=user.id, changes=changes)
    effects.commit()


def set_user_active(actor: User, user: User, active: bool) -> None:
    """Deactivate (they can no longer sign in) or reactivate an account."""
    if user.active == active:
        return
    if not active:
        if user.id == actor.id:
            raise Refused({"": _("You cannot deactivate your own account")})
        if user.role == "admin":
            _refuse_if_last_admin(user, "deactivate")
    user.active = active
    if not active and user.role == "admin":
        _refuse_if_no_admin_left(user, "deactivate")
    record(
        actor,
        "user.reactivate" if active else "user.deactivate",
        target_type="user",
        target_id=user.id,
        email=user.email,
    )
    effects.commit()


# ---- Open311 API keys --------------------------------------------------------------------


def create_api_key(actor: User, name: str) -> keys.NewKey:
    """A key for an outside system; its secret is returned once and only its hash is kept.
    The key and its audit row are one transaction."""
    try:
        made = keys.add_key(name, actor)
    except keys.KeyProblem as problem:
        raise Refused({"name": str(problem)}) from problem
    record(
        actor,
        "api_key.create",
        target_type="api_key",
        target_id=made.record.id,
        name=made.record.name,
        prefix=made.record.prefix,
    )
    effects.commit()
    return made


def revoke_api_key(actor: User, key: ApiKey) -> None:
    if key.revoked_at is not None:
        return
    key.revoked_at = utcnow()
    record(
        actor,
        "api_key.revoke",
        target_type="api_key",
        target_id=key.id,
        name=key.name,
        prefix=key.prefix,
    )
    effects.commit()
