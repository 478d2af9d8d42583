"""``flask --app app api-keys ...``: keys for outside systems that file reports."""

from __future__ import annotations

from flask.cli import AppGroup

api_keys_cli = AppGroup("api-keys", help="Create, list and revoke Open311 API keys.")
