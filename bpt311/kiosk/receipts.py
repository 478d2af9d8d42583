"""Sending a kiosk visitor their tracking number: by email through the outbox, or by text
through the city's SMS gateway. The address or number is used once and never stored."""

from __future__ import annotations

import json
import logging
import re
import urllib.error
import urllib.request

import segno
from flask import current_app
from flask_babel import gettext as _

from bpt311 import effects, i18n
from bpt311.models import Report
from bpt311.notify import enqueue_email
from bpt311.reports.service import receipt_subject, report_url, sla_in_words

log = logging.getLogger(__name__)
SMS_TIMEOUT_SECONDS = 5


class TextNotSent(Exception):
    """The SMS gateway is not set up, refused the message or did not answer."""


def qr_svg(link: str) -> str:
    """The same inline SVG QR code as the web receipt (reports/submitted.html)."""
    return segno.make(link, error="m").svg_inline(
        scale=4,
        border=2,
        title=_("QR code linking to %(link)s", link=link),
        dark="#000",
        light="#fff",
    )


def email_receipt(report: Report, address: str) -> None:
    """Queue the usual receipt email to ``address``, in its own transaction, in the
    language the visitor is using now (they may have switched after sending the report)."""
    enqueue_email(
        address,
        "report_receipt",
        receipt_subject(report),
        locale=i18n.current_language(),
        report_id=report.id,
        report=report,
        report_url=report_url(report),
        response_time=sla_in_words(report.category.sla_hours),
    )
    effects.commit()


def us_phone_number(text: str) -> str | None:
    """``(203) 555-0123`` or ``+1 203 555 0123`` as ``+12035550123``; None if it is not one."""
    digits = re.sub(r"\D", "", text or "")
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    if len(digits) != 10 or digits[0] in "01":
        return None
    return "+1" + digits


def text_receipt(report: Report, number: str) -> None:
    """POST ``{"to", "body"}`` as JSON to SMS_GATEWAY_URL; raise TextNotSent on any failure."""
    gateway = current_app.config.get("SMS_GATEWAY_URL", "")
    if not gateway:
        raise TextNotSent(_("Texting is not available on this screen."))
    body = _(
        "Bridgeport 311: your report %(number)s (%(category)s). Follow it at %(link)s",
        number=report.tracking_number,
        category=i18n.translated(report.category, "name"),
        link=report_url(report),
    )
    request = urllib.request.Request(
        gateway,
        data=json.dumps({"to": number, "body": body}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=SMS_TIMEOUT_SECONDS) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.warning("SMS gateway did not take the text for %s: %s", report.tracking_number, exc)
        raise TextNotSent(
            _("The text could not be sent just now. Please write the number down.")
        ) from exc
