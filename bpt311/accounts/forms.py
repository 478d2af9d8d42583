"""The account forms. They check what a form can check; the service checks the rest."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from bpt311.accounts.passwords import NotCommon
from bpt311.accounts.service import PASSWORD_MAX, PASSWORD_MIN


def _email_field(label: str = "Email address") -> EmailField:
    return EmailField(
        label,
        [
            DataRequired("Enter your email address"),
            Length(max=254, message="Email address must be 254 characters or fewer"),
            Email("Enter an email address like name@example.com", check_deliverability=False),
        ],
        filters=[lambda value: value.strip() if value else value],
    )


def _new_password_fields(label: str = "Create a password") -> tuple[PasswordField, PasswordField]:
    password = PasswordField(
        label,
        [
            DataRequired("Enter a password"),
            Length(
                min=PASSWORD_MIN,
                max=PASSWORD_MAX,
                message=f"Your password must be between {PASSWORD_MIN} and {PASSWORD_MAX} "
                "characters",
            ),
            NotCommon(),
        ],
    )
    confirm = PasswordField(
        "Type the password again",
        [
            DataRequired("Type the password again"),
            EqualTo("password", message="The two passwords are not the same"),
        ],
    )
    return password, confirm


def _display_name_field() -> StringField:
    return StringField(
        "Your name",
        [
            DataRequired("Enter your name"),
            Length(max=80, message="Your name must be 80 characters or fewer"),
        ],
    )


class RegisterForm(FlaskForm):
    email = _email_field()
    display_name = _display_name_field()
    show_name = BooleanField("Show my name on the reports I send")
    password, confirm = _new_password_fields()


class SignInForm(FlaskForm):
    email = _email_field()
    password = PasswordField("Password", [DataRequired("Enter your password")])
    remember = BooleanField("Keep me signed in on this device")
    next = HiddenField()


class ResetRequestForm(FlaskForm):
    email = _email_field()


class NewPasswordForm(FlaskForm):
    password, confirm = _new_password_fields("New password")


class ProfileForm(FlaskForm):
    display_name = _display_name_field()
    show_name = BooleanField("Show my name on the reports I send")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", [DataRequired("Enter your current password")]
    )
    password, confirm = _new_password_fields("New password")


class ChangeEmailForm(FlaskForm):
    email = _email_field("New email address")
    password = PasswordField("Your password", [DataRequired("Enter your password")])


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", [DataRequired("Enter your password")])


class ConfirmForm(FlaskForm):
    """A button and its CSRF token: signing out, asking for a link."""
