"""Back-office forms. Every form that changes a report carries the version it was drawn from."""

from __future__ import annotations

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
from bpt311.staff.service import BULK_ACTIONS, STATUS_ACTIONS

SOURCES = [
    ("", "Any source"),
    ("web", "Web"),
    ("kiosk", "Kiosk"),
    ("api", "Open311 API"),
    ("staff", "Staff intake"),
]


def choices(pairs) -> list[SelectChoice]:
    return [SelectChoice(str(value), label) for value, label in pairs]


class QueueForm(Form):
    """The queue's own filters, on top of the public list's (a GET form: no CSRF)."""

    department = SelectField("Department", validate_choice=False)
    assignee = SelectField("Assigned to", validate_choice=False)
    overdue = BooleanField("Only overdue reports")
    source = SelectField("Source", choices=choices(SOURCES), validate_choice=False)


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
        "What do you want to do?",
        [Marked(True)],
        choices=choices(STATUS_ACTIONS.items()),
        validate_choice=False,
    )
    public_note = TextAreaField(
        "Note for the public",
        description="Shown on the report's page and emailed to its followers. Needed when closing.",
    )
    internal_note = TextAreaField("Internal note", description="Only staff see this.")
    photo = FileField("Photo after the work")


class AssignForm(VersionedForm):
    assignee = SelectField("Assign to", validate_choice=False)


class DepartmentForm(VersionedForm):
    department = SelectField("Pass to the department", validate_choice=False)
    internal_note = TextAreaField("Internal note", [Optional(), Length(max=4000)])


class DueForm(VersionedForm):
    due = StringField(
        "Due",
        [Marked(True)],
        render_kw={"type": "datetime-local"},
        description="In Bridgeport time.",
    )


class CategoryForm(VersionedForm):
    category = SelectField("Category", validate_choice=False)


class DuplicateForm(VersionedForm):
    original = StringField(
        "Tracking number of the original report",
        [Marked(True)],
        description="For example BPT-000123. Nearby open reports of the "
        "same kind are listed below.",
    )


class DetailsForm(VersionedForm):
    description = TextAreaField("Description", [Marked(True)])
    address = StringField("Address", [Optional(), Length(max=300)])
    latitude = StringField("Latitude", [Marked(True)])
    longitude = StringField("Longitude", [Marked(True)])


class BulkForm(FlaskForm):
    ids = SelectMultipleField("Reports", validate_choice=False)
    action = SelectField(
        "With the chosen reports",
        choices=choices([("", "Choose…"), *BULK_ACTIONS.items()]),
        validate_choice=False,
    )
    assignee = SelectField("Assignee", validate_choice=False)
    category = SelectField("Category", validate_choice=False)
    public_note = TextAreaField("Note for the public (for closing)")


class SaveFilterForm(FlaskForm):
    name = StringField(
        "Name this filter", [InputRequired("Give the filter a name"), Length(max=80)]
    )
    query = HiddenField()


class TemplateForm(FlaskForm):
    department = SelectField("Department", validate_choice=False)
    status = SelectField(
        "Goes with",
        choices=choices(
            [
                ("acknowledged", "Acknowledging"),
                ("closed", "Closing"),
                ("open", "Reopening"),
                ("note", "A note"),
            ]
        ),
        validate_choice=False,
    )
    title = StringField("Title", [InputRequired("Give the reply a title"), Length(max=120)])
    body = TextAreaField(
        "Text",
        [InputRequired("Write the reply"), Length(max=4000)],
        description="You may use {tracking_number}, {category}, {address} and {department}.",
    )
