"""Operations endpoints (filled in by the scale-out work)."""

from flask import Blueprint, Flask

bp = Blueprint("ops", __name__)


def register(app: Flask) -> None:
    """Hooks that every request goes through (request id, metrics, logs)."""
