"""Column types: UTCDateTime's one-step SQLite bind gives DATETIME's text exactly, and its
one-step SQLite read the value DATETIME's parsing and process_result_value gave."""

from __future__ import annotations

import random
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


# Texts a DATETIME column of SQLite holds: what the bind writes, SQLite's CURRENT_TIMESTAMP,
# a date alone, three digits of fraction, and an offset written by hand.
TEXTS = [
    "2026-12-03 10:42:47.075339",
    "2026-12-03 10:42:47.000000",
    "0999-01-02 03:04:05.000006",
    "2026-12-03 10:42:47",
    "2026-12-03",
    "2026-12-03 10:42:47.075",
    "2026-12-03T10:42:47.075339",
    "2026-12-03 12:42:47.075339+02:00",
]


def two_steps_read(text: str | None) -> datetime | None:
    """What SQLAlchemy's TypeDecorator would give: DATETIME's parsing, then
    process_result_value."""
    impl = sa.DateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert impl is not None
    return UTCDateTime().process_result_value(impl(text), SQLITE)


@pytest.mark.parametrize("text", [*TEXTS, None], ids=str)
def test_the_sqlite_read_gives_what_the_two_steps_gave(text: str | None) -> None:
    process = UTCDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert process is not None
    read = process(text)
    assert read == two_steps_read(text)
    assert read is None or read.tzinfo is UTC


def test_the_sqlite_read_refuses_what_the_two_steps_refused() -> None:
    process = UTCDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert process is not None
    for bad in ("not a time", "2026-13-01 00:00:00"):
        with pytest.raises(ValueError):
            two_steps_read(bad)
        with pytest.raises(ValueError):
            process(bad)


def test_the_sqlite_read_is_one_step() -> None:
    """Not TypeDecorator's wrapper around DATETIME's processor (two calls a value)."""
    process = UTCDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert process is not None
    assert process.__qualname__.startswith("UTCDateTime.")


def _stamps(seed: int, count: int) -> list[datetime]:
    """Random aware datetimes over the whole range, in UTC and in other zones."""
    rng = random.Random(seed)
    zones = [UTC, UTC, timezone(timedelta(0)), timezone(timedelta(hours=5, minutes=45))]
    zones += [timezone(timedelta(hours=-12)), timezone(timedelta(hours=14), "far")]
    found = []
    for _ in range(count):
        at = datetime.min + timedelta(microseconds=rng.randrange(315_537_897_600_000_000))
        at = at.replace(tzinfo=rng.choice(zones))
        if rng.random() < 0.2:
            at = at.replace(microsecond=0)
        try:
            at.astimezone(UTC)
        except OverflowError:  # an offset past year 1 or 9999
            continue
        found.append(at)
    return found


def test_the_sqlite_bind_writes_what_the_two_steps_wrote_for_many_values() -> None:
    """Each value twice and in turns (the kept last text), equal and equal-but-other objects:
    the text is always the value's own."""
    process = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert process is not None
    values = _stamps(19, 5_000)
    for value in values:
        expected = two_steps(value)
        assert process(value) == expected
        assert process(value) == expected  # the kept one
        twin = value + timedelta(0)  # equal, another object
        assert process(twin) == expected
    for first, second in zip(values, reversed(values), strict=True):
        assert (process(first), process(second)) == (two_steps(first), two_steps(second))
    with pytest.raises(ValueError, match="naive datetime"):
        process(values[0].replace(tzinfo=None))


def _texts(seed: int, count: int) -> list[str]:
    """DATETIME's texts of random values, and each of them spoiled: a character changed, an
    offset (in several spellings) or other text added, cut short."""
    rng = random.Random(seed)
    pieces = ["+00:00", "+01", "-0530", "+02:00", "Z", "T", " ", ":", ".", "-", "+", "0", "9"]
    found = []
    for at in _stamps(seed, count):
        text = two_steps(at)
        found.append(text)
        chars = list(text)
        chars[rng.randrange(len(chars))] = rng.choice("0123456789 T:.-+Z")
        found.append("".join(chars))
        found.append(text[: rng.randrange(len(text))] + rng.choice(pieces))
        found.append(text[:20] + rng.choice(pieces) + text[20 + rng.randrange(6) :])
        found.append(text[:10])  # a date alone, then 26 characters that end with an offset
        found.append(text[: 26 - 6] + "+01:00")
        found.append(text[: 26 - 3] + rng.choice(["+01", "-05", "Z00", "+0000"])[:3])
    return found


def test_the_sqlite_read_gives_what_the_two_steps_gave_for_many_texts() -> None:
    process = UTCDateTime().dialect_impl(SQLITE).result_processor(SQLITE, None)
    assert process is not None
    texts = _texts(23, 3_000)
    assert sum(len(t) == 26 for t in texts) > len(texts) // 3
    for text in texts:
        try:
            expected = two_steps_read(text)
        except ValueError:
            with pytest.raises(ValueError):
                process(text)
            continue
        read = process(text)
        assert read == expected and read is not None and read.tzinfo is UTC, text
