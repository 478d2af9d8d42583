"""The account forms. They check what a form can check; the service checks the rest."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from bpt311.accounts.passwords import NotCommon
from bpt311.accounts.service import PASSWORD_MAX, PASSWORD_MIN
from bpt311.forms import ConfirmForm  # noqa: F401  (one for every package)
from bpt311.names import PersonName


def _email_field(label=None) -> EmailField:
    return EmailField(
        label or _l("Email address"),
        [
            DataRequired(_l("Enter your email address")),
            Length(max=254, message=_l("Email address must be 254 characters or fewer")),
            Email(_l("Enter an email address like name@example.com"), check_deliverability=False),
        ],
        filters=[lambda value: value.strip() if value else value],
    )


def _new_password_fields(label=None) -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        label or _l("Create a password"),
        [
            DataRequired(_l("Enter a password")),
            Length(
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
                message=_l(
                    "Your password must be between %(least)s and %(most)s characters",
                    least=PASSWORD_MIN,
                    most=PASSWORD_MAX,
                ),
            ),
            NotCommon(),
        ],
    )
    confirm = PasswordField(
        _l("Type the password again"),
        [
            DataRequired(_l("Type the password again")),
            EqualTo("password", message=_l("The two passwords are not the same")),
        ],
    )
    return password, confirm


def _display_name_field() -> StringField:
    return StringField(
        _l("Your name"),
        [
            DataRequired(_l("Enter your name")),
            Length(max=80, message=_l("Your name must be 80 characters or fewer")),
            PersonName(),
        ],
    )


class RegisterForm(FlaskForm):
    email = _email_field()
    display_name = _display_name_field()
    show_name = BooleanField(_l("Show my name on the reports I send"))
    password, confirm = _new_password_fields()
    next = HiddenField()  # where to go back once the address is confirmed


class SignInForm(FlaskForm):
    email = _email_field()
    password = PasswordField(_l("Password"), [DataRequired(_l("Enter your password"))])
    remember = BooleanField(_l("Keep me signed in on this device"))
    next = HiddenField()


class ResetRequestForm(FlaskForm):
    email = _email_field()


class NewPasswordForm(FlaskForm):
    password, confirm = _new_password_fields(_l("New password"))


class ProfileForm(FlaskForm):
    display_name = _display_name_field()
    show_name = BooleanField(_l("Show my name on the reports I send"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        _l("Current password"), [DataRequired(_l("Enter your current password"))]
    )
    password, confirm = _new_password_fields(_l("New password"))


class ChangeEmailForm(FlaskForm):
    email = _email_field(_l("New email address"))
    password = PasswordField(_l("Your password"), [DataRequired(_l("Enter your password"))])


class DeleteAccountForm(FlaskForm):
    password = PasswordField(_l("Your password"), [DataRequired(_l("Enter your password"))])
