"""Static assets: fingerprinted names, long caching, precompressed bodies (performance work)."""

from flask import Flask


def register(app: Flask) -> None:
    """Serve static files under fingerprinted names (filled in by the performance work)."""
