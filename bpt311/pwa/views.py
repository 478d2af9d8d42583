"""The installable app: the manifest, the service worker, the offline page, the share
target and the push settings. No url_prefix: the worker must sit at /sw.js so its
scope is the whole site."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import click
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required

from bpt311 import i18n, push
from bpt311.extensions import csrf, limiter, person_or_address
from bpt311.reports import shared as share
from bpt311.security import came_from_this_site

bp = Blueprint("pwa", __name__, cli_group="pwa")

NAME = "Bridgeport 311"
THEME_COLOUR = "#0b3d91"  # --brand in site.css
BACKGROUND_COLOUR = "#ffffff"
ICON_SIZES = (192, 512)
FAVICON_AGE = 30 * 24 * 3600  # its name cannot carry a fingerprint; icons change rarely
# Files every page needs, so the app opens with no connection (names are fingerprinted).
SHELL_FILES = (
    "css/site.css",
    "js/site.js",
    "js/pwa.js",
    "js/offline-drafts.js",
    "vendor/htmx-2.0.11/htmx.min.js",
    "icons/icon-192.png",
)


def manifest() -> dict:
    icons = [
        {
            "src": url_for("static", filename=f"icons/icon-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "any",
        }
        for size in ICON_SIZES
    ] + [
        {
            "src": url_for("static", filename=f"icons/maskable-{size}.png"),
            "sizes": f"{size}x{size}",
            "type": "image/png",
            "purpose": "maskable",
        }
        for size in ICON_SIZES
    ]
    return {
        "id": "/",
        "name": NAME,
        "short_name": "BPT 311",
        "description": _(
            "Report non-emergency problems to the City of Bridgeport and follow them."
        ),
        "lang": {"en": "en-US", "es": "es", "pt": "pt-BR"}[i18n.current_language()],
        "dir": "ltr",
        "start_url": "/?source=app",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "categories": ["government", "utilities"],
        "icons": icons,
        "shortcuts": [
            {"name": _("Report a problem"), "url": url_for("reports.new")},
            {"name": _("Reports on this phone"), "url": url_for("pwa.offline")},
        ],
        "share_target": {
            "action": url_for("pwa.share_target"),
            "method": "POST",
            "enctype": "multipart/form-data",
            "params": {
                "title": "title",
                "text": "text",
                "url": "url",
                "files": [{"name": "photos", "accept": ["image/*"]}],
            },
        },
    }


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page links: the app icon, not a 404."""
    response = send_from_directory(
        current_app.static_folder, "icons/icon-192.png", mimetype="image/png", max_age=FAVICON_AGE
    )
    response.cache_control.public = True
    return response


@bp.get("/manifest.webmanifest")
def manifest_file():
    response = make_response(json.dumps(manifest(), indent=1))
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    response.vary.update(("Accept-Language", "Cookie"))  # written in the visitor's language
    return response


def shell_urls() -> list[str]:
    return [url_for("pwa.offline")] + [url_for("static", filename=name) for name in SHELL_FILES]


@bp.get("/sw.js")
def service_worker():
    body = render_template(
        "pwa/sw.js",
        shell=shell_urls(),
        drafts_script=url_for("static", filename="js/offline-drafts.js"),
        offline_url=url_for("pwa.offline"),
        static_prefix=current_app.static_url_path + "/",
        icon=url_for("static", filename="icons/icon-192.png"),
    )
    # The version changes with the worker or any static file, so browsers install the new
    # worker and drop the old caches even where static names are not fingerprinted.
    version = hashlib.sha256((body + _static_state()).encode()).hexdigest()[:12]
    body = body.replace('const VERSION = "";', f'const VERSION = "{version}";', 1)
    response = make_response(body)
    response.mimetype = "text/javascript"
    response.headers["Cache-Control"] = "no-cache"
    return response


def _static_state() -> str:
    folder = Path(current_app.static_folder)
    return "".join(
        f"{path.relative_to(folder)}:{path.stat().st_size}:{path.stat().st_mtime_ns};"
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    )


@bp.after_app_request
def _private_when_signed_in(response):
    """Pages drawn for a signed-in person are theirs: no shared cache, and the service
    worker never keeps them for offline reading."""
    if (
        response.mimetype == "text/html"
        and getattr(current_user, "is_authenticated", False)
        and "Cache-Control" not in response.headers
    ):
        response.headers["Cache-Control"] = "private"
    return response


@bp.get("/offline")
def offline():
    return render_template("pwa/offline.html")


@bp.post("/share")
@csrf.exempt  # the phone's share sheet posts here, not our form: see reports.shared.accept
@limiter.limit("20/hour;5/minute", methods=["POST"])
def share_target():
    if not came_from_this_site():
        # A share comes from the browser itself ("none") or our own pages, never another
        # site, which could otherwise plant a photo and words in the visitor's next report.
        abort(
            403,
            _(
                "This share did not come from your phone's share menu or from this site, "
                "so nothing was kept. Share again from the photo, or start a report here."
            ),
        )
    outcome = share.accept(
        request.files.getlist("photos"),
        text=" ".join(request.form.get(k, "") for k in ("title", "text", "url")).strip(),
    )
    for message in outcome.messages:
        flash(message, "error" if outcome.refused else "info")
    return redirect(url_for("reports.new"), 303)


# ---- push settings ----------------------------------------------------------------------


def _push_or_404() -> None:
    if not push.enabled():
        abort(404)


@bp.get("/me/settings/push")
@login_required
def push_settings():
    _push_or_404()
    return render_template(
        "pwa/push.html",
        devices=push.devices_of(current_user),
        public_key=current_app.config["VAPID_PUBLIC_KEY"],
    )


@bp.post("/me/settings/push/subscribe")
@login_required
@limiter.limit("30/hour", methods=["POST"], key_func=person_or_address)
def push_subscribe():
    _push_or_404()
    body = request.get_json(silent=True) or {}
    try:
        device = push.subscribe(
            current_user,
            body.get("subscription"),
            reports=bool(body.get("reports", True)),
            areas=bool(body.get("areas", True)),
            label=str(body.get("label") or "")[:120],
        )
    except push.InvalidSubscription as exc:
        return jsonify(ok=False, message=str(exc)), 422
    return jsonify(ok=True, id=device.id, message=_("Notifications are on for this device."))


@bp.post("/me/settings/push/unsubscribe")
@login_required
def push_unsubscribe():
    """From the page's script (JSON with the endpoint) or a plain form (a device's id)."""
    _push_or_404()
    body = request.get_json(silent=True)
    if body is not None:
        removed = push.unsubscribe(current_user, str(body.get("endpoint") or ""))
        return jsonify(ok=removed, message=_("Notifications are off for this device."))
    device_id = request.form.get("device", type=int)
    device = next((d for d in push.devices_of(current_user) if d.id == device_id), None)
    if device is not None:
        push.unsubscribe(current_user, device.endpoint)
        flash(_("Notifications are off for that device."), "success")
    return redirect(url_for(".push_settings"), 303)


@bp.cli.command("vapid-keys")
def vapid_keys_command() -> None:
    """Print a new VAPID key pair for Web Push, as environment settings."""
    public, private = push.new_vapid_keys()
    click.echo(f"VAPID_PUBLIC_KEY={public}")
    click.echo(f"VAPID_PRIVATE_KEY={private}")
