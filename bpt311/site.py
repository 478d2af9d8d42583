"""The site's public address and the city's clock.

The address: SITE_URL when it is set, else (in development) the request's own.

Links written into emails, QR codes and feeds must name the public address even when no
request is being answered, so they read SITE_URL. Answers to a request (the Open311
discovery document, the OpenAPI ``servers`` entry, /developers' examples) would otherwise
point a developer who runs the app on another port or host at ``http://127.0.0.1:5000``:
without SITE_URL, outside production, they name the address the request came to.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request

from bpt311.config import DEFAULT_SITE_URL


def site_url() -> str:
    """The public address, without a trailing slash."""
    configured = current_app.config["SITE_URL"]
    if (
        configured == DEFAULT_SITE_URL
        and current_app.config.get("ENV_NAME") != "production"
        and has_request_context()
    ):
        return request.host_url.rstrip("/")
    return configured


def city_zone() -> ZoneInfo:
    """The city's time zone (CITY_TIMEZONE): the one every date a person sees is shown in."""
    return ZoneInfo(current_app.config["CITY_TIMEZONE"])
