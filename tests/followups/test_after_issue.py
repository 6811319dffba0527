"""An order's end written without a year, before the issue date, is the coming year's."""

from __future__ import annotations

from datetime import date

import pytest

from bot.followups.service import _after_issue


@pytest.mark.parametrize(
    ("issued", "ends", "expected"),
    [
        (date(2026, 11, 1), None, None),
        (date(2026, 11, 1), date(2027, 10, 31), date(2027, 10, 31)),
        (date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 1)),
        (date(2026, 11, 1), date(2026, 10, 31), date(2027, 10, 31)),
        (date(2028, 3, 1), date(2028, 2, 29), date(2029, 2, 28)),  # no 29 February in 2029
    ],
)
def test_end_after_issue(issued: date, ends: date | None, expected: date | None) -> None:
    assert _after_issue(issued, ends) == expected
