"""Who hears about a change to a report: its followers (accounts), addresses without an
account that asked for updates and confirmed them, and a guest reporter who left an email;
following and unfollowing (also by the link in every email); withdrawing notices of
something the public may no longer see.

Each function is one transaction, as in the rest of :mod:`bpt311.community`."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from bpt311 import effects, i18n, notify, public_cache, push
from bpt311.extensions import db
from bpt311.models import (
    Comment,
    EmailSubscription,
    Follow,
    Report,
    User,
)
from bpt311.notify import about, enqueue_email, site_link, unsubscribe_headers
from bpt311.tokens import EMAIL_UPDATES, UNSUBSCRIBE, make_token


def set_follow(report: Report, user: User, wanted: bool) -> bool:
    if wanted:
        ensure_follow(report.id, user.id)
    else:
        db.session.execute(
            delete(Follow).where(Follow.report_id == report.id, Follow.user_id == user.id)
        )
    effects.commit()
    return wanted


def ensure_follow(report_id: int, user_id: int) -> None:
    try:
        with db.session.begin_nested():
            db.session.add(Follow(report_id=report_id, user_id=user_id))
    except IntegrityError:
        pass  # already following


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
                **unsubscribe_headers(unsubscribe),
                **about(report.id, comment.id if comment else None),
            },
            report=report,
            headline=headline,
            note=note,
            report_url=site_link("community.report", tracking_number=report.tracking_number),
            unsubscribe_url=unsubscribe,
            settings_url=site_link("accounts.me") if user_id else "",
        )
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


def withdraw_unsent_notices(report_id: int, comment: Comment | None = None) -> None:
    """The public may no longer see a report (or ``comment`` on it): emails and push
    notifications telling followers and watchers of it that have not gone yet are
    withdrawn, in the caller's transaction."""
    notify.withdraw_unsent(report_id, comment.id if comment else None)
    push.withdraw_unsent(report_id, comment.body if comment else None)


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
