"""The Open311 GeoReport v2 API, and pages for the city's website to embed."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)
