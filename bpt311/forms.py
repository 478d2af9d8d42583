"""Forms every package uses alike."""

from __future__ import annotations

from flask_wtf import FlaskForm


class ConfirmForm(FlaskForm):
    """A button that changes one thing (sign out, deactivate, revoke, retry a job): only
    the CSRF token."""
