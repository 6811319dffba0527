"""A prebuilt statement (bot/store/driver.py Prepared) run through SQLAlchemy and on the driver,
on the same data: the repositories' tests check that both give the same rows."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from bot.store import driver


async def both(
    conn: AsyncConnection, prepared: driver.Prepared, params: Mapping[str, Any] = {}
) -> tuple[Any, Any]:
    """The rows (or, for a statement without any, the row count) SQLAlchemy gives and those the
    driver gives, each in a savepoint rolled back after it (a DML statement sees the same data
    both times)."""
    async with conn.begin_nested() as savepoint:
        result = await conn.execute(prepared.statement, dict(params))
        returns_rows = result.returns_rows
        by_sqlalchemy = result.all() if returns_rows else result.rowcount
        await savepoint.rollback()
    async with conn.begin_nested() as savepoint:
        outcome = await prepared.execute(conn, params)
        by_driver = outcome.rows if returns_rows else outcome.rowcount
        await savepoint.rollback()
    return by_sqlalchemy, by_driver


def same(expected: Any, got: Any, ignore: Iterable[str] = ()) -> None:
    """Equal rows (names, Python types value by value, read by name, by position and as a
    mapping) or equal row counts; `ignore`: columns left out (a new row's id: PostgreSQL's
    sequences do not roll back with the savepoint)."""
    if isinstance(expected, int):
        assert got == expected >= 0
        return
    left_out = set(ignore)
    assert len(got) == len(expected)
    for want, have in zip(expected, got, strict=True):
        assert have._fields == want._fields
        # Read as the repositories read them: by name (driver.Row's properties) and by position.
        kept = [i for i, k in enumerate(want._fields) if k not in left_out]
        by_name = {k: getattr(have, k) for k in have._fields if k not in left_out}
        assert by_name == {k: getattr(want, k) for k in want._fields if k not in left_out}
        assert [have[i] for i in kept] == [want[i] for i in kept]
        assert [type(have[i]) for i in kept] == [type(want[i]) for i in kept]
        assert len(have) == len(want)
        mine = {k: v for k, v in have._mapping.items() if k not in left_out}
        theirs = {k: v for k, v in want._mapping.items() if k not in left_out}
        assert mine == theirs
        assert [type(v) for v in mine.values()] == [type(v) for v in theirs.values()]
