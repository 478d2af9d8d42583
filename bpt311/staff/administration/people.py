"""People: inviting staff, changing who may do what, deactivating accounts; there is
always one active administrator left."""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from bpt311 import effects, tokens
from bpt311.accounts.service import normalise_email, user_by_email
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import ROLES, Department, User
from bpt311.notify import enqueue_email, site_link
from bpt311.problems import Refused
from bpt311.staff.administration.saving import STAFF_ROLES, commit_or_clash


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
    commit_or_clash("email", _("There is already an account for %(email)s", email=email))
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
