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
import threading
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import Flask, current_app, render_template
from flask_babel import LazyString, force_locale, get_locale
from sqlalchemy import func, or_, select, true, update

from bpt311 import i18n
from bpt311.extensions import db
from bpt311.models import Outbox, User, utcnow

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
    **context,
) -> Outbox | None:
    """Render ``emails/<template>.txt`` and ``.html`` and queue them; the caller commits.

    The email is written in ``locale`` (the recipient's language) when given, else in the
    language of the current page; ``subject`` may be a lazy translation (``lazy_gettext``).
    Nothing is queued (None) for an account's unconfirmed address unless the email is one of
    ``ADDRESS_EMAILS``."""
    if template not in ADDRESS_EMAILS and unconfirmed_account_address(recipient):
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
    return row


def build_message(row: Outbox, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    # One Message-ID per outbox row: a resend after a crash can be recognised downstream.
    domain = sender.rsplit("@", 1)[-1].strip(">") or "bpt311.localhost"
    message["Message-ID"] = make_msgid(idstring=f"outbox-{row.id}", domain=domain)
    for name, value in (row.headers or {}).items():
        message[name] = value
    message.set_content(row.body_text)
    if row.body_html:
        message.add_alternative(row.body_html, subtype="html")
    return message


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


def _claim(row_id: int, worker: str, now: datetime, model=Outbox, on_schedule: bool = True) -> bool:
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
    db.session.commit()
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
    db.session.rollback()  # end the read transaction before claiming
    return list(ids)


def deliver_due(worker: str | None = None, limit: int = 100, now: datetime | None = None) -> int:
    """Send every email that is due; returns how many were sent in this pass."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    now = now or utcnow()
    sent = 0
    for row_id in due_ids(Outbox, now, limit):
        sent += deliver_one(row_id, worker, now) == "sent"
    return sent


def deliver_one(row_id: int, worker: str, now: datetime, on_schedule: bool = True) -> str:
    """Claim and send one email: "sent", "failed" (retried later), or "skipped" when it is
    not ours to send (sent already, given up, or another worker holds it). A job that says
    "deliver row N now" passes ``on_schedule=False``: it may go before its next attempt."""
    if not _claim(row_id, worker, now, on_schedule=on_schedule):
        return "skipped"  # another worker won it
    row = db.session.get(Outbox, row_id)
    try:
        send_message(build_message(row, current_app.config["MAIL_FROM"]))
    except (smtplib.SMTPException, OSError) as exc:
        _record_failure(row, worker, exc, now)
        return "failed"
    db.session.execute(
        update(Outbox)
        .where(Outbox.id == row_id, Outbox.lease_owner == worker)
        .values(status="sent", sent_at=utcnow(), lease_until=None, last_error="")
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return "sent"


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
    db.session.commit()


def run_worker(app: Flask, stop: threading.Event, interval: float = 5.0) -> None:
    """Deliver in a loop until ``stop`` is set; survives database and SMTP outages."""
    worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    while not stop.is_set():
        with app.app_context():
            try:
                deliver_due(worker)
                from bpt311.pwa.push import deliver_push_due

                deliver_push_due(worker)  # Web Push, the third channel (a no-op without keys)
                from bpt311.jobs.sweep import sweep_when_due

                sweep_when_due()  # photos whose job was lost (Redis down) get their copies
            except Exception:  # a database outage must not kill the worker
                log.exception("Outbox pass failed; trying again in %s s", interval)
                db.session.rollback()
            finally:
                db.session.remove()
        stop.wait(interval)


def start_background_worker(app: Flask, interval: float = 5.0) -> threading.Event:
    """Development only: deliver the outbox from a thread of the web process."""
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker, args=(app, stop, interval), name="outbox", daemon=True
    )
    thread.start()
    return stop
