"""The table of a report's allowed moves, walked triple by triple: every status, every
move, every role. The expected table is written out here by hand, so a change to the rules
in bpt311/reports/lifecycle.py must be made twice, on purpose."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bpt311 import create_app
from bpt311.models import STATUSES, Category, Report, utcnow
from bpt311.reports import lifecycle
from tests.conftest import app_settings

R, P, S, Y = "resident", "reporter", "staff", "system"
# move: ({statuses it starts from}, {roles that may make it}, status it leaves)
EXPECTED = {
    "acknowledge": ({"open"}, {S, Y}, "acknowledged"),
    "close": ({"open", "acknowledged"}, {S, Y}, "closed"),
    "resolve": ({"open", "acknowledged"}, {P}, "closed"),
    "withdraw": ({"open"}, {P}, "closed"),
    "merge": ({"open", "acknowledged", "closed"}, {S}, "closed"),
    "reopen": ({"closed"}, {R, P, S, Y}, "open"),
    "archive": ({"closed"}, {Y}, "archived"),
}
TRIPLES = [
    (status, move, role) for status in STATUSES for move in EXPECTED for role in lifecycle.ROLES
]


def test_the_table_has_exactly_these_moves_and_roles():
    assert set(lifecycle.MOVES) == set(EXPECTED)
    assert set(lifecycle.ROLES) == {R, P, S, Y}
    assert lifecycle.INITIAL == "open"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """An app context for the refusals' translated sentences; no database is touched."""
    made = create_app(app_settings("sqlite://", tmp_path_factory.mktemp("lifecycle")))
    with made.app_context():
        yield made


def make_report(status: str, created_at=None) -> Report:
    """A report in memory: the moves only set its columns (the caller commits)."""
    created = created_at or utcnow() - timedelta(days=3)
    category = Category(service_code="pothole", name="Pothole", sla_hours=72)
    return Report(status=status, category=category, created_at=created, updated_at=created)


@pytest.mark.parametrize("status, move, role", TRIPLES)
def test_every_status_move_and_role(app, status, move, role):
    sources, roles, target = EXPECTED[move]
    created = utcnow() - timedelta(days=3)
    report = make_report(status, created)
    if status in ("closed", "archived"):
        report.closed_at = created + timedelta(days=1)
    if status == "acknowledged":
        report.acknowledged_at = created + timedelta(hours=1)
    now = utcnow()
    expected_ok = status in sources and role in roles
    assert lifecycle.allowed(status, move, role) is expected_ok
    if not expected_ok:
        with pytest.raises(lifecycle.MoveRefused) as refused:
            lifecycle.move(report, move, role, now)
        assert str(refused.value)  # a sentence a person can read
        assert report.status == status  # nothing changed
        return
    acknowledged_before = report.acknowledged_at
    made = lifecycle.move(report, move, role, now)
    assert report.status == target
    assert report.updated_at == now
    assert made.event
    if target == "acknowledged":
        assert report.acknowledged_at == now
    if target == "closed":
        assert report.closed_at == now
        if move in ("close", "merge"):  # the city closing it has seen it
            assert report.acknowledged_at == (acknowledged_before or now)
        else:  # the reporter's own close or withdrawal is no acknowledgement
            assert report.acknowledged_at == acknowledged_before
    if target == "open":
        assert report.closed_at is None
        assert report.due_at == now + timedelta(hours=report.category.sla_hours)
    if target == "archived":
        assert report.archived_at == now


def test_a_refusal_says_when_it_is_already_there(app):
    report = make_report("closed")
    with pytest.raises(lifecycle.MoveRefused) as refused:
        lifecycle.move(report, "close", S, utcnow())
    assert "already closed" in str(refused.value)


def test_moves_that_depend_on_the_row_are_not_made_in_bulk():
    with pytest.raises(ValueError):
        lifecycle.bulk("reopen", utcnow())
    condition, values = lifecycle.bulk("archive", utcnow())
    assert values["status"] == "archived" and "archived_at" in values
