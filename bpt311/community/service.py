"""What residents do to a report: vote, follow, comment, flag, close, reopen, edit, withdraw.

Each function is one transaction: the change, its timeline event, the counter it moves
and the emails it sends commit together or not at all. Functions take the acting user
and raise a small error the views turn into a message or a status code.
"""

from __future__ import annotations

from datetime import timedelta

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, delete, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from bpt311 import effects, i18n, notify, public_cache, storage
from bpt311.access import may_act_on
from bpt311.accounts.standing import require_may_write
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import (
    FLAG_TARGETS,
    Comment,
    EmailSubscription,
    Flag,
    Follow,
    Media,
    Report,
    TimelineEvent,
    User,
    Vote,
    utcnow,
)
from bpt311.notify import about, enqueue_email, site_link
from bpt311.problems import InvalidInput, NotAllowed
from bpt311.reports import lifecycle
from bpt311.tokens import EMAIL_UPDATES, UNSUBSCRIBE, make_token
from bpt311.watch.events import announce

COMMENT_MAX = 2000
NOTE_MAX = 2000
REASON_MAX = 500
EDIT_WINDOW = timedelta(minutes=15)
FLAG_REASONS = {
    "offensive": _l("Offensive, hateful or abusive"),
    "personal": _l("Shows someone's private details"),
    "spam": _l("Spam or advertising"),
    "not_real": _l("Not a real problem, or a joke"),
    "other": _l("Something else"),
}


# What to say about each kind of text when it is missing or too long: whole sentences,
# since word order differs between languages.
TEXT_MESSAGES = {
    "a comment": (
        _l("Write a comment"),
        _l("Keep a comment to %(limit)s characters or fewer"),
    ),
    "what is wrong": (
        _l("Write what is wrong"),
        _l("Keep what is wrong to %(limit)s characters or fewer"),
    ),
    "a note": (_l("Write a note"), _l("Keep a note to %(limit)s characters or fewer")),
    "what is still wrong": (
        _l("Write what is still wrong"),
        _l("Keep what is still wrong to %(limit)s characters or fewer"),
    ),
    "a description": (
        _l("Write a description"),
        _l("Keep a description to %(limit)s characters or fewer"),
    ),
    "a reason": (_l("Write a reason"), _l("Keep a reason to %(limit)s characters or fewer")),
}


def _text(value: str, field: str, limit: int, required: bool, what: str) -> str:
    text = (value or "").strip()
    missing, too_long = TEXT_MESSAGES[what]
    if required and not text:
        raise InvalidInput(field, str(missing))
    if len(text) > limit:
        raise InvalidInput(field, str(too_long) % {"limit": limit})
    return text


def public_name(user: User | None) -> str:
    """How a person is named on a public timeline: staff as the city, never by private name."""
    if user is None:
        return "A former resident"
    if user.is_staff:
        return (
            f"City of Bridgeport, {user.department.name}"
            if user.department
            else ("City of Bridgeport")
        )
    return user.public_name


# ---- votes and follows -------------------------------------------------------------


def set_vote(report: Report, user: User, wanted: bool) -> tuple[bool, int]:
    """Vote or take the vote back; idempotent, so concurrent clicks count once.
    Returns whether the user now votes, and the report's vote count."""
    require_may_write(user)
    if wanted:
        try:
            with db.session.begin_nested():
                db.session.add(Vote(report_id=report.id, user_id=user.id))
            changed = 1
        except IntegrityError:
            changed = 0  # already voted: the unique key held
    else:
        result = db.session.execute(
            delete(Vote).where(Vote.report_id == report.id, Vote.user_id == user.id)
        )
        changed = -result.rowcount
    if changed:
        db.session.execute(
            update(Report)
            .where(Report.id == report.id)
            .values(vote_count=Report.vote_count + changed)
            .execution_options(synchronize_session=False)
        )
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    count = db.session.scalar(select(Report.vote_count).where(Report.id == report.id))
    return wanted, count


def set_follow(report: Report, user: User, wanted: bool) -> bool:
    if wanted:
        _ensure_follow(report.id, user.id)
    else:
        db.session.execute(
            delete(Follow).where(Follow.report_id == report.id, Follow.user_id == user.id)
        )
    effects.commit()
    return wanted


def _ensure_follow(report_id: int, user_id: int) -> None:
    try:
        with db.session.begin_nested():
            db.session.add(Follow(report_id=report_id, user_id=user_id))
    except IntegrityError:
        pass  # already following


def reopenable(report: Report) -> bool:
    """The reopen rule: a closed report may be reopened; an archived one is history."""
    return lifecycle.allowed(report.status, "reopen", lifecycle.RESIDENT)


def viewer_state(report: Report, user) -> dict:
    """Whether the person looking votes for and follows the report (two small queries), and
    whether they may reopen it (a guest may, once signed in; an account barred from posting
    may not)."""
    if not getattr(user, "is_authenticated", False):
        return {"voted": False, "following": False, "may_reopen": reopenable(report)}
    voted = db.session.scalar(
        select(func.count(Vote.id)).where(Vote.report_id == report.id, Vote.user_id == user.id)
    )
    following = db.session.scalar(
        select(func.count(Follow.id)).where(
            Follow.report_id == report.id, Follow.user_id == user.id
        )
    )
    return {
        "voted": bool(voted),
        "following": bool(following),
        "may_reopen": reopenable(report) and user.banned_at is None,
    }


# ---- who hears about a change --------------------------------------------------------


def unsubscribe_token(report: Report, user_id: int | None, email: str) -> str:
    return make_token(UNSUBSCRIBE, {"r": report.id, "u": user_id, "e": email.lower()})


def tell_followers(
    report: Report,
    headline: str,
    note: str = "",
    actor: User | None = None,
    comment: Comment | None = None,
) -> int:
    """Queue an email about a change to everyone who follows the report (and a guest
    reporter who left an email), except the person who made the change. ``comment``: the
    comment it tells of, so the email is withdrawn if that is hidden before it goes."""
    rows = db.session.execute(
        select(User.id, User.email, User.locale)
        .join(Follow, Follow.user_id == User.id)
        .where(Follow.report_id == report.id, User.active)
    ).all()
    # Each person hears in their own language: ``headline`` may be a lazy translation.
    audience = {email.lower(): (user_id, email, locale) for user_id, email, locale in rows}
    # Addresses with no account that asked for updates and confirmed by the link.
    for email, locale in db.session.execute(
        select(EmailSubscription.email, EmailSubscription.locale).where(
            EmailSubscription.report_id == report.id
        )
    ):
        audience.setdefault(email.lower(), (None, email, locale))
    if report.reporter_id is None and report.notify_contact and report.contact_email:
        audience.setdefault(
            report.contact_email.lower(),
            (None, report.contact_email, report.locale),
        )
    if actor is not None:
        audience = {k: v for k, v in audience.items() if v[0] != actor.id}
    subject = _l("%(number)s: %(headline)s", number=report.tracking_number, headline=headline)
    for user_id, email, locale in audience.values():
        token = unsubscribe_token(report, user_id, email)
        unsubscribe = site_link("community.unfollow", token=token)
        enqueue_email(
            email,
            "report_update",
            subject,
            locale=i18n.known(locale),
            report_id=report.id,
            headers={
                "List-Unsubscribe": f"<{unsubscribe}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                **about(report.id, comment.id if comment else None),
            },
            report=report,
            headline=headline,
            note=note,
            report_url=site_link("community.report", tracking_number=report.tracking_number),
            unsubscribe_url=unsubscribe,
            settings_url=site_link("accounts.me") if user_id else "",
        )
    from bpt311 import push  # the third channel: devices that turned notifications on

    push.queue(
        [user_id for user_id, _email, _locale in audience.values()],
        "reports",
        subject,
        note or report.place_label,
        push.report_path(report),
        report_id=report.id,
    )
    return len(audience)


def unfollow_by_token(payload: dict) -> Report | None:
    """Stop the emails a link was made for: the follow of an account, or a guest's."""
    report = db.session.get(Report, payload.get("r"))
    if report is None:
        return None
    if payload.get("u"):
        db.session.execute(
            delete(Follow).where(Follow.report_id == report.id, Follow.user_id == payload["u"])
        )
    else:
        email = str(payload.get("e") or "")
        db.session.execute(
            delete(EmailSubscription).where(
                EmailSubscription.report_id == report.id, EmailSubscription.email == email
            )
        )
        if (report.contact_email or "").lower() == email:
            report.notify_contact = False
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    return report


# ---- email updates for people without an account ------------------------------------------


def request_email_updates(report: Report, email: str) -> None:
    """Email a link that starts update emails on ``report`` to ``email``. Nothing is kept
    until the link is followed: the signed link carries the address (and the language of
    the page, for the emails that follow)."""
    email = email.strip().lower()
    token = make_token(EMAIL_UPDATES, {"r": report.id, "e": email, "l": i18n.current_language()})
    enqueue_email(
        email,
        "report_updates_confirm",
        _l("Confirm email updates on %(number)s", number=report.tracking_number),
        report_id=report.id,
        report=report,
        link=site_link("community.confirm_email_updates", token=token),
        report_url=site_link("community.report", tracking_number=report.tracking_number),
    )
    effects.commit()


def confirm_email_updates(payload: dict) -> Report | None:
    """The link was followed: the address gets the report's updates from now on (once,
    however often the link is opened). None when the report is gone or hidden."""
    report = db.session.get(Report, payload.get("r") or 0)
    email = str(payload.get("e") or "")[:254]
    if report is None or not report.publicly_visible or "@" not in email:
        return None
    try:
        with db.session.begin_nested():
            db.session.add(
                EmailSubscription(
                    report_id=report.id, email=email, locale=i18n.known(payload.get("l"))
                )
            )
    except IntegrityError:
        pass  # already getting them
    effects.commit()
    return report


# ---- comments ----------------------------------------------------------------------


def add_comment(report: Report, user: User, body: str, photo=None) -> Comment:
    """A comment, in the timeline, with an optional photo (already checked and stashed)."""
    require_may_write(user)
    text = _text(body, "body", COMMENT_MAX, True, "a comment")
    now = utcnow()
    comment = Comment(
        report_id=report.id, author=user, body=text, by_city=user.is_staff, created_at=now
    )
    db.session.add(comment)
    db.session.flush()
    db.session.add(
        TimelineEvent(
            report_id=report.id,
            kind="comment",
            actor=user,
            actor_label=public_name(user),
            comment=comment,
            created_at=now,
        )
    )
    _attach_photo(report, comment, photo, f"Photo with a comment on the {report.category.name}")
    db.session.execute(
        update(Report)
        .where(Report.id == report.id)
        .values(comment_count=Report.comment_count + 1, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    _ensure_follow(report.id, user.id)
    headline = _l("%(name)s commented", name=public_name(user))
    tell_followers(report, headline, text, actor=user, comment=comment)
    announce(report, "comment", actor=user, note=text, comment=comment)
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    return comment


def edit_comment(comment: Comment, user: User, body: str) -> Comment:
    require_may_write(user)
    if comment.author_id != user.id:
        raise NotAllowed(_("Only the person who wrote a comment can change it."))
    if comment.deleted_at or utcnow() - comment.created_at > EDIT_WINDOW:
        raise NotAllowed(_("Comments can only be changed in the first 15 minutes."))
    comment.body = _text(body, "body", COMMENT_MAX, True, "a comment")
    comment.edited_at = utcnow()
    report = db.session.get(Report, comment.report_id)
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    return comment


def counted_comment(comment_id) -> ColumnElement[bool]:
    """SQL: the comment is one of the conversation's, which is what ``comment_count``
    counts (a reopening's photo is kept as a comment row that is not, and never counted)."""
    return exists().where(TimelineEvent.comment_id == comment_id, TimelineEvent.kind == "comment")


def may_delete(comment: Comment, report: Report, user) -> bool:
    """The writer deletes their own comment; staff one on a report they may moderate (their
    department's; admins all): the rule the moderation queue's hide button follows."""
    if not getattr(user, "is_authenticated", False):
        return False
    return comment.author_id == user.id or may_act_on(user, report)


def delete_comment(comment: Comment, user: User, reason: str = "") -> bool:
    """Delete a comment, moving the report's counter in the same transaction and only if
    this call is the one that deleted it, so deletes at the same moment count once.
    Staff deleting someone else's comment leave an audit row and the writer is told, with
    the reason if one was given. Returns whether this call deleted it."""
    report = db.session.get(Report, comment.report_id)
    if not may_delete(comment, report, user):
        raise NotAllowed(
            _(
                "Only the person who wrote a comment, or staff of its report's department, "
                "can delete it."
            )
        )
    reason = _text(reason, "reason", REASON_MAX, False, "a reason")
    gone = db.session.execute(
        update(Comment)
        .where(Comment.id == comment.id, Comment.deleted_at.is_(None))
        .values(deleted_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if gone.rowcount != 1:  # someone else deleted it first: nothing more to do
        effects.rollback()
        return False
    withdraw_unsent_notices(comment.report_id, comment)
    db.session.execute(
        update(Report)
        .where(
            Report.id == comment.report_id,
            Report.comment_count > 0,
            counted_comment(comment.id),
        )
        .values(comment_count=Report.comment_count - 1)
        .execution_options(synchronize_session=False)
    )
    if comment.author_id != user.id:
        record(
            user,
            "comment.delete",
            report=report,
            target_type="comment",
            target_id=comment.id,
            reason=reason,
        )
        _tell_writer_of_removal(comment, report, reason)
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()
    return True


def _tell_writer_of_removal(comment: Comment, report: Report, reason: str) -> None:
    """Email the writer, in their language, that the city removed their comment."""
    writer = comment.author
    if writer is None or not writer.active:
        return
    enqueue_email(
        writer.email,
        "comment_removed",
        _l("%(number)s: your comment was removed", number=report.tracking_number),
        locale=i18n.known(writer.locale),
        report_id=report.id,
        report=report,
        reason=reason,
        report_hidden=not report.publicly_visible,
        report_url=site_link("community.report", tracking_number=report.tracking_number),
    )


def withdraw_unsent_notices(report_id: int, comment: Comment | None = None) -> None:
    """The public may no longer see a report (or ``comment`` on it): emails and push
    notifications telling followers and watchers of it that have not gone yet are
    withdrawn, in the caller's transaction."""
    from bpt311 import push  # as in tell_followers

    notify.withdraw_unsent(report_id, comment.id if comment else None)
    push.withdraw_unsent(report_id, comment.body if comment else None)


def can_edit(comment: Comment, user) -> bool:
    return (
        getattr(user, "is_authenticated", False)
        and comment.author_id == user.id
        and comment.publicly_visible  # not deleted, nor hidden by moderators
        and utcnow() - comment.created_at <= EDIT_WINDOW
    )


# ---- flags ---------------------------------------------------------------------------


def flag(user: User, target_type: str, target_id: int, reason: str, detail: str = "") -> bool:
    """Flag something for the moderators; a second flag from the same person counts once.
    Returns True when this flag is new."""
    require_may_write(user)
    if target_type not in FLAG_TARGETS:
        raise InvalidInput("target", _("That cannot be flagged"))
    if reason not in FLAG_REASONS:
        raise InvalidInput("reason", _("Choose why it is inappropriate"))
    report_id = _flagged_report_id(target_type, target_id)
    if report_id is None:
        raise InvalidInput("target", _("That is no longer there"))
    with force_locale(i18n.DEFAULT):  # the moderators' record stays in English
        text = str(FLAG_REASONS[reason])
    extra = _text(detail, "detail", 500, reason == "other", "what is wrong")
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


def _flagged_report_id(target_type: str, target_id: int) -> int | None:
    """The report a flag is about, when the thing flagged is one the public may see
    (Report, Comment and Media.publicly_visible); None otherwise."""
    model = {"report": Report, "comment": Comment, "media": Media}[target_type]
    target = db.session.get(model, target_id)
    if target is None or not target.publicly_visible:
        return None
    report = target if model is Report else db.session.get(Report, target.report_id)
    return report.id if report.publicly_visible else None


# ---- the reporter and residents change the status ---------------------------------------


def close_by_reporter(report: Report, user: User, note: str) -> None:
    """The reporter says it is fixed."""
    require_may_write(user)
    if report.reporter_id != user.id:
        raise NotAllowed(_("Only the person who reported it can close it."))
    if not lifecycle.allowed(report.status, "resolve", lifecycle.REPORTER):
        raise NotAllowed(_("This report is already closed."))
    text = _text(note, "note", NOTE_MAX, False, "a note")
    now = utcnow()
    lifecycle.move(report, "resolve", lifecycle.REPORTER, now)
    report.events.append(
        TimelineEvent(
            kind="closed",
            actor=user,
            actor_label="The reporter",
            public_note=text or "Fixed, says the reporter.",
            created_at=now,
        )
    )
    tell_followers(report, _l("The reporter says it is fixed"), text, actor=user)
    announce(report, "status", actor=user, note=text)
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()


def reopen(report: Report, user: User, note: str, photo=None) -> None:
    """Any resident says it is not fixed: back to the department's queue."""
    require_may_write(user)
    if not reopenable(report):
        raise NotAllowed(_("Only a closed report can be reopened."))
    text = _text(note, "note", NOTE_MAX, True, "what is still wrong")
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
        _attach_photo(
            report, comment, photo, f"Photo showing the {report.category.name} is not fixed"
        )
    _ensure_follow(report.id, user.id)
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
    from bpt311.reports.service import DESCRIPTION_MAX, DESCRIPTION_MIN

    require_may_write(user)
    _editable_by_reporter(report, user)
    text = _text(description, "description", DESCRIPTION_MAX, True, "a description")
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
    text = _text(reason, "reason", NOTE_MAX, False, "a reason")
    now = utcnow()
    lifecycle.move(report, "withdraw", lifecycle.REPORTER, now)
    report.events.append(
        TimelineEvent(
            kind="withdrawn",
            actor=user,
            actor_label="The reporter",
            public_note=text or "Withdrawn by the reporter.",
            created_at=now,
        )
    )
    tell_followers(report, _l("Withdrawn by the reporter"), text, actor=user)
    announce(report, "status", actor=user, note=text)
    effects.after_commit(public_cache.changed, report.tracking_number)
    effects.commit()


# ---- photos added with a comment or a reopening ------------------------------------------


def _attach_photo(report: Report, comment: Comment, photo, alt: str) -> None:
    if photo is None:
        return
    from bpt311.reports.service import place_stashed

    name, thumb = place_stashed(photo)  # deleted again if the transaction fails
    media = Media(
        report_id=report.id,
        comment_id=comment.id,
        kind="photo",
        file_name=name,
        thumb_name=thumb,
        content_type=photo.content_type,
        size_bytes=photo.size,
        width=photo.width,
        height=photo.height,
        alt_text=alt,
        position=100,
    )
    storage.prepare_new_media(media)
    db.session.add(media)


def forget_votes_of(user_id: int) -> None:
    """Before an account goes: take its votes off the counters (the rows cascade away)."""
    voted = select(Vote.report_id).where(Vote.user_id == user_id)
    db.session.execute(
        update(Report)
        .where(Report.id.in_(voted))
        .values(vote_count=Report.vote_count - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.execute(delete(Vote).where(Vote.user_id == user_id))
    # Comments stay, shown as by "A former resident", so their count does not change.
