"""What staff keep for later: their saved queue filters and the department's reply templates.

Each function is one transaction (the views never commit); template changes are audited.
"""

from __future__ import annotations

from bpt311 import effects
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import ResponseTemplate, SavedFilter, User
from bpt311.problems import NotAllowed


def save_filter(owner: User, name: str, query: str) -> SavedFilter:
    saved = SavedFilter(user_id=owner.id, name=name.strip(), query=(query or "")[:2000])
    db.session.add(saved)
    effects.commit()
    return saved


def delete_filter(owner: User, filter_id: int) -> None:
    """Delete one of ``owner``'s filters; another person's is as good as missing."""
    saved = db.session.get(SavedFilter, filter_id)
    if saved is None or saved.user_id != owner.id:
        raise NotAllowed("not your filter")
    db.session.delete(saved)
    effects.commit()


def save_template(
    actor: User,
    template: ResponseTemplate | None,
    *,
    department_id: int | None,
    status: str,
    title: str,
    body: str,
) -> ResponseTemplate:
    template = template or ResponseTemplate()
    template.department_id = department_id
    template.status, template.title, template.body = status, title.strip(), body.strip()
    db.session.add(template)
    db.session.flush()
    record(
        actor,
        "template.save",
        target_type="response_template",
        target_id=template.id,
        title=template.title,
    )
    effects.commit()
    return template


def delete_template(actor: User, template: ResponseTemplate) -> None:
    record(
        actor,
        "template.delete",
        target_type="response_template",
        target_id=template.id,
        title=template.title,
    )
    db.session.delete(template)
    effects.commit()
