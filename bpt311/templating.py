"""Jinja filters and globals: local times, ages, and what every page needs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from markupsafe import Markup, escape


def city_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["CITY_TIMEZONE"])


def local_time(moment: datetime | None, fmt: str = "%b %-d, %Y, %-I:%M %p") -> str:
    """A moment as the city's clocks show it: ``Nov 25, 2026, 9:05 AM``."""
    if moment is None:
        return ""
    return moment.astimezone(city_zone()).strftime(fmt)


def local_date(moment: datetime | None) -> str:
    return local_time(moment, "%b %-d, %Y")


def age(moment: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in words a person would say: ``3 days ago``."""
    if moment is None:
        return ""
    seconds = int(((now or datetime.now(UTC)) - moment).total_seconds())
    if seconds < 60:
        return "just now"
    for size, unit in (
        (86400 * 365, "year"),
        (86400 * 30, "month"),
        (86400 * 7, "week"),
        (86400, "day"),
        (3600, "hour"),
        (60, "minute"),
    ):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''} ago"
    return "just now"


def duration(span) -> str:
    """A length of time in the largest sensible unit: ``2 days``, ``5 hours``, ``10 minutes``."""
    seconds = int(span.total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "less than a minute"


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


def field_attrs(extra: dict, described: str, errors) -> dict:
    """HTML attributes for a form control: the caller's, plus what ties hint and error to it."""
    attrs = dict(extra)
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
            "site_url": app.config["SITE_URL"],
            "nav_endpoints": app.view_functions.keys(),
        }
