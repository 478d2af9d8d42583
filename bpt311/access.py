"""Who may use the back office, and which reports they may act on."""

from __future__ import annotations

from functools import wraps

from flask import abort, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from bpt311.models import Report, User


def staff_required(view):
    """Staff and admins only: a guest is sent to sign in, a resident is refused."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?")))
        if not current_user.is_staff:
            abort(403, _("This part of the site is for city staff."))
        return view(*args, **kwargs)

    return wrapper


def admin_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?")))
        if not current_user.is_admin:
            abort(403, _("Only administrators can do that."))
        return view(*args, **kwargs)

    return wrapper


def may_act_on(user: User, report: Report) -> bool:
    """Staff act on their own department's reports; admins on all."""
    return user.is_admin or (user.is_staff and user.department_id == report.department_id)


def require_may_act_on(user: User, report: Report) -> None:
    if not may_act_on(user, report):
        abort(
            403,
            _(
                "This report belongs to another department. Ask an administrator to move "
                "it, or reassign it from its own department."
            ),
        )
