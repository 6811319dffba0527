"""A valid row in every table of the models, for tests that must see rows kept (migrations)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa

from bot.store.db import create_engine
from bot.store.models import Base, OneOf, UTCDateTime
from tests.store.fixtures import NOW


def one_ofs() -> list[tuple[sa.Table, str, OneOf]]:
    """Every listed-values CHECK of the models: (table, constraint name, expression)."""
    found = []
    for table in Base.metadata.sorted_tables:
        for constraint in table.constraints:
            if isinstance(constraint, sa.CheckConstraint):
                assert isinstance(constraint.sqltext, OneOf), constraint.name
                found.append((table, str(constraint.name), constraint.sqltext))
    return found


def _value(column: sa.Column[Any], rows: dict[str, dict[str, Any]]) -> Any:
    for fk in column.foreign_keys:
        return rows[fk.column.table.name][fk.column.name]
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return NOW
    if isinstance(kind, sa.Boolean):
        return False
    if isinstance(kind, sa.Integer):
        return 1
    if isinstance(kind, sa.Date):
        return date(2026, 11, 23)
    if isinstance(kind, sa.JSON):
        return {}
    if isinstance(kind, sa.LargeBinary):
        return b"x"
    if isinstance(kind, sa.String):
        return "x"
    raise AssertionError(f"no value for {column}")


def _rows() -> dict[str, dict[str, Any]]:
    """A valid row of every table (parents first, each child pointing at them)."""
    rows: dict[str, dict[str, Any]] = {}
    checked = {(t.name, o.column): o.values[0] for t, _, o in one_ofs()}
    for table in Base.metadata.sorted_tables:
        rows[table.name] = {
            c.name: checked.get((table.name, c.name), _value(c, rows)) for c in table.c
        }
    return rows


async def insert_rows(conn: Any) -> dict[str, dict[str, Any]]:
    rows = _rows()
    for table in Base.metadata.sorted_tables:
        await conn.execute(table.insert().values(rows[table.name]))
    return rows


T = TypeVar("T")


async def look(url: str, read: Callable[[sa.Connection], T], fill: bool = False) -> T:
    """`read` run on a connection to `url`, after a row in every table if `fill`."""
    engine = create_engine(url)
    try:
        if fill:
            async with engine.begin() as conn:
                await insert_rows(conn)
        async with engine.connect() as conn:
            return await conn.run_sync(read)
    finally:
        await engine.dispose()
