"""The new-report form; a category's questions become fields of it at request time."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FileField,
    HiddenField,
    MultipleFileField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import Email, Length, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from bpt311.i18n import translated, translated_option
from bpt311.models import Category, CategoryQuestion
from bpt311.names import PersonName


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class Marked:
    """Marks a field required for the label; the checking is done by the service."""

    def __init__(self, required: bool):
        self.field_flags = {"required": True} if required else {}

    def __call__(self, form, field):
        pass


class ReportForm(FlaskForm):
    category = HiddenField()
    submission_key = HiddenField()
    description = TextAreaField(_l("Describe the problem"), [Marked(True)])
    address = StringField(_l("Address or nearest intersection"), [Optional(), Length(max=200)])
    latitude = HiddenField()
    longitude = HiddenField()
    # "@" and the address a point in latitude/longitude was found for by the server (a
    # geocoded address, a photo's point: "@" alone); empty for the map's pin. Changing the
    # address without JavaScript then looks the new one up instead of keeping the old point.
    located_for = HiddenField()
    location_choice = RadioField(_l("Which place do you mean?"), choices=[], validate_choice=False)
    # Offered when the address cannot be looked up: the report is sent with the address as
    # typed (address_as_typed) and, if chosen, the neighbourhood; the city places it later.
    neighbourhood = SelectField(_l("Neighbourhood"), choices=[], validate_choice=False)
    address_as_typed = HiddenField()
    photos = MultipleFileField(_l("Photos"))
    photo_alt = StringField(_l("Describe what your photos show"), [Optional(), Length(max=250)])
    video = FileField(_l("Video"))
    contact_name = StringField(_l("Your name"), [Optional(), Length(max=120), PersonName()])
    contact_email = EmailField(
        _l("Email address"),
        [
            Optional(),
            Length(max=254),
            Email(_l("Enter an email address like name@example.com"), check_deliverability=False),
        ],
    )
    contact_phone = TelField(
        _l("Phone number"),
        [
            Optional(),
            Length(max=40),
            Regexp(r"^[0-9 +().\-x]*$", message=_l("Enter a phone number like (203) 555-0123")),
        ],
    )
    anonymous = BooleanField(_l("Hide my name from the public"))
    not_duplicate = HiddenField()

    def answer_fields(self):
        return [f for f in self if f.name.startswith("answer_")]


def _question_field(question: CategoryQuestion):
    # Built at request time, so the admins' translations for the page's language apply.
    label, validators = translated(question, "label"), [Marked(question.required)]
    description = translated(question, "hint")
    choices = [
        SelectChoice(o["key"], translated_option(question, o["key"], o["name"]))
        for o in question.options or []
    ]
    if question.datatype == "singlevaluelist":
        return RadioField(
            label, validators, choices=choices, validate_choice=False, description=description
        )
    if question.datatype == "multivaluelist":
        return CheckboxesField(
            label, validators, choices=choices, validate_choice=False, description=description
        )
    if question.datatype == "text":
        return TextAreaField(label, validators, description=description)
    if question.datatype == "number":
        return StringField(
            label,
            validators,
            description=description,
            render_kw={"type": "number", "step": "any", "inputmode": "decimal"},
        )
    if question.datatype == "datetime":
        return StringField(
            label, validators, description=description, render_kw={"type": "datetime-local"}
        )
    return StringField(label, validators, description=description)


def report_form_class(category: Category) -> type[ReportForm]:
    """A ReportForm with one ``answer_<code>`` field per question of the category."""
    fields = {f"answer_{q.code}": _question_field(q) for q in category.questions}
    return type("CategoryReportForm", (ReportForm,), fields)
