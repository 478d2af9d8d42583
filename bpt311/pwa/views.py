"""PWA endpoints (filled in by the PWA work)."""

from flask import Blueprint

bp = Blueprint("pwa", __name__)
