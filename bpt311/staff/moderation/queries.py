"""What the moderation queue shows: the flagged things, the hidden things, one page at a time.

An :class:`Item` is one flagged or hidden report, comment or photo with the report it belongs
to, who posted it and its open flags; :func:`load_items` loads any number of them in a
bounded number of queries.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import String, func, literal, select, tuple_, union_all
from sqlalchemy.orm import selectinload

from bpt311.extensions import db
from bpt311.models import Comment, Flag, Media, Report, User
from bpt311.paging import Page, page_of

TARGETS: dict[str, type[Report] | type[Comment] | type[Media]] = {
    "report": Report,
    "comment": Comment,
    "media": Media,
}
WORDS = {"report": "report", "comment": "comment", "media": "photo"}
PAGE_SIZE = 20


@dataclass
class Item:
    """One flagged or hidden thing, with the report it belongs to and who posted it."""

    target_type: str
    target: Report | Comment | Media
    report: Report
    author: User | None
    flags: list[Flag] = field(default_factory=list)

    @property
    def dom_id(self) -> str:
        return f"moderation-{self.target_type}-{self.target.id}"

    @property
    def word(self) -> str:
        return WORDS[self.target_type]

    @property
    def hidden(self) -> bool:
        return self.target.hidden_at is not None

    @property
    def flaggers(self) -> int:
        return len(self.flags)  # one flag per person per thing: the flag table's unique key

    @property
    def reasons(self) -> list[tuple[str, int]]:
        return Counter(flag.reason for flag in self.flags).most_common()

    @property
    def _posted_by_reporter(self) -> bool:
        return self.target_type == "report" or (
            self.target_type == "media" and self.target.comment_id is None
        )

    @property
    def guest_email(self) -> str:
        """A guest reporter's email, when the thing is theirs and they have no account."""
        if self.author is None and self._posted_by_reporter and self.report.reporter_id is None:
            return self.report.contact_email
        return ""

    @property
    def notify_address(self) -> str:
        """Where the person who posted it hears what the moderators did."""
        if self.author is not None:
            return self.author.email if self.author.active else ""
        return self.guest_email


def load_items(keys: list[tuple[str, int]]) -> list[Item]:
    """The items named by ``(target type, id)``, in that order, in a bounded number of
    queries however many there are: media, comments with their authors, reports with
    category, department and reporter, and the open flags. Things gone since are left out."""
    wanted = {kind: {target_id for k, target_id in keys if k == kind} for kind in TARGETS}
    media = _by_id(Media, wanted["media"])
    comments = _by_id(
        Comment,
        wanted["comment"] | {m.comment_id for m in media.values() if m.comment_id},
        selectinload(Comment.author),
    )
    reports = _by_id(
        Report,
        wanted["report"]
        | {c.report_id for c in comments.values()}
        | {m.report_id for m in media.values()},
        selectinload(Report.category),
        selectinload(Report.department),
        selectinload(Report.reporter),
    )
    flags = defaultdict(list)
    if keys:
        for flag in db.session.scalars(
            select(Flag)
            .where(Flag.resolved_at.is_(None), tuple_(Flag.target_type, Flag.target_id).in_(keys))
            .order_by(Flag.created_at, Flag.id)
        ):
            flags[(flag.target_type, flag.target_id)].append(flag)
    found = {"report": reports, "comment": comments, "media": media}
    items = []
    for kind, target_id in keys:
        target = found[kind].get(target_id)
        if target is None:
            continue
        report = target if kind == "report" else reports[target.report_id]
        if kind == "comment":
            author = target.author
        elif kind == "media" and target.comment_id:
            author = comments[target.comment_id].author
        else:
            author = report.reporter
        items.append(Item(kind, target, report, author, flags[(kind, target_id)]))
    return items


def _by_id(model, ids: set[int], *options) -> dict:
    if not ids:
        return {}
    return {
        row.id: row
        for row in db.session.scalars(select(model).where(model.id.in_(ids)).options(*options))
    }


def _department_reports(user: User):
    return select(Report.id).where(Report.department_id == user.department_id)


def _items_of(cut) -> list[Item]:
    return load_items([(row.target_type, row.target_id) for row in db.session.execute(cut)])


def flagged_page(user: User, number: int = 1) -> Page:
    """Things with unresolved flags, one entry per thing, most-flagged first, then the
    longest waiting; staff see their department's reports' things, admins everything."""
    flag_count = func.count(Flag.id).label("flag_count")
    first_flagged = func.min(Flag.created_at).label("first_flagged")
    groups = (
        select(Flag.target_type, Flag.target_id, flag_count, first_flagged)
        .where(Flag.resolved_at.is_(None))
        .group_by(Flag.target_type, Flag.target_id)
    )
    if not user.is_admin:
        groups = groups.where(Flag.report_id.in_(_department_reports(user)))
    return page_of(
        groups.order_by(flag_count.desc(), first_flagged, Flag.target_type, Flag.target_id),
        number,
        PAGE_SIZE,
        rows=_items_of,
    )


def hidden_page(user: User, number: int = 1) -> Page:
    """Everything hidden from the public, most recently hidden first: where it is restored."""
    parts = []
    for kind, model in TARGETS.items():
        part = select(
            literal(kind, String).label("target_type"),
            model.id.label("target_id"),
            model.hidden_at.label("hidden_at"),
        ).where(model.hidden_at.is_not(None))
        if not user.is_admin:
            part = part.where(
                Report.department_id == user.department_id
                if model is Report
                else model.report_id.in_(_department_reports(user))
            )
        parts.append(part)
    hidden = union_all(*parts).subquery()
    return page_of(
        select(hidden.c.target_type, hidden.c.target_id).order_by(
            hidden.c.hidden_at.desc(), hidden.c.target_type, hidden.c.target_id.desc()
        ),
        number,
        PAGE_SIZE,
        rows=_items_of,
    )
