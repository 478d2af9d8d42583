"""Administration forms. They check shapes (lengths, numbers); the rules that need the
database (clashing codes, the last admin, valid geometry) live in the services."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    FileField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectField,
    StringField,
    TelField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Length, Optional
from wtforms.widgets import NumberInput

from bpt311.forms import ConfirmForm  # noqa: F401  (one for every package)
from bpt311.i18n import LANGUAGES
from bpt311.names import PersonName
from bpt311.reports.forms import Marked
from bpt311.staff.forms import choices

QUESTION_TYPE_NAMES = {
    "string": _l("Short text"),
    "text": _l("Longer text"),
    "number": _l("A number"),
    "datetime": _l("A date and time"),
    "singlevaluelist": _l("One choice from a list"),
    "multivaluelist": _l("Any choices from a list"),
}
ROLE_NAMES = {"resident": _l("Resident"), "staff": _l("Staff"), "admin": _l("Administrator")}
# The languages admins translate categories and questions into (English is the original).
TRANSLATED_LANGUAGES = {"es": _l("Spanish"), "pt": _l("Portuguese")}


class WholeNumberField(IntegerField):
    """A whole number typed in a text box that keeps what was typed when it is not one."""

    widget = NumberInput(step="1")

    def process_formdata(self, valuelist):
        self.raw = valuelist[0] if valuelist else ""
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a whole number, like 48")) from None


class DepartmentForm(FlaskForm):
    name = StringField(
        _l("Name"), [InputRequired(_l("Enter the department's name")), Length(max=120)]
    )
    email = EmailField(_l("Email address"), [Optional(), Length(max=254)])
    phone = TelField(_l("Phone number"), [Optional(), Length(max=40)])
    name_es = StringField(_l("Name in Spanish"), [Optional(), Length(max=120)])
    name_pt = StringField(_l("Name in Portuguese"), [Optional(), Length(max=120)])


class CategoryForm(FlaskForm):
    name = StringField(
        _l("Name"), [InputRequired(_l("Enter the category's name")), Length(max=120)]
    )
    service_code = StringField(
        _l("Service code"),
        [InputRequired(_l("Enter a service code, like pothole")), Length(max=64)],
        description=_l("Open311 clients file reports with it: letters, digits, . - _"),
    )
    group = StringField(
        _l("Group"), [InputRequired(_l("Enter the group, like Streets")), Length(max=80)]
    )
    form_title = StringField(
        _l("Report form heading"),
        [Optional(), Length(max=200)],
        description=_l(
            "The heading residents read, as a whole phrase, like Report rodents. Left empty,"
            " it says Report a problem: and the name"
        ),
    )
    description = TextAreaField(_l("Description"), [Optional(), Length(max=2000)])
    keywords = StringField(
        _l("Keywords"),
        [Optional(), Length(max=1000)],
        description=_l("Other words residents might search for, separated by commas"),
    )
    department_id = SelectField(_l("Department"), [Marked(True)], validate_choice=False)
    sla_hours = WholeNumberField(
        _l("SLA in hours"),
        [Marked(True)],
        description=_l("How long the department has to respond, in hours (48 is two days)"),
    )
    position = WholeNumberField(
        _l("Position"), [Optional()], description=_l("Lower numbers come first in the list")
    )
    active = BooleanField(_l("Residents can report this"), default=True)
    # What residents read in Spanish and Portuguese; an empty box shows the English.
    name_es = StringField(_l("Name in Spanish"), [Optional(), Length(max=120)])
    form_title_es = StringField(_l("Report form heading in Spanish"), [Optional(), Length(max=200)])
    group_es = StringField(_l("Group in Spanish"), [Optional(), Length(max=80)])
    description_es = TextAreaField(_l("Description in Spanish"), [Optional(), Length(max=2000)])
    name_pt = StringField(_l("Name in Portuguese"), [Optional(), Length(max=120)])
    form_title_pt = StringField(
        _l("Report form heading in Portuguese"), [Optional(), Length(max=200)]
    )
    group_pt = StringField(_l("Group in Portuguese"), [Optional(), Length(max=80)])
    description_pt = TextAreaField(_l("Description in Portuguese"), [Optional(), Length(max=2000)])


class QuestionForm(FlaskForm):
    datatype = SelectField(
        _l("Kind of answer"),
        [Marked(True)],
        choices=choices(QUESTION_TYPE_NAMES.items()),
        validate_choice=False,
    )
    code = StringField(
        _l("Code"),
        [InputRequired(_l("Enter a code, like size")), Length(max=64)],
        description=_l("Open311 clients send the answer under it: letters, digits, _"),
    )
    label = StringField(
        _l("Question"),
        [InputRequired(_l("Enter the question residents will read")), Length(max=200)],
    )
    hint = StringField(_l("Hint"), [Optional(), Length(max=500)])
    required = BooleanField(_l("An answer is required"))
    options = TextAreaField(
        _l("Options (for list questions)"),
        [Optional(), Length(max=4000)],
        description=_l("One per line, as key | Name: for example  small | Smaller than a plate"),
    )
    position = WholeNumberField(
        _l("Position"), [Optional()], description=_l("Lower numbers come first on the form")
    )
    label_es = StringField(_l("Question in Spanish"), [Optional(), Length(max=200)])
    hint_es = StringField(_l("Hint in Spanish"), [Optional(), Length(max=500)])
    options_es = TextAreaField(_l("Options in Spanish"), [Optional(), Length(max=4000)])
    label_pt = StringField(_l("Question in Portuguese"), [Optional(), Length(max=200)])
    hint_pt = StringField(_l("Hint in Portuguese"), [Optional(), Length(max=500)])
    options_pt = TextAreaField(_l("Options in Portuguese"), [Optional(), Length(max=4000)])
    preview_language = SelectField(
        _l("Preview in"), choices=choices(LANGUAGES.items()), validate_choice=False
    )


DEPARTMENT_TRANSLATED_FIELDS = ("name",)
CATEGORY_TRANSLATED_FIELDS = ("name", "form_title", "group", "description")
QUESTION_TRANSLATED_FIELDS = ("label", "hint", "options")


def fill_translations(form, translations: dict | None, fields: tuple[str, ...], posted=()) -> None:
    """Put stored translations into the form's ``<field>_<language>`` boxes that were not
    ``posted`` (a POST that leaves a box out keeps what is stored); option labels
    ({key: label}) become lines of ``key | label``."""
    for language in TRANSLATED_LANGUAGES:
        stored = (translations or {}).get(language) or {}
        for name in fields:
            box = form[f"{name}_{language}"]
            if box.name in posted:
                continue
            value = stored.get(name) or ""
            if isinstance(value, dict):
                value = "\n".join(f"{key} | {label}" for key, label in value.items())
            box.data = value


def typed_translations(form, fields: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """What was typed in the ``<field>_<language>`` boxes, as {language: {field: text}}."""
    return {
        language: {name: form[f"{name}_{language}"].data or "" for name in fields}
        for language in TRANSLATED_LANGUAGES
    }


class UserSearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form

    q = StringField(_l("Email or name"), [Optional(), Length(max=200)])
    role = SelectField(
        _l("Role"),
        choices=choices([("", _l("Any role")), *ROLE_NAMES.items()]),
        validate_choice=False,
    )


class InviteForm(FlaskForm):
    email = EmailField(_l("Email address"), [InputRequired(_l("Enter their email address"))])
    display_name = StringField(_l("Name"), [Optional(), Length(max=80), PersonName()])
    role = SelectField(
        _l("Role"),
        [Marked(True)],
        choices=choices([("staff", _l("Staff")), ("admin", _l("Administrator"))]),
        validate_choice=False,
    )
    department_id = SelectField(
        _l("Department"), [Optional()], validate_choice=False, description=_l("Staff need one")
    )


class AccessForm(FlaskForm):
    role = SelectField(
        _l("Role"), [Marked(True)], choices=choices(ROLE_NAMES.items()), validate_choice=False
    )
    department_id = SelectField(
        _l("Department"), [Optional()], validate_choice=False, description=_l("Staff need one")
    )


class ApiKeyForm(FlaskForm):
    name = StringField(
        _l("Name"),
        [InputRequired(_l("Give the key a name: who or what will use it")), Length(max=120)],
        description=_l("Who or what will use it, like: Mayor's office app"),
    )


# How a category's or department's new reports are sent on (models.SEND_METHODS).
SEND_METHOD_NAMES = {
    "none": _l("Nowhere: handled here"),
    "email": _l("By email to the department"),
    "open311": _l("To a city system over Open311"),
}


class EndpointForm(FlaskForm):
    name = StringField(
        _l("Name"),
        [InputRequired(_l("Give the city system a name, like Public Works")), Length(max=80)],
        description=_l("Staff read it on the timeline: Updated by Public Works"),
    )
    root_url = StringField(
        _l("Root URL"),
        [InputRequired(_l("Enter the system's Open311 root URL")), Length(max=500)],
        description=_l("The GeoReport v2 address, like https://workorders.example.gov/open311/v2"),
    )
    # Never rendered with its value: a key typed is stored and never shown again.
    api_key = PasswordField(_l("API key"), [Optional(), Length(max=200)])
    jurisdiction = StringField(
        _l("Jurisdiction ID"),
        [Optional(), Length(max=100)],
        description=_l("Only if the system asks for a jurisdiction_id"),
    )


class DepartmentRouteForm(FlaskForm):
    method = RadioField(
        _l("Where its new reports go"),
        choices=choices(SEND_METHOD_NAMES.items()),
        validate_choice=False,
    )
    endpoint_id = SelectField(_l("City system"), [Optional()], validate_choice=False)


class CategoryRouteForm(FlaskForm):
    method = RadioField(
        _l("Where its new reports go"),
        choices=choices([("", _l("As its department says")), *SEND_METHOD_NAMES.items()]),
        validate_choice=False,
    )
    endpoint_id = SelectField(_l("City system"), [Optional()], validate_choice=False)
    remote_service_code = StringField(
        _l("Service code there"),
        [Optional(), Length(max=64)],
        description=_l("Leave empty if the city system uses our code"),
    )


def category_route_form(questions, **kwargs) -> CategoryRouteForm:
    """The category's route form with one box per question: the attribute code the city
    system gives that question (empty: our code)."""

    class Form(CategoryRouteForm):
        pass

    for question in questions:
        setattr(
            Form,
            f"attribute_{question.code}",
            StringField(f"{question.label} ({question.code})", [Optional(), Length(max=64)]),
        )
    return Form(**kwargs)


def endpoint_choices(endpoints, blank: str) -> list:
    return choices([("", blank)] + [(e.id, e.name) for e in endpoints])


class GeoUploadForm(FlaskForm):
    kind = SelectField(
        _l("What the file holds"),
        [Marked(True)],
        choices=choices(
            [
                ("neighbourhoods", _l("Neighbourhoods")),
                ("boundary", _l("The service-area boundary")),
            ]
        ),
        validate_choice=False,
    )
    file = FileField(_l("GeoJSON file"), [Marked(True)])


class GeoConfirmForm(FlaskForm):
    kind = HiddenField()
    source_name = HiddenField()
    geojson = HiddenField()


def department_choices(departments, blank: str) -> list:
    return choices([("", blank)] + [(d.id, d.name) for d in departments])
