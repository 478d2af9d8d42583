"""Administration forms. They check shapes (lengths, numbers); the rules that need the
database (clashing codes, the last admin, valid geometry) live in the services."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FileField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import NumberInput

from bpt311.reports.forms import Marked
from bpt311.staff.forms import choices

QUESTION_TYPE_NAMES = {
    "string": "Short text",
    "text": "Longer text",
    "number": "A number",
    "datetime": "A date and time",
    "singlevaluelist": "One choice from a list",
    "multivaluelist": "Any choices from a list",
}
ROLE_NAMES = {"resident": "Resident", "staff": "Staff", "admin": "Administrator"}


class WholeNumberField(IntegerField):
    """A whole number typed in a text box that keeps what was typed when it is not one."""

    widget = NumberInput(step="1")

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError("Enter a whole number, like 48") from None


class DepartmentForm(FlaskForm):
    name = StringField("Name", [InputRequired("Enter the department's name"), Length(max=120)])
    email = EmailField("Email address", [Optional(), Length(max=254)])
    phone = TelField("Phone number", [Optional(), Length(max=40)])


class CategoryForm(FlaskForm):
    name = StringField("Name", [InputRequired("Enter the category's name"), Length(max=120)])
    service_code = StringField(
        "Service code",
        [InputRequired("Enter a service code, like pothole"), Length(max=64)],
        description="Open311 clients file reports with it: letters, digits, . - _",
    )
    group = StringField("Group", [InputRequired("Enter the group, like Streets"), Length(max=80)])
    description = TextAreaField("Description", [Optional(), Length(max=2000)])
    keywords = StringField(
        "Keywords",
        [Optional(), Length(max=1000)],
        description="Other words residents might search for, separated by commas",
    )
    department_id = SelectField("Department", [Marked(True)], validate_choice=False)
    sla_hours = WholeNumberField(
        "SLA in hours",
        [Marked(True)],
        description="How long the department has to respond, in hours (48 is two days)",
    )
    position = WholeNumberField(
        "Position", [Optional()], description="Lower numbers come first in the list"
    )
    active = BooleanField("Residents can report this", default=True)


class QuestionForm(FlaskForm):
    datatype = SelectField(
        "Kind of answer",
        [Marked(True)],
        choices=choices(QUESTION_TYPE_NAMES.items()),
        validate_choice=False,
    )
    code = StringField(
        "Code",
        [InputRequired("Enter a code, like size"), Length(max=64)],
        description="Open311 clients send the answer under it: letters, digits, _",
    )
    label = StringField(
        "Question", [InputRequired("Enter the question residents will read"), Length(max=200)]
    )
    hint = StringField("Hint", [Optional(), Length(max=500)])
    required = BooleanField("An answer is required")
    options = TextAreaField(
        "Options (for list questions)",
        [Optional(), Length(max=4000)],
        description="One per line, as key | Name: for example  small | Smaller than a plate",
    )
    position = WholeNumberField(
        "Position", [Optional()], description="Lower numbers come first on the form"
    )


class UserSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form

    q = StringField("Email or name", [Optional(), Length(max=200)])
    role = SelectField(
        "Role",
        choices=choices([("", "Any role"), *ROLE_NAMES.items()]),
        validate_choice=False,
    )


class InviteForm(FlaskForm):
    email = EmailField("Email address", [InputRequired("Enter their email address")])
    display_name = StringField("Name", [Optional(), Length(max=80)])
    role = SelectField(
        "Role",
        [Marked(True)],
        choices=choices([("staff", "Staff"), ("admin", "Administrator")]),
        validate_choice=False,
    )
    department_id = SelectField(
        "Department", [Optional()], validate_choice=False, description="Staff need one"
    )


class AccessForm(FlaskForm):
    role = SelectField(
        "Role", [Marked(True)], choices=choices(ROLE_NAMES.items()), validate_choice=False
    )
    department_id = SelectField(
        "Department", [Optional()], validate_choice=False, description="Staff need one"
    )


class ApiKeyForm(FlaskForm):
    name = StringField(
        "Name",
        [InputRequired("Give the key a name: who or what will use it"), Length(max=120)],
        description="Who or what will use it, like: Mayor's office app",
    )


class GeoUploadForm(FlaskForm):
    kind = SelectField(
        "What the file holds",
        [Marked(True)],
        choices=choices(
            [("neighbourhoods", "Neighbourhoods"), ("boundary", "The service-area boundary")]
        ),
        validate_choice=False,
    )
    file = FileField("GeoJSON file", [Marked(True)])


class GeoConfirmForm(FlaskForm):
    kind = HiddenField()
    source_name = HiddenField()
    geojson = HiddenField()


class ConfirmForm(FlaskForm):
    """A button that changes one thing (deactivate, revoke, delete): only the CSRF token."""


def department_choices(departments, blank: str) -> list:
    return choices([("", blank)] + [(d.id, d.name) for d in departments])
