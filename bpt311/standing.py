"""Whether an account may add to what others see or the city must act on: the one rule
every resident write checks (a ban stops reports, comments and their edits, votes, flags,
closing, reopening, withdrawing, a public name or a public watch area).

What stays open to a banned person is what concerns only them: reading, signing out,
following (it only changes what they are sent), private watch areas and devices, and
downloading or deleting their data (deleting their own comment included).
"""

from __future__ import annotations

from bpt311.problems import CannotPost


def may_write(user) -> bool:
    """True unless ``user`` is a banned account (a guest's or staff's writes are theirs to
    check elsewhere; staff cannot be banned)."""
    return getattr(user, "banned_at", None) is None


def require_may_write(user) -> None:
    if not may_write(user):
        raise CannotPost()
