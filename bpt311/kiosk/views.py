"""Kiosk pages (filled in by the kiosk work)."""

from flask import Blueprint

bp = Blueprint("kiosk", __name__, url_prefix="/kiosk")
