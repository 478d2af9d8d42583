"""Accounts: sign-in, registration, and a resident's own page."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("accounts", __name__)
