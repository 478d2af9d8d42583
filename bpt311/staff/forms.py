"""Back-office forms. Every form that changes a report carries the version it was drawn from."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    FileField,
    Form,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional

from bpt311.reports.forms import Marked
from bpt311.staff.bulk import BULK_ACTIONS
from bpt311.staff.status import STATUS_ACTIONS

SOURCES = [
    ("", _l("Any source")),
    ("web", _l("Web")),
    ("kiosk", _l("Kiosk")),
    ("api", _l("Open311 API")),
    ("staff", _l("Staff intake")),
]
# What a saved reply goes with.
REPLY_KINDS = [
    ("acknowledged", _l("Acknowledging")),
    ("closed", _l("Closing")),
    ("open", _l("Reopening")),
    ("note", _l("A note")),
]


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(str(value), label) for value, label in pairs]


class QueueForm(Form):
    """The queue's own filters, on top of the public list's (a GET form: no CSRF)."""

    department = SelectField(_l("Department"), validate_choice=False)
    assignee = SelectField(_l("Assigned to"), validate_choice=False)
    overdue = BooleanField(_l("Only overdue reports"))
    source = SelectField(_l("Source"), choices=choices(SOURCES), validate_choice=False)


class VersionedForm(FlaskForm):
    version = HiddenField()

    @property
    def version_number(self) -> int | None:
        try:
            return int(self.version.data)
        except (TypeError, ValueError):
            return None


class StatusForm(VersionedForm):
    action = RadioField(
        _l("What do you want to do?"),
        [Marked(True)],
        choices=choices(STATUS_ACTIONS.items()),
        validate_choice=False,
    )
    public_note = TextAreaField(
        _l("Note for the public"),
        description=_l(
            "Shown on the report's page and emailed to its followers. Needed when closing."
        ),
    )
    internal_note = TextAreaField(_l("Internal note"), description=_l("Only staff see this."))
    photo = FileField(_l("Photo after the work"))


class AssignForm(VersionedForm):
    assignee = SelectField(_l("Assign to"), validate_choice=False)


class DepartmentForm(VersionedForm):
    department = SelectField(_l("Pass to the department"), validate_choice=False)
    internal_note = TextAreaField(_l("Internal note"), [Optional(), Length(max=4000)])


class DueForm(VersionedForm):
    due = StringField(
        _l("Due"),
        [Marked(True)],
        render_kw={"type": "datetime-local"},
        description=_l("In Bridgeport time."),
    )


class CategoryForm(VersionedForm):
    category = SelectField(_l("Category"), validate_choice=False)


class DuplicateForm(VersionedForm):
    original = StringField(
        _l("Tracking number of the original report"),
        [Marked(True)],
        description=_l(
            "For example BPT-000123. Nearby open reports of the same kind are listed below."
        ),
    )


class DetailsForm(VersionedForm):
    description = TextAreaField(_l("Description"), [Marked(True)])
    address = StringField(_l("Address"), [Optional(), Length(max=300)])
    latitude = StringField(_l("Latitude"), [Marked(True)])
    longitude = StringField(_l("Longitude"), [Marked(True)])


class BulkForm(FlaskForm):
    ids = SelectMultipleField(_l("Reports"), validate_choice=False)
    action = SelectField(
        _l("With the chosen reports"),
        choices=choices([("", _l("Choose…")), *BULK_ACTIONS.items()]),
        validate_choice=False,
    )
    assignee = SelectField(_l("Assignee"), validate_choice=False)
    category = SelectField(_l("Category"), validate_choice=False)
    public_note = TextAreaField(_l("Note for the public (for closing)"))


class SaveFilterForm(FlaskForm):
    name = StringField(
        _l("Name this filter"), [InputRequired(_l("Give the filter a name")), Length(max=80)]
    )
    query = HiddenField()


class TemplateForm(FlaskForm):
    department = SelectField(_l("Department"), validate_choice=False)
    status = SelectField(
        _l("Goes with"),
        choices=choices(REPLY_KINDS),
        validate_choice=False,
    )
    title = StringField(_l("Title"), [InputRequired(_l("Give the reply a title")), Length(max=120)])
    body = TextAreaField(
        _l("Text"),
        [InputRequired(_l("Write the reply")), Length(max=4000)],
        description=_l("You may use {tracking_number}, {category}, {address} and {department}."),
    )
