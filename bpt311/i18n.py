"""Languages: English, Spanish and Portuguese (Bridgeport's largest language communities).

The language of a page is, in order: the one the visitor chose with the switcher (a
cookie, and their account's setting when signed in), else the best match for their
browser's Accept-Language, else English. Emails are written in their recipient's
language (``notify.enqueue_email(locale=...)``). Interface strings are marked with
``_()``/``{% trans %}`` and translated in ``bpt311/translations/<lang>/LC_MESSAGES``;
category names and questions are translated by admins (``Category.translations``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime, timedelta

from babel.dates import format_date, format_time, get_datetime_format
from babel.numbers import format_decimal
from flask import Flask, current_app, g, has_app_context, has_request_context, redirect, request
from flask_babel import Babel, get_locale, get_translations
from flask_babel import force_locale as babel_force_locale
from flask_login import current_user

from bpt311.redirects import safe_next
from bpt311.site import city_zone

LANGUAGES = {"en": "English", "es": "Español", "pt": "Português"}
DEFAULT = "en"
COOKIE = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600
KEPT_TRANSLATIONS = "bpt311_translations"  # on g: the templates' translations

babel = Babel()


def chosen_language() -> str | None:
    """The language the visitor chose with the switcher, if any."""
    if not has_request_context():
        return None
    choice = request.cookies.get(COOKIE, "")
    if choice in LANGUAGES:
        return choice
    if current_user.is_authenticated and getattr(current_user, "locale", "") in LANGUAGES:
        return current_user.locale
    return None


MACHINE_PATHS = ("/open311/",)  # Open311 answers are data for programs: always English


def select_locale() -> str:
    if not has_request_context() or request.path.startswith(MACHINE_PATHS):
        return DEFAULT
    return chosen_language() or request.accept_languages.best_match(LANGUAGES) or DEFAULT


def anonymous_language() -> str:
    """The language of a page for a visitor not signed in, read without the session: the
    switcher's cookie, else Accept-Language (what the public page cache keys on)."""
    if request.path.startswith(MACHINE_PATHS):
        return DEFAULT
    choice = request.cookies.get(COOKIE, "")
    if choice in LANGUAGES:
        return choice
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT


def current_language() -> str:
    """The code (``en``, ``es``, ``pt``) the current page or email is written in."""
    locale = get_locale()
    return locale.language if locale and locale.language in LANGUAGES else DEFAULT


def known(code: str | None) -> str:
    """``code`` if it is one of ours, else English (for stored settings that may be stale)."""
    return code if code in LANGUAGES else DEFAULT


def remember_choice(code: str, target: str | None):
    """A redirect back to ``target`` (when it is a page of this site, else the home page)
    that remembers ``code`` in a year-long cookie."""
    response = redirect(safe_next(target, "/"), code=303)
    response.set_cookie(
        COOKIE,
        code,
        max_age=None if current_app.config.get("KIOSK") else COOKIE_MAX_AGE,
        secure=current_app.config.get("SESSION_COOKIE_SECURE", False),
        httponly=True,
        samesite="Lax",
    )
    return response


# --- localised dates, times, numbers ------------------------------------------------------


def local_datetime_words(moment: datetime) -> str:
    """``Nov 25, 2026, 9:05 AM`` / ``25 nov 2026, 9:05`` / ``25 de nov. de 2026 09:05``."""
    locale = get_locale() or DEFAULT
    here = moment.astimezone(city_zone())
    pattern = get_datetime_format("medium", locale=locale)
    text = pattern.replace("{1}", format_date(here, "medium", locale=locale)).replace(
        "{0}", format_time(here, "short", locale=locale)
    )
    return text.replace("\u202f", " ")


def local_date_words(moment: datetime) -> str:
    return format_date(moment.astimezone(city_zone()), "medium", locale=get_locale() or DEFAULT)


def number(value, digits: int | None = None) -> str:
    """``12,345`` in English, ``12.345`` in Spanish and Portuguese; ``digits`` fixes the
    decimals shown (``number(8, 1)`` is ``8.0`` / ``8,0``)."""
    if value is None:
        return ""
    pattern = None if digits is None else "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=get_locale() or DEFAULT)


def gettext(string: str, **variables) -> str:
    """Flask-Babel's ``gettext`` through the request's kept translations
    (:func:`template_translations`): the words a list repeats on every row."""
    text = template_translations().ugettext(string)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    """Flask-Babel's ``ngettext`` through the request's kept translations."""
    variables.setdefault("num", num)
    return template_translations().ungettext(singular, plural, num) % variables


def _in_largest_unit(seconds: int, units, shorter: Callable[[], str]) -> str:
    """``seconds`` counted in the first of ``units`` ((size, words for n)) it reaches."""
    for size, words in units:
        if seconds >= size:
            return words(seconds // size)
    return shorter()


def age_words(seconds: int) -> str:
    """How long ago, in words a person would say: ``3 days ago``."""
    units = (
        (86400 * 365, lambda n: ngettext("%(num)d year ago", "%(num)d years ago", n)),
        (86400 * 30, lambda n: ngettext("%(num)d month ago", "%(num)d months ago", n)),
        (86400 * 7, lambda n: ngettext("%(num)d week ago", "%(num)d weeks ago", n)),
        (86400, lambda n: ngettext("%(num)d day ago", "%(num)d days ago", n)),
        (3600, lambda n: ngettext("%(num)d hour ago", "%(num)d hours ago", n)),
        (60, lambda n: ngettext("%(num)d minute ago", "%(num)d minutes ago", n)),
    )
    return _in_largest_unit(seconds, units, lambda: gettext("just now"))


def duration_words(span: timedelta) -> str:
    """A length of time in the largest sensible unit: ``2 days``, ``5 hours``."""
    units = (
        (86400, lambda n: ngettext("%(num)d day", "%(num)d days", n)),
        (3600, lambda n: ngettext("%(num)d hour", "%(num)d hours", n)),
        (60, lambda n: ngettext("%(num)d minute", "%(num)d minutes", n)),
    )
    return _in_largest_unit(int(span.total_seconds()), units, lambda: gettext("less than a minute"))


# --- admin-translated content ---------------------------------------------------------------


def translated(row, field: str) -> str:
    """``row.<field>`` in the current language when an admin has translated it, else as
    written (English). ``row.translations`` is ``{"es": {"name": ...}, "pt": {...}}``."""
    original = getattr(row, field) or ""
    language = current_language()
    if language == DEFAULT:
        return original
    return ((getattr(row, "translations", None) or {}).get(language) or {}).get(field) or original


def translated_option(question, key: str, label: str) -> str:
    """An option's label for a category question, in the current language if translated."""
    language = current_language()
    if language == DEFAULT:
        return label
    options = ((question.translations or {}).get(language) or {}).get("options") or {}
    return options.get(key) or label


def form_title(category) -> str:
    """The report form's heading for ``category`` in the current language: the admins'
    whole phrase ("Report rodents"), else "Report a problem: <name>" (never the English
    phrase on a Spanish page, never a name forced into "Report a …")."""
    language = current_language()
    if language == DEFAULT:
        title = category.form_title
    else:
        title = ((category.translations or {}).get(language) or {}).get("form_title")
    return title or gettext("Report a problem: %(category)s", category=translated(category, "name"))


def template_translations():
    """The translations for a template's ``_()``: Flask-Babel's ``get_translations()``
    makes several context-local lookups a call, and a list page makes dozens to
    hundreds of calls; the answer is kept on ``g`` for the request. :func:`force_locale`
    (an email in the reader's language) puts it aside for its block and back after."""
    try:
        # The object behind the proxy (werkzeug's documented way): one lookup, not two.
        here = g._get_current_object()
    except RuntimeError:  # no app context: Flask-Babel's own answer, no translations
        return get_translations()
    kept = here.get(KEPT_TRANSLATIONS)
    if kept is None:
        kept = here.setdefault(KEPT_TRANSLATIONS, get_translations())
    return kept


@contextmanager
def force_locale(locale):
    """Flask-Babel's ``force_locale``, with the templates' kept translations set aside for
    the block: every ``force_locale`` in bpt311 is this one (tests/test_i18n_emails.py)."""
    with babel_force_locale(locale):
        if not has_app_context():
            yield
            return
        kept = g.pop(KEPT_TRANSLATIONS, None)
        try:
            yield
        finally:
            g.pop(KEPT_TRANSLATIONS, None)
            if kept is not None:
                setattr(g, KEPT_TRANSLATIONS, kept)


def register(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", app.config.get("CITY_TIMEZONE", "UTC"))
    babel.init_app(app, locale_selector=select_locale)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: template_translations().ugettext(s),
        ngettext=lambda s, p, n: template_translations().ungettext(s, p, n),
        pgettext=lambda c, s: template_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: template_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    app.jinja_env.policies["ext.i18n.trimmed"] = True  # {% trans %} blocks ignore line breaks
    app.add_template_filter(number)
    app.add_template_filter(translated)
    app.add_template_filter(form_title)
    app.add_template_global(translated_option)

    @app.context_processor
    def _languages():
        return {"languages": LANGUAGES, "current_language": current_language()}

    @app.after_request
    def _vary(response):
        if response.mimetype == "text/html":
            response.vary.add("Accept-Language")
            response.vary.add("Cookie")
        return response
