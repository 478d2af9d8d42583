"""The home page."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user

from bpt311 import i18n
from bpt311.accounts import service as accounts_service
from bpt311.extensions import limiter
from bpt311.home.script_catalogue import script_catalogue
from bpt311.reports import figures, queries

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    return render_template(
        "home/index.html",
        latest=queries.latest_reports(limit=8),
        groups=queries.category_groups(),
        figures=figures.city_figures(),
    )


@bp.route("/language", methods=["GET", "POST"])
@limiter.limit(
    "300/hour;20/minute"
)  # a person (or a busy kiosk) switches now and then; a script does not
def choose_language():
    """The language switcher: remember the choice and go back to the page the visitor was
    on. The public pages' switcher is a GET (they carry no CSRF token): it sets only the
    preference cookie; the POST (with its token) also saves a signed-in person's choice."""
    values = request.form if request.method == "POST" else request.args
    code = values.get("lang", "")
    if code not in i18n.LANGUAGES:
        abort(400)
    if request.method == "POST" and current_user.is_authenticated:
        accounts_service.remember_language(current_user, code)
    return i18n.remember_choice(code, values.get("next"))


@bp.get("/i18n/<language>.js")
def script_messages(language: str):
    """The scripts' words in Spanish or Portuguese (site.js's ``_()`` reads them). The URL
    from :func:`script_messages_url` carries the version, so it is cached for a year."""
    catalogue = script_catalogue(language)
    if catalogue is None:
        abort(404)
    response = Response(catalogue.body, mimetype="text/javascript")
    current = request.args.get("v") == catalogue.version
    response.headers["Cache-Control"] = (
        "public, max-age=31536000, immutable" if current else "public, max-age=300"
    )
    response.set_etag(catalogue.version)
    return response.make_conditional(request)


@bp.app_template_global()
def script_messages_url() -> str | None:
    """Where this page's scripts find their words: None for English, which needs none."""
    catalogue = script_catalogue(i18n.current_language())
    if catalogue is None:
        return None
    return url_for("home.script_messages", language=catalogue.language, v=catalogue.version)
