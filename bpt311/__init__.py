"""bpt311: Bridgeport's 311 service. create_app() builds the Flask application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpt311 import config as settings

if TYPE_CHECKING:
    from flask import Flask

PROJECT_ROOT = settings.PROJECT_ROOT
MIGRATIONS_DIR = settings.MIGRATIONS_DIR


def create_app(config: dict | None = None) -> Flask:
    """Build the app (bpt311/app.py); ``config`` overrides any setting (tests pass their own)."""
    # wiring: `import bpt311.x` must not load every blueprint, so the factory loads them here
    from bpt311.app import create_app as build

    return build(config)
