"""Forms residents use on a report page."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    FileField,
    HiddenField,
    RadioField,
    SelectChoice,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from bpt311.community.flags import FLAG_REASONS
from bpt311.media import UploadRefused
from bpt311.reports.forms import Marked
from bpt311.storage import stash_photo


class CommentForm(FlaskForm):
    body = TextAreaField(_l("Add a comment"), [Marked(True)])
    photo = FileField(_l("Add a photo"))


class NoteForm(FlaskForm):
    """Closing ("it's fixed") or reopening ("it's not fixed"), with a note."""

    note = TextAreaField(_l("Note"))
    photo = FileField(_l("Add a photo showing it"))


class EditReportForm(FlaskForm):
    description = TextAreaField(_l("Describe the problem"), [Marked(True)])


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Why are you withdrawing it?"), [Optional(), Length(max=2000)])


class DeleteCommentForm(FlaskForm):
    """Staff removing someone else's comment say why; the writer is told."""

    reason = TextAreaField(_l("Why is it being removed?"), [Optional(), Length(max=500)])


class FlagForm(FlaskForm):
    reason = RadioField(
        _l("What is wrong with it?"),
        [Marked(True)],
        choices=[SelectChoice(key, label) for key, label in FLAG_REASONS.items()],
        validate_choice=False,
    )
    detail = TextAreaField(_l("Tell us more"), [Optional(), Length(max=500)])
    next = HiddenField()


class ToggleForm(FlaskForm):
    """A vote or follow button: carries only the CSRF token and the wanted state."""

    wanted = HiddenField()


class EmailUpdatesForm(FlaskForm):
    """Update emails on one report for someone with no account: an address is enough."""

    email = EmailField(
        _l("Your email address"),
        [
            DataRequired(_l("Enter your email address")),
            Length(max=254, message=_l("Email address must be 254 characters or fewer")),
            Email(_l("Enter an email address like name@example.com"), check_deliverability=False),
        ],
        filters=[lambda value: value.strip() if value else value],
    )


def photo_from(field):
    """A photo sent with a form, checked and stashed; the form field gets the error."""
    upload = field.data
    if not getattr(upload, "filename", ""):
        return None
    try:
        return stash_photo(upload)
    except UploadRefused as exc:
        field.errors = [str(exc)]
        return None
