"""The moderation queue's forms: why a thing is hidden, why a person is banned."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, Length
from wtforms.validators import Optional as OptionalValue

from bpt311.staff.moderation.queries import Item
from bpt311.staff.moderation.service import REASON_MAX


class HideForm(FlaskForm):
    class Meta:
        # CSRFProtect checks every POST; each of the page's many forms carries the token
        # in a plain hidden input, so no two elements share the id "csrf_token".
        csrf = False

    reason = TextAreaField(
        _l("Why hide it"),
        validators=[
            DataRequired(_l("Say why it is being hidden")),
            Length(
                max=REASON_MAX,
                message=_l("Keep the reason to %(num)d characters or fewer", num=REASON_MAX),
            ),
        ],
    )


class BanForm(FlaskForm):
    class Meta:
        csrf = False

    reason = StringField(
        _l("Why ban them"),
        validators=[
            OptionalValue(),
            Length(
                max=REASON_MAX,
                message=_l("Keep the reason to %(num)d characters or fewer", num=REASON_MAX),
            ),
        ],
    )


def forms_for(bound_item: Item | None = None, bound: FlaskForm | None = None):
    """For the templates: an item's hide and ban forms, blank, or the one just posted
    (with its errors) for the item it was posted for. Ids are made unique per item."""

    def forms(item: Item) -> dict[str, FlaskForm]:
        is_bound = bound_item is not None and item.dom_id == bound_item.dom_id
        hide_form = bound if is_bound and isinstance(bound, HideForm) else HideForm(formdata=None)
        ban_form = bound if is_bound and isinstance(bound, BanForm) else BanForm(formdata=None)
        hide_form.reason.id = f"{item.dom_id}-reason"
        ban_form.reason.id = f"{item.dom_id}-ban-reason"
        return {"hide": hide_form, "ban": ban_form}

    return forms
