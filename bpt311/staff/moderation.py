"""Moderation: what residents flagged, and what staff do about it.

Every action (hide, restore, dismiss the flags, ban, unban) is one service function and one
transaction: the change, one audit row, a timeline event where the report's public page
changes, and the email to whoever posted the thing. The views check who may act (staff on
their department's reports, admins on all; bans are for admins), call one function, and
answer a plain form with a 303 and a flash message, or HTMX with the item's partial.

Forms, queries, services and views share this one module so moderation could be built
beside the rest of the back office without editing its files; it registers its routes on
the back office's blueprint.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import String, func, literal, select, tuple_, union_all, update
from sqlalchemy.orm import selectinload
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.validators import Optional as OptionalValue

from bpt311 import effects, public_cache
from bpt311.community.service import withdraw_unsent_notices
from bpt311.errors import go_to, varies_on_htmx, wants_partial
from bpt311.extensions import db
from bpt311.models import Comment, Flag, Media, Report, TimelineEvent, User, utcnow
from bpt311.notify import enqueue_email, site_link
from bpt311.paging import Page, page_number, page_of
from bpt311.problems import NotAllowed, Problem
from bpt311.reports import daily
from bpt311.staff.access import admin_required, may_act_on, require_may_act_on, staff_required
from bpt311.staff.audit import record
from bpt311.staff.views import bp

TARGETS: dict[str, type[Report] | type[Comment] | type[Media]] = {
    "report": Report,
    "comment": Comment,
    "media": Media,
}
WORDS = {"report": "report", "comment": "comment", "media": "photo"}
VIEWS = ("flagged", "hidden")
PAGE_SIZE = 20
REASON_MAX = 500
CITY_LABEL = "City of Bridgeport"
PUBLIC_NOTES = {
    "hidden": {
        "report": "The city's moderators hid this report from the public.",
        "comment": "The city's moderators hid a comment.",
        "media": "The city's moderators hid a photo.",
    },
    "restored": {
        "report": "The city's moderators restored this report.",
        "comment": "The city's moderators restored a comment.",
        "media": "The city's moderators restored a photo.",
    },
}


# What moderators are told, by the kind of thing (a word glued into a sentence would not
# translate: "the comment" is "el comentario" but "the photo" is "la foto").
MESSAGES = {
    "already_hidden": {
        "report": lambda: _("This report was already hidden, perhaps by someone else."),
        "comment": lambda: _("This comment was already hidden, perhaps by someone else."),
        "media": lambda: _("This photo was already hidden, perhaps by someone else."),
    },
    "not_hidden": {
        "report": lambda: _("This report is not hidden any more."),
        "comment": lambda: _("This comment is not hidden any more."),
        "media": lambda: _("This photo is not hidden any more."),
    },
    "no_flags": {
        "report": lambda: _(
            "There are no open flags on this report any more; someone else dealt with them."
        ),
        "comment": lambda: _(
            "There are no open flags on this comment any more; someone else dealt with them."
        ),
        "media": lambda: _(
            "There are no open flags on this photo any more; someone else dealt with them."
        ),
    },
    "hidden": {
        "report": lambda: _("The report is hidden from the public."),
        "comment": lambda: _("The comment is hidden from the public."),
        "media": lambda: _("The photo is hidden from the public."),
    },
    "restored": {
        "report": lambda: _("The report is shown to the public again."),
        "comment": lambda: _("The comment is shown to the public again."),
        "media": lambda: _("The photo is shown to the public again."),
    },
}
DISMISSED = {
    "report": lambda n: ngettext(
        "Dismissed %(num)d flag: the report stays as it is.",
        "Dismissed %(num)d flags: the report stays as it is.",
        n,
    ),
    "comment": lambda n: ngettext(
        "Dismissed %(num)d flag: the comment stays as it is.",
        "Dismissed %(num)d flags: the comment stays as it is.",
        n,
    ),
    "media": lambda n: ngettext(
        "Dismissed %(num)d flag: the photo stays as it is.",
        "Dismissed %(num)d flags: the photo stays as it is.",
        n,
    ),
}


# ---- what the queue shows -------------------------------------------------------------------


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


# ---- what moderators do ---------------------------------------------------------------------


def _check(actor: User, item: Item) -> None:
    if not may_act_on(actor, item.report):
        raise NotAllowed(_("This belongs to another department’s report."))


def _reason(text: str | None, required: bool = True) -> str:
    reason = (text or "").strip()
    if required and not reason:
        raise Problem(_("Say why, for the record and for the person who posted it."))
    if len(reason) > REASON_MAX:
        raise Problem(_("Keep the reason to %(num)d characters or fewer.", num=REASON_MAX))
    return reason


def _set_hidden(item: Item, hidden_at: datetime | None, reason: str, now: datetime) -> bool:
    """A conditional UPDATE that only one of two moderators acting at once can win."""
    model = TARGETS[item.target_type]
    values = {"hidden_at": hidden_at, "hidden_reason": reason}
    if model is Report:  # the public lists' ETag and the inspector's version both move
        values.update(updated_at=now, version=Report.version + 1)
        daily.touch(item.target)  # the public figures leave it out (or count it again)
    still = model.hidden_at.is_(None) if hidden_at else model.hidden_at.is_not(None)
    result = db.session.execute(
        update(model)
        .where(model.id == item.target.id, still)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _resolve_flags(item: Item, resolution: str, now: datetime) -> int:
    result = db.session.execute(
        update(Flag)
        .where(
            Flag.target_type == item.target_type,
            Flag.target_id == item.target.id,
            Flag.resolved_at.is_(None),
        )
        .values(resolved_at=now, resolution=resolution)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def _timeline(item: Item, actor: User, kind: str, internal_note: str, now: datetime) -> None:
    db.session.add(
        TimelineEvent(
            report_id=item.report.id,
            kind=kind,
            actor_id=actor.id,
            actor_label=CITY_LABEL,
            public_note=PUBLIC_NOTES[kind][item.target_type],
            internal_note=internal_note,
            created_at=now,
        )
    )


# Each email's subject, lazily translated: written in the poster's language when queued.
SUBJECTS = {
    ("moderation_hidden", "report"): lambda n: _l("%(number)s: your report was hidden", number=n),
    ("moderation_hidden", "comment"): lambda n: _l("%(number)s: your comment was hidden", number=n),
    ("moderation_hidden", "photo"): lambda n: _l("%(number)s: your photo was hidden", number=n),
    ("moderation_restored", "report"): lambda n: _l(
        "%(number)s: your report is shown again", number=n
    ),
    ("moderation_restored", "comment"): lambda n: _l(
        "%(number)s: your comment is shown again", number=n
    ),
    ("moderation_restored", "photo"): lambda n: _l(
        "%(number)s: your photo is shown again", number=n
    ),
}


def _tell_poster(item: Item, actor: User, template: str, reason: str = "") -> None:
    """Email whoever posted the thing (never the moderator themselves) through the outbox,
    in their language (a guest's: the one their report was made in)."""
    address = item.notify_address
    if not address or (item.author is not None and item.author.id == actor.id):
        return
    report = item.report
    report_hidden = item.target_type == "report" or not report.publicly_visible
    enqueue_email(
        address,
        template,
        SUBJECTS[template, item.word](report.tracking_number),
        locale=item.author.locale if item.author is not None else report.locale,
        report_id=report.id,
        report=report,
        word=item.word,
        reason=reason,
        report_hidden=report_hidden,
        report_url=site_link("community.report", tracking_number=report.tracking_number),
    )


def hide(item: Item, actor: User, reason: str) -> int:
    """Hide the thing from the public (kept, and shown to staff), resolve its flags as
    "hidden", and tell the person who posted it why. Returns how many flags it resolved."""
    _check(actor, item)
    reason = _reason(reason)
    now = utcnow()
    if not _set_hidden(item, now, reason, now):
        effects.rollback()
        raise Problem(MESSAGES["already_hidden"][item.target_type]())
    resolved = _resolve_flags(item, "hidden", now)
    if item.target_type in ("report", "comment"):  # what followers and watchers may not read
        withdraw_unsent_notices(
            item.report.id, item.target if item.target_type == "comment" else None
        )
    _timeline(item, actor, "hidden", f"Hidden: {reason}", now)
    record(
        actor,
        "moderation.hide",
        report=item.report,
        target_type=item.target_type,
        target_id=item.target.id,
        reason=reason,
        flags_resolved=resolved,
    )
    _tell_poster(item, actor, "moderation_hidden", reason)
    effects.after_commit(public_cache.changed, item.report.tracking_number)
    effects.commit()
    return resolved


def restore(item: Item, actor: User) -> None:
    """Show a hidden thing to the public again, and tell the person who posted it."""
    _check(actor, item)
    was = item.target.hidden_reason
    now = utcnow()
    if not _set_hidden(item, None, "", now):
        effects.rollback()
        raise Problem(MESSAGES["not_hidden"][item.target_type]())
    _timeline(item, actor, "restored", f"Restored; it had been hidden: {was}", now)
    record(
        actor,
        "moderation.restore",
        report=item.report,
        target_type=item.target_type,
        target_id=item.target.id,
        was_hidden_for=was,
    )
    _tell_poster(item, actor, "moderation_restored")
    effects.after_commit(public_cache.changed, item.report.tracking_number)
    effects.commit()


def dismiss(item: Item, actor: User) -> int:
    """Resolve the thing's open flags as "dismissed": nothing wrong with it. Flags are
    private, so the public timeline is not touched."""
    _check(actor, item)
    resolved = _resolve_flags(item, "dismissed", utcnow())
    if not resolved:
        effects.rollback()
        raise Problem(MESSAGES["no_flags"][item.target_type]())
    record(
        actor,
        "moderation.dismiss",
        report=item.report,
        target_type=item.target_type,
        target_id=item.target.id,
        flags=resolved,
    )
    effects.commit()
    return resolved


def ban(person: User, actor: User, reason: str = "") -> None:
    """Stop a resident posting (votes, comments, flags, reports); admins only."""
    if not actor.is_admin:
        raise NotAllowed(_("Only administrators can ban people."))
    if person.is_staff:
        raise Problem(_("City staff cannot be banned; change their role first."))
    reason = _reason(reason, required=False)
    result = db.session.execute(
        update(User)
        .where(User.id == person.id, User.banned_at.is_(None))
        .values(banned_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        effects.rollback()
        raise Problem(_("%(email)s is already banned.", email=person.email))
    record(
        actor,
        "user.ban",
        target_type="user",
        target_id=person.id,
        email=person.email,
        reason=reason,
    )
    effects.commit()


def unban(person: User, actor: User) -> None:
    if not actor.is_admin:
        raise NotAllowed(_("Only administrators can lift a ban."))
    result = db.session.execute(
        update(User)
        .where(User.id == person.id, User.banned_at.is_not(None))
        .values(banned_at=None)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        effects.rollback()
        raise Problem(_("%(email)s is not banned.", email=person.email))
    record(actor, "user.unban", target_type="user", target_id=person.id, email=person.email)
    effects.commit()


# ---- forms ------------------------------------------------------------------------------------


class HideForm(FlaskForm):
    class Meta:
        # CSRFProtect checks every POST; each of the page's many forms carries the token
        # in a plain hidden input, so no two elements share the id "csrf_token".
        csrf = False

    reason = TextAreaField(
        _l("Why hide it"),
        validators=[
            DataRequired(_l("Say why it is being hidden")),
            Length(
                max=REASON_MAX,
                message=_l("Keep the reason to %(num)d characters or fewer", num=REASON_MAX),
            ),
        ],
    )


class BanForm(FlaskForm):
    class Meta:
        csrf = False

    reason = StringField(
        _l("Why ban them"),
        validators=[
            OptionalValue(),
            Length(
                max=REASON_MAX,
                message=_l("Keep the reason to %(num)d characters or fewer", num=REASON_MAX),
            ),
        ],
    )


def _forms_for(bound_item: Item | None = None, bound: FlaskForm | None = None):
    """For the templates: an item's hide and ban forms, blank, or the one just posted
    (with its errors) for the item it was posted for. Ids are made unique per item."""

    def forms(item: Item) -> dict[str, FlaskForm]:
        is_bound = bound_item is not None and item.dom_id == bound_item.dom_id
        hide_form = bound if is_bound and isinstance(bound, HideForm) else HideForm(formdata=None)
        ban_form = bound if is_bound and isinstance(bound, BanForm) else BanForm(formdata=None)
        hide_form.reason.id = f"{item.dom_id}-reason"
        ban_form.reason.id = f"{item.dom_id}-ban-reason"
        return {"hide": hide_form, "ban": ban_form}

    return forms


# ---- views ------------------------------------------------------------------------------------


def _me() -> User:
    return current_user._get_current_object()


def _view(text: str | None) -> str:
    return text if text in VIEWS else "flagged"


def _item_or_404(target_type: str, target_id: int) -> Item:
    if target_type not in TARGETS:
        abort(404)
    items = load_items([(target_type, target_id)])
    if not items:
        abort(404)
    return items[0]


def _queue_page(
    view: str, number: int, bound_item: Item | None = None, bound=None, status: int = 200
):
    queue = (hidden_page if view == "hidden" else flagged_page)(_me(), number)
    items = queue.items
    if bound_item is not None and bound_item.dom_id not in {i.dom_id for i in items}:
        queue.items = [bound_item, *items]  # the form with errors is always on the page
    page = render_template(
        "staff/moderation.html",
        queue=queue,
        view=view,
        forms_for=_forms_for(bound_item, bound),
        bound_form=bound,
    )
    return varies_on_htmx((page, status))


def _item_response(item: Item, announce: str = "", bound=None, status: int = 200):
    page = render_template(
        "staff/moderation_item.html",
        item=item,
        announce=announce,
        view=_view(request.form.get("view")),
        page_number=page_number(request.form.get("page")),
        forms_for=_forms_for(item, bound),
        partial=True,
    )
    return varies_on_htmx((page, status))


def _answer(item_key: tuple[str, int] | None, message: str, category: str = "success"):
    """After an action: the item as it is now for HTMX, otherwise a flash and a 303 back."""
    if wants_partial() and item_key is not None:
        return _item_response(_item_or_404(*item_key), announce=message)
    flash(message, category)
    back = url_for(
        ".moderation",
        view=_view(request.form.get("view")),
        page=page_number(request.form.get("page")),
    )
    return go_to(back)  # HTMX with no item to draw: the browser goes back too


def _invalid(item: Item, form: FlaskForm):
    if wants_partial():
        return _item_response(item, bound=form, status=422)
    return _queue_page(
        _view(request.form.get("view")), page_number(request.form.get("page")), item, form, 422
    )


def _acting_on(target_type: str, target_id: int) -> Item:
    item = _item_or_404(target_type, target_id)
    require_may_act_on(current_user, item.report)
    return item


@bp.get("/moderation")
@staff_required
def moderation():
    return _queue_page(_view(request.args.get("view")), page_number(request.args.get("page")))


@bp.post("/moderation/<target_type>/<int:target_id>/hide")
@staff_required
def hide_item(target_type: str, target_id: int):
    item = _acting_on(target_type, target_id)
    form = HideForm()
    form.reason.id = f"{item.dom_id}-reason"
    if not form.validate():
        return _invalid(item, form)
    key = (item.target_type, item.target.id)
    try:
        resolved = hide(item, _me(), form.reason.data)
    except NotAllowed as exc:
        abort(403, str(exc))
    except Problem as exc:
        return _answer(key, str(exc), "error")
    message = [MESSAGES["hidden"][item.target_type]()]
    if resolved:
        message.append(ngettext("%(num)d flag resolved.", "%(num)d flags resolved.", resolved))
    if item.notify_address:
        message.append(_("The person who posted it will be told why."))
    return _answer(key, " ".join(message))


@bp.post("/moderation/<target_type>/<int:target_id>/restore")
@staff_required
def restore_item(target_type: str, target_id: int):
    item = _acting_on(target_type, target_id)
    key = (item.target_type, item.target.id)
    try:
        restore(item, _me())
    except NotAllowed as exc:
        abort(403, str(exc))
    except Problem as exc:
        return _answer(key, str(exc), "error")
    return _answer(key, MESSAGES["restored"][item.target_type]())


@bp.post("/moderation/<target_type>/<int:target_id>/dismiss")
@staff_required
def dismiss_item(target_type: str, target_id: int):
    item = _acting_on(target_type, target_id)
    key = (item.target_type, item.target.id)
    try:
        resolved = dismiss(item, _me())
    except NotAllowed as exc:
        abort(403, str(exc))
    except Problem as exc:
        return _answer(key, str(exc), "error")
    return _answer(key, DISMISSED[item.target_type](resolved))


def _posted_item() -> tuple[Item | None, tuple[str, int] | None]:
    """The queue item a ban form was sent from (to draw it again), if it names one."""
    kind, number = request.form.get("item_type", ""), request.form.get("item_id", "")
    if kind in TARGETS and number.isdigit():
        items = load_items([(kind, int(number))])
        if items:
            return items[0], (kind, int(number))
    return None, None


def _person_or_404(user_id: int) -> User:
    person = db.session.get(User, user_id)
    if person is None:
        abort(404)
    return person


@bp.post("/moderation/users/<int:user_id>/ban")
@admin_required
def ban_user(user_id: int):
    person = _person_or_404(user_id)
    item, key = _posted_item()
    form = BanForm()
    if item is not None:
        form.reason.id = f"{item.dom_id}-ban-reason"
    if not form.validate():
        if item is not None:
            return _invalid(item, form)
        return _answer(None, form.reason.errors[0], "error")
    try:
        ban(person, _me(), form.reason.data or "")
    except Problem as exc:  # NotAllowed cannot happen past @admin_required
        return _answer(key, str(exc), "error")
    return _answer(
        key,
        _(
            "%(email)s is banned: they can no longer vote, comment, flag or report.",
            email=person.email,
        ),
    )


@bp.post("/moderation/users/<int:user_id>/unban")
@admin_required
def unban_user(user_id: int):
    person = _person_or_404(user_id)
    _item, key = _posted_item()
    try:
        unban(person, _me())
    except Problem as exc:
        return _answer(key, str(exc), "error")
    return _answer(key, _("%(email)s may post again.", email=person.email))
