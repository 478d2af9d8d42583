"""Photos shared into the app from the phone's share sheet (the PWA's share target posts
them here through :mod:`bpt311.pwa.views`), and deep-link points that
must survive the category step, kept in the sharer's own session until the
new-report form shows them.

The share target is posted by the operating system, so it carries no CSRF token. It
is safe without one: it only checks and stashes files into the session of whoever
posted them and redirects; nothing is sent or changed until that person submits the
report form, which is CSRF-protected.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import session
from flask_babel import gettext as _
from flask_babel import ngettext

from bpt311 import storage
from bpt311.media import UploadRefused
from bpt311.reports.intake import Intake, offer_photo_point
from bpt311.reports.service import MAX_PHOTOS, service_area

SHARED = "shared_media"
SHARED_TEXT = "shared_text"
POINT = "deep_link_point"


@dataclass
class Outcome:
    messages: list[str] = field(default_factory=list)
    refused: bool = False


def accept(uploads, text: str = "") -> Outcome:
    """Stash the shared photos for this session's next report form."""
    outcome = Outcome()
    files = [u for u in uploads if getattr(u, "filename", "") or getattr(u, "content_length", 0)]
    tokens: list[str] = []
    names: list[str] = []
    for upload in files[:MAX_PHOTOS]:
        upload.filename = upload.filename or "shared photo"
        try:
            item = storage.stash_photo(upload)
        except UploadRefused as exc:
            outcome.messages.append(str(exc))
            continue
        tokens.append(item.token)
        names.append(item.original_name)
    if len(files) > MAX_PHOTOS:
        outcome.messages.append(_("Only the first %(count)s photos were added.", count=MAX_PHOTOS))
    if not tokens:
        outcome.refused = True
        if not files:
            outcome.messages.insert(
                0,
                _(
                    "Nothing we can use was shared: share a photo of the problem, or fill in "
                    "the form below."
                ),
            )
        else:
            outcome.messages.append(_("No photo was attached. You can still report the problem."))
        return outcome
    session[SHARED] = tokens
    if text:
        session[SHARED_TEXT] = text[:1000]
    attached = ", ".join(names)
    outcome.messages.insert(
        0,
        ngettext(
            "%(names)s is attached. Choose what kind of problem it is.",
            "%(names)s are attached. Choose what kind of problem it is.",
            len(names),
            names=attached,
        ),
    )
    return outcome


def remember_point(latitude: str, longitude: str) -> None:
    """A deep link's point, kept while the resident picks the category it lacked."""
    if latitude and longitude:
        session[POINT] = [latitude[:20], longitude[:20]]


def pending_point() -> tuple[str, str] | None:
    point = session.pop(POINT, None)
    return (point[0], point[1]) if isinstance(point, list) and len(point) == 2 else None


def take_pending(form):
    """The intake a new form starts with: shared photos attached and the location of the
    first one that has GPS offered, or None when nothing was shared."""
    media = [m for m in (storage.load_stashed(t) for t in session.get(SHARED, [])) if m]
    if not media:
        session.pop(SHARED, None)
        return None
    intake = Intake(media=media)
    text = session.get(SHARED_TEXT, "")
    if text and not form.description.data:
        form.description.data = text
    located = [m for m in media if m.gps and service_area().contains(*m.gps)]
    if located and not (form.latitude.data and form.longitude.data):
        offer_photo_point(form, located[0])
        intake.notice = _("We found the location stored in your photo. Check it is right.")
    return intake


def forget() -> None:
    """The report was sent: what was shared has gone into it."""
    session.pop(SHARED, None)
    session.pop(SHARED_TEXT, None)
