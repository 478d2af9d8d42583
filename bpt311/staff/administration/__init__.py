"""What administrators change, one module per thing: departments, the catalogue (categories
and their questions), people (staff accounts, roles, deactivation), Open311 API keys, and
the geography (service boundary and neighbourhoods).

Each function takes plain values and the acting admin, checks everything first, then makes
the change, its audit row (and any email) in one transaction ending in ``effects.commit()``.
A refusal raises :class:`~bpt311.problems.Refused` with messages keyed by form field,
before anything is written. The views are in :mod:`bpt311.staff.admin`.
"""
