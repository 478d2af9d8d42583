"""Erasing personal data the city no longer needs: contact details of long-closed reports,
emails and push notifications long since sent, and old watch-area notices. Run daily by
cron or the worker; running it twice changes nothing the second time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, or_, select, update

from bpt311 import effects
from bpt311.audit import record
from bpt311.extensions import db
from bpt311.models import (
    EmailSubscription,
    Notice,
    Outbox,
    PushMessage,
    Report,
    WatchEvent,
    utcnow,
)


@dataclass
class Purged:
    contacts: int
    emails: int
    notices: int = 0
    pushes: int = 0
    subscriptions: int = 0


def purge(now=None) -> Purged:
    """Erase what the retention settings say has been kept long enough; one transaction,
    one audit row when anything went."""
    now = now or utcnow()
    contact_days = current_app.config["RETENTION_CONTACT_DAYS"]
    outbox_days = current_app.config["RETENTION_OUTBOX_DAYS"]
    closed_long_ago = (
        Report.status.in_(("closed", "archived")),
        Report.closed_at < now - timedelta(days=contact_days),
    )
    contacts = db.session.execute(
        update(Report)
        .where(
            *closed_long_ago,
            or_(Report.contact_name != "", Report.contact_email != "", Report.contact_phone != ""),
        )
        .values(contact_name="", contact_email="", contact_phone="", contact_erased_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Addresses without an account that followed a report closed as long: like the contact
    # details above, kept no longer than the report's own.
    subscriptions = db.session.execute(
        delete(EmailSubscription)
        .where(EmailSubscription.report_id.in_(select(Report.id).where(*closed_long_ago)))
        .execution_options(synchronize_session=False)
    ).rowcount
    # Sent and undeliverable emails hold an address and what we told them; pending ones
    # are still on their way and stay.
    emails = _delete_delivered(Outbox, now - timedelta(days=outbox_days))
    pushes = _delete_delivered(PushMessage, now - timedelta(days=outbox_days))
    # Watch-area notices say who was told of what: after a while they are history nobody
    # reads. Events go with them (the feeds show recent ones).
    notice_days = current_app.config["RETENTION_NOTICE_DAYS"]
    notice_cutoff = now - timedelta(days=notice_days)
    old_events = select(WatchEvent.id).where(WatchEvent.created_at < notice_cutoff)
    notices = db.session.execute(
        delete(Notice)
        .where(or_(Notice.created_at < notice_cutoff, Notice.event_id.in_(old_events)))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.execute(
        delete(WatchEvent)
        .where(WatchEvent.created_at < notice_cutoff)
        .execution_options(synchronize_session=False)
    )
    if contacts or emails or notices or pushes or subscriptions:
        record(
            None,
            "privacy_purge",
            target_type="retention",
            contacts_erased=contacts,
            emails_deleted=emails,
            notices_deleted=notices,
            pushes_deleted=pushes,
            email_subscriptions_deleted=subscriptions,
            contact_days=contact_days,
            outbox_days=outbox_days,
            notice_days=notice_days,
        )
    effects.commit()
    return Purged(
        contacts=contacts,
        emails=emails,
        notices=notices,
        pushes=pushes,
        subscriptions=subscriptions,
    )


def _delete_delivered(outbox: type[Outbox] | type[PushMessage], before) -> int:
    """Delete an outbox's messages sent or given up on before ``before``; how many went."""
    return db.session.execute(
        delete(outbox)
        .where(outbox.status.in_(("sent", "dead")), outbox.created_at < before)
        .execution_options(synchronize_session=False)
    ).rowcount
