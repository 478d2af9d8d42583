"""The watch area forms. They carry what was typed; the service checks it."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, SelectChoice, SelectField, StringField

from bpt311.forms import ConfirmForm  # noqa: F401  (one for every package)
from bpt311.reports.forms import CheckboxesField, Marked
from bpt311.watch.service import DELIVERY_LABELS, KIND_LABELS, AreaSettings, Where

METHOD_LABELS = {
    "keep": _l("Keep the area as it is"),
    "address": _l("Around an address"),
    "neighbourhood": _l("A whole neighbourhood"),
    "map": _l("Draw it on the map (a shape or a circle; needs JavaScript)"),
}


def _choices(labels: dict[str, str]) -> list[SelectChoice]:
    return [SelectChoice(key, label) for key, label in labels.items()]


class AreaForm(FlaskForm):
    name = StringField(_l("Name of the area"), [Marked(True)])
    method = RadioField(_l("Where is the area?"), [Marked(True)], validate_choice=False)
    address = StringField(_l("Address or intersection"))
    radius = StringField(_l("How far around it, in metres"), default="300")
    place = RadioField(_l("Which place do you mean?"), choices=[], validate_choice=False)
    neighbourhood = SelectField(_l("Neighbourhood"), validate_choice=False)
    geometry = HiddenField()
    map_radius = HiddenField()
    kinds = CheckboxesField(
        _l("What do you want to hear about?"),
        [Marked(True)],
        choices=_choices(KIND_LABELS),
        default=["new", "status"],
        validate_choice=False,
    )
    scope = RadioField(
        _l("Which kinds of problem?"),
        [Marked(True)],
        choices=[
            SelectChoice("all", _l("All kinds of problem")),
            SelectChoice("some", _l("Only the kinds I choose below")),
        ],
        default="all",
        validate_choice=False,
    )
    categories = CheckboxesField(_l("Kinds of problem"), validate_choice=False)
    delivery = RadioField(
        _l("How do you want to hear about them?"),
        [Marked(True)],
        choices=_choices(DELIVERY_LABELS),
        default="email",
        validate_choice=False,
    )
    is_public = BooleanField(
        _l("Make this area public, so others can see its reports and follow it")
    )

    def prepare(self, neighbourhoods, categories, editing: bool = False) -> AreaForm:
        """Fill the choices that come from the database."""
        methods = dict(METHOD_LABELS)
        if not editing:
            methods.pop("keep")
        self.method.choices = _choices(methods)
        if self.method.data is None:
            self.method.data = "keep" if editing else "address"
        self.neighbourhood.choices = [
            SelectChoice("", _l("Choose a neighbourhood")),
            *(SelectChoice(slug, name) for slug, name in neighbourhoods),
        ]
        self.categories.choices = [
            SelectChoice(code, name, optgroup=group) for code, name, group in categories
        ]
        return self

    def where(self) -> Where:
        return Where(
            method=self.method.data or "",
            address=self.address.data or "",
            radius=self.radius.data or "",
            place=self.place.data or "",
            neighbourhood=self.neighbourhood.data or "",
            geometry=self.geometry.data or "",
            map_radius=self.map_radius.data or "",
        )

    def settings(self) -> AreaSettings:
        return AreaSettings(
            name=self.name.data or "",
            kinds=list(self.kinds.data or []),
            all_categories=self.scope.data != "some",
            category_codes=list(self.categories.data or []),
            delivery=self.delivery.data or "",
            is_public=bool(self.is_public.data),
        )

    def show_errors(self, errors: dict[str, str]) -> None:
        """Put the service's messages on the fields; a drawing's go on the choice of how."""
        for name, message in errors.items():
            target = "method" if name in ("geometry", "map_radius") else name
            self[target if target in self else "name"].errors = [message]


class FollowForm(FlaskForm):
    wanted = HiddenField(default="1")
    delivery = RadioField(
        _l("How do you want to hear about it?"),
        choices=_choices(DELIVERY_LABELS),
        default="digest",
        validate_choice=False,
    )
