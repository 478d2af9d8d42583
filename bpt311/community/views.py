"""Residents on a report page: votes, follows, comments, flags, closing and reopening."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required

from bpt311 import i18n
from bpt311.community import changes, comments, flags, following, forms, votes
from bpt311.community.page import conversation_context, report_page_context
from bpt311.errors import go_to, varies_on_htmx, wants_partial
from bpt311.extensions import csrf, db, limiter, person_or_address
from bpt311.models import Comment, Report
from bpt311.problems import InvalidInput, NotAllowed, onto_form
from bpt311.reports import queries
from bpt311.standing import CannotPost
from bpt311.tokens import (
    EMAIL_UPDATES,
    UNSUBSCRIBE,
    TokenExpired,
    TokenInvalid,
    read_token,
)

bp = Blueprint("community", __name__)


def _report(tracking_number: str) -> Report:
    report = queries.report_by_tracking_number(tracking_number)
    if report is None or not report.publicly_visible:  # hidden by moderators: not here
        abort(404)
    return report


def _report_page(report: Report, anchor: str = ""):
    url = url_for("community.report", tracking_number=report.tracking_number)
    return redirect(url + (f"#{anchor}" if anchor else ""), 303)


def _sign_in_first(report: Report, pending: dict | None = None):
    """A guest is sent to sign in and brought back; what they asked for is kept."""
    if pending:
        session["pending"] = {**pending, "report": report.id}
    back = url_for(".resume", tracking_number=report.tracking_number)
    target = url_for("accounts.sign_in", next=back)
    flash(_("Sign in or create an account to do that. You will come straight back."), "info")
    return go_to(target)


# ---- votes and follows ------------------------------------------------------------------


@bp.get("/reports/<tracking_number>")
def report(tracking_number: str):
    """A report's public page: its place, its timeline and the conversation around it."""
    report = queries.report_by_tracking_number(tracking_number)
    if report is None:
        earlier = queries.report_by_old_number(tracking_number)  # imported from SeeClickFix…
        if earlier is None:
            abort(404)
        return redirect(url_for(".report", tracking_number=earlier.tracking_number), 301)
    hidden = not report.publicly_visible  # moderators hid it: gone for the public, not staff
    if hidden and not getattr(current_user, "is_staff", False):
        abort(404)
    if tracking_number != report.tracking_number:
        return redirect(url_for(".report", tracking_number=report.tracking_number), 301)
    if hidden:
        flash(
            _("Hidden from the public by the moderators: %(reason)s", reason=report.hidden_reason),
            "info",
        )
    return render_template("reports/detail.html", **report_page_context(report))


@bp.get("/reports/<tracking_number>/respond")
def respond(tracking_number: str):
    """The report page with its forms and their CSRF token, for a visitor who pressed "Me
    too", "Follow" or "Add comment" on the public (cached, token-free) page."""
    report = _report(tracking_number)
    if current_user.is_authenticated:  # their report page has the forms already
        return _report_page(report)
    response = make_response(render_template("reports/detail.html", **report_page_context(report)))
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.post("/reports/<tracking_number>/vote")
@limiter.limit("30/minute", methods=["POST"], key_func=person_or_address)
def vote(tracking_number: str):
    report = _report(tracking_number)
    wanted = request.form.get("wanted", "1") == "1"
    if not current_user.is_authenticated:
        return _sign_in_first(report, {"action": "vote", "wanted": wanted})
    try:
        voted, count = votes.set_vote(report, current_user, wanted)
    except NotAllowed as exc:
        abort(403, str(exc))
    if wants_partial():
        db.session.refresh(report)
        if voted:
            message = ngettext(
                "Vote added. %(people)s person wants this fixed.",
                "Vote added. %(people)s people want this fixed.",
                count,
                people=i18n.number(count),
            )
        else:
            message = ngettext(
                "Vote taken back. %(people)s person wants this fixed.",
                "Vote taken back. %(people)s people want this fixed.",
                count,
                people=i18n.number(count),
            )
        return varies_on_htmx(
            render_template("community/_votes.html", report=report, voted=voted, announce=message)
        )
    flash(
        _("Thank you: your vote was added.") if voted else _("Your vote was taken back."), "success"
    )
    return _report_page(report, "votes")


@bp.post("/reports/<tracking_number>/follow")
@limiter.limit("30/minute", key_func=person_or_address)
def follow(tracking_number: str):
    report = _report(tracking_number)
    wanted = request.form.get("wanted", "1") == "1"
    if not current_user.is_authenticated:
        return _sign_in_first(report, {"action": "follow", "wanted": wanted})
    now_following = following.set_follow(report, current_user, wanted)
    if wants_partial():
        message = (
            _("You will get an email when this report changes.")
            if now_following
            else _("You will no longer get emails about this report.")
        )
        return varies_on_htmx(
            render_template(
                "community/_follow.html", report=report, following=now_following, announce=message
            )
        )
    flash(
        _("You are following this report.")
        if now_following
        else _("You are no longer following this report."),
        "success",
    )
    return _report_page(report, "votes")


@bp.get("/reports/<tracking_number>/resume")
@login_required
def resume(tracking_number: str):
    """Back from signing in: do what the guest asked for before."""
    report = _report(tracking_number)
    pending = session.get("pending") or {}
    if pending.get("action") == "comment" and pending.get("report") == report.id:
        return _report_page(report, "add-comment")  # the page puts the draft back in the form
    session.pop("pending", None)
    if pending.get("report") == report.id:
        if pending.get("action") == "vote":
            votes.set_vote(report, current_user, pending.get("wanted", True))
            flash(_("Thank you: your vote was added."), "success")
        elif pending.get("action") == "follow":
            following.set_follow(report, current_user, pending.get("wanted", True))
            flash(_("You are following this report."), "success")
    return _report_page(report, "votes")


# ---- email updates without an account ---------------------------------------------------


def _address_typed() -> str:
    """Rate-limit key: the address typed, so one inbox is not flooded from many machines."""
    return "email-updates:" + request.form.get("email", "").strip().lower()[:254]


@bp.post("/reports/<tracking_number>/email-updates")
@limiter.limit("5/hour;20/day", key_func=person_or_address)
@limiter.limit("3/hour;10/day", key_func=_address_typed)
def email_updates(tracking_number: str):
    """Someone with no account asks for the report's update emails: we email a link."""
    report = _report(tracking_number)
    form = forms.EmailUpdatesForm()
    if not form.validate_on_submit():
        return _detail_with(report, status=422, email_form=form)
    following.request_email_updates(report, form.email.data)
    flash(
        _(
            "Check your email: we sent a link to %(email)s. Follow it to start getting "
            "updates on this report.",
            email=form.email.data,
        ),
        "success",
    )
    return _report_page(report, "email-updates")


@bp.get("/email-updates/<token>")
def confirm_email_updates(token: str):
    try:
        payload = read_token(EMAIL_UPDATES, token)
    except (TokenExpired, TokenInvalid):
        page = render_template(
            "accounts/message.html",
            title=_("This link cannot be used"),
            message=_(
                "It has expired or was cut short. Ask for email updates again on the report's page."
            ),
            link_text=_("Find the report"),
            link_url=url_for("reports.index"),
        )
        return page, 400
    report = following.confirm_email_updates(payload)
    if report is None:
        abort(404)
    flash(
        _(
            "Your email address is confirmed: you will get an email when this report changes. "
            "Every email has a link to stop them."
        ),
        "success",
    )
    return _report_page(report, "email-updates")


# ---- comments -------------------------------------------------------------------------


@bp.post("/reports/<tracking_number>/comments")
@limiter.limit("10/minute;200/day", methods=["POST"], key_func=person_or_address)
def comment(tracking_number: str):
    report = _report(tracking_number)
    form = forms.CommentForm()
    if not current_user.is_authenticated:
        # Keep what they typed: the form shows it again when they come back.
        return _sign_in_first(report, {"action": "comment", "draft": form.body.data or ""})
    status = 200
    if form.validate_on_submit():
        photo = forms.photo_from(form.photo)
        if not form.photo.errors:
            try:
                comments.add_comment(report, current_user, form.body.data, photo)
            except InvalidInput as exc:
                onto_form(form, exc, fallback="*")
            except (NotAllowed, CannotPost) as exc:  # the draft stays in the form
                form.body.errors = [str(exc)]
            else:
                if not wants_partial():
                    flash(_("Your comment was added."), "success")
                    return _report_page(report, "conversation")
                form = forms.CommentForm(formdata=None)
    if any(f.errors for f in form):
        status = 422
        if not wants_partial():
            return _detail_with(report, comment_form=form, status=status)
    report = _report(tracking_number)  # fresh: the new comment and counters
    context = conversation_context(report, current_user, comment_form=form)
    context["announce"] = "" if status == 422 else _("Your comment was added.")
    return varies_on_htmx((render_template("community/_conversation.html", **context), status))


def _detail_with(report: Report, comment_form=None, status: int = 200, email_form=None):
    context = report_page_context(report, comment_form=comment_form, email_form=email_form)
    response = make_response(render_template("reports/detail.html", **context))
    response.status_code = status
    return response


def _own_comment(comment_id: int) -> Comment:
    comment = db.session.get(Comment, comment_id)
    report = db.session.get(Report, comment.report_id) if comment is not None else None
    # Deleted, or hidden by moderators (it or its report): not here, as on the report page.
    if comment is None or not (comment.publicly_visible and report.publicly_visible):
        abort(404)
    return comment


@bp.route("/comments/<int:comment_id>/edit", methods=["GET", "POST"])
@login_required
@limiter.limit("20/minute;100/hour", methods=["POST"], key_func=person_or_address)
def edit_comment(comment_id: int):
    comment = _own_comment(comment_id)
    if not comments.can_edit(comment, current_user):
        abort(403, _("Comments can only be changed by their writer, in the first 15 minutes."))
    form = forms.CommentForm(obj=comment)
    if form.validate_on_submit():
        try:
            comments.edit_comment(comment, current_user, form.body.data)
        except InvalidInput as exc:
            form.body.errors = [str(exc)]
        except NotAllowed as exc:
            abort(403, str(exc))
        else:
            flash(_("Your comment was changed."), "success")
            report = db.session.get(Report, comment.report_id)
            return _report_page(report, f"comment-{comment.id}")
    status = 422 if form.errors else 200
    return render_template("community/edit_comment.html", form=form, comment=comment), status


@bp.route("/comments/<int:comment_id>/delete", methods=["GET", "POST"])
@login_required
@limiter.limit("20/minute;100/hour", methods=["POST"], key_func=person_or_address)
def delete_comment(comment_id: int):
    comment = _own_comment(comment_id)
    report = db.session.get(Report, comment.report_id)
    if not comments.may_delete(comment, report, current_user):
        abort(
            403,
            _(
                "Only the person who wrote a comment, or staff of its report's department, "
                "can delete it."
            ),
        )
    form = forms.DeleteCommentForm()
    if form.validate_on_submit():
        try:
            comments.delete_comment(comment, current_user, form.reason.data or "")
        except InvalidInput as exc:
            form.reason.errors = [str(exc)]
        else:
            flash(_("The comment was deleted."), "success")
            return _report_page(report, "conversation")
    page = render_template(
        "community/delete_comment.html",
        comment=comment,
        report=report,
        form=form,
        removal=comment.author_id != current_user.id,  # staff: say why, the writer is told
    )
    return page, 422 if form.errors else 200


# ---- flags ----------------------------------------------------------------------------


@bp.route("/flag/<target_type>/<int:target_id>", methods=["GET", "POST"])
@login_required
@limiter.limit("20/hour", methods=["POST"], key_func=person_or_address)
def flag(target_type: str, target_id: int):
    if target_type not in ("report", "comment", "media"):
        abort(404)
    report_id = flags.flagged_report_id(target_type, target_id)
    if report_id is None:
        abort(404)
    report = db.session.get(Report, report_id)
    form = forms.FlagForm()
    if form.validate_on_submit():
        try:
            flags.flag(
                current_user, target_type, target_id, form.reason.data or "", form.detail.data or ""
            )
        except InvalidInput as exc:
            onto_form(form, exc, fallback="reason")
        except NotAllowed as exc:
            abort(403, str(exc))
        else:
            flash(_("Thank you. City staff will look at it."), "success")
            return _report_page(report)
    status = 422 if form.errors else 200
    return render_template(
        "community/flag.html", form=form, report=report, target_type=target_type
    ), status


# ---- the reporter and residents: fixed, not fixed, edit, withdraw ------------------------


def _note_page(template: str, report: Report, form, action):
    if form.validate_on_submit():
        photo = forms.photo_from(form.photo) if hasattr(form, "photo") else None
        if not (hasattr(form, "photo") and form.photo.errors):
            try:
                action(photo)
            except InvalidInput as exc:
                onto_form(form, exc, fallback="*")
            except NotAllowed as exc:
                abort(403, str(exc))
            else:
                return _report_page(report)
    status = 422 if form.errors else 200
    return render_template(template, form=form, report=report), status


def _reporters_own(tracking_number: str, refusal: str) -> Report:
    """The report, when the signed-in person reported it; else 403 with ``refusal``."""
    report = _report(tracking_number)
    if report.reporter_id != current_user.id:
        abort(403, refusal)
    return report


@bp.route("/reports/<tracking_number>/close", methods=["GET", "POST"])
@login_required
@limiter.limit("20/minute;100/hour", methods=["POST"], key_func=person_or_address)
def close(tracking_number: str):
    report = _reporters_own(tracking_number, _("Only the person who reported it can close it."))

    def act(photo):
        changes.close_by_reporter(report, current_user, form.note.data or "")
        flash(_("Thank you: the report is closed as fixed."), "success")

    form = forms.NoteForm()
    return _note_page("community/close.html", report, form, act)


@bp.route("/reports/<tracking_number>/reopen", methods=["GET", "POST"])
@login_required
@limiter.limit("20/minute;100/hour", methods=["POST"], key_func=person_or_address)
def reopen(tracking_number: str):
    report = _report(tracking_number)

    def act(photo):
        changes.reopen(report, current_user, form.note.data or "", photo)
        flash(_("The report is open again, back with the department."), "success")

    form = forms.NoteForm()
    return _note_page("community/reopen.html", report, form, act)


@bp.route("/reports/<tracking_number>/edit", methods=["GET", "POST"])
@login_required
@limiter.limit("20/minute;100/hour", methods=["POST"], key_func=person_or_address)
def edit_report(tracking_number: str):
    report = _reporters_own(tracking_number, _("Only the person who reported it can change it."))
    form = forms.EditReportForm(obj=report)

    def act(photo):
        changes.edit_report(report, current_user, form.description.data or "")
        flash(_("Your report was changed."), "success")

    return _note_page("community/edit_report.html", report, form, act)


@bp.route("/reports/<tracking_number>/withdraw", methods=["GET", "POST"])
@login_required
@limiter.limit("20/minute;100/hour", methods=["POST"], key_func=person_or_address)
def withdraw(tracking_number: str):
    report = _reporters_own(tracking_number, _("Only the person who reported it can withdraw it."))
    form = forms.WithdrawForm()

    def act(photo):
        changes.withdraw(report, current_user, form.reason.data or "")
        flash(_("Your report was withdrawn."), "success")

    return _note_page("community/withdraw.html", report, form, act)


# ---- unsubscribing from an email, without signing in --------------------------------------


@bp.route("/unfollow/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: mail clients POST here; the signed token is the authority
def unfollow(token: str):
    try:
        payload = read_token(UNSUBSCRIBE, token)
    except (TokenExpired, TokenInvalid):
        return render_template("community/unfollow.html", problem=True), 400
    report = db.session.get(Report, payload.get("r"))
    if report is None:
        abort(404)
    if request.method == "POST":
        following.unfollow_by_token(payload)
        return render_template("community/unfollow.html", report=report, done=True)
    return render_template("community/unfollow.html", report=report, token=token)
