"""How every administration change is saved: the values set, a unique name checked,
the audit row written and the commit made, a clash a concurrent change won turned into a
form error; typed translations cleaned."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from bpt311 import effects, public_cache
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import User
from bpt311.problems import Refused

STAFF_ROLES = ("staff", "admin")


def apply_changes(target: Any, values: dict[str, Any]) -> dict[str, list[Any]]:
    """Set ``values`` on ``target``; the fields that changed, as {field: [before, after]}."""
    changes = {}
    for name, value in values.items():
        before = getattr(target, name)
        if before != value:
            changes[name] = [before, value]
            setattr(target, name, value)
    return changes


def another_with(column, value: str, row: Any):
    """Another row whose ``column`` is ``value`` whatever its case (``row`` itself aside)."""
    model = column.class_
    return db.session.scalars(
        select(model).where(func.lower(column) == value.lower(), model.id != (row.id if row else 0))
    ).first()


def commit_or_clash(field: str, message: str) -> None:
    """Commit; a unique index that a concurrent change beat us to becomes a form error."""
    try:
        effects.commit()
    except IntegrityError as exc:
        effects.rollback()
        raise Refused({field: message}) from exc


def save_audited(
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
    commit_or_clash(*clash)


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
