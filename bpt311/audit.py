"""The audit log: one row for every staff action, written in the action's transaction."""

from __future__ import annotations

from typing import Any

from bpt311.extensions import db
from bpt311.models import AuditLog, Report, User


def record(
    actor: User | None,
    action: str,
    report: Report | None = None,
    target_type: str = "",
    target_id: int | None = None,
    **detail: Any,
) -> AuditLog:
    """Add an audit row to the session; the caller commits it with the change itself."""
    row = AuditLog(
        actor_id=actor.id if actor else None,
        action=action,
        report_id=report.id if report else None,
        target_type=target_type or ("report" if report else ""),
        target_id=target_id if target_id is not None else (report.id if report else None),
        detail={key: value for key, value in detail.items() if value not in (None, "")},
    )
    db.session.add(row)
    return row
