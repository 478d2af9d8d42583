"""Atom 1.0 feeds (RFC 4287) of report timelines, built with the standard library.

Each entry is one public step of a report's timeline: reported, acknowledged, a comment,
closed... Entry ids are the step's permanent link, so a feed reader never shows one twice.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from flask import Response, current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from bpt311 import i18n
from bpt311.models import TimelineEvent, utcnow
from bpt311.reports.timeline import actor_words

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ET.register_namespace("", ATOM_NS)

# Feeds are read by people: their titles are in the language of the request.
STEP_TITLES = {
    "submitted": _l("Reported"),
    "acknowledged": _l("Acknowledged"),
    "assigned": _l("Assigned to a crew"),
    "recategorised": _l("Filed under another kind of problem"),
    "closed": _l("Closed"),
    "reopened": _l("Reopened"),
    "archived": _l("Archived"),
    "duplicate": _l("Merged into another report"),
    "comment": _l("Comment"),
    "note": _l("Note from the city"),
    "edited": _l("Description changed"),
    "withdrawn": _l("Withdrawn by the reporter"),
}


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: v for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _step_text(step: TimelineEvent) -> str:
    if step.kind == "submitted":
        return step.report.description
    if step.kind == "comment" and step.comment is not None:
        return step.comment.body
    return step.public_note


def _step_title(step: TimelineEvent) -> str:
    report = step.report
    what = STEP_TITLES.get(step.kind, step.kind.replace("_", " ").capitalize())
    return _(
        "%(what)s: %(category)s at %(place)s (%(number)s)",
        what=what,
        category=i18n.translated(report.category, "name"),
        place=report.place_label,
        number=report.tracking_number,
    )


def _actor(step: TimelineEvent) -> str:
    if step.actor_label:
        return actor_words(step.actor_label)
    return _("A resident") if step.kind != "note" else _("The city")


def atom(
    *,
    title: str,
    subtitle: str,
    self_path: str,
    page_path: str,
    steps: list[TimelineEvent],
    quiet_since: datetime | None = None,
) -> bytes:
    """A complete Atom document for these timeline steps, newest first. An empty feed is
    ``updated`` at ``quiet_since`` (when what it follows began), else now."""
    site = current_app.config["SITE_URL"]
    feed = ET.Element(f"{{{ATOM_NS}}}feed", {XML_LANG: i18n.current_language()})
    _sub(feed, "id", site + self_path)
    _sub(feed, "title", title)
    _sub(feed, "subtitle", subtitle)
    newest = max((step.created_at for step in steps), default=None)
    _sub(feed, "updated", _rfc3339(newest or quiet_since or utcnow()))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=site + self_path)
    _sub(feed, "link", rel="alternate", type="text/html", href=site + page_path)
    author = _sub(feed, "author")
    _sub(author, "name", _("City of Bridgeport") + " – Bridgeport 311")
    _sub(author, "uri", site + "/")
    _sub(feed, "generator", "bpt311", uri=site + "/")
    for step in steps:
        report = step.report
        link = f"{site}/reports/{report.tracking_number}"
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"{link}#event-{step.id}")
        _sub(entry, "title", _step_title(step))
        _sub(entry, "updated", _rfc3339(step.created_at))
        _sub(entry, "published", _rfc3339(step.created_at))
        who = _sub(entry, "author")
        _sub(who, "name", _actor(step))
        _sub(entry, "link", rel="alternate", type="text/html", href=link)
        _sub(
            entry,
            "category",
            term=report.category.service_code,
            label=i18n.translated(report.category, "name"),
        )
        text = _step_text(step)
        summary = _("%(status)s. %(place)s.", status=report.status_label, place=report.place_label)
        _sub(entry, "summary", summary)
        if text:
            _sub(entry, "content", text, type="text")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def feed_response(body: bytes) -> Response:
    """The document, with an ETag so feed readers that poll get 304s for nothing new."""
    response = Response(body, content_type=CONTENT_TYPE)
    response.set_etag(hashlib.sha256(body).hexdigest()[:32])
    response.headers["Cache-Control"] = "public, max-age=300"
    response.vary.update(("Accept-Language", "Cookie"))  # titles in the reader's language
    return response.make_conditional(request)
