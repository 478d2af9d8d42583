"""The moderation queue's routes, on the back office's blueprint.

Each reads the request, checks who may act, calls one function of
:mod:`bpt311.staff.moderation.service` (which commits), and answers a plain form with a 303
and a flash message, or HTMX with the item's partial.
"""

from __future__ import annotations

from flask import abort, flash, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from flask_wtf import FlaskForm

from bpt311.access import admin_required, require_may_act_on, staff_required
from bpt311.errors import go_to, varies_on_htmx, wants_partial
from bpt311.extensions import db
from bpt311.models import User
from bpt311.paging import page_number
from bpt311.problems import NotAllowed, Problem
from bpt311.staff.moderation.forms import BanForm, HideForm, forms_for
from bpt311.staff.moderation.queries import TARGETS, Item, flagged_page, hidden_page, load_items
from bpt311.staff.moderation.service import ban, dismiss, hide, restore, unban
from bpt311.staff.views import bp

VIEWS = ("flagged", "hidden")

# What moderators are told once it is done, by the kind of thing (a word glued into a
# sentence would not translate: "the comment" is "el comentario" but "the photo" is "la foto").
DONE = {
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
        forms_for=forms_for(bound_item, bound),
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
        forms_for=forms_for(item, bound),
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
    message = [DONE["hidden"][item.target_type]()]
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
    return _answer(key, DONE["restored"][item.target_type]())


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
