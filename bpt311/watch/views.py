"""Watch areas, notices and feeds."""

from __future__ import annotations

import logging

from babel.lists import format_list
from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from bpt311 import effects, i18n
from bpt311.errors import varies_on_htmx, wants_partial
from bpt311.extensions import csrf, db, limiter, person_or_address
from bpt311.models import Category, Neighbourhood, WatchArea
from bpt311.paging import page_number
from bpt311.reports import queries as report_queries
from bpt311.reports.browse import neighbourhood_choices
from bpt311.watch import feeds, queries, service, shapes
from bpt311.watch.forms import AreaForm, ConfirmForm, FollowForm
from bpt311.watchers import tokens
from bpt311.watchers.events import event_headline

bp = Blueprint("watch", __name__)
log = logging.getLogger(__name__)
KIND_WORDS = {"new": _l("new reports"), "status": _l("status changes"), "comment": _l("comments")}


def _in_words(items: list[str]) -> str:
    """["a", "b", "c"] as "a, b and c", in the page's language."""
    return format_list([str(item) for item in items], locale=get_locale() or i18n.DEFAULT)


def _listens_for(area: WatchArea) -> str:
    kinds = _in_words([words for kind, words in KIND_WORDS.items() if area.wants(kind)])
    if area.all_categories:
        return _("It listens for %(kinds)s about every kind of problem.", kinds=kinds)
    return _(
        "It listens for %(kinds)s about %(categories)s.",
        kinds=kinds,
        categories=", ".join(i18n.translated(c, "name") for c in area.categories),
    )


# ---- what every page can show: the unread count, the areas on /me --------------------


@bp.app_context_processor
def _watch_globals():
    def unread_notice_count() -> int:
        if not getattr(current_user, "is_authenticated", False):
            return 0
        try:
            return queries.unread_count(current_user.id)
        except SQLAlchemyError:  # an error page while the database is down still renders
            log.exception("Could not count unread notices")
            effects.rollback()
            return 0

    def my_watch_areas():
        if not getattr(current_user, "is_authenticated", False):
            return [], []
        return queries.areas_of(current_user.id), queries.follows_of(current_user.id)

    return {
        "unread_notice_count": unread_notice_count,
        "my_watch_areas": my_watch_areas,
        "describe_area": shapes.describe,
        "event_headline": event_headline,
    }


def _category_choices() -> list[tuple[str, str, str]]:
    rows = db.session.scalars(
        select(Category).where(Category.active).order_by(Category.position, Category.name)
    ).all()
    return [
        (row.service_code, i18n.translated(row, "name"), i18n.translated(row, "group"))
        for row in rows
    ]


def _area_form(editing: bool = False, **data) -> AreaForm:
    form = AreaForm(data=data or None)
    return form.prepare(neighbourhood_choices(), _category_choices(), editing=editing)


def _viewable(area_id: int) -> WatchArea:
    area = queries.area_by_id(area_id)
    if area is None:
        abort(404)
    mine = getattr(current_user, "is_authenticated", False) and area.owner_id == current_user.id
    if not (area.is_public or mine):
        abort(404)  # a private area does not exist for anyone else
    return area


def _owned(area_id: int) -> WatchArea:
    area = queries.area_by_id(area_id)
    if area is None or area.owner_id != current_user.id:
        abort(404)
    return area


def _save_area(form: AreaForm, save):
    """Check the form with the service and save; the page again with messages otherwise."""
    if not form.validate_on_submit():
        return None
    try:
        outline = service.outline_for(form.where())
        return save(outline, form.settings())
    except service.ChooseAPlace as exc:
        form.place.choices = [
            (f"{p.latitude:.6f},{p.longitude:.6f}", p.address) for p in exc.places
        ]
        form.place.errors = [_("We found more than one place: choose the one you mean")]
    except service.AreaErrors as exc:
        form.show_errors(exc.errors)
    return None


# ---- the list, making and changing areas ----------------------------------------------


@bp.get("/watch")
def index():
    own, follows = ([], [])
    if current_user.is_authenticated:
        own, follows = queries.areas_of(current_user.id), queries.follows_of(current_user.id)
    return render_template(
        "watch/index.html", own=own, follows=follows, public=queries.public_areas()
    )


@bp.route("/watch/new", methods=["GET", "POST"])
@login_required
@limiter.limit("30/hour", methods=["POST"], key_func=person_or_address)
def new():
    form = _area_form()
    area = _save_area(
        form, lambda outline, settings: service.create_area(current_user, outline, settings)
    )
    if area is not None:
        flash(_("Your watch area “%(name)s” is ready.", name=area.name), "success")
        return redirect(url_for(".area", area_id=area.id), 303)
    status = 422 if form.errors or any(f.errors for f in form) else 200
    return render_template("watch/edit.html", form=form, area=None), status


@bp.route("/watch/<int:area_id>/edit", methods=["GET", "POST"])
@login_required
@limiter.limit("60/hour", methods=["POST"], key_func=person_or_address)
def edit(area_id: int):
    area = _owned(area_id)
    kinds = [kind for kind in service.KIND_LABELS if area.wants(kind)]
    form = _area_form(
        editing=True,
        name=area.name,
        method="keep",
        kinds=kinds,
        scope="all" if area.all_categories else "some",
        categories=[category.service_code for category in area.categories],
        delivery=area.delivery,
        is_public=area.is_public,
        radius=f"{area.radius_m:.0f}" if area.radius_m else "300",
    )
    saved = _save_area(
        form,
        lambda outline, settings: service.update_area(area, current_user, outline, settings),
    )
    if saved is not None:
        flash(_("“%(name)s” is saved.", name=saved.name), "success")
        return redirect(url_for(".area", area_id=saved.id), 303)
    status = 422 if any(f.errors for f in form) else 200
    return render_template("watch/edit.html", form=form, area=area), status


@bp.post("/watch/<int:area_id>/pause")
@limiter.limit("60/minute", methods=["POST"], key_func=person_or_address)
@login_required
def pause(area_id: int):
    area = _owned(area_id)
    paused = request.form.get("paused", "1") == "1"
    service.set_paused(area, current_user, paused)
    flash(
        _("“%(name)s” is paused: you will not hear about it until you resume it.", name=area.name)
        if paused
        else _("“%(name)s” is on again.", name=area.name),
        "success",
    )
    if request.form.get("back") == "me":
        return redirect(url_for("accounts.me") + "#watch-areas", 303)
    return redirect(url_for(".area", area_id=area.id), 303)


@bp.route("/watch/<int:area_id>/delete", methods=["GET", "POST"])
@limiter.limit("60/minute", methods=["POST"], key_func=person_or_address)
@login_required
def delete(area_id: int):
    area = _owned(area_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        name = area.name
        service.delete_area(area, current_user)
        flash(_("“%(name)s” was deleted.", name=name), "success")
        return redirect(url_for(".index"), 303)
    return render_template("watch/delete.html", area=area, form=form)


# ---- one area: its page, following it, its feed --------------------------------------


@bp.get("/watch/<int:area_id>")
def area(area_id: int):
    area = _viewable(area_id)
    follow = queries.follow_of(area, current_user)
    follow_form = FollowForm(data={"delivery": follow.delivery} if follow else None)
    mine = current_user.is_authenticated and area.owner_id == current_user.id
    return render_template(
        "watch/area.html",
        area=area,
        mine=mine,
        follow=follow,
        follow_form=follow_form,
        reports=queries.reports_in(area),
        feed_url=_area_feed_url(area),
        listens_for=_listens_for(area),
    )


def _area_feed_url(area: WatchArea) -> str:
    if area.is_public:
        return url_for(".area_feed", area_id=area.id)
    return url_for(".area_feed", area_id=area.id, key=tokens.feed_key(area.id))


@bp.post("/watch/<int:area_id>/follow")
@limiter.limit("60/minute", methods=["POST"], key_func=person_or_address)
def follow(area_id: int):
    area = _viewable(area_id)
    if not current_user.is_authenticated:
        flash(_("Sign in or create an account to follow a watch area."), "info")
        target = url_for("accounts.sign_in", next=url_for(".area", area_id=area.id))
        return redirect(target, 303)
    form = FollowForm()
    if not form.validate_on_submit():
        abort(400)
    wanted = form.wanted.data != "0"
    try:
        following = service.set_follow(area, current_user, wanted, form.delivery.data or "")
    except service.NotAllowed as exc:
        abort(403, str(exc))
    except service.AreaErrors as exc:
        flash(next(iter(exc.errors.values())), "error")
        return redirect(url_for(".area", area_id=area.id) + "#follow", 303)
    flash(
        _("You follow “%(name)s”.", name=area.name)
        if following
        else _("You no longer follow “%(name)s”.", name=area.name),
        "success",
    )
    return redirect(url_for(".area", area_id=area.id) + "#follow", 303)


@bp.get("/watch/<int:area_id>/feed.atom")
def area_feed(area_id: int):
    area = queries.area_by_id(area_id)
    keyed = tokens.area_of_feed_key(request.args.get("key", "")) == area_id
    if area is None or not (area.is_public or keyed):
        abort(404)
    body = feeds.atom(
        title=_("%(name)s (watch area)", name=area.name) + " – Bridgeport 311",
        subtitle=_("Reports and their updates: %(where)s.", where=shapes.describe(area)),
        self_path=request.full_path.rstrip("?"),
        page_path=url_for(".area", area_id=area.id),
        steps=queries.latest_steps_in(area),
        quiet_since=area.created_at,
    )
    return feeds.feed_response(body)


# ---- feeds of a neighbourhood, a report, a category ---------------------------------------


@bp.get("/feeds")
def feed_list():
    rows = db.session.execute(
        select(Neighbourhood.slug, Neighbourhood.name).order_by(Neighbourhood.name)
    ).all()
    return render_template("watch/feeds.html", neighbourhoods=rows, categories=_category_choices())


@bp.get("/neighbourhoods/<slug>/feed.atom")
def neighbourhood_feed(slug: str):
    place = db.session.scalars(select(Neighbourhood).where(Neighbourhood.slug == slug)).first()
    if place is None:
        abort(404)
    body = feeds.atom(
        title=f"{place.name} – Bridgeport 311",
        subtitle=_("New reports and their updates in %(place)s, Bridgeport.", place=place.name),
        self_path=url_for(".neighbourhood_feed", slug=place.slug),
        page_path=url_for("reports.neighbourhood", slug=place.slug),
        steps=queries.latest_steps(neighbourhood_id=place.id),
    )
    return feeds.feed_response(body)


@bp.get("/reports/<tracking_number>/feed.atom")
def report_feed(tracking_number: str):
    report = report_queries.report_by_tracking_number(tracking_number)
    if report is None or not report.publicly_visible:
        abort(404)
    body = feeds.atom(
        title=_(
            "%(number)s: %(category)s at %(place)s",
            number=report.tracking_number,
            category=i18n.translated(report.category, "name"),
            place=report.place_label,
        ),
        subtitle=_("Every public update to this report."),
        self_path=url_for(".report_feed", tracking_number=report.tracking_number),
        page_path=url_for("community.report", tracking_number=report.tracking_number),
        steps=queries.latest_steps(report_id=report.id),
        quiet_since=report.created_at,
    )
    return feeds.feed_response(body)


@bp.get("/categories/<service_code>/feed.atom")
def category_feed(service_code: str):
    category = queries.category_by_code(service_code)
    if category is None:
        abort(404)
    body = feeds.atom(
        title=f"{i18n.translated(category, 'name')} – Bridgeport 311",
        subtitle=_(
            "New %(category)s reports across Bridgeport, and their updates.",
            category=i18n.translated(category, "name").lower(),
        ),
        self_path=url_for(".category_feed", service_code=category.service_code),
        page_path=url_for("reports.index", category=category.service_code),
        steps=queries.latest_steps(category_id=category.id),
    )
    return feeds.feed_response(body)


# ---- stopping emails from a link ------------------------------------------------------------


@bp.route("/watch/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail clients POST here; the signed token is the authority
def unsubscribe(token: str):
    try:
        payload = tokens.read(tokens.UNSUBSCRIBE, token)
    except tokens.TokenExpired:
        return render_template("watch/unsubscribe.html", problem="expired"), 400
    except tokens.TokenInvalid:
        return render_template("watch/unsubscribe.html", problem="invalid"), 400
    found = service.describe_token(payload)
    if found is None:
        return render_template("watch/unsubscribe.html", problem="gone"), 404
    if request.method == "POST":
        service.unsubscribe(payload)
        return render_template("watch/unsubscribe.html", found=found, done=True)
    return render_template("watch/unsubscribe.html", found=found, token=token)


# ---- notices ------------------------------------------------------------------------------


@bp.get("/me/notifications")
@login_required
def notices():
    number = page_number(request.args.get("page"), 1000)
    items, more = queries.notices_for(current_user.id, number)
    return render_template(
        "watch/notices.html",
        notices=items,
        page=number,
        more=more,
        unread=queries.unread_count(current_user.id),
    )


@bp.post("/me/notifications/<int:notice_id>/read")
@limiter.limit("60/minute", methods=["POST"], key_func=person_or_address)
@login_required
def mark_read(notice_id: int):
    notice = service.mark_read(current_user, notice_id)
    if notice is None:
        abort(404)
    if wants_partial():
        return varies_on_htmx(
            render_template(
                "watch/_notice_read.html",
                notice=notice,
                unread=queries.unread_count(current_user.id),
                announce=_("Marked as read."),
            )
        )
    return varies_on_htmx(redirect(url_for(".notices") + f"#notice-{notice.id}", 303))


@bp.post("/me/notifications/read")
@limiter.limit("60/minute", methods=["POST"], key_func=person_or_address)
@login_required
def mark_all_read():
    count = service.mark_all_read(current_user)
    if wants_partial():
        items, more = queries.notices_for(current_user.id, 1)
        return varies_on_htmx(
            render_template(
                "watch/_notices.html",
                notices=items,
                page=1,
                more=more,
                unread=0,
                oob=True,
                announce=ngettext("%(num)d marked as read.", "%(num)d marked as read.", count)
                if count
                else _("Nothing was unread."),
            )
        )
    flash(_("Every notification is marked as read."), "success")
    return varies_on_htmx(redirect(url_for(".notices"), 303))
