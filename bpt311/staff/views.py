"""The back office: the queue, the report inspector, intake, moderation, the audit log."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("staff", __name__, url_prefix="/staff")
