"""One set of domain errors, put on a form in one way (bpt311/problems.py)."""

from __future__ import annotations

from wtforms import Form, HiddenField, StringField, TextAreaField

from bpt311.problems import InvalidInput, NotAllowed, Refused, onto_form


class NoteForm(Form):
    version = HiddenField()
    note = TextAreaField()
    email = StringField()


def _form():
    form = NoteForm()
    form.validate()
    return form


def test_a_fields_message_goes_on_that_field():
    form = _form()
    assert onto_form(form, InvalidInput("email", "That address is not valid.")) == ""
    assert form.email.errors == ["That address is not valid."]
    assert form.note.errors == []


def test_a_message_no_field_owns_goes_on_the_first_field_a_person_fills_in():
    form = _form()
    onto_form(form, NotAllowed("Only the city can close this."), fallback="*")
    assert form.note.errors == ["Only the city can close this."]
    assert form.version.errors == []


def test_without_a_fallback_the_message_is_returned_for_the_page_to_show():
    form = _form()
    loose = onto_form(form, Refused({"": "The name is taken.", "email": "Too long."}))
    assert loose == "The name is taken."
    assert form.email.errors == ["Too long."]
