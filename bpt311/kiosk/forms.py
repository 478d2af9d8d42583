"""The kiosk's own small forms: look up a number, send the receipt by email or text."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, TelField
from wtforms.validators import Email, InputRequired, Length


class LookupForm(FlaskForm):
    class Meta:
        csrf = False  # a plain GET search

    number = StringField(
        _l("Tracking number"),
        [InputRequired(_l("Enter the tracking number from your receipt, like BPT-000123"))],
    )


class EmailReceiptForm(FlaskForm):
    email = EmailField(
        _l("Email address"),
        [
            InputRequired(_l("Enter the email address to send the receipt to")),
            Length(max=254),
            Email(_l("Enter an email address like name@example.com"), check_deliverability=False),
        ],
    )


class TextReceiptForm(FlaskForm):
    phone = TelField(
        _l("Mobile phone number"),
        [InputRequired(_l("Enter the mobile number to text")), Length(max=40)],
    )
