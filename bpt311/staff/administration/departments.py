"""Departments: who handles which reports, and who works there."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from sqlalchemy import select

from bpt311.extensions import db
from bpt311.models import Department, User
from bpt311.problems import Refused
from bpt311.staff.administration.saving import (
    STAFF_ROLES,
    another_with,
    apply_changes,
    clean_translations,
    save_audited,
)


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
        clash = another_with(Department.name, name, department)
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
    changes = apply_changes(department, values)
    clash = ("name", _("There is already a department called %(name)s", name=name))
    save_audited(actor, department, "department", "department", changes, clash, name=name)
    return department
