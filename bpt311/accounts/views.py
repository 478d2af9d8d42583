"""Accounts: sign-in, registration, and a resident's own page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_limiter.util import get_remote_address
from flask_login import current_user, login_required, login_user, logout_user

from bpt311.accounts import forms, queries, service, throttle
from bpt311.errors import error_response, too_many_message
from bpt311.extensions import limiter, person_or_address
from bpt311.redirects import safe_next

bp = Blueprint("accounts", __name__)


def _form_page(template: str, form, **context):
    """A form page: 422 when it carries errors, so HTMX and tests can tell."""
    status = 422 if form.errors else 200
    return render_template(template, form=form, **context), status


def _add_error(field, message: str) -> None:
    field.errors = [*list(field.errors or []), message]


def _link_problem(message: str, next_step: str, next_url: str):
    page = render_template(
        "accounts/message.html",
        title=_("This link cannot be used"),
        message=f"{message}.",
        link_text=next_step,
        link_url=next_url,
    )
    return page, 400


# ---- registering ------------------------------------------------------------------


@bp.route("/register", methods=["GET", "POST"])
@limiter.limit("5/hour", methods=["POST"])
def register():
    if current_user.is_authenticated:
        return redirect(url_for(".me"), 303)
    form = forms.RegisterForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"), "")
    if form.validate_on_submit():
        service.register(
            form.email.data,
            form.display_name.data,
            form.show_name.data,
            form.password.data,
            then=_unfinished(form.next.data),
        )
        session["account_email"] = service.normalise_email(form.email.data)
        return redirect(url_for(".check_email"), 303)
    return _form_page("accounts/register.html", form)


@bp.get("/register/check-email")
def check_email():
    return render_template("accounts/check_email.html", email=session.get("account_email", ""))


def _unfinished(next_page: str | None) -> dict | None:
    """What a guest was doing when sent to make an account (the guest intent the community
    pages keep in the session, and the page to go back to), to carry in the confirmation
    link. A comment draft is cut short there: the link must stay a link."""
    back = safe_next(next_page, None)
    pending = session.get("pending")
    if not back and not pending:
        return None
    then: dict = {"next": back or ""}
    if isinstance(pending, dict):
        then["pending"] = {**pending, "draft": str(pending.get("draft", ""))[:1000]}
        if not pending.get("draft"):
            then["pending"].pop("draft")
    return then


def _finish_what_was_started(then: dict):
    """After confirming: back to what the person was doing (signing in first if needed),
    with the follow or vote they asked for still to be done there."""
    back = safe_next(then.get("next"), None)
    if not back:
        return None
    if isinstance(then.get("pending"), dict):
        session["pending"] = then["pending"]
    if current_user.is_authenticated:
        flash(_("Your email address is confirmed."), "success")
        return redirect(back, 303)
    flash(
        _("Your email address is confirmed. Sign in and you will go straight back to the page."),
        "success",
    )
    return redirect(url_for(".sign_in", next=back), 303)


@bp.get("/verify/<token>")
def verify_email(token: str):
    try:
        _user, then = service.verify_email(token)
    except service.LinkProblem as exc:
        if current_user.is_authenticated:
            return _link_problem(
                str(exc), _("Ask for a new link on your account page"), url_for(".me")
            )
        return _link_problem(
            str(exc), _("Sign in to ask for a new link"), url_for(".sign_in", next=url_for(".me"))
        )
    onward = _finish_what_was_started(then)
    if onward is not None:
        return onward
    return render_template(
        "accounts/message.html",
        title=_("Your email address is confirmed"),
        message=_("Thank you. You can now add reports you sent before you had an account."),
        link_text=_("Go to your account") if current_user.is_authenticated else _("Sign in"),
        link_url=url_for(".me") if current_user.is_authenticated else url_for(".sign_in"),
    )


# ---- signing in and out ------------------------------------------------------------


@bp.route("/sign-in", methods=["GET", "POST"])
# A flood guard only: guesses are counted per address and per account in accounts.throttle.
@limiter.limit("30/minute;300/hour", methods=["POST"])
def sign_in():
    form = forms.SignInForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"), "")
    target = safe_next(form.next.data, url_for(".me"))
    if current_user.is_authenticated and request.method == "GET":
        return redirect(target, 303)
    if form.validate_on_submit():
        try:
            user = service.authenticate(form.email.data, form.password.data, get_remote_address())
        except throttle.TooManyGuesses as exc:
            return error_response(
                429, too_many_message(exc.seconds), {"Retry-After": str(exc.retry_after)}
            )
        except service.AccountError as exc:
            _add_error(form.email, str(exc))
        else:
            login_user(user, remember=form.remember.data)
            return redirect(target, 303)
    return _form_page("accounts/sign_in.html", form)


@bp.post("/sign-out")
def sign_out():
    if current_user.is_authenticated:
        service.sign_out(current_user._get_current_object())
    logout_user()
    flash(_("You have signed out."), "success")
    return redirect(url_for("home.index"), 303)


# ---- forgotten passwords -------------------------------------------------------------


@bp.route("/reset", methods=["GET", "POST"])
@limiter.limit("5/hour", methods=["POST"])
def reset_request():
    form = forms.ResetRequestForm()
    if form.validate_on_submit():
        service.request_password_reset(form.email.data)
        session["account_email"] = service.normalise_email(form.email.data)
        return redirect(url_for(".reset_sent"), 303)
    return _form_page("accounts/reset_request.html", form)


@bp.get("/reset/sent")
def reset_sent():
    return render_template("accounts/reset_sent.html", email=session.get("account_email", ""))


@bp.route("/reset/<token>", methods=["GET", "POST"])
@limiter.limit("10/hour", methods=["POST"])
def reset_password(token: str):
    form = forms.NewPasswordForm()
    try:
        service.user_for_reset(token)
        if form.validate_on_submit():
            service.reset_password(token, form.password.data, get_remote_address())
            flash(_("Your password has been changed. Sign in with your new password."), "success")
            return redirect(url_for(".sign_in"), 303)
    except service.LinkProblem as exc:
        return _link_problem(str(exc), _("Ask for a new link"), url_for(".reset_request"))
    return _form_page("accounts/reset_password.html", form, token=token)


# ---- your account ------------------------------------------------------------------


@bp.get("/me")
@login_required
def me():
    return render_template(
        "accounts/me.html",
        reports=queries.reports_by(current_user.id),
        followed=queries.reports_followed_by(current_user.id),
        form=forms.ConfirmForm(),
    )


@bp.post("/me/verify")
@login_required
@limiter.limit("5/hour", methods=["POST"], key_func=person_or_address)
def resend_verification():
    service.resend_verification(current_user)
    flash(
        _("We have sent a new confirmation link to %(email)s.", email=current_user.email),
        "success",
    )
    return redirect(url_for(".me"), 303)


@bp.post("/me/claim")
@login_required
@limiter.limit("5/hour", methods=["POST"], key_func=person_or_address)
def claim():
    try:
        service.request_claim(current_user)
    except service.NotVerified as exc:
        flash(f"{exc}.", "error")
    else:
        flash(
            _(
                "We have emailed a link to %(email)s. Open it to add your reports.",
                email=current_user.email,
            ),
            "success",
        )
    return redirect(url_for(".me"), 303)


@bp.get("/me/claim/<token>")
@login_required
def claim_confirm(token: str):
    try:
        count = service.claim_reports(current_user, token)
    except service.AccountError as exc:
        return _link_problem(str(exc), _("Go to your account"), url_for(".me"))
    if count:
        flash(
            ngettext(
                "We added %(num)d report to your account.",
                "We added %(num)d reports to your account.",
                count,
            ),
            "success",
        )
    else:
        flash(
            _("There were no other reports sent from %(email)s.", email=current_user.email),
            "info",
        )
    return redirect(url_for(".me"), 303)


@bp.route("/me/settings", methods=["GET", "POST"])
@login_required
@limiter.limit("30/hour", methods=["POST"], key_func=person_or_address)
def settings():
    form = forms.ProfileForm(obj=current_user)
    if form.validate_on_submit():
        service.update_profile(current_user, form.display_name.data, form.show_name.data)
        flash(_("Your name and its setting are saved."), "success")
        return redirect(url_for(".settings"), 303)
    return _form_page("accounts/settings.html", form)


@bp.post("/me/settings/sign-out-everywhere")
@login_required
@limiter.limit("10/hour", methods=["POST"], key_func=person_or_address)
def sign_out_everywhere():
    service.sign_out(current_user._get_current_object())
    logout_user()
    flash(_("You have been signed out on every device and browser."), "success")
    return redirect(url_for("home.index"), 303)  # as signing out does


@bp.route("/me/settings/password", methods=["GET", "POST"])
@login_required
@limiter.limit("10/hour", methods=["POST"], key_func=person_or_address)
def change_password():
    form = forms.ChangePasswordForm()
    if form.validate_on_submit():
        try:
            user = current_user._get_current_object()
            service.change_password(user, form.current_password.data, form.password.data)
        except service.WrongPassword as exc:
            _add_error(form.current_password, str(exc))
        else:
            # The new password ends every other session; this one signs in again.
            login_user(user, remember=bool(request.cookies.get("remember_token")))
            flash(_("Your password has been changed. Other browsers were signed out."), "success")
            return redirect(url_for(".settings"), 303)
    return _form_page("accounts/change_password.html", form)


@bp.route("/me/settings/email", methods=["GET", "POST"])
@login_required
@limiter.limit("5/hour", methods=["POST"], key_func=person_or_address)
def change_email():
    form = forms.ChangeEmailForm()
    if form.validate_on_submit():
        try:
            service.request_email_change(current_user, form.email.data, form.password.data)
        except service.WrongPassword as exc:
            _add_error(form.password, str(exc))
        except service.SameEmail as exc:
            _add_error(form.email, str(exc))
        else:
            flash(
                _(
                    "We have emailed a link to %(email)s. "
                    "Your email address changes when you open it.",
                    email=service.normalise_email(form.email.data),
                ),
                "success",
            )
            return redirect(url_for(".settings"), 303)
    return _form_page("accounts/change_email.html", form)


@bp.get("/confirm-email/<token>")
def confirm_email(token: str):
    try:
        user = service.confirm_email_change(token)
    except service.LinkProblem as exc:
        return _link_problem(str(exc), _("Go to your settings"), url_for(".settings"))
    return render_template(
        "accounts/message.html",
        title=_("Your email address has changed"),
        message=_(
            "Your account now uses %(email)s. Sign in with it from now on.", email=user.email
        ),
        link_text=_("Go to your settings"),
        link_url=url_for(".settings"),
    )


@bp.route("/me/settings/delete", methods=["GET", "POST"])
@login_required
@limiter.limit("5/hour", methods=["POST"], key_func=person_or_address)
def delete_account():
    form = forms.DeleteAccountForm()
    if form.validate_on_submit():
        try:
            service.delete_account(current_user, form.password.data)
        except service.WrongPassword as exc:
            _add_error(form.password, str(exc))
        else:
            logout_user()
            flash(
                _("Your account has been deleted. Your reports stay public without your name."),
                "success",
            )
            return redirect(url_for("home.index"), 303)
    return _form_page("accounts/delete.html", form)
