"""The public timeline's words: a step's name and who took it, in the reader's language.

The services store a step's kind and its actor in English (``TimelineEvent.kind`` and
``actor_label``); the report page, the staff inspector, the watch feeds and the Open311
updates feed all show them through these two functions.
"""

from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

# A timeline step's name, as the conversation shows it.
STEP_LABELS = {
    "submitted": _l("Submitted"),
    "acknowledged": _l("Acknowledged"),
    "assigned": _l("Assigned"),
    "recategorised": _l("Recategorised"),
    "closed": _l("Closed"),
    "reopened": _l("Reopened"),
    "archived": _l("Archived"),
    "duplicate": _l("Duplicate"),
    "comment": _l("Comment"),
    "note": _l("Note"),
    "edited": _l("Edited"),
    "withdrawn": _l("Withdrawn"),
    "hidden": _l("Hidden"),
    "restored": _l("Restored"),
}


def step_words(kind: str) -> str:
    label = STEP_LABELS.get(kind)
    return str(label) if label else kind.replace("_", " ").capitalize()


def actor_words(label: str) -> str:
    """Who acted, in the page's language: the labels the services store in English are
    translated; a person's or a department's name stays as it is."""
    fixed = {
        "The reporter": _l("The reporter"),
        "A resident": _l("A resident"),
        "A former resident": _l("A former resident"),
        "City of Bridgeport": _l("City of Bridgeport"),
        "The city": _l("The city"),
    }
    if label in fixed:
        return str(fixed[label])
    city, comma, department = label.partition(", ")
    if comma and city == "City of Bridgeport":
        return _("City of Bridgeport, %(department)s", department=department)
    return label
