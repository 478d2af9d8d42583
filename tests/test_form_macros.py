"""The form macros tie labels, hints and errors together the GOV.UK way."""

from flask import render_template_string
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectChoice, StringField, TextAreaField
from wtforms.validators import DataRequired, Optional

PAGE = """
{% from "macros/forms.html" import field, choices, error_summary, title_prefix %}
<title>{{ title_prefix(form) }}Tell us</title>
{{ error_summary(form) }}
{{ field(form.description, hint="What is wrong?") }}
{{ field(form.nickname) }}
{{ choices(form.size, hint="Pick one") }}
"""


class ProbeForm(FlaskForm):
    description = TextAreaField("Description", validators=[DataRequired("Describe the problem")])
    nickname = StringField("Nickname", validators=[Optional()])
    size = RadioField(
        "Size",
        choices=[SelectChoice("small", "Small"), SelectChoice("large", "Large")],
        validators=[DataRequired("Choose a size")],
    )


def render(app, data=None):
    with app.test_request_context(method="POST" if data is not None else "GET", data=data or {}):
        form = ProbeForm(meta={"csrf": False})
        if data is not None:
            form.validate()
        return render_template_string(PAGE, form=form)


def test_fields_have_visible_labels_and_hints_tied_in(app):
    html = render(app)
    assert '<label for="description">Description</label>' in html
    assert 'id="description-hint"' in html
    assert 'aria-describedby="description-hint"' in html
    assert 'Nickname <span class="optional">(optional)</span>' in html
    assert "error-summary" not in html
    assert "<title>Tell us" in html


def test_errors_are_summarised_linked_and_tied_to_their_field(app):
    html = render(app, data={"nickname": "x"})
    assert "<title>Error: Tell us" in html
    assert 'role="alert"' in html and 'tabindex="-1"' in html
    assert '<a href="#description">Describe the problem</a>' in html
    assert 'aria-describedby="description-hint description-error"' in html
    assert 'aria-invalid="true"' in html
    assert 'id="description-error"' in html


def test_radios_sit_in_a_fieldset_with_a_legend(app):
    html = render(app, data={"description": "ok"})
    assert '<fieldset class="field field--error" id="size"' in html
    assert "<legend>Size</legend>" in html
    assert 'aria-describedby="size-hint size-error"' in html
    assert '<a href="#size">Choose a size</a>' in html
