"""``flask --app app users ...``: managing accounts from the command line."""

from __future__ import annotations

from flask.cli import AppGroup

users_cli = AppGroup("users", help="Create and manage accounts.")
