"""Open311 service discovery: where our GeoReport v2 endpoint is and what it speaks."""

from __future__ import annotations

from flask import current_app

from bpt311.site import site_url

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
# Sortable; bump it when the endpoint or the catalogue's shape changes. (Categories carry
# no "changed at" column to derive it from.)
CHANGESET = "2026-11-25T00:00:00-05:00"


def discovery() -> dict:
    site = site_url()
    contact = current_app.config["CITY_CONTACT"]
    return {
        "changeset": CHANGESET,
        "contact": f"See {site}/developers, or call {contact}.",
        "key_service": (
            "Reading needs no key. To file reports, ask the City of Bridgeport for an API key: "
            f"see {site}/developers."
        ),
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": f"{site}/open311/v2",
                "changeset": CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
