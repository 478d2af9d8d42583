"""The daily digest: one email per person listing what happened in their areas.

Run by ``flask --app app notify digest`` once a day. Each person's notices are claimed
with a conditional UPDATE (``digested_at`` still empty) in the same transaction that
queues their email, so a second run, or two runs at once, never send anything twice.
"""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import groupby

from flask_babel import LazyString, ngettext
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from bpt311 import effects
from bpt311.extensions import db
from bpt311.models import Notice, Report, User, WatchArea, WatchAreaFollow, WatchEvent, utcnow
from bpt311.notify import enqueue_email, site_link, unsubscribe_headers
from bpt311.watchers.events import event_headline
from bpt311.watchers.tokens import unsubscribe_token

log = logging.getLogger(__name__)
ITEMS_PER_EMAIL = 100


def send_digests(now: datetime | None = None) -> int:
    """Queue a digest for everyone with undigested notices up to ``now``; returns how many."""
    now = now or utcnow()
    people = db.session.scalars(
        select(Notice.user_id)
        .where(Notice.delivery == "digest", Notice.digested_at.is_(None), Notice.created_at <= now)
        .distinct()
        .order_by(Notice.user_id)
    ).all()
    effects.rollback()  # end the read; each person gets a transaction of their own
    sent = 0
    for user_id in people:
        try:
            sent += digest_for(user_id, now)
        except Exception:
            effects.rollback()
            log.exception("Digest for user %s failed; it stays pending for the next run", user_id)
    return sent


def digest_for(user_id: int, now: datetime) -> bool:
    """Claim one person's pending notices and queue their digest, in one transaction."""
    stamp = utcnow()
    claimed = db.session.execute(
        update(Notice)
        .where(
            Notice.user_id == user_id,
            Notice.delivery == "digest",
            Notice.digested_at.is_(None),
            Notice.created_at <= now,
        )
        .values(digested_at=stamp)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount == 0:  # another run took them first
        effects.rollback()
        return False
    user = db.session.get(User, user_id)
    notices = db.session.scalars(
        select(Notice)
        .join(Notice.event)
        .where(
            Notice.user_id == user_id,
            Notice.digested_at == stamp,
            Notice.area_id.is_not(None),  # an area deleted since: they no longer want it
            WatchEvent.publicly_visible,  # hidden (or a comment deleted) since: not told
        )
        .options(
            selectinload(Notice.area),
            selectinload(Notice.event)
            .selectinload(WatchEvent.report)
            .selectinload(Report.neighbourhood),
        )
        .order_by(Notice.area_id, WatchEvent.created_at.desc(), Notice.id.desc())
    ).all()
    if user is None or not user.active or not notices:
        effects.commit()  # nothing to send, but they are dealt with
        return False
    _queue_email(user, notices)
    effects.commit()
    return True


def _subscriptions(user: User, areas: list[WatchArea]) -> dict[int, tuple[str, int]]:
    """For each area, which of the person's subscriptions brought it: theirs, or a follow."""
    follows = dict(
        db.session.execute(
            select(WatchAreaFollow.area_id, WatchAreaFollow.id).where(
                WatchAreaFollow.user_id == user.id,
                WatchAreaFollow.area_id.in_([area.id for area in areas]),
            )
        ).all()
    )
    return {
        area.id: ("area", area.id) if area.owner_id == user.id else ("follow", follows.get(area.id))
        for area in areas
    }


def _queue_email(user: User, notices: list[Notice]) -> None:
    shown = notices[:ITEMS_PER_EMAIL]
    areas = list({notice.area.id: notice.area for notice in shown}.values())
    subscriptions = _subscriptions(user, areas)
    groups = []
    for area_id, items in groupby(shown, key=lambda notice: notice.area_id):
        area = next(a for a in areas if a.id == area_id)
        scope, subscription_id = subscriptions[area_id]
        groups.append(
            {
                "area_name": area.name,
                "unsubscribe_url": site_link(
                    "watch.unsubscribe",
                    token=unsubscribe_token(scope, subscription_id, user.id),
                ),
                "entries": [_item(notice) for notice in items],
            }
        )
    groups.sort(key=lambda group: group["area_name"].lower())
    unsubscribe = site_link("watch.unsubscribe", token=unsubscribe_token("digest", None, user.id))
    total = len(notices)
    enqueue_email(
        user.email,
        "watch_digest",
        LazyString(_subject, total),
        locale=user.locale,  # the worker has no request: their own language, else English
        headers=unsubscribe_headers(unsubscribe),
        groups=groups,
        total=total,
        more=total - len(shown),
        since=min(notice.event.created_at for notice in notices),
        unsubscribe_url=unsubscribe,
        settings_url=site_link("watch.index"),
        notices_url=site_link("watch.notices"),
    )


def _subject(total: int) -> str:
    return ngettext(
        "Your Bridgeport 311 digest: %(num)d update in your watch areas",
        "Your Bridgeport 311 digest: %(num)d updates in your watch areas",
        total,
    )


def _item(notice: Notice) -> dict:
    event = notice.event
    report = event.report
    # The stored (English) headline, read back into the reader's language where it can be.
    words = LazyString(event_headline, event)
    return {
        "headline": words,
        "place": report.place_label,
        "tracking_number": report.tracking_number,
        "url": site_link("community.report", tracking_number=report.tracking_number),
        "when": notice.event.created_at,
    }
