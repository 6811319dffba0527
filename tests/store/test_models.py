"""Column types: UTCDateTime's one-step SQLite bind gives DATETIME's text exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.store.models import UTCDateTime

SQLITE = sqlite.dialect()

VALUES = [
    datetime(2026, 12, 3, 10, 42, 47, 75339, tzinfo=UTC),
    datetime(2026, 12, 3, 10, 42, 47, tzinfo=UTC),  # no microseconds: still written
    datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year of three digits: zero-padded
    datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=2))),  # another zone
    datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
]


def two_steps(value: datetime) -> str:
    """What SQLAlchemy's TypeDecorator would send: process_bind_param, then DATETIME's text."""
    utc = UTCDateTime().process_bind_param(value, SQLITE)
    impl = sa.DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert impl is not None
    return impl(utc)


@pytest.mark.parametrize("value", VALUES, ids=str)
def test_the_sqlite_bind_writes_what_the_two_steps_wrote(value: datetime) -> None:
    process = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert process is not None
    assert process(value) == two_steps(value)


def test_the_sqlite_bind_refuses_naive_datetimes_and_passes_none() -> None:
    process = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert process is not None
    assert process(None) is None
    with pytest.raises(ValueError, match="naive datetime"):
        process(datetime(2026, 12, 3, 10, 0))


def test_postgresql_keeps_the_aware_value() -> None:
    dialect = postgresql.dialect()
    process = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    value = datetime(2026, 12, 3, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    bound = process(value) if process is not None else value
    assert bound == value and bound.tzinfo is UTC
