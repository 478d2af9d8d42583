"""The reporter and residents change a report: the reporter closes it (it is fixed), edits
the description or withdraws it while the city has not started; anyone reopens a closed
one. Status moves go through :mod:`bpt311.reports.lifecycle`; each function is one
transaction with its timeline event and the emails it sends."""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from bpt311 import effects, i18n, public_cache
from bpt311.community.comments import attach_photo
from bpt311.community.following import ensure_follow, tell_followers
from bpt311.community.texts import checked_text, public_name
from bpt311.extensions import db
from bpt311.models import (
    Comment,
    Report,
    TimelineEvent,
    User,
    utcnow,
)
from bpt311.notify import enqueue_email, site_link
from bpt311.problems import InvalidInput, NotAllowed
from bpt311.reports import lifecycle
from bpt311.reports.service import DESCRIPTION_MAX, DESCRIPTION_MIN
from bpt311.standing import require_may_write
from bpt311.watchers.events import announce

NOTE_MAX = 2000


def reopenable(report: Report) -> bool:
    """The reopen rule: a closed report may be reopened; an archived one is history."""
    return lifecycle.allowed(report.status, "reopen", lifecycle.RESIDENT)


def close_by_reporter(report: Report, user: User, note: str) -> None:
    """The reporter says it is fixed."""
    require_may_write(user)
    if report.reporter_id != user.id:
        raise NotAllowed(_("Only the person who reported it can close it."))
    if not lifecycle.allowed(report.status, "resolve", lifecycle.REPORTER):
        raise NotAllowed(_("This report is already closed."))
    text = checked_text(note, "note", NOTE_MAX, False, "a note")
    _moved_by_reporter(
        report,
        user,
        "resolve",
        "closed",
        text,
        "Fixed, says the reporter.",
        _l("The reporter says it is fixed"),
    )


def _moved_by_reporter(
    report: Report, user: User, move: str, kind: str, text: str, note_if_none: str, headline
) -> None:
    """The reporter closes or withdraws their own report: the move, its public line on the
    timeline, word to followers and watchers, then commit."""
    now = utcnow()
    lifecycle.move(report, move, lifecycle.REPORTER, now)
    report.events.append(
        TimelineEvent(
            kind=kind,
            actor=user,
            actor_label="The reporter",
            public_note=text or note_if_none,
            created_at=now,
        )
    )
    tell_followers(report, headline, text, actor=user)
    announce(report, "status", actor=user, note=text)
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()


def reopen(report: Report, user: User, note: str, photo=None) -> None:
    """Any resident says it is not fixed: back to the department's queue."""
    require_may_write(user)
    if not reopenable(report):
        raise NotAllowed(_("Only a closed report can be reopened."))
    text = checked_text(note, "note", NOTE_MAX, True, "what is still wrong")
    now = utcnow()
    is_reporter = report.reporter_id == user.id
    lifecycle.move(report, "reopen", lifecycle.REPORTER if is_reporter else lifecycle.RESIDENT, now)
    label = "The reporter" if is_reporter else public_name(user)
    report.events.append(
        TimelineEvent(
            kind="reopened", actor=user, actor_label=label, public_note=text, created_at=now
        )
    )
    if photo is not None:
        comment = Comment(report_id=report.id, author=user, body=text, created_at=now)
        db.session.add(comment)
        db.session.flush()
        attach_photo(
            report, comment, photo, f"Photo showing the {report.category.name} is not fixed"
        )
    ensure_follow(report.id, user.id)
    tell_followers(report, _l("Reopened: not fixed yet"), text, actor=user)
    announce(report, "status", actor=user, note=text)
    department = report.department
    if department.email:
        enqueue_email(
            department.email,
            "report_update",
            _l("%(number)s was reopened", number=report.tracking_number),
            locale=i18n.DEFAULT,  # the department's own address: city staff read English
            report_id=report.id,
            report=report,
            headline=_l("Reopened by %(name)s", name=label),
            note=text,
            report_url=site_link("community.report", tracking_number=report.tracking_number),
            unsubscribe_url="",
            settings_url="",
        )
    effects.commit()


def _editable_by_reporter(report: Report, user: User) -> None:
    if report.reporter_id != user.id:
        raise NotAllowed(_("Only the person who reported it can change it."))
    if report.status != "open" or report.acknowledged_at is not None:
        raise NotAllowed(
            _(
                "The city is already working on this report, so it can no longer "
                "be changed. Add a comment instead."
            )
        )


def edit_report(report: Report, user: User, description: str) -> None:
    require_may_write(user)
    _editable_by_reporter(report, user)
    text = checked_text(description, "description", DESCRIPTION_MAX, True, "a description")
    if len(text) < DESCRIPTION_MIN:
        raise InvalidInput(
            "description",
            _("Describe the problem in at least %(count)s characters", count=DESCRIPTION_MIN),
        )
    if text == report.description:
        return
    now = utcnow()
    report.description, report.updated_at = text, now
    report.events.append(
        TimelineEvent(
            kind="edited",
            actor=user,
            actor_label="The reporter",
            public_note="The reporter changed the description.",
            created_at=now,
        )
    )
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()


def withdraw(report: Report, user: User, reason: str) -> None:
    require_may_write(user)
    _editable_by_reporter(report, user)
    text = checked_text(reason, "reason", NOTE_MAX, False, "a reason")
    _moved_by_reporter(
        report,
        user,
        "withdraw",
        "withdrawn",
        text,
        "Withdrawn by the reporter.",
        _l("Withdrawn by the reporter"),
    )
