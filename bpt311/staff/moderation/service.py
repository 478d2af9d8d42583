"""What moderators do: hide, restore, dismiss the flags, ban, unban.

Each is one transaction ending in ``effects.commit()``: the change (a conditional UPDATE,
so that of two moderators acting at once only one wins), one audit row, a timeline event
where the report's public page changes, and the email to whoever posted the thing. Each
checks who may act and raises :class:`~bpt311.problems.NotAllowed` or
:class:`~bpt311.problems.Problem` for the view to answer.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import update

from bpt311 import effects, public_cache
from bpt311.access import may_act_on
from bpt311.audit import record
from bpt311.community.following import withdraw_unsent_notices
from bpt311.extensions import db
from bpt311.models import Flag, Report, TimelineEvent, User, utcnow
from bpt311.notify import enqueue_email, site_link
from bpt311.problems import NotAllowed, Problem
from bpt311.reports import daily
from bpt311.staff.moderation.queries import TARGETS, Item

REASON_MAX = 500
CITY_LABEL = "City of Bridgeport"
PUBLIC_NOTES = {
    "hidden": {
        "report": "The city's moderators hid this report from the public.",
        "comment": "The city's moderators hid a comment.",
        "media": "The city's moderators hid a photo.",
    },
    "restored": {
        "report": "The city's moderators restored this report.",
        "comment": "The city's moderators restored a comment.",
        "media": "The city's moderators restored a photo.",
    },
}


# Why an action was refused, by the kind of thing (a word glued into a sentence would not
# translate: "the comment" is "el comentario" but "the photo" is "la foto").
REFUSALS = {
    "already_hidden": {
        "report": lambda: _("This report was already hidden, perhaps by someone else."),
        "comment": lambda: _("This comment was already hidden, perhaps by someone else."),
        "media": lambda: _("This photo was already hidden, perhaps by someone else."),
    },
    "not_hidden": {
        "report": lambda: _("This report is not hidden any more."),
        "comment": lambda: _("This comment is not hidden any more."),
        "media": lambda: _("This photo is not hidden any more."),
    },
    "no_flags": {
        "report": lambda: _(
            "There are no open flags on this report any more; someone else dealt with them."
        ),
        "comment": lambda: _(
            "There are no open flags on this comment any more; someone else dealt with them."
        ),
        "media": lambda: _(
            "There are no open flags on this photo any more; someone else dealt with them."
        ),
    },
}


def _check(actor: User, item: Item) -> None:
    if not may_act_on(actor, item.report):
        raise NotAllowed(_("This belongs to another department’s report."))


def _reason(text: str | None, required: bool = True) -> str:
    reason = (text or "").strip()
    if required and not reason:
        raise Problem(_("Say why, for the record and for the person who posted it."))
    if len(reason) > REASON_MAX:
        raise Problem(_("Keep the reason to %(num)d characters or fewer.", num=REASON_MAX))
    return reason


def _set_hidden(item: Item, hidden_at: datetime | None, reason: str, now: datetime) -> bool:
    """A conditional UPDATE that only one of two moderators acting at once can win."""
    model = TARGETS[item.target_type]
    values = {"hidden_at": hidden_at, "hidden_reason": reason}
    if model is Report:  # the public lists' ETag and the inspector's version both move
        values.update(updated_at=now, version=Report.version + 1)
        daily.touch(item.target)  # the public figures leave it out (or count it again)
    still = model.hidden_at.is_(None) if hidden_at else model.hidden_at.is_not(None)
    result = db.session.execute(
        update(model)
        .where(model.id == item.target.id, still)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _resolve_flags(item: Item, resolution: str, now: datetime) -> int:
    result = db.session.execute(
        update(Flag)
        .where(
            Flag.target_type == item.target_type,
            Flag.target_id == item.target.id,
            Flag.resolved_at.is_(None),
        )
        .values(resolved_at=now, resolution=resolution)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _timeline(item: Item, actor: User, kind: str, internal_note: str, now: datetime) -> None:
    db.session.add(
        TimelineEvent(
            report_id=item.report.id,
            kind=kind,
            actor_id=actor.id,
            actor_label=CITY_LABEL,
            public_note=PUBLIC_NOTES[kind][item.target_type],
            internal_note=internal_note,
            created_at=now,
        )
    )


def _record(actor: User, item: Item, action: str, **details) -> None:
    """The audit log's row for a moderator's action on the thing."""
    record(
        actor,
        action,
        report=item.report,
        target_type=item.target_type,
        target_id=item.target.id,
        **details,
    )


# Each email's subject, lazily translated: written in the poster's language when queued.
SUBJECTS = {
    ("moderation_hidden", "report"): lambda n: _l("%(number)s: your report was hidden", number=n),
    ("moderation_hidden", "comment"): lambda n: _l("%(number)s: your comment was hidden", number=n),
    ("moderation_hidden", "photo"): lambda n: _l("%(number)s: your photo was hidden", number=n),
    ("moderation_restored", "report"): lambda n: _l(
        "%(number)s: your report is shown again", number=n
    ),
    ("moderation_restored", "comment"): lambda n: _l(
        "%(number)s: your comment is shown again", number=n
    ),
    ("moderation_restored", "photo"): lambda n: _l(
        "%(number)s: your photo is shown again", number=n
    ),
}


def _tell_poster(item: Item, actor: User, template: str, reason: str = "") -> None:
    """Email whoever posted the thing (never the moderator themselves) through the outbox,
    in their language (a guest's: the one their report was made in)."""
    address = item.notify_address
    if not address or (item.author is not None and item.author.id == actor.id):
        return
    report = item.report
    report_hidden = item.target_type == "report" or not report.publicly_visible
    enqueue_email(
        address,
        template,
        SUBJECTS[template, item.word](report.tracking_number),
        locale=item.author.locale if item.author is not None else report.locale,
        report_id=report.id,
        report=report,
        word=item.word,
        reason=reason,
        report_hidden=report_hidden,
        report_url=site_link("community.report", tracking_number=report.tracking_number),
    )


def hide(item: Item, actor: User, reason: str) -> int:
    """Hide the thing from the public (kept, and shown to staff), resolve its flags as
    "hidden", and tell the person who posted it why. Returns how many flags it resolved."""
    _check(actor, item)
    reason = _reason(reason)
    now = utcnow()
    if not _set_hidden(item, now, reason, now):
        effects.rollback()
        raise Problem(REFUSALS["already_hidden"][item.target_type]())
    resolved = _resolve_flags(item, "hidden", now)
    if item.target_type in ("report", "comment"):  # what followers and watchers may not read
        withdraw_unsent_notices(
            item.report.id, item.target if item.target_type == "comment" else None
        )
    _timeline(item, actor, "hidden", f"Hidden: {reason}", now)
    _record(actor, item, "moderation.hide", reason=reason, flags_resolved=resolved)
    _tell_poster(item, actor, "moderation_hidden", reason)
    effects.after_commit(public_cache.changed, item.report.tracking_number)
    effects.commit()
    return resolved


def restore(item: Item, actor: User) -> None:
    """Show a hidden thing to the public again, and tell the person who posted it."""
    _check(actor, item)
    was = item.target.hidden_reason
    now = utcnow()
    if not _set_hidden(item, None, "", now):
        effects.rollback()
        raise Problem(REFUSALS["not_hidden"][item.target_type]())
    _timeline(item, actor, "restored", f"Restored; it had been hidden: {was}", now)
    _record(actor, item, "moderation.restore", was_hidden_for=was)
    _tell_poster(item, actor, "moderation_restored")
    effects.after_commit(public_cache.changed, item.report.tracking_number)
    effects.commit()


def dismiss(item: Item, actor: User) -> int:
    """Resolve the thing's open flags as "dismissed": nothing wrong with it. Flags are
    private, so the public timeline is not touched."""
    _check(actor, item)
    resolved = _resolve_flags(item, "dismissed", utcnow())
    if not resolved:
        effects.rollback()
        raise Problem(REFUSALS["no_flags"][item.target_type]())
    _record(actor, item, "moderation.dismiss", flags=resolved)
    effects.commit()
    return resolved


def ban(person: User, actor: User, reason: str = "") -> None:
    """Stop a resident posting (votes, comments, flags, reports); admins only."""
    if not actor.is_admin:
        raise NotAllowed(_("Only administrators can ban people."))
    if person.is_staff:
        raise Problem(_("City staff cannot be banned; change their role first."))
    reason = _reason(reason, required=False)
    result = db.session.execute(
        update(User)
        .where(User.id == person.id, User.banned_at.is_(None))
        .values(banned_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        effects.rollback()
        raise Problem(_("%(email)s is already banned.", email=person.email))
    record(
        actor,
        "user.ban",
        target_type="user",
        target_id=person.id,
        email=person.email,
        reason=reason,
    )
    effects.commit()


def unban(person: User, actor: User) -> None:
    if not actor.is_admin:
        raise NotAllowed(_("Only administrators can lift a ban."))
    result = db.session.execute(
        update(User)
        .where(User.id == person.id, User.banned_at.is_not(None))
        .values(banned_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        effects.rollback()
        raise Problem(_("%(email)s is not banned.", email=person.email))
    record(actor, "user.unban", target_type="user", target_id=person.id, email=person.email)
    effects.commit()
