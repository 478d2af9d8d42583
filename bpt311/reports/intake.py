"""Turning a posted new-report form into a report: uploads, location, duplicates.

The view hands over the bound form; :func:`take_report` either returns the new
report, or leaves the form carrying its errors and whatever it needs to show next
(uploads already kept, places to choose from, possible duplicates), so the page
can be shown again with nothing the resident gave lost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import request
from flask_babel import gettext as _
from wtforms import SelectChoice

from bpt311 import storage
from bpt311.geocoding import GeocoderUnavailable, search
from bpt311.media import UploadRefused
from bpt311.models import Category, Report
from bpt311.reports.forms import ReportForm
from bpt311.reports.queries import neighbourhoods
from bpt311.reports.service import (
    MAX_PHOTOS,
    InvalidReport,
    NewReport,
    find_by_submission_key,
    possible_duplicates,
    service_area,
    submit_report,
    validate,
)
from bpt311.standing import require_may_write


@dataclass
class Intake:
    """What the form page needs to show when the report is not sent yet."""

    media: list[storage.StashedMedia] = field(default_factory=list)
    duplicates: list = field(default_factory=list)
    notice: str = ""
    report: Report | None = None
    # Send it with the address as typed, its location to be confirmed later.
    unplaced: bool = False


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "") else None
    except ValueError:
        return None


def _add_error(form: ReportForm, name: str, message: str) -> None:
    target = form._fields.get(name, form.address)
    target.errors = [*list(target.errors or []), message]


def _kept_media(form: ReportForm) -> list[storage.StashedMedia]:
    removed = set(request.form.getlist("remove_media"))
    kept, out_of_reach = [], False
    for token in request.form.getlist("pending_media"):
        try:
            kept.append(storage.load_stashed(token, strict=True))
        except storage.StorageUnavailable:  # the object store is down: say so, send nothing
            out_of_reach = True
    if out_of_reach:
        _add_error(
            form,
            "photos",
            "A photo you added cannot be fetched just now, so the report was not sent. "
            "Try again in a few minutes, or add your photos again.",
        )
    for item in kept:
        if item and item.token in removed:
            storage.discard_stashed(item)
    return [item for item in kept if item and item.token not in removed]


def _take_uploads(form: ReportForm, media: list[storage.StashedMedia]) -> None:
    refused = []
    if any(getattr(f, "filename", "") for f in [*(form.photos.data or []), form.video.data]):
        storage.clean_stash()  # forget uploads of forms abandoned more than a day ago
    for upload in form.photos.data or []:
        if not getattr(upload, "filename", ""):
            continue
        if len([m for m in media if m.kind == "photo"]) >= MAX_PHOTOS:
            refused.append(
                _(
                    "%(file)s was not added: you can send up to %(max)d photos",
                    file=upload.filename,
                    max=MAX_PHOTOS,
                )
            )
            continue
        try:
            media.append(storage.stash_photo(upload))
        except UploadRefused as exc:
            refused.append(str(exc))
    if refused:
        form.photos.errors = [" ".join(refused)]
    video = form.video.data
    if getattr(video, "filename", ""):
        if any(m.kind == "video" for m in media):
            form.video.errors = [_("You have already added a video: remove it to send another")]
            return
        try:
            stashed = storage.stash_video(video)
        except UploadRefused as exc:
            form.video.errors = [str(exc)]
            return
        media.append(stashed)


def _resolve_location(form: ReportForm, intake: Intake) -> tuple[float | None, float | None]:
    """The point of the report, from a choice, the pin, the address or a photo.

    A point once found is kept in the hidden latitude/longitude fields, so a form shown
    again (possible duplicates, another field's error) sends it back as it is."""
    choice = form.location_choice.data or ""
    if choice and "|" in choice:
        point, _bar, address = choice.partition("|")
        lat_text, _comma, lon_text = point.partition(",")
        if address:  # a geocoded place; a photo's point has none and keeps what was typed
            form.address.data = address
        latitude, longitude = _number(lat_text), _number(lon_text)
        if latitude is not None and longitude is not None:
            _keep_point(form, latitude, longitude)
        return latitude, longitude
    if (form.located_for.data or "").startswith("@") and _words(
        form.located_for.data[1:]
    ) != _words(form.address.data):  # the address was changed: look the new one up
        form.latitude.data = form.longitude.data = form.located_for.data = ""
    latitude, longitude = _number(form.latitude.data), _number(form.longitude.data)
    if (form.latitude.data or form.longitude.data) and (latitude is None or longitude is None):
        _add_error(form, "address", _("That location is not a real place on the map"))
        return None, None
    if latitude is not None and longitude is not None:
        return latitude, longitude
    typed = (form.address.data or "").strip()
    if typed:
        try:
            places = search(typed)
        except GeocoderUnavailable:
            _as_typed(form, intake, typed, geocoder_down=True)
            return None, None
        if not places:
            _as_typed(form, intake, typed, geocoder_down=False)
            return None, None
        if len(places) == 1:
            form.address.data = places[0].address
            _keep_point(form, places[0].latitude, places[0].longitude)
            return places[0].latitude, places[0].longitude
        _offer_places(form, [(p.latitude, p.longitude, p.address) for p in places])
        form.location_choice.errors = [_("Choose which place you mean")]
        return None, None
    area = service_area()
    located = [m for m in intake.media if m.gps and area.contains(*m.gps)]
    if located:
        offer_photo_point(form, located[0])
        intake.notice = _(
            "We found the location stored in your photo. Check it is right "
            "and send the report again."
        )
        return None, None
    return None, None


def _words(text: str | None) -> str:
    return " ".join((text or "").split())


def _keep_point(form: ReportForm, latitude: float, longitude: float) -> None:
    """Keep a point the server found in the hidden fields, with the address it is for."""
    form.latitude.data, form.longitude.data = f"{latitude:.6f}", f"{longitude:.6f}"
    form.located_for.data = "@" + _words(form.address.data)


def _as_typed(form: ReportForm, intake: Intake, typed: str, geocoder_down: bool) -> None:
    """An address the geocoder cannot place: offered once to be sent as typed, with the
    neighbourhood to choose (no JavaScript needed); sent again, it is accepted so."""
    _offer_neighbourhoods(form)
    if form.address_as_typed.data == "1":
        intake.unplaced = True
        return
    form.address_as_typed.data = "1"
    if geocoder_down:
        intake.notice = _(
            "We can't look up addresses right now. Choose the neighbourhood if you know it "
            "and send the report again: we will keep the address as you typed it and find "
            "the place later."
        )
        return
    _add_error(
        form,
        "address",
        _(
            "We could not find “%(address)s” in Bridgeport. Check the spelling, or add a "
            "house number, the nearest cross street or a landmark. Or choose the "
            "neighbourhood and send it as it is: the city will find the place.",
            address=typed,
        ),
    )


def _offer_neighbourhoods(form: ReportForm) -> None:
    form.neighbourhood.choices = [
        SelectChoice("", _("I don't know")),
        *(SelectChoice(str(row.id), row.name) for row in neighbourhoods()),
    ]


def _chosen_neighbourhood(form: ReportForm) -> int | None:
    value = (form.neighbourhood.data or "").strip()
    return int(value) if value.isdigit() and len(value) < 10 else None


def _offer_places(form: ReportForm, places, checked: bool = False) -> None:
    form.location_choice.choices = [
        SelectChoice(f"{lat:.6f},{lon:.6f}|{address}", address) for lat, lon, address in places
    ]
    if checked:
        form.location_choice.data = form.location_choice.choices[0].value


def offer_photo_point(form: ReportForm, photo: storage.StashedMedia) -> None:
    """Offer, pre-selected, the point stored in a photo. The choice carries no address (a
    file name is never one): the report gets its address by reverse geocoding."""
    lat, lon = photo.gps
    value = f"{lat:.6f},{lon:.6f}|"
    label = _("Where your photo %(file)s was taken", file=photo.original_name)
    form.location_choice.choices = [SelectChoice(value, label)]
    form.location_choice.data = value


def take_report(form: ReportForm, category: Category, reporter=None, source: str = "web") -> Intake:
    """Check everything, keep every upload, and send the report if all is well."""
    require_may_write(reporter)  # before any upload is kept: a banned account sends nothing
    already = find_by_submission_key(form.submission_key.data)
    if already:  # the same form sent again (a reload, a second tap): the same report
        return Intake(report=already)
    form.validate()  # WTForms-level checks: CSRF, contact details
    intake = Intake(media=_kept_media(form))
    _take_uploads(form, intake.media)
    latitude, longitude = _resolve_location(form, intake)
    new = NewReport(
        category_code=category.service_code,
        description=form.description.data or "",
        latitude=latitude,
        longitude=longitude,
        address=form.address.data or "",
        answers={f.name.removeprefix("answer_"): f.data for f in form.answer_fields()},
        contact_name=form.contact_name.data or "",
        contact_email=form.contact_email.data or "",
        contact_phone=form.contact_phone.data or "",
        anonymous=bool(form.anonymous.data),
        source=source,
        submission_key=form.submission_key.data or None,
        media=intake.media,
        photo_alt=form.photo_alt.data or "",
        unplaced=intake.unplaced,
        neighbourhood_id=_chosen_neighbourhood(form) if intake.unplaced else None,
    )
    try:
        validate(new)
    except InvalidReport as exc:
        for name, message in exc.errors.items():
            if name == "location" and (
                form.address.errors or form.location_choice.errors or intake.notice
            ):
                continue  # already explained by the address or the offered places
            _add_error(form, name, message)
    if any(f.errors for f in form) or intake.notice:
        return intake
    if latitude is None and not intake.unplaced:
        return intake
    if latitude is not None and not form.not_duplicate.data:
        intake.duplicates = possible_duplicates(category.id, latitude, longitude)
        if intake.duplicates:
            return intake
    try:
        intake.report = submit_report(new, reporter=reporter)
    except OSError:  # no room to give the photos their final names: nothing was saved
        _add_error(
            form,
            "photos",
            _(
                "Your photos could not be saved just now, so the report was not sent. "
                "Try again in a few minutes, or send it without them."
            ),
        )
    return intake
