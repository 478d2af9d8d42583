"""Watch areas, notices and feeds."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("watch", __name__)
