"""The email outbox: enqueue in the caller's transaction, deliver later, exactly once.

Service functions call :func:`enqueue_email`, which adds an ``Outbox`` row to the
current session without committing, so the email exists if and only if the change
it announces does. :func:`deliver_due` is one pass of the worker: it claims each
due row with a conditional UPDATE that only one worker can win, sends it by SMTP,
and marks it sent, or schedules a retry with exponential backoff.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import uuid
from datetime import datetime, timedelta
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr

from flask import current_app, render_template
from flask_babel import LazyString, get_locale
from sqlalchemy import func, or_, select, true, update
from sqlalchemy.exc import SQLAlchemyError

from bpt311 import effects, i18n
from bpt311.extensions import db
from bpt311.i18n import force_locale
from bpt311.models import Outbox, User, utcnow
from bpt311.names import has_control_characters

log = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=6)


def site_link(endpoint: str, **values) -> str:
    """An absolute link to one of our pages, on the public address (works without a request)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return current_app.config["SITE_URL"] + path


# The emails an account whose address is not confirmed yet may get: those that prove or
# protect the address (its confirmation link, a reset or change-of-address link, the claim
# link, a staff invitation, a notice that someone used the address). Nothing else (follow
# updates, watch-area notices, digests, receipts, moderation notes) goes to an address its
# owner has not confirmed: anyone can register with someone else's address.
#
# The rule is about accounts. An address that belongs to no account is one a person typed
# for exactly this email: a guest reporter's contact address gets the receipt and that
# report's updates (the receipt is its confirmation: it goes to that one address, once,
# names the report, and every email after it carries a one-click unsubscribe), and the
# email-only subscribers of a report are written to only once they followed the link
# (community.email_updates). Department addresses are the city's own.
ADDRESS_EMAILS = frozenset(
    {
        "account_verify",
        "account_email_confirm",
        "account_email_change_notice",
        "account_exists",
        "account_reset",
        "account_claim",
        "staff_invite",
        "report_updates_confirm",
    }
)


def unconfirmed_account_address(recipient: str) -> bool:
    """Whether ``recipient`` is the address of an account that has not confirmed it."""
    return (
        db.session.scalar(
            select(User.id)
            .where(
                func.lower(User.email) == recipient.strip().lower(),
                User.email_verified_at.is_(None),
            )
            .limit(1)
        )
        is not None
    )


def enqueue_email(
    recipient: str,
    template: str,
    subject: str,
    *,
    report_id: int | None = None,
    headers: dict[str, str] | None = None,
    locale: str | None = None,
    address_confirmed: bool = False,
    **context,
) -> Outbox | None:
    """Render ``emails/<template>.txt`` and ``.html`` and queue them; the caller commits.

    The email is written in ``locale`` (the recipient's language) when given, else in the
    language of the current page; ``subject`` may be a lazy translation (``lazy_gettext``).
    Nothing is queued (None) for an account's unconfirmed address unless the email is one of
    ``ADDRESS_EMAILS``."""
    if (
        not address_confirmed
        and template not in ADDRESS_EMAILS
        and unconfirmed_account_address(recipient)
    ):
        log.info("Email %s not sent: the account has not confirmed its address", template)
        return None
    with force_locale(i18n.known(locale) if locale else str(get_locale() or i18n.DEFAULT)):
        subject = str(subject)
        # Lazy translations become text in the recipient's language here (and are escaped
        # like any text: a LazyString's __html__ would let a name with markup through).
        context = {k: str(v) if isinstance(v, LazyString) else v for k, v in context.items()}
        context = {"subject": subject, "site_url": current_app.config["SITE_URL"], **context}
        row = Outbox(
            recipient=recipient,
            subject=subject,
            body_text=render_template(f"emails/{template}.txt", **context),
            body_html=render_template(f"emails/{template}.html", **context),
            headers=headers or {},
            report_id=report_id,
        )
    db.session.add(row)
    effects.start_job("email", row)  # the queue delivers it once committed (or the outbox loop)
    effects.remembered(EMAILED).add((report_id, recipient.lower()))
    return row


# Who was emailed about which report in the current transaction: a follower told by the
# community service is not emailed again as a watcher of the same change.
EMAILED = "bpt311.notify.emailed"


def emailed_in_this_transaction(report_id: int) -> set[str]:
    """The (lower-cased) addresses emailed about ``report_id`` in this transaction."""
    return {address for rid, address in effects.remembered(EMAILED) if rid == report_id}


# What a notice to watchers or followers tells of ("report <id>" or "comment <id>"), so
# the email can be withdrawn while unsent when moderators hide that thing (or the writer
# deletes their comment). Sent as a header too: harmless, and a filter may use it.
ABOUT_HEADER = "X-BPT311-About"


def unsubscribe_headers(url: str) -> dict[str, str]:
    """The headers that give mail programs a one-click unsubscribe (RFC 8058) to ``url``."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def about(report_id: int, comment_id: int | None = None) -> dict[str, str]:
    """The header naming what a notice email tells of."""
    return {ABOUT_HEADER: f"comment {comment_id}" if comment_id else f"report {report_id}"}


def withdraw_unsent(report_id: int, comment_id: int | None = None) -> int:
    """Delete the notice emails not yet sent that tell of a report (every one about it),
    or of one comment on it; the caller commits. Returns how many went."""
    wanted = about(report_id, comment_id)[ABOUT_HEADER] if comment_id else None
    rows = db.session.scalars(
        select(Outbox).where(Outbox.report_id == report_id, Outbox.status == "pending")
    ).all()
    gone = 0
    for row in rows:
        told = (row.headers or {}).get(ABOUT_HEADER)
        if told and (wanted is None or told == wanted):
            db.session.delete(row)
            gone += 1
    return gone


def build_message(row: Outbox, sender: str) -> EmailMessage:
    """The email of one outbox row. Every header is made by the email package's header
    registry (``policy.SMTP``, ``Address``), never by joining strings, and a value holding
    a control character (a line break that would start a header of its own) raises
    ValueError: the row fails alone, and is retried until it is given up (see deliver_one)."""
    message = EmailMessage(policy=policy.SMTP)
    sender_name, sender_address = parseaddr(sender)
    message["From"] = Address(
        display_name=_header_text("From", sender_name), addr_spec=sender_address
    )
    message["To"] = Address(addr_spec=_header_text("To", row.recipient))
    message["Subject"] = _header_text("Subject", row.subject)
    message["Date"] = row.created_at
    # One Message-ID per outbox row: a resend after a crash can be recognised downstream.
    domain = sender_address.rsplit("@", 1)[-1] or "bpt311.localhost"
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}", domain=domain)
    for name, value in (row.headers or {}).items():
        message[name] = _header_text(name, value)
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


def _header_text(name: str, value: str) -> str:
    """``value`` for header ``name``, refused if it holds a control character (the email
    package refuses CR and LF itself, but lets NUL, escapes and tabs through)."""
    if has_control_characters(value):
        raise ValueError(f"the {name} header would hold a control character: {value!r:.200}")
    return value


def send_message(message: EmailMessage) -> None:
    """Hand one message to the SMTP server, or to the log when none is configured."""
    config = current_app.config
    if not config["MAIL_SERVER"]:
        log.info("Email (no MAIL_SERVER set, not sent):\n%s", message.as_string())
        return
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=20) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(message)


def backoff(attempts: int, base_seconds: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min ... capped at six hours."""
    return min(timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def claim(row_id: int, worker: str, now: datetime, model=Outbox, on_schedule: bool = True) -> bool:
    """Lease one due row of ``model`` (Outbox, or any table with the same delivery
    columns, such as PushMessage) to ``worker``; only one worker can win it."""
    lease = timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    result = db.session.execute(
        update(model)
        .where(
            model.id == row_id,
            model.status == "pending",
            model.next_attempt_at <= now if on_schedule else true(),
            or_(model.lease_until.is_(None), model.lease_until < now),
        )
        .values(lease_owner=worker, lease_until=now + lease, attempts=model.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    effects.commit()
    return result.rowcount == 1


def due_ids(model, now: datetime, limit: int) -> list[int]:
    """Ids of rows of ``model`` that are due and not leased; ends the read transaction."""
    ids = db.session.scalars(
        select(model.id)
        .where(
            model.status == "pending",
            model.next_attempt_at <= now,
            or_(model.lease_until.is_(None), model.lease_until < now),
        )
        .order_by(model.id)
        .limit(limit)
    ).all()
    effects.rollback()  # end the read transaction before claiming
    return list(ids)


def deliver_due(worker: str | None = None, limit: int = 100, now: datetime | None = None) -> int:
    """Send every email that is due; returns how many were sent in this pass. Each row
    fails alone: whatever one raises, the others are still sent."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    now = now or utcnow()
    sent = 0
    for row_id in due_ids(Outbox, now, limit):
        try:
            sent += deliver_one(row_id, worker, now) == "sent"
        except Exception as exc:  # one row's trouble is that row's alone
            fail_alone(Outbox, row_id, worker, exc, now)
    return sent


def deliver_one(row_id: int, worker: str, now: datetime, on_schedule: bool = True) -> str:
    """Claim and send one email: "sent", "failed" (retried later), or "skipped" when it is
    not ours to send (sent already, given up, or another worker holds it). A job that says
    "deliver row N now" passes ``on_schedule=False``: it may go before its next attempt."""
    if not claim(row_id, worker, now, on_schedule=on_schedule):
        return "skipped"  # another worker won it
    row = db.session.get(Outbox, row_id)
    if row is None:  # discarded by an administrator meanwhile
        return "skipped"
    try:
        send_message(build_message(row, current_app.config["MAIL_FROM"]))
    except Exception as exc:  # SMTP refusals, outages, and a row that cannot be built
        effects.rollback()
        _record_failure(row, worker, exc, now)
        return "failed"
    db.session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.lease_owner == worker)
        .values(status="sent", sent_at=utcnow(), lease_until=None, last_error="")
        .execution_options(synchronize_session=False)
    )
    effects.commit()
    return "sent"


def fail_alone(model, row_id: int, worker: str, exc: Exception, now: datetime) -> None:
    """After anything unforeseen while delivering one row of ``model`` (Outbox or
    PushMessage): log it and count it as that row's failed attempt, so the row backs off
    and is given up after OUTBOX_MAX_ATTEMPTS instead of stopping the pass."""
    log.exception("Delivering %s %s failed; going on with the others", model.__name__, row_id)
    effects.rollback()
    try:
        row = db.session.get(model, row_id)
        if row is not None:
            retry_later(model, row, worker, f"{type(exc).__name__}: {exc}", now)
    except SQLAlchemyError:
        effects.rollback()
        log.exception("Could not record the failure of %s %s", model.__name__, row_id)


def _record_failure(row: Outbox, worker: str, exc: Exception, now: datetime) -> None:
    config = current_app.config
    dead = row.attempts >= config["OUTBOX_MAX_ATTEMPTS"]
    log.warning(
        "Email %s to %s failed (attempt %s%s): %s",
        row.id,
        row.recipient,
        row.attempts,
        ", giving up" if dead else "",
        exc,
    )
    retry_later(Outbox, row, worker, f"{type(exc).__name__}: {exc}", now)


def retry_later(model, row, worker: str, error: str, now: datetime) -> None:
    """Release a failed row for another attempt after the backoff, or give up on it."""
    config = current_app.config
    dead = row.attempts >= config["OUTBOX_MAX_ATTEMPTS"]
    db.session.execute(
        update(model)
        .where(model.id == row.id, model.lease_owner == worker)
        .values(
            status="dead" if dead else "pending",
            lease_until=None,
            next_attempt_at=now + backoff(row.attempts, config["OUTBOX_BACKOFF_SECONDS"]),
            last_error=error[:2000],
        )
        .execution_options(synchronize_session=False)
    )
    effects.commit()
