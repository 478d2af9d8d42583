"""What happens to reports, told to the people watching the area it is in.

Every service that creates or changes a report calls :func:`announce` inside its own
transaction, so watchers hear of exactly the changes that commit. Without a job queue the
event, one notice per person and the emails all go into the caller's session. With one
(``REDIS_URL``), the request only adds the event with what the decision needs; a "watch"
job (or the sweep) then runs the same :func:`fan_out` in its own transaction, once.
"""

from __future__ import annotations

import re

from flask_babel import LazyString, gettext
from sqlalchemy import insert, select

from bpt311 import effects, i18n, push
from bpt311.extensions import db
from bpt311.i18n import force_locale
from bpt311.models import (
    Comment,
    Notice,
    Report,
    TimelineEvent,
    User,
    WatchEvent,
    utcnow,
)
from bpt311.notify import (
    about,
    emailed_in_this_transaction,
    enqueue_email,
    site_link,
    unsubscribe_headers,
)
from bpt311.watchers.matching import Watcher, watchers_of
from bpt311.watchers.tokens import unsubscribe_token

KINDS = ("new", "status", "comment")
NOTE_MAX = 2000


def announce(
    report: Report,
    kind: str,
    actor: User | None = None,
    note: str = "",
    comment: Comment | None = None,
) -> None:
    """Queue what the watchers of ``report``'s point should hear about ``kind`` (for a
    comment, ``comment``: its notices go if it is hidden or deleted).

    The caller flushes the report first and commits afterwards. The person who acted
    is never told of their own action, and each watcher hears once however many of
    their areas overlap. With a job queue the watchers are found and told by the "watch"
    job after the commit (:func:`fan_out_later`).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of event {kind!r}: use one of {', '.join(KINDS)}")
    if not report.publicly_visible or not report.has_point:
        return  # a report still to be placed is announced as "new" once it has its point
    now = utcnow()
    if effects.jobs_are_queued():
        event, _ = _new_event(report, kind, actor, note, now, comment)
        event.actor_id = actor.id if actor is not None else None
        event.already_told = {
            "emails": sorted(emailed_in_this_transaction(report.id)),
            "pushed": sorted(_pushed_in_this_transaction(report.id)),
        }
        db.session.add(event)
        effects.start_job("watch", event)  # the "watch" job tells them once committed
        return
    watchers = watchers_of(
        report.latitude,
        report.longitude,
        kind,
        report.category_id,
        exclude_user_id=actor.id if actor is not None else None,
    )
    if not watchers:
        return
    event, step = _new_event(report, kind, actor, note, now, comment)
    event.fanned_out_at = now
    db.session.add(event)
    db.session.flush()
    told = emailed_in_this_transaction(report.id)
    # The emails' headline, written in each watcher's own language when their email is queued.
    words = LazyString(headline, report, kind, actor, step)
    fan_out(event, report, watchers, words, told, now)


def _new_event(
    report: Report, kind: str, actor: User | None, note: str, now, comment: Comment | None
) -> tuple[WatchEvent, TimelineEvent | None]:
    step = _latest_step(report) if kind == "status" else None
    if step is not None and not note and step.is_public:
        note = step.public_note
    event = WatchEvent(
        report_id=report.id,
        kind=kind,
        headline=english_headline(report, kind, actor, step)[:200],
        note=(note or "").strip()[:NOTE_MAX],
        created_at=now,
        comment_id=comment.id if comment is not None else None,
    )
    return event, step


def fan_out(
    event: WatchEvent, report: Report, watchers: list[Watcher], words, told: set[str], now
) -> None:
    """Tell ``watchers`` of ``event``: a notice each, an email to those who want one and
    were not emailed about the report in the same change (``told``), and a push. The one
    implementation, run in the request without a job queue and by the job with one."""
    links = {
        "report_url": site_link("community.report", tracking_number=report.tracking_number),
        "settings_url": site_link("watch.index"),
        "unsubscribe_base": site_link("watch.unsubscribe", token="-").removesuffix("-"),
        "area_base": site_link("watch.area", area_id=0).removesuffix("0"),
    }
    rows = []
    for watcher in watchers:
        email_now = watcher.delivery == "email" and watcher.email.lower() not in told
        if email_now:
            _email(watcher, report, event, links, words)
        rows.append(
            {
                "event_id": event.id,
                "user_id": watcher.user_id,
                "area_id": watcher.area_id,
                "delivery": watcher.delivery,
                "created_at": event.created_at,
                "emailed_at": now if email_now else None,
            }
        )
    # With RETURNING, SQLAlchemy sends the rows as one multi-row INSERT ("insertmanyvalues")
    # instead of a statement per row: about ten times faster on PostgreSQL for a busy point.
    db.session.execute(insert(Notice).returning(Notice.id), rows)

    push.queue(
        [w.user_id for w in watchers if w.delivery != "none"],
        "areas",
        words,  # each person's devices in their own language
        report.place_label,
        push.report_path(report),
        report_id=report.id,
    )


def fan_out_later(event_id: int) -> str:
    """The "watch" job: find and tell the watchers of an event announced with the queue
    on, as :func:`announce` would have in the request, in one transaction. Running it
    again (a worker killed mid-job, a retry, the sweep) tells nobody twice: the event is
    locked, and people who already have its notice are left out. Commits."""

    event = db.session.scalars(
        select(WatchEvent).where(WatchEvent.id == event_id).with_for_update()
    ).first()
    if event is None:
        effects.rollback()
        return "gone"  # deleted with its report, or nobody was watching
    if event.fanned_out_at is not None:
        effects.rollback()
        return "told already"
    report = event.report
    watchers = []
    # Hidden meanwhile: as if announced while hidden; no point yet: announced once placed.
    if event.publicly_visible and report.has_point:
        watchers = watchers_of(
            report.latitude,
            report.longitude,
            event.kind,
            report.category_id,
            exclude_user_id=event.actor_id,
        )
    have_notice = set(db.session.scalars(select(Notice.user_id).where(Notice.event_id == event_id)))
    watchers = [w for w in watchers if w.user_id not in have_notice]
    if not watchers and not have_notice:
        db.session.delete(event)  # nobody to tell: no event, as without a queue
        effects.commit()
        return "nobody watching"
    if watchers:
        already = event.already_told or {}
        # What the request's transaction had already told, as the request would know it.
        told = {address.lower() for address in already.get("emails", [])}
        pushed = effects.remembered(push.QUEUED)
        pushed.update((user_id, report.id) for user_id in already.get("pushed", []))
        # The headline, read back from the stored English into each watcher's language.
        fan_out(event, report, watchers, LazyString(event_headline, event), told, utcnow())
    event.fanned_out_at = utcnow()
    event.actor_id = None
    event.already_told = None
    effects.commit()
    return f"{len(watchers)} told"


# What a status change was, from the timeline step it wrote: the English words (how a
# stored headline is read back, see event_headline) and the sentence to translate.
STEP_WORDS = {
    "acknowledged": "was acknowledged",
    "assigned": "was assigned to a crew",
    "recategorised": "was filed under another kind of problem",
    "closed": "was closed",
    "reopened": "was reopened",
    "archived": "was archived",
    "duplicate": "was merged into another report",
    "withdrawn": "was withdrawn by the reporter",
    "edited": "was changed by the reporter",
    "note": "has a note from the city",
}


def _step_sentence(step_kind: str, category: str) -> str:
    sentences = {
        "acknowledged": lambda: gettext("%(category)s was acknowledged", category=category),
        "assigned": lambda: gettext("%(category)s was assigned to a crew", category=category),
        "recategorised": lambda: gettext(
            "%(category)s was filed under another kind of problem", category=category
        ),
        "closed": lambda: gettext("%(category)s was closed", category=category),
        "reopened": lambda: gettext("%(category)s was reopened", category=category),
        "archived": lambda: gettext("%(category)s was archived", category=category),
        "duplicate": lambda: gettext(
            "%(category)s was merged into another report", category=category
        ),
        "withdrawn": lambda: gettext(
            "%(category)s was withdrawn by the reporter", category=category
        ),
        "edited": lambda: gettext("%(category)s was changed by the reporter", category=category),
        "note": lambda: gettext("%(category)s has a note from the city", category=category),
    }
    return sentences[step_kind]()


def _who_words(who: str) -> str:
    fixed = {
        "Someone": lambda: gettext("Someone"),
        "The City of Bridgeport": lambda: gettext("The City of Bridgeport"),
        "A resident": lambda: gettext("A resident"),
    }
    return fixed[who]() if who in fixed else who


def _commented(who: str, category: str) -> str:
    return gettext(
        "%(who)s commented on a %(category)s report", who=_who_words(who), category=category
    )


def headline(
    report: Report, kind: str, actor: User | None, step: TimelineEvent | None = None
) -> str:
    """One line on what happened, in the current language (``force_locale`` to choose)."""
    name = i18n.translated(report.category, "name")
    if kind == "new":
        return gettext("New report: %(category)s", category=name)
    if kind == "status":
        if step is not None and step.kind in STEP_WORDS:
            return _step_sentence(step.kind, name)
        status = str(report.status_label).lower()
        return gettext("%(category)s is now %(status)s", category=name, status=status)
    return _commented(_who(actor), name.lower())


def english_headline(
    report: Report, kind: str, actor: User | None, step: TimelineEvent | None = None
) -> str:
    """The headline as stored: in English, translated when shown (event_headline)."""
    with force_locale(i18n.DEFAULT):
        return headline(report, kind, actor, step)


_COMMENTED = re.compile(r"^(?P<who>.*) commented on a (?P<category>.*) report$")


def event_headline(event: WatchEvent) -> str:
    """A stored (English) headline in the current language. The headline is stored as
    English text, so it is read back into its parts; it stays in English when the report
    has changed since so that the parts no longer match."""
    text = event.headline
    report = event.report
    if i18n.current_language() == i18n.DEFAULT or report is None:
        return text
    name = report.category.name
    category = i18n.translated(report.category, "name")
    if event.kind == "new" and text == f"New report: {name}":
        return gettext("New report: %(category)s", category=category)
    if event.kind == "status":
        for step_kind, english in STEP_WORDS.items():
            if text == f"{name} {english}":
                return _step_sentence(step_kind, category)
        return text
    found = _COMMENTED.match(text)
    if event.kind == "comment" and found and found["category"] == name.lower():
        return _commented(found["who"], category.lower())
    return text


def _latest_step(report: Report) -> TimelineEvent | None:
    """The timeline step the caller just added (services append it before announcing)."""
    steps = [step for step in report.events if step.kind not in ("comment", "submitted")]
    if not steps:
        return None
    return max(enumerate(steps), key=lambda pair: (pair[1].created_at or utcnow(), pair[0]))[1]


def _who(actor: User | None) -> str:
    """Named as on the public timeline: staff as the city, residents as they chose."""
    if actor is None:
        return "Someone"
    if actor.is_staff:
        return "The City of Bridgeport"
    return actor.public_name


def _pushed_in_this_transaction(report_id: int) -> set[int]:
    return {user_id for user_id, rid in effects.remembered(push.QUEUED) if rid == report_id}


def _email(
    watcher: Watcher, report: Report, event: WatchEvent, links: dict[str, str], words
) -> None:
    # Links are built once per event (building one is a good part of an email's cost);
    # the token is URL-safe, so it is simply appended.
    if not watcher.confirmed:  # no email but the confirmation to an unconfirmed address
        return
    token = unsubscribe_token(watcher.scope, watcher.subscription_id, watcher.user_id)
    unsubscribe = links["unsubscribe_base"] + token
    enqueue_email(
        watcher.email,
        "watch_event",
        LazyString(_subject, watcher.area_name, words, report.place_label),
        address_confirmed=True,  # known from the watcher's row: no query per email
        locale=watcher.locale,
        report_id=report.id,
        headers={
            **unsubscribe_headers(unsubscribe),
            **about(report.id, event.comment_id),
        },
        report=report,
        event=event,
        headline=words,
        area_name=watcher.area_name,
        report_url=links["report_url"],
        area_url=f"{links['area_base']}{watcher.area_id}",
        unsubscribe_url=unsubscribe,
        settings_url=links["settings_url"],
    )


def _subject(area_name: str, words, place: str) -> str:
    return gettext(
        "%(area)s: %(headline)s at %(place)s", area=area_name, headline=words, place=place
    )[:300]
