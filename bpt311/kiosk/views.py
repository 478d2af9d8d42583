"""Kiosk pages: a touch screen in City Hall that anyone may use and that keeps nothing.

The report pages are the report flow's own (``reports.flow`` with ``kiosk=True``: source
"kiosk", the kiosk's large-type templates, the receipt screen at the end). Every page is
``no-store``; the session only ever holds the CSRF token and the id of the report just
sent (so its receipt can be emailed or texted), and ``/kiosk/reset`` empties it. kiosk.js
calls the reset after an idle countdown.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import logout_user

from bpt311 import i18n
from bpt311.errors import varies_on_htmx, wants_partial
from bpt311.extensions import limiter
from bpt311.kiosk import receipts
from bpt311.kiosk.forms import EmailReceiptForm, LookupForm, TextReceiptForm
from bpt311.reports import browse, flow, list_pages, queries
from bpt311.reports.service import report_url, sla_in_words

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")

CITY_HALL = (41.1792, -73.1894)  # 45 Lyon Terrace
NEARBY_METRES = 800
SENT_KEY = flow.KIOSK_SENT  # which receipts ("email", "text") went out for the report
REPORT_KEY = flow.KIOSK_REPORT  # the report this visitor just sent


@bp.before_app_request
def _dedicated_terminal():
    """With KIOSK=1 the home page is the kiosk's start screen."""
    if current_app.config.get("KIOSK") and request.path == "/":
        return redirect(url_for("kiosk.start"), 302)
    return None


@bp.after_request
def _keep_nothing(response):
    # Nothing a visitor typed or saw may come back from a cache or the Back button.
    response.headers["Cache-Control"] = "no-store"
    return varies_on_htmx(response)


def _page(template: str, status: int = 200, **context):
    return make_response(render_template(template, **context), status)


def _report_or_404(tracking_number: str):
    report = queries.report_by_tracking_number(tracking_number)
    if report is None or not report.publicly_visible:
        abort(404)
    return report


def _own_report(tracking_number: str):
    """The report this visitor has just sent; anyone else goes to its public status."""
    report = _report_or_404(tracking_number)
    if session.get(REPORT_KEY) != report.id:
        return report, redirect(url_for(".report", tracking_number=report.tracking_number), 303)
    return report, None


@bp.get("/")
def start():
    return _page("kiosk/start.html")


@bp.route("/reset", methods=["GET", "POST"])
def reset():
    """Forget everything about the visitor; the start screen then makes a fresh session
    (and CSRF token). GET too, for the idle timer and the receipt's no-JS refresh."""
    logout_user()
    session.clear()
    response = redirect(url_for(".start"), 303)
    response.delete_cookie(i18n.COOKIE)  # the next visitor starts in their browser's language
    return response


@bp.get("/report")
def new_report():
    return flow.new_report_page(kiosk=True)


@bp.post("/report")
@limiter.limit("30/minute;600/hour")  # public, and all kiosks in a hall share one address
def create_report():
    return flow.create_report(kiosk=True)


def _receipt_context(report, email_form=None, text_form=None, **extra) -> dict:
    link = report_url(report)
    return {
        "report": report,
        "link": link,
        "qr": receipts.qr_svg(link),
        "response_time": sla_in_words(report.category.sla_hours),
        "email_form": email_form or EmailReceiptForm(formdata=None),
        "text_form": text_form or TextReceiptForm(formdata=None),
        "can_text": bool(current_app.config.get("SMS_GATEWAY_URL")),
        "sent": session.get(SENT_KEY, []),
        "refresh_seconds": max(current_app.config["KIOSK_IDLE_SECONDS"], 60) * 2,
        **extra,
    }


@bp.get("/reports/<tracking_number>/receipt")
def receipt(tracking_number: str):
    report, elsewhere = _own_report(tracking_number)
    if elsewhere:
        return elsewhere
    return _page("kiosk/receipt.html", **_receipt_context(report))


def _receipt_key() -> str:
    return "kiosk-receipt:" + (request.view_args or {}).get("tracking_number", "")


def _after_sending(report, channel: str, message: str, status: int = 200, **forms):
    if wants_partial():
        context = _receipt_context(report, announce=message, **forms)
        return make_response(render_template("kiosk/_send.html", **context), status)
    if status != 200:
        return _page("kiosk/receipt.html", status=status, **_receipt_context(report, **forms))
    flash(message, "success")
    return redirect(url_for(".receipt", tracking_number=report.tracking_number), 303)


@bp.post("/reports/<tracking_number>/email")
@limiter.limit("5/hour", methods=["POST"], key_func=_receipt_key)
def email_receipt(tracking_number: str):
    report, elsewhere = _own_report(tracking_number)
    if elsewhere:
        return elsewhere
    form = EmailReceiptForm()
    if "email" in session.get(SENT_KEY, []):
        return _after_sending(report, "email", _("The receipt was already emailed."))
    if not form.validate():
        return _after_sending(report, "email", "", 422, email_form=form)
    receipts.email_receipt(report, form.email.data.strip())
    session[SENT_KEY] = [*session.get(SENT_KEY, []), "email"]
    return _after_sending(report, "email", _("Receipt emailed. It may take a few minutes."))


@bp.post("/reports/<tracking_number>/text")
@limiter.limit("5/hour", methods=["POST"], key_func=_receipt_key)
def text_receipt(tracking_number: str):
    if not current_app.config.get("SMS_GATEWAY_URL"):
        abort(404)
    report, elsewhere = _own_report(tracking_number)
    if elsewhere:
        return elsewhere
    form = TextReceiptForm()
    if "text" in session.get(SENT_KEY, []):
        return _after_sending(report, "text", _("The tracking number was already texted."))
    number = receipts.us_phone_number(form.phone.data or "")
    if form.validate() and number is None:
        form.phone.errors = [_("Enter a US mobile number like (203) 555-0123")]
    if form.errors:
        return _after_sending(report, "text", "", 422, text_form=form)
    try:
        receipts.text_receipt(report, number)
    except receipts.TextNotSent as exc:
        form.phone.errors = [str(exc)]
        return _after_sending(report, "text", "", 422, text_form=form)
    session[SENT_KEY] = [*session.get(SENT_KEY, []), "text"]
    return _after_sending(report, "text", _("Tracking number texted."))


@bp.get("/lookup")
def lookup():
    form = LookupForm(request.args)
    if request.args and form.validate():
        # The number pad has no letters: the digits alone are enough (one parser reads all).
        report = queries.report_typed(form.number.data[:40])
        if report is not None:
            return redirect(url_for(".report", tracking_number=report.tracking_number), 303)
        form.number.errors = [
            _(
                "No report has the number “%(number)s”. Check it against your receipt",
                number=form.number.data[:40],
            )
        ]
    return _page("kiosk/lookup.html", status=422 if form.errors else 200, form=form)


@bp.get("/reports/<tracking_number>")
def report(tracking_number: str):
    report = _report_or_404(tracking_number)
    link = report_url(report)
    updates = [e for e in report.events if e.public_note and e.kind != "comment"]
    return _page(
        "kiosk/report.html",
        report=report,
        link=link,
        qr=receipts.qr_svg(link),
        latest=updates[-1] if updates else None,
        response_time=sla_in_words(report.category.sla_hours),
    )


@bp.get("/nearby")
def nearby():
    filters = browse.Filters(
        latitude=CITY_HALL[0],
        longitude=CITY_HALL[1],
        radius=NEARBY_METRES,
        statuses=["open", "acknowledged"],
        sort="nearest",
    )
    page = list_pages.page_of(browse.filtered(filters), 1)
    return _page("kiosk/nearby.html", page=page, metres=NEARBY_METRES)
