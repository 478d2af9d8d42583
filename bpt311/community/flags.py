"""Flags: a resident tells the moderators that a report, comment or photo the public sees is
inappropriate (counted once per person)."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError

from bpt311 import effects, i18n
from bpt311.community.texts import checked_text
from bpt311.extensions import db
from bpt311.i18n import force_locale
from bpt311.models import (
    FLAG_TARGETS,
    Comment,
    Flag,
    Media,
    Report,
    User,
)
from bpt311.problems import InvalidInput
from bpt311.standing import require_may_write

FLAG_REASONS = {
    "offensive": _l("Offensive, hateful or abusive"),
    "personal": _l("Shows someone's private details"),
    "spam": _l("Spam or advertising"),
    "not_real": _l("Not a real problem, or a joke"),
    "other": _l("Something else"),
}


def flag(user: User, target_type: str, target_id: int, reason: str, detail: str = "") -> bool:
    """Flag something for the moderators; a second flag from the same person counts once.
    Returns True when this flag is new."""
    require_may_write(user)
    if target_type not in FLAG_TARGETS:
        raise InvalidInput("target", _("That cannot be flagged"))
    if reason not in FLAG_REASONS:
        raise InvalidInput("reason", _("Choose why it is inappropriate"))
    report_id = flagged_report_id(target_type, target_id)
    if report_id is None:
        raise InvalidInput("target", _("That is no longer there"))
    with force_locale(i18n.DEFAULT):  # the moderators' record stays in English
        text = str(FLAG_REASONS[reason])
    extra = checked_text(detail, "detail", 500, reason == "other", "what is wrong")
    if extra:
        text = f"{text}: {extra}"
    try:
        with db.session.begin_nested():
            db.session.add(
                Flag(
                    user_id=user.id,
                    target_type=target_type,
                    target_id=target_id,
                    report_id=report_id,
                    reason=text,
                )
            )
        created = True
    except IntegrityError:
        created = False
    effects.commit()
    return created


def flagged_report_id(target_type: str, target_id: int) -> int | None:
    """The report a flag is about, when the thing flagged is one the public may see
    (Report, Comment and Media.publicly_visible); None otherwise."""
    model = {"report": Report, "comment": Comment, "media": Media}[target_type]
    target = db.session.get(model, target_id)
    if target is None or not target.publicly_visible:
        return None
    report = target if model is Report else db.session.get(Report, target.report_id)
    return report.id if report.publicly_visible else None
