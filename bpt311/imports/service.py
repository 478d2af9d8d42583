"""Importing another system's reports: new ones made, known ones brought up to date.

Idempotent: each report keeps the source it came from and its id there
(``Report.import_source``, ``Report.import_id``, unique together), so running an import
again adds nothing and changes only what changed there (status, notes, comments). Batches
are committed one by one, so an interrupted run, started again, carries on where it
stopped and ends as one clean run would.

Faithful: original times everywhere (the figures count history in its real weeks), each
status reached through the lifecycle's moves at the time it happened, comments and the
city's notes as timeline entries with their authors' public names. Nobody is told:
history sends no email, no watch-area notice and no push. Private contact details are
never invented: an imported report has no contact.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from bpt311 import effects, public_cache
from bpt311.extensions import db
from bpt311.geo import NeighbourhoodFinder
from bpt311.imports.photos import photo_addresses
from bpt311.imports.records import BadRecord, Incoming, IncomingComment
from bpt311.models import (
    AuditLog,
    Category,
    Comment,
    Department,
    ImportedPhoto,
    Neighbourhood,
    Report,
    TimelineEvent,
)
from bpt311.outbound import web_address
from bpt311.reports import daily, lifecycle
from bpt311.reports.service import service_area

OTHER_CODE = "imported-other"
OTHER_NAME = "Imported — other"
CITY_LABEL = "City of Bridgeport"
DESCRIPTION_LIMIT = 2000
# The order statuses are reached in, and the moves between neighbours.
PATH = {
    ("open", "acknowledged"): ["acknowledge"],
    ("open", "closed"): ["close"],
    ("open", "archived"): ["close", "archive"],
    ("acknowledged", "closed"): ["close"],
    ("acknowledged", "archived"): ["close", "archive"],
    ("closed", "open"): ["reopen"],
    ("closed", "acknowledged"): ["reopen", "acknowledge"],
    ("closed", "archived"): ["archive"],
}


# The columns an imported report is written with (the others take their defaults).
REPORT_KEYS = (
    "category_id",
    "department_id",
    "description",
    "latitude",
    "longitude",
    "address",
    "neighbourhood_id",
    "status",
    "created_at",
    "updated_at",
    "due_at",
    "acknowledged_at",
    "closed_at",
    "archived_at",
    "anonymous",
    "source",
    "media_url",
    "answers",
    "vote_count",
    "comment_count",
    "import_source",
    "import_id",
)


@dataclass
class Summary:
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (id there, why)
    failed: list[tuple[str, str]] = field(default_factory=list)
    unknown_categories: Counter = field(default_factory=Counter)

    @property
    def read(self) -> int:
        return self.imported + self.updated + self.unchanged + len(self.skipped) + len(self.failed)

    def counts(self) -> dict[str, int]:
        return {
            "imported": self.imported,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "skipped": len(self.skipped),
            "failed": len(self.failed),
        }


class Importer:
    """One run: ``source`` names the system (``seeclickfix``, ``open311:host``, ``csv:name``)."""

    def __init__(self, source: str, category_map: dict[str, str] | None = None):
        self.source = source[:40]
        self.category_map = {
            key.strip().lower(): value for key, value in (category_map or {}).items()
        }
        self.summary = Summary()
        self._categories: dict[str, Category] = {}
        for category in db.session.scalars(select(Category)):
            self._categories[category.service_code.lower()] = category
            self._categories.setdefault(category.name.lower(), category)
        rows = db.session.execute(select(Neighbourhood.id, Neighbourhood.geometry_json)).all()
        self._neighbourhoods = NeighbourhoodFinder(
            [(row.id, json.loads(row.geometry_json)) for row in rows]
        )
        self._area = service_area()
        self._comment_bodies: dict[int, set[str]] = {}
        # Comments of this batch, written after its one flush (a comment names its
        # report by id): (report, comment there, its text).
        self._comments_later: list[tuple[Report, IncomingComment, str]] = []
        self._new: list[tuple[Report, list[str]]] = []  # made, not written yet

    # ---- the run ----------------------------------------------------------------------

    def run(
        self,
        records: Iterable[Incoming | BadRecord],
        *,
        dry_run: bool = False,
        batch_size: int = 500,
        progress: Callable[[int], None] | None = None,
    ) -> Summary:
        batch: list[Incoming | BadRecord] = []
        for record in records:
            batch.append(record)
            if len(batch) >= batch_size:
                self._batch(batch, dry_run)
                if progress:
                    progress(len(batch))
                batch = []
        if batch:
            self._batch(batch, dry_run)
            if progress:
                progress(len(batch))
        return self.summary

    def finish(self, origin: str, dry_run: bool) -> None:
        """Write what the run did to the audit log (admins see past imports there)."""
        if dry_run:
            return
        db.session.add(
            AuditLog(
                action="import.finished",
                target_type="import",
                detail={"source": self.source, "from": origin[:300], **self.summary.counts()},
            )
        )
        effects.commit()

    def _batch(self, batch: list[Incoming | BadRecord], dry_run: bool) -> None:
        wanted = [r.source_id for r in batch if isinstance(r, Incoming)]
        known = {
            report.import_id: report
            for report in db.session.scalars(
                select(Report)
                .options(selectinload(Report.events))  # one query for the batch's timelines
                .where(Report.import_source == self.source, Report.import_id.in_(wanted))
            )
        }
        self._comment_bodies = {}
        if known:
            for report_id, body in db.session.execute(
                select(Comment.report_id, Comment.body).where(
                    Comment.report_id.in_([report.id for report in known.values()])
                )
            ):
                self._comment_bodies.setdefault(report_id, set()).add(body)
        for record in batch:
            if isinstance(record, BadRecord):
                self.summary.skipped.append((getattr(record, "source_id", ""), str(record)))
                continue
            # Every check that can refuse a record runs before it writes anything, so a
            # refusal needs no savepoint (which pysqlite's transactions would not honour).
            try:
                self._one(record, known)
            except BadRecord as exc:
                self.summary.skipped.append((record.source_id, str(exc)))
            except lifecycle.MoveRefused as exc:
                self.summary.failed.append((record.source_id, str(exc)))
        self._write_new()
        self._write_comments()
        if dry_run:
            effects.rollback()
        else:
            effects.after_commit(public_cache.changed)  # many reports at once: every page
            effects.commit()

    # ---- one record -------------------------------------------------------------------

    def _one(self, record: Incoming, known: dict[str, Report]) -> None:
        report = known.get(record.source_id)
        if report is None:
            known[record.source_id] = self._make(record)
            self.summary.imported += 1
        elif self._bring_up_to_date(report, record):
            self.summary.updated += 1
        else:
            self.summary.unchanged += 1

    def _category(self, name: str) -> Category:
        key = (self.category_map.get(name.strip().lower()) or name).strip().lower()
        found = self._categories.get(key)
        if found is not None:
            return found
        self.summary.unknown_categories[name.strip() or "(none)"] += 1
        other = self._categories.get(OTHER_CODE)
        if other is None:
            other = _other_category()
            self._categories[OTHER_CODE] = other
        return other

    def _make(self, record: Incoming) -> Report:
        if record.latitude is None or record.longitude is None:
            raise BadRecord("no location (lat and long)")
        if not self._area.contains(record.latitude, record.longitude):
            raise BadRecord(f"outside Bridgeport ({record.latitude}, {record.longitude})")
        category = self._category(record.category)
        created = record.created_at
        description = (record.description or "").strip() or record.category.strip() or "—"
        # Made here, written with the rest of its batch in a few multi-row INSERTs
        # (_write_new): the session never holds the batch's thousands of objects.
        report = Report(
            category_id=category.id,
            department_id=category.department_id,
            description=description[:DESCRIPTION_LIMIT],
            latitude=round(record.latitude, 6),
            longitude=round(record.longitude, 6),
            address=(record.address or "").strip()[:300],
            neighbourhood_id=self._neighbourhoods.find(record.latitude, record.longitude),
            status=lifecycle.INITIAL,
            created_at=created,
            updated_at=created,
            due_at=created + timedelta(hours=category.sla_hours),
            anonymous=True,  # the other system's reporter is not one of our accounts
            source="import",
            media_url=next(filter(None, map(web_address, record.media_urls)), ""),
            answers=dict(record.answers),
            vote_count=max(record.vote_count, 0),
            comment_count=0,
            import_source=self.source,
            import_id=record.source_id[:100],
        )
        set_committed_value(report, "category", category)  # for the lifecycle, no cascade
        report.events.append(TimelineEvent(kind="submitted", created_at=created))
        self._reach(report, record)
        self._notes_and_comments(report, record, since=None)
        self._new.append((report, photo_addresses(record.media_urls)))
        return report

    def _write_new(self) -> None:
        """The batch's new reports, their timelines and photo addresses (fetched later, by
        the sweep): one INSERT of many rows for each table."""
        if not self._new:
            return
        rows = [{key: getattr(report, key) for key in REPORT_KEYS} for report, _ in self._new]
        ids = db.session.scalars(
            insert(Report).returning(Report.id, sort_by_parameter_order=True), rows
        ).all()
        events, photos = [], []
        for (report, urls), report_id in zip(self._new, ids, strict=True):
            report.id = report_id  # for the batch's comments (_write_comments)
            daily.touch(report)  # its days of the figures, recounted before the batch commits
            events.extend(_event_row(event, report_id) for event in report.events)
            photos.extend({"report_id": report_id, "url": url} for url in urls)
        db.session.execute(insert(TimelineEvent), events)
        if photos:
            db.session.execute(insert(ImportedPhoto), photos)
        self._new.clear()

    def _bring_up_to_date(self, report: Report, record: Incoming) -> bool:
        before = (report.status, report.updated_at)
        last = max((event.created_at for event in report.events), default=None)
        self._reach(report, record)
        added = self._notes_and_comments(report, record, since=last)
        return added or (report.status, report.updated_at) != before

    def _reach(self, report: Report, record: Incoming) -> None:
        """Move the report, through the lifecycle, to the status it has there."""
        current = report.status
        moves = PATH.get((current, record.status), [])
        if current == "open" and record.acknowledged_at and record.status != "open":
            # acknowledged on its way to closed: say when, as it happened there
            moves = ["acknowledge", *PATH.get(("acknowledged", record.status), [])]
        for name in moves:
            made = lifecycle.MOVES[name]
            at = self._time_of(made.target, record)
            lifecycle.move(report, name, lifecycle.SYSTEM, at)
            label = record.agency or CITY_LABEL
            report.events.append(TimelineEvent(kind=made.event, actor_label=label, created_at=at))

    @staticmethod
    def _time_of(target: str, record: Incoming) -> datetime:
        if target == "acknowledged":
            return record.acknowledged_at or record.updated_at or record.created_at
        if target in ("closed", "archived"):
            return record.closed_at or record.updated_at or record.created_at
        return record.updated_at or record.created_at

    def _notes_and_comments(self, report: Report, record: Incoming, since) -> bool:
        """The city's latest note and each comment, once; True if anything was added."""
        seen = (
            {(e.public_note, e.actor_label) for e in report.events if e.public_note}
            | {(body, "") for body in self._comment_bodies.get(report.id, ())}
            | {(text, "") for made, _incoming, text in self._comments_later if made is report}
        )
        note = (record.status_notes or "").strip()
        label = record.agency or CITY_LABEL
        newest = []
        if note and (note, label) not in seen:
            at = record.updated_at or record.closed_at or record.created_at
            report.events.append(
                TimelineEvent(kind="note", actor_label=label, public_note=note, created_at=at)
            )
            newest.append(at)
        for incoming in record.comments:
            text = incoming.text.strip()
            if not text or (text, "") in seen:
                continue
            self._comments_later.append((report, incoming, text))
            report.comment_count = (report.comment_count or 0) + 1
            newest.append(incoming.created_at)
        if newest:
            newest.extend(event.created_at for event in report.events)
            report.updated_at = max(report.updated_at, *newest)
        return bool(newest)

    def _write_comments(self) -> None:
        """The batch's comments and their timeline entries, once every report has its id."""
        if not self._comments_later:
            return
        db.session.flush()
        rows = [
            {
                "report_id": report.id,
                "body": text,
                "by_city": incoming.by_city,
                "created_at": incoming.created_at,
            }
            for report, incoming, text in self._comments_later
        ]
        ids = db.session.scalars(
            insert(Comment).returning(Comment.id, sort_by_parameter_order=True), rows
        ).all()
        events = [
            {
                "report_id": report.id,
                "kind": "comment",
                "comment_id": comment_id,
                "actor_id": None,
                "actor_label": incoming.author.strip()[:120],
                "public_note": "",
                "internal_note": "",
                "created_at": incoming.created_at,
            }
            for (report, incoming, _text), comment_id in zip(self._comments_later, ids, strict=True)
        ]
        db.session.execute(insert(TimelineEvent), events)
        self._comments_later.clear()


def _event_row(event: TimelineEvent, report_id: int) -> dict:
    return {
        "report_id": report_id,
        "kind": event.kind,
        "comment_id": None,
        "actor_id": None,
        "actor_label": event.actor_label or "",
        "public_note": event.public_note or "",
        "internal_note": event.internal_note or "",
        "created_at": event.created_at,
    }


def past_imports(limit: int = 100) -> list[AuditLog]:
    """The runs that wrote something, newest first (from the audit log), for admins."""
    return list(
        db.session.scalars(
            select(AuditLog)
            .where(AuditLog.action == "import.finished")
            .order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
            .limit(limit)
        )
    )


def _other_category() -> Category:
    """Where reports of kinds we do not have go, for an administrator to sort later. It is
    not offered on the report form."""
    department = db.session.scalars(select(Department).order_by(Department.id)).first()
    if department is None:
        raise BadRecord("no departments yet: run flask seed first")
    other = Category(
        service_code=OTHER_CODE,
        name=OTHER_NAME,
        group="Other",
        description="Reports imported from an earlier system, of a kind not in this catalogue.",
        department=department,
        sla_hours=72,
        active=False,
        position=9999,
    )
    db.session.add(other)
    db.session.flush()
    return other
