"""The public statistics page (filled in by the dashboard work)."""

from flask import Blueprint

bp = Blueprint("stats", __name__)
