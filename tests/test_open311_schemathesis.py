"""The OpenAPI description against the app itself: schemathesis generates requests for every
JSON operation (in-process, through WSGI) and checks each answer against the document:
never a server error, only documented statuses and content types, bodies that match
their schemas.

Bounded: 25 generated examples per operation and mode. (schemathesis' pytest loader for
fixtures does not run under pytest 9, so its strategies are used with Hypothesis directly.)
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from bpt311.api.keys import create_key
from bpt311.models import utcnow
from tests.factories import make_report

OPERATIONS = [
    "discovery",
    "listServices",
    "serviceDefinition",
    "serviceDefinitionSingular",
    "listRequests",
    "listRequestUpdates",
    "getRequest",
    "requestIdFromToken",
    "createRequest",
]
# The schema cannot say that a point must be inside Bridgeport, nor which attributes each
# service requires, so schema-valid reports may rightly be refused.
EXCLUDED = {("createRequest", GenerationMode.POSITIVE): [positive_data_acceptance]}
BOUNDED = settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,  # the same requests every run: a failure here is never a fluke
)


def _start_after_end(start: str, end: str) -> bool:
    """Start after end, or further apart than GeoReport's 90 days: rules a schema cannot say."""
    try:
        first = datetime.fromisoformat(str(start).upper())
        last = datetime.fromisoformat(str(end).upper())
        return first > last or last - first > timedelta(days=90)
    except (TypeError, ValueError):  # negative cases send numbers, nulls, nonsense
        return False


@pytest.fixture
def described(make_app):
    """The app with the city, two reports and a key, and the schema it serves of itself."""
    app = make_app(RATELIMIT_ENABLED=False)
    with app.app_context():
        from bpt311.seed import load_city

        load_city()
        make_report(created_at=utcnow() - timedelta(days=1))
        make_report("graffiti", status="closed", created_at=utcnow() - timedelta(days=2))
        key = create_key("schemathesis").secret
    return schemathesis.openapi.from_wsgi("/open311/openapi.json", app), key


def test_every_operation_is_exercised(described):
    schema, _ = described
    found = [result.ok().definition.raw["operationId"] for result in schema.get_all_operations()]
    assert sorted(found) == sorted(OPERATIONS)


@pytest.mark.parametrize(
    "operation_id, mode",
    [
        (operation_id, mode)
        for operation_id in OPERATIONS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if (operation_id, mode) != ("discovery", GenerationMode.NEGATIVE)  # it takes no input
    ],
)
def test_operation_answers_as_described(described, operation_id, mode):
    schema, key = described
    operation = schema.find_operation_by_id(operation_id)
    strategies = [operation.as_strategy(mode)]
    if operation_id == "createRequest":  # with a real key too, so checks get past the 403
        strategies.append(operation.as_strategy(mode, query={"api_key": key}))
    for strategy in strategies:

        @given(case=strategy)
        @BOUNDED
        def check(case):
            query = case.query or {}
            if {"start_date", "end_date"} <= set(query):  # the one rule a schema cannot say
                assume(not _start_after_end(query["start_date"], query["end_date"]))
            if mode == GenerationMode.NEGATIVE:
                # Empty filters are documented as allowed (allowEmptyValue: GeoReport counts
                # them as not sent), but schemathesis still generates them as invalid.
                assume("" not in query.values())
            # The WSGI transport does not undo the compression the site applies to any
            # client that accepts it, so ask for plain bodies.
            case.call_and_validate(
                headers={"Accept-Encoding": "identity"},
                excluded_checks=EXCLUDED.get((operation_id, mode), []),
            )

        check()
