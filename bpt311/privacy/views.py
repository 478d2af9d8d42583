"""What bpt311 keeps about people, for how long, and how a resident takes it away."""

from __future__ import annotations

import json

from flask import Blueprint, current_app, render_template, send_file
from flask_login import current_user, login_required

from bpt311.extensions import limiter, person_or_address
from bpt311.privacy.export import media_of, media_zip, personal_data

bp = Blueprint("privacy", __name__)


def _retention() -> dict[str, int]:
    config = current_app.config
    return {
        "contact_days": config["RETENTION_CONTACT_DAYS"],
        "outbox_days": config["RETENTION_OUTBOX_DAYS"],
    }


@bp.get("/privacy")
def page():
    return render_template("privacy/page.html", **_retention())


@bp.get("/me/data")
@login_required
def your_data():
    return render_template(
        "privacy/your_data.html", media_count=len(media_of(current_user)), **_retention()
    )


def _private(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/me/data/bpt311-my-data.json")
@login_required
@limiter.limit("20/hour", key_func=person_or_address)
def export_json():
    document = json.dumps(personal_data(current_user), indent=2, ensure_ascii=False)
    response = current_app.response_class(document, mimetype="application/json")
    response.headers["Content-Disposition"] = 'attachment; filename="bpt311-my-data.json"'
    return _private(response)


@bp.get("/me/data/bpt311-my-photos.zip")
@login_required
@limiter.limit("10/hour", key_func=person_or_address)
def export_media():
    response = send_file(
        media_zip(current_user),
        mimetype="application/zip",
        as_attachment=True,
        download_name="bpt311-my-photos.zip",
    )
    return _private(response)
