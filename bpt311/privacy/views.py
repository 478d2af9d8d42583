"""Privacy page and personal-data export/delete (filled in by the data-safety work)."""

from flask import Blueprint

bp = Blueprint("privacy", __name__)
