"""Jinja filters and globals: local times, ages, and what every page needs."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import Flask
from markupsafe import Markup, escape

from bpt311 import i18n
from bpt311.site import city_zone, site_url


def local_time(moment: datetime | None, fmt: str | None = None) -> str:
    """A moment as the city's clocks show it, in the page's language (``Nov 25, 2026,
    9:05 AM``), or in ``fmt`` (strftime) for machine-readable uses."""
    if moment is None:
        return ""
    if fmt is None:
        return i18n.local_datetime_words(moment)
    return moment.astimezone(city_zone()).strftime(fmt)


def local_date(moment: datetime | None) -> str:
    return i18n.local_date_words(moment) if moment is not None else ""


def age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words a person would say: ``3 days ago``."""
    if moment is None:
        return ""
    return i18n.age_words(int(((now or datetime.now(UTC)) - moment).total_seconds()))


def duration(span) -> str:
    """A length of time in the largest sensible unit: ``2 days``, ``5 hours``, ``10 minutes``."""
    return i18n.duration_words(span)


URL_RE = re.compile(r"\bhttps?://[^\s<>\"']+", re.IGNORECASE)


def linkify(text: str | None) -> Markup:
    """Plain text, escaped, with web addresses made into links nobody vouches for."""
    out, last = [], 0
    text = text or ""
    for match in URL_RE.finditer(text):
        url = match.group(0).rstrip(".,;:!?)")
        out.append(escape(text[last : match.start()]))
        out.append(Markup('<a href="{0}" rel="nofollow ugc noopener">{0}</a>').format(url))
        last = match.start() + len(url)
    out.append(escape(text[last:]))
    return Markup("").join(out)


def iso(moment: datetime | None) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else ""


def field_attrs(extra: dict, described: str, errors, required: bool = False) -> dict:
    """HTML attributes for a form control: the caller's, plus what ties hint and error to it.

    Never the HTML ``required`` attribute: browsers expose an empty required control as
    invalid before anyone typed in it; ``aria-required`` says it is needed without that,
    and ``aria-invalid`` comes only with the server's error."""
    attrs = dict(extra)
    attrs.setdefault("required", False)
    if required and not attrs["required"]:
        attrs["aria-required"] = "true"
    if described:
        attrs["aria-describedby"] = described
    if errors:
        attrs["aria-invalid"] = "true"
    return attrs


def register(app: Flask) -> None:
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.add_template_filter(local_time)
    app.add_template_filter(local_date)
    app.add_template_filter(age)
    app.add_template_filter(iso)
    app.add_template_filter(duration)
    app.add_template_filter(linkify)
    app.add_template_global(field_attrs, "_attrs")

    @app.context_processor
    def _site():
        return {
            "city_name": app.config["CITY_NAME"],
            "site_url": site_url(),
            "nav_endpoints": app.view_functions.keys(),
        }
