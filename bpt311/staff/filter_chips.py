"""The queue's chosen filters as chips: each says what it keeps out of the list and links
to the same queue without it, so a folded filter form still shows what is filtered."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask_babel import gettext as _

# Parameters that only mean something with another one; they go when it goes.
WITH_A_PLACE = ("near", "lat", "lon", "radius")
NOT_FILTERS = ("page", "radius", "lon")


@dataclass(frozen=True)
class Chip:
    label: str
    href: str


def _choice_label(field, value: str) -> str:
    for choice in getattr(field, "choices", None) or []:
        if isinstance(choice, tuple) and len(choice) >= 2 and str(choice[0]) == value:
            return str(choice[1])
        if getattr(choice, "value", None) is not None and str(choice.value) == value:
            return str(choice.label)
    return value


def _label(key: str, value: str, fields: dict) -> str | None:
    if key == "q":
        return _("Words: “%(words)s”", words=value[:40])
    if key == "all":
        return _("Every status")
    if key == "lat":
        return _("Near a point on the map")
    field = fields.get(key)
    if field is None:
        return None
    if key == "overdue":
        return str(field.label.text)
    return _(
        "%(filter)s: %(value)s",
        filter=field.label.text,
        value=_choice_label(field, value)[:60],
    )


def chosen_filters(args, fields: dict, base_url: str, defaults: dict) -> list[Chip]:
    """One chip per filter in ``args`` (the queue's query string; two statuses ticked are
    two chips), labelled from ``fields`` (name to form field), linking to ``base_url``
    with that one filter dropped. A parameter whose values are its ``defaults`` (what the
    queue shows anyway, as the folded form sends them) is no chip."""
    pairs = [(key, value) for key, value in args.items(multi=True) if value != ""]
    pairs = [(key, value) for key, value in pairs if key != "page"]
    as_default = {key for key, values in defaults.items() if set(args.getlist(key)) == set(values)}
    chips = []
    for index, (key, value) in enumerate(pairs):
        if key in NOT_FILTERS or key in as_default:
            continue
        label = _label(key, value, fields)
        if label is None:
            continue
        gone = {index}
        if key in WITH_A_PLACE:
            gone |= {i for i, (other, _value) in enumerate(pairs) if other in WITH_A_PLACE}
        rest = [pair for i, pair in enumerate(pairs) if i not in gone]
        chips.append(Chip(label, base_url + ("?" + urlencode(rest) if rest else "")))
    return chips
