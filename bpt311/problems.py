"""The one set of domain errors: what a service raises when it changes nothing and the person
can be told why (and what to do). Views turn them into a form's field errors, a page's
message or an HTMX partial; the message is already in the person's words and language.

- ``NotAllowed``: this person may not do this (role, standing, the report's state).
- ``InvalidInput``: one field's value cannot be used; ``field`` names it.
- ``Conflict``: someone else changed it first; the page shows its new state.
- ``Refused``: a change that cannot be made as asked, with a message per form field
  ("" for the form as a whole).
- ``CannotPost``: a banned account tried to write (not a ``Problem``: no form catches it;
  ``errors`` turns it into its page).
"""

from __future__ import annotations

from flask_babel import gettext as _


class Problem(Exception):
    """Nothing was changed; ``str(problem)`` says why. ``field`` is the form field it belongs
    to ("" for the whole form)."""

    def __init__(self, message: str = "", field: str = ""):
        super().__init__(message)
        self.field = field

    @property
    def errors(self) -> dict[str, str]:
        """Messages by form field ("" for the form as a whole)."""
        return {self.field: str(self)}


class NotAllowed(Problem):
    """This person may not do this."""


class InvalidInput(Problem):
    """One field's value cannot be used."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field)


class Conflict(Problem):
    """Someone else changed it first."""


class Refused(Problem):
    """A change that cannot be made as asked: a message per form field, or one for the form."""

    def __init__(self, errors: dict[str, str] | str):
        self._errors = {"": errors} if isinstance(errors, str) else dict(errors)
        super().__init__("; ".join(self._errors.values()), next(iter(self._errors), ""))

    @property
    def errors(self) -> dict[str, str]:
        return self._errors


class CannotPost(Exception):
    """A banned account tried to write. ``errors`` turns it into a 403 page that says what
    they can still do; a view with a form may show the message in the form instead."""

    def __init__(self) -> None:
        super().__init__(
            _(
                "Your account cannot post: the city's moderators have stopped it from sending "
                "reports, comments, votes and flags, and from changing them."
            )
        )


def onto_form(form, problem: Problem, fallback: str = "", aliases=None) -> str:
    """Put a problem's messages on ``form``'s fields (``aliases`` renames a service's field
    to the form's). A message no field owns goes on ``fallback`` (a field's name, or "*" for
    the first field a person fills in), else it is returned, joined, for the page to show."""
    aliases = aliases or {}
    loose = []
    for name, message in problem.errors.items():
        name = aliases.get(name, name)
        target = form._fields.get(name) if name else None
        if target is None and fallback == "*":
            target = next((f for f in form if f.type not in _NOT_TYPED), None)
        elif target is None and fallback:
            target = form._fields.get(fallback)
        if target is None:
            loose.append(message)
        else:
            target.errors = [*target.errors, message]
    return " ".join(loose)


_NOT_TYPED = ("CSRFTokenField", "HiddenField", "SubmitField")
