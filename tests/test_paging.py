"""One paging helper: what ``?page=`` means on every list, and where the links stop."""

import pytest

from bpt311.paging import Page, page_number


@pytest.mark.parametrize(
    ("typed", "number"),
    [
        (None, 1),
        ("", 1),
        ("3", 3),
        (" 3 ", 3),
        ("0", 1),
        ("-2", 1),
        ("2.5", 1),
        ("x", 1),
        ("\u0663", 1),  # an Arabic-Indic three is not a page number here
        ("99999999999999999999", 500),
    ],
)
def test_a_page_number_is_read_the_same_way_everywhere(typed, number):
    assert page_number(typed, deepest=500) == number


def test_the_links_stop_at_the_last_page_and_at_the_deepest_allowed():
    assert Page([], total=41, number=2, size=20).has_next
    assert not Page([], total=41, number=3, size=20).has_next
    assert not Page([], total=10_000, number=5, size=20, deepest=5).has_next
    assert Page([], total=10_000, number=6, size=20, deepest=5).too_deep
    assert Page([], total=0, number=1, size=20).count == 1


def test_a_hostile_page_parameter_shows_the_first_page_of_reports(client):
    answer = client.get("/reports?page=%0d%0aSet-Cookie:%20x=1")
    assert answer.status_code == 200
    assert "x=1" not in answer.headers.get("Set-Cookie", "")
