"""Moderation: what residents flagged, and what staff do about it.

Every action (hide, restore, dismiss the flags, ban, unban) is one function of
:mod:`.service` and one transaction: the change, one audit row, a timeline event where the
report's public page changes, and the email to whoever posted the thing. :mod:`.queries`
finds what the queue shows (:class:`~.queries.Item`), :mod:`.forms` holds the hide and ban
forms, and :mod:`.views` (the routes, on the back office's blueprint) checks who may act
(staff on their department's reports, admins on all; bans are for admins), calls one
service function, and answers a plain form with a 303 and a flash message, or HTMX with the
item's partial.
"""
