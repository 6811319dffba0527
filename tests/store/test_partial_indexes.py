"""No driver statement binds a value that a partial index's WHERE reads (SQLite re-prepares it).

SQLite marks a statement to be prepared again whenever a bound parameter compared with a column
of a partial index's WHERE gets its value (the plan may use the index for some values only):
the session look-up every message runs cost 26-35 µs instead of 7-8. Such values are written
into the SQL (sa.literal(..., literal_execute=True)).
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from sqlalchemy.dialects import sqlite

import bot.store.repos
from bot.store.driver import Prepared
from bot.store.models import Base
from bot.store.repos.base import _claim
from bot.store.repos.sessions import ACTIVE_OF_CONTACT


def _partial_columns() -> dict[str, set[str]]:
    """Per table, the columns its partial indexes' WHERE clauses name."""
    found: dict[str, set[str]] = {}
    for table in Base.metadata.tables.values():
        for index in table.indexes:
            where = index.dialect_options["sqlite"].get("where")
            if where is None:
                continue
            text = str(where)
            for column in table.c:
                if re.search(rf"\b{column.name}\b", text):
                    found.setdefault(table.name, set()).add(column.name)
    return found


def _driver_statements() -> list[tuple[str, Prepared]]:
    """Every Prepared statement the repositories build at import, and the claims."""
    found: list[tuple[str, Prepared]] = []
    for info in pkgutil.iter_modules(bot.store.repos.__path__):
        module = importlib.import_module(f"bot.store.repos.{info.name}")
        for name, value in vars(module).items():
            values = value.values() if isinstance(value, dict) else [value]
            found += [(f"{info.name}.{name}", v) for v in values if isinstance(v, Prepared)]
    for table in Base.metadata.tables.values():
        if {"status", "due_at", "leased_until", "lease_owner"} <= set(table.c.keys()):
            for reclaims in (False, True) if "attempts" in table.c else (False,):
                found.append((f"claim {table.name}", _claim(table, "sqlite", reclaims)))
    return found


def test_the_partial_indexes_are_known() -> None:
    """The check below looks at these (a new partial index joins them by itself)."""
    assert _partial_columns() == {"sessions": {"status"}, "fires": {"status"}}


def test_no_bound_value_meets_a_partial_index() -> None:
    """Fails when a statement compares a partial index's column with a parameter."""
    dialect = sqlite.dialect()
    columns = _partial_columns()
    statements = _driver_statements()
    assert any(name == "sessions.ACTIVE_OF_CONTACT" for name, _ in statements)
    bad = []
    for name, prepared in statements:
        sql = prepared.compiled(dialect, frozenset()).sql
        for table, names in columns.items():
            for column in names:
                # `fires.status = ?`, `status IN (?, ?)`, `?= fires.status`, ...
                named = rf"\b{table}\.{column}"
                pattern = rf"{named}\s*(?:=|!=|<>|IN\s*\()\s*\?|\?\s*=\s*{named}\b"
                if re.search(pattern, sql):
                    bad.append(name)
    assert bad == []


async def test_the_literal_still_finds_the_waiting_session(db, now) -> None:
    """The status written into the SQL reads the same rows through SQLAlchemy and the driver."""
    async with db.uow() as uow:
        contact, _ = await uow.contacts.get_or_create("sim:partial", "simulator", now)
        ended = await uow.sessions.save(contact.id, None, {"n": 1}, "ended", now)
        waiting = await uow.sessions.save(contact.id, None, {"n": 2}, "waiting", now)
        active = await uow.sessions.get_active(contact.id)
        assert active is not None and (active.id, active.state) == (waiting, {"n": 2})
        assert ended != waiting
        through_sqlalchemy = (
            await uow.conn.execute(ACTIVE_OF_CONTACT.statement, {"of_contact": contact.id})
        ).all()
        assert [r.id for r in through_sqlalchemy] == [waiting]
