"""Prebuilt Core statements run on the driver connection of a unit of work, in its transaction.

Why: bench/hot_path.py measured a message's receive transaction at 7 ms of CPU for 14
statements, and cProfile put 43 % of it in AsyncConnection.execute (greenlet_spawn,
_execute_clauseelement, the compiled cache's key, the result machinery), while sqlite3 runs
each of those statements in 10-20 µs. So the statements every message runs are compiled once
per dialect here (SQL text and parameter order, with SQLAlchemy's own compiler) and run on the
sqlite3 or asyncpg connection behind the unit of work's connection. Values still go through
the column types' bind and result processors, rows are tuples whose columns are attributes
too, as on SQLAlchemy's Row (driver.Row, with `_fields` and `_mapping`), and driver errors
are wrapped as SQLAlchemy wraps them (IntegrityError with .orig, ...), so the callers see no
difference. Everything else keeps using Core through the connection.

The transaction is always the unit of work's, begun, committed and rolled back on the driver
too (finish() below): on SQLite the unit of work's connection begins (BEGIN IMMEDIATE) before
its first statement, here or through SQLAlchemy (sqlite_loop.LoopConnection.autobegin); on
asyncpg the adapter's lazily started transaction is started as SQLAlchemy's own cursor does
before a statement. On a connection of SQLAlchemy's own (not a unit of work's) SQLAlchemy
begins first, as before (db.py's "begin" event). Savepoints (db.Savepoint, savepoint() below)
run here too, so a statement run through SQLAlchemy or here inside one is rolled back with it.
SQLAlchemy does not see these statements: its events (before_cursor_execute) miss them, and
`executed` counts them instead.

Beyond the public API this reads SQLAlchemy's asyncpg adapter's private members and uses
sqlalchemy.engine.result.result_tuple (SQLAlchemy 2.1); tests/store/test_driver.py fails when
they change.
"""

from __future__ import annotations

import ast
import re
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from operator import itemgetter
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, cast

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.engine.result import result_tuple
from sqlalchemy.engine.row import Row as SARow
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler

# Statements run on the driver since the process started (bench/hot_path.py adds them to the
# ones SQLAlchemy's before_cursor_execute event counts).
executed = 0
# Called with each statement's SQL before it runs, as SQLAlchemy's before_cursor_execute
# listeners are (tests that check which statements a message runs); empty in production.
observers: list[Callable[[str], None]] = []

_MISSING: Any = object()
_STATUS = re.compile(r"(?:SELECT|UPDATE|DELETE|INSERT \d+) (\d+)")


class Row(tuple[Any, ...]):
    """A statement's row: a tuple whose columns are attributes too, as on SQLAlchemy's Row.

    Why: Row's attribute access (its compiled __getattribute__) asks hasattr(type(row), name)
    first, and for a column's name that fails, which formats an AttributeError's message:
    ~2,500 instructions a read, ~33 reads a message (bench/instructions.py, callgrind); a
    property of this class's per-statement subclass (row_type) reads the tuple in C.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()

    @property
    def _mapping(self) -> Mapping[str, Any]:
        """The columns by name (read-only), as Row._mapping."""
        return MappingProxyType(dict(zip(self._fields, self, strict=True)))

    def _asdict(self) -> dict[str, Any]:
        """The columns by name, as Row._asdict."""
        return dict(zip(self._fields, self, strict=True))

    if TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            """A column by name (the subclass's properties)."""


def row_type(keys: Sequence[str]) -> Callable[[Sequence[Any]], Any]:
    """What makes a statement's rows with these column names: a subclass of Row with a property
    per column, or SQLAlchemy's own Row when a name is taken twice or names an attribute of
    SQLAlchemy's Row (count, index, t, _mapping...: there the attribute wins, which a property
    here would not mimic)."""
    names = tuple(keys)
    if len(set(names)) != len(names) or any(hasattr(SARow, n) for n in names):
        return cast(Callable[[Sequence[Any]], Any], result_tuple(names))
    namespace: dict[str, Any] = {"__slots__": (), "_fields": names}
    for index, name in enumerate(names):
        namespace[name] = property(itemgetter(index))
    return type("Row", (Row,), namespace)


@dataclass(frozen=True, slots=True)
class _Compiled:
    """One statement compiled for one dialect and one set of parameter names."""

    sql: str
    # Per positional parameter: its name, its value when the statement fixes it (else
    # _MISSING: the caller gives it), its bind processor.
    binds: tuple[tuple[str, Any, Callable[[Any], Any] | None], ...]
    # Per result column: its result processor; and the Row maker named by the columns.
    results: tuple[Callable[[Any], Any] | None, ...]
    row: Callable[[Sequence[Any]], Row]
    returns_rows: bool
    # Made once per statement from generated source (_args_function, _convert_function):
    # `args` takes the caller's parameters to the driver's values, the statement's fixed
    # values inlined (processed once) and only the caller's values with a bind processor
    # processed; `convert` makes the driver's rows Rows, only the columns with a result
    # processor processed. Prepared.execute's generic loops over them were the largest cost
    # outside the understanding layer and the engine (1,873 of a message's 20,525 bytecodes).
    args: Callable[[Mapping[str, Any]], tuple[Any, ...]]
    convert: Callable[[Sequence[Sequence[Any]]], list[Row]]
    # The caller's parameter names, for the error when one is missing.
    required: tuple[str, ...] = ()
    # SQLite, an INSERT returning its new id (Prepared's `rowid`): the SQL has no RETURNING,
    # the one row is (cursor.lastrowid,) when the INSERT inserted a row, none when it did not.
    lastrowid: bool = False


@dataclass(slots=True)
class Outcome:
    """What a statement gave: its rows (processed) and how many rows it touched."""

    rows: list[Row]
    rowcount: int


class Prepared:
    """A Core statement compiled once per dialect and parameter names, run on the driver.

    `await STMT.rows(conn, params)` and friends: `conn` is the unit of work's connection.
    `rowid`: `statement` is this INSERT returning its table's id (see inserting()), which
    SQLite runs without RETURNING.
    """

    __slots__ = ("_cache", "_rowid", "statement")

    def __init__(self, statement: sa.ClauseElement, *, rowid: sa.Insert | None = None) -> None:
        self.statement = statement
        self._rowid = rowid
        self._cache: dict[tuple[str, str, frozenset[str]], _Compiled] = {}

    def compiled(self, dialect: Dialect, names: frozenset[str]) -> _Compiled:
        """The statement compiled for `dialect` with parameters `names` (cached)."""
        key = (dialect.name, dialect.driver, names)
        found = self._cache.get(key)
        if found is None:
            if self._rowid is not None and dialect.name == "sqlite":
                found = _compile_rowid(self.statement, self._rowid, dialect, names)
            else:
                found = _compile(self.statement, dialect, names)
            self._cache[key] = found
        return found

    async def execute(self, conn: AsyncConnection, params: Mapping[str, Any] = {}) -> Outcome:
        """Run the statement in the unit of work's transaction; its rows and row count."""
        rows, count = await self._run(conn, params)
        return Outcome(rows, count)

    async def _run(self, conn: AsyncConnection, params: Mapping[str, Any]) -> tuple[list[Row], int]:
        """execute()'s work: the rows (processed) and the row count, as a tuple.

        Performance: rows(), first(), scalar()... call this, not execute(): an Outcome a
        statement was a dataclass made and read once, ~9 a message. The connection checks
        read SQLAlchemy's and aiosqlite's attributes behind their accessors (the same values:
        Connection.in_transaction(), Connection.connection, aiosqlite's _conn), and the SQLite
        statement runs here, not in a function of its own: together 32 of ~120 bytecodes a
        statement, ~9.4 statements a message (bench/bytecodes.py).
        """
        sync = conn.sync_connection
        # sync.in_transaction(), read in place (tests/store/test_driver.py pins it).
        if sync is None or (transaction := sync._transaction) is None or not transaction.is_active:
            # A connection of SQLAlchemy's own (the units of work's are always in one): its
            # transaction (BEGIN IMMEDIATE on SQLite: db.py's event).
            await conn.begin()
            sync = conn.sync_connection
            assert sync is not None
        dialect = sync.dialect
        compiled = self._cache.get((dialect.name, dialect.driver, frozenset(params)))
        if compiled is None:
            compiled = self.compiled(dialect, frozenset(params))
        try:
            try:
                args = compiled.args(params)
            except KeyError:
                missing = next((name for name in compiled.required if name not in params), None)
                if missing is None:
                    raise  # a bind processor's own KeyError: refused value, as below
                raise sa.exc.InvalidRequestError(
                    f"a value is required for parameter {missing!r}"
                ) from None
        except Exception as exc:  # a StatementError, as SQLAlchemy raises for a refused value
            raise _wrap(exc, compiled, dialect, dialect.loaded_dbapi.Error) from exc
        # sync.connection, whose property returns this unless the connection was invalidated
        # (then it reconnects, or raises, as it always did).
        pooled = sync._dbapi_connection
        if pooled is None:
            pooled = sync.connection
        global executed
        executed += 1
        if observers:
            for observe in observers:
                observe(compiled.sql)
        try:
            if dialect.name == "sqlite":
                # The LoopConnection behind SQLAlchemy's adapter, as the aiosqlite dialect's
                # get_driver_connection finds it: the pool's driver_connection property chain
                # was ~37 bytecodes a statement, 360 a message.
                loop_connection: Any = pooled.dbapi_connection._connection  # type: ignore[union-attr]
                raw: sqlite3.Connection | None = loop_connection._connection
                if raw is None:
                    raw = loop_connection._conn  # closed: aiosqlite's own ValueError
                assert raw is not None
                if not raw.in_transaction:
                    if loop_connection.autobegin is not None:
                        # A unit of work's connection begins on its first statement
                        # (sqlite_loop).
                        try:
                            await loop_connection.begin(loop_connection.autobegin)
                        except sqlite3.Error as exc:
                            raise _wrap_sql(exc, "BEGIN", dialect) from exc
                    if not raw.in_transaction:
                        # Never autocommit a statement outside the unit of work.
                        raise RuntimeError("no transaction open on the SQLite connection")
                # One cursor kept for the connection's statements (a cursor made and closed
                # for each was ~1,500 instructions of ~17,000 for a look-up by key). Every
                # statement is read to its end (fetchall) or has no rows, so SQLite resets it
                # before the next one runs.
                cursor = loop_connection.driver_cursor
                if cursor is None:  # its first statement (a LoopConnection keeps its sqlite3 one)
                    cursor = loop_connection.driver_cursor = raw.cursor()
                try:
                    cursor.execute(compiled.sql, args)
                    if compiled.lastrowid:
                        count = cursor.rowcount
                        raw_rows = [(cursor.lastrowid,)] if count == 1 else []
                    else:
                        # The rows first: a RETURNING statement's count is known at its end.
                        raw_rows = cursor.fetchall() if compiled.returns_rows else []
                        count = cursor.rowcount
                except sqlite3.Error as exc:
                    raise _wrap(exc, compiled, dialect, sqlite3.Error) from exc
            elif dialect.driver == "asyncpg":
                raw_rows, count = await _run_asyncpg(
                    pooled.dbapi_connection, compiled, args, dialect
                )
            else:  # pragma: no cover - the helpline runs on these two only
                raise NotImplementedError(f"no driver path for {dialect.name}+{dialect.driver}")
        except sa.exc.DBAPIError as exc:
            if exc.connection_invalidated:
                # As SQLAlchemy does for a lost connection: the pool never hands it out again.
                await conn.invalidate()
            raise
        if not compiled.returns_rows:
            # Rows SQLAlchemy's compiler asked for itself (PostgreSQL's implicit RETURNING of
            # an INSERT's key), which SQLAlchemy's result does not hand out either.
            return [], count
        return compiled.convert(raw_rows), count

    async def rows(self, conn: AsyncConnection, params: Mapping[str, Any] = {}) -> list[Row]:
        """Every row the statement returns."""
        return (await self._run(conn, params))[0]

    async def first(self, conn: AsyncConnection, params: Mapping[str, Any] = {}) -> Row | None:
        """The first row, or None."""
        rows = (await self._run(conn, params))[0]
        return rows[0] if rows else None

    async def scalar(self, conn: AsyncConnection, params: Mapping[str, Any] = {}) -> Any:
        """The first column of the first row, or None when no row came back."""
        rows = (await self._run(conn, params))[0]
        return rows[0][0] if rows else None

    async def scalar_one(self, conn: AsyncConnection, params: Mapping[str, Any] = {}) -> Any:
        """The first column of the one row; NoResultFound when none came back."""
        rows = (await self._run(conn, params))[0]
        if not rows:
            raise sa.exc.NoResultFound("no row was found when one was required")
        return rows[0][0]

    async def rowcount(self, conn: AsyncConnection, params: Mapping[str, Any] = {}) -> int:
        """How many rows the statement changed."""
        return (await self._run(conn, params))[1]


def inserting(insert: sa.Insert) -> Prepared:
    """`insert` returning the new row's id (no row when it inserted none: ON CONFLICT DO
    NOTHING), as `insert.returning(table.c.id)` gives it; on SQLite without RETURNING.

    Why: SQLite collects a RETURNING statement's rows in a temporary B-tree of its own (opened,
    filled, read and closed at every run): an INSERT of a row cost ~32,000 instructions with
    RETURNING and ~10,500 without. The id is the row's rowid there (an INTEGER PRIMARY KEY
    is the rowid: _compile_rowid checks the column), which the cursor hands back."""
    table = insert.table
    assert isinstance(table, sa.Table)
    return Prepared(insert.returning(table.c.id), rowid=insert)


def _compile_rowid(
    statement: sa.ClauseElement, insert: sa.Insert, dialect: Dialect, names: frozenset[str]
) -> _Compiled:
    """`insert` (no RETURNING) for SQLite, its rows made as `statement`'s (the same INSERT
    returning the table's id): the id from the cursor's lastrowid."""
    table = insert.table
    assert isinstance(table, sa.Table)
    key = table.c.id
    rendered = dialect.type_compiler_instance.process(key.type.dialect_impl(dialect))
    if list(table.primary_key) != [key] or rendered != "INTEGER":
        # Only "INTEGER PRIMARY KEY" makes a column the rowid (https://sqlite.org/lang_createtable.html#rowid).
        raise sa.exc.ArgumentError(f"{table.name}.id is not SQLite's rowid ({rendered})")
    returning = _compile(statement, dialect, names)
    plain = _compile(insert, dialect, names)
    if [b[0] for b in plain.binds] != [b[0] for b in returning.binds]:  # pragma: no cover
        raise sa.exc.ArgumentError("the INSERT's parameters differ without RETURNING")
    return _Compiled(
        sql=plain.sql,
        binds=plain.binds,
        results=returning.results,
        row=returning.row,
        returns_rows=True,
        args=plain.args,
        convert=returning.convert,
        required=plain.required,
        lastrowid=True,
    )


def _compile(statement: sa.ClauseElement, dialect: Dialect, names: frozenset[str]) -> _Compiled:
    """SQL text, positional parameters and result processing, as SQLAlchemy would run it."""
    compiled = statement.compile(dialect=dialect, column_keys=sorted(names))
    assert isinstance(compiled, SQLCompiler)
    # What the caller gives (placeholders here): the required parameters and, as SQLAlchemy
    # does, any parameter named in `names` (it overrides a value the statement fixes).
    given: dict[str, Any] = {}
    for name, bind in compiled.binds.items():
        if bind.required or name in names:
            if bind.expanding:
                raise sa.exc.ArgumentError(f"expanding parameter {name!r} needs a fixed value")
            given[name] = None
    # The statement as it would be sent: expanding IN (...) of fixed values rendered, the
    # parameters in the driver's order, with the values the statement fixes.
    expanded = compiled.construct_expanded_state(given, escape_names=False)
    order = expanded.positiontup or []
    binds = []
    for name in order:
        # An IN (...) element's processor is the expanded state's; the others' are their types'.
        process = expanded.processors.get(name)
        if process is None and name in compiled.binds:
            process = compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
        if name in given:
            binds.append((name, _MISSING, process))
        else:
            binds.append((name, expanded.parameters[name], process))
    columns = list(getattr(statement, "exported_columns", ()))
    results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    keys = [c.key if c.key is not None else c.name for c in columns]
    row = row_type(keys)
    return _Compiled(
        sql=expanded.statement,
        binds=tuple(binds),
        results=results,
        row=row,
        returns_rows=bool(columns),
        args=_args_function(binds),
        convert=_convert_function(results, row),
        required=tuple(given),
    )


# The generated functions' source names no value and no column or parameter name: values,
# processors and the Row maker are the function's globals, named by position (_p3, _v3, _c3);
# the caller's parameter names appear only as string literals made by repr(), which gives a
# literal of exactly that string for any str (checked below). Like the stdlib's dataclasses,
# whose __init__ is generated the same way.
_GENERATED = "<bot.store.driver generated>"


def _literal(name: str) -> str:
    """`name` as a Python string literal, refused unless it reads back as exactly `name`."""
    if not isinstance(name, str):
        raise TypeError(f"a parameter name must be a str, not {type(name).__name__}")
    literal = str.__repr__(name)  # str's own: a subclass (quoted_name) may repr otherwise
    if ast.literal_eval(literal) != name:  # pragma: no cover - repr of a str always is
        raise ValueError(f"parameter name {literal} does not survive repr")
    return literal


def _make(source: str, name: str, namespace: dict[str, Any]) -> Any:
    """The function `name` defined by `source`, with `namespace` as its globals."""
    namespace["__builtins__"] = {}  # the source calls nothing but its own globals
    exec(compile(source, _GENERATED, "exec"), namespace)  # noqa: S102 - source made above
    return namespace[name]


def _args_function(
    binds: Sequence[tuple[str, Any, Callable[[Any], Any] | None]],
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """`args(params)`: the driver's values by position, as one tuple expression: a fixed value
    (processed here, once: bind processors are pure), the caller's value, or its processor's."""
    namespace: dict[str, Any] = {}
    items = []
    for position, (name, fixed, process) in enumerate(binds):
        if fixed is not _MISSING:
            namespace[f"_v{position}"] = fixed if process is None else process(fixed)
            items.append(f"_v{position}")
        elif process is None:
            items.append(f"params[{_literal(name)}]")
        else:
            namespace[f"_p{position}"] = process
            items.append(f"_p{position}(params[{_literal(name)}])")
    source = f"def args(params):\n    return ({''.join(item + ', ' for item in items)})\n"
    return cast(Callable[[Mapping[str, Any]], tuple[Any, ...]], _make(source, "args", namespace))


def _convert_function(
    results: Sequence[Callable[[Any], Any] | None], row: Callable[[Sequence[Any]], Row]
) -> Callable[[Sequence[Sequence[Any]]], list[Row]]:
    """`convert(rows)`: the driver's rows as Rows, each one expression: runs of columns without
    a result processor taken as slices (in C), the others through their processors.

    One row (most statements: a contact, a session, an id) is converted without the list
    comprehension, which is a function call of its own in Python 3.11; rows needing no
    processing go through map() (in C)."""
    namespace: dict[str, Any] = {"_row": row, "_len": len, "_list": list, "_map": map}
    parts = []
    start = 0  # the first column of the current run without processors
    for position, process in enumerate(results):
        if process is None:
            continue
        if start < position:
            parts.append(f"*r[{start}:{position}]")
        namespace[f"_c{position}"] = process
        parts.append(f"_c{position}(r[{position}])")
        start = position + 1
    if not parts:  # nothing to process: the driver's row as it is
        source = "def convert(rows):\n    return _list(_map(_row, rows))\n"
    else:
        if start < len(results):
            parts.append(f"*r[{start}:]")
        made = f"_row(({', '.join(parts)},))"
        source = (
            "def convert(rows):\n"
            "    if _len(rows) == 1:\n"
            "        r = rows[0]\n"
            f"        return [{made}]\n"
            f"    return [{made} for r in rows]\n"
        )
    return cast(Callable[[Sequence[Sequence[Any]]], list[Row]], _make(source, "convert", namespace))


def _wrap(
    exc: Exception,
    compiled: _Compiled,
    dialect: Dialect,
    base: type[Exception],
    gone: bool = False,
) -> Any:
    """The driver's error as SQLAlchemy would raise it (IntegrityError with .orig, ...);
    the parameters hidden, as create_engine's hide_parameters does."""
    return sa.exc.DBAPIError.instance(
        compiled.sql,
        None,
        exc,
        base,
        hide_parameters=True,
        connection_invalidated=gone,
        dialect=dialect,
        ismulti=False,
    )


def _wrap_sql(exc: Exception, sql: str, dialect: Dialect, gone: bool = False) -> Any:
    """A driver's error outside a Prepared statement (BEGIN, COMMIT), wrapped as SQLAlchemy
    wraps it."""
    return sa.exc.DBAPIError.instance(
        sql,
        None,
        exc,
        dialect.loaded_dbapi.Error,
        hide_parameters=True,
        connection_invalidated=gone,
        dialect=dialect,
    )


async def _run_asyncpg(
    adapter: Any, compiled: _Compiled, args: tuple[Any, ...], dialect: Dialect
) -> tuple[list[Any], int]:
    """On the asyncpg connection, with SQLAlchemy's adapter's prepared-statement cache and its
    transaction (started here if SQLAlchemy has not sent a statement yet, as its cursor does).

    Reads the adapter's private members (sqlalchemy/dialects/postgresql/asyncpg.py, 2.1):
    tests/store/test_driver.py fails if they change."""
    if adapter.isolation_level == "autocommit":
        raise RuntimeError("the driver path needs a transaction; this connection autocommits")
    async with adapter._execute_mutex:
        try:
            if adapter._transaction is None:
                await adapter._start_transaction()
            # The dialect's mark, as SQLAlchemy's cursor passes it (schema changes re-prepare).
            asof = getattr(dialect, "_invalidate_schema_cache_asof", 0)
            prepared, _ = await adapter._prepare(compiled.sql, asof)
            rows = await prepared.fetch(*args)
            status = prepared.get_statusmsg()
        except Exception as error:
            try:
                adapter._handle_exception(error)  # always raises, as the adapter's DBAPI error
            except Exception as translated:
                gone = dialect.is_disconnect(cast(Any, translated), adapter, None)
                base = dialect.loaded_dbapi.Error
                raise _wrap(translated, compiled, dialect, base, gone) from error
            raise  # pragma: no cover
    found = _STATUS.match(status or "")
    return rows, int(found.group(1)) if found else -1


# Savepoints on the driver (see savepoint() and db.Savepoint), one name for all: nested
# savepoints of one name are a stack (SQLite and PostgreSQL), RELEASE and ROLLBACK TO take the
# innermost.
SAVEPOINT = Prepared(sa.text("SAVEPOINT helpline"))
RELEASE = Prepared(sa.text("RELEASE SAVEPOINT helpline"))
ROLLBACK_TO = Prepared(sa.text("ROLLBACK TO SAVEPOINT helpline"))


@asynccontextmanager
async def savepoint(conn: AsyncConnection) -> AsyncIterator[None]:
    """A savepoint for a few statements of one repository method, on the driver: released when
    the block ends, rolled back to (and released) when it raises.

    For a statement that may fail and must not take the transaction with it (the outbox's
    mark of a provider's id on PostgreSQL); SQLAlchemy's begin_nested() cost two statements
    through its execute.
    """
    await SAVEPOINT.execute(conn)
    try:
        yield
    except BaseException:
        await ROLLBACK_TO.execute(conn)
        await RELEASE.execute(conn)
        raise
    await RELEASE.execute(conn)


async def finish(conn: AsyncConnection, commit: bool) -> bool:
    """COMMIT (or ROLLBACK) the transaction open on a unit of work's connection, on the driver;
    False when none was open (nothing ran since the last one ended).

    A unit of work's connection stays in one SQLAlchemy transaction for as long as db.py keeps
    it (its bookkeeping only: SQLite begins on the first statement, see sqlite_loop, asyncpg
    as its adapter always does), so SQLAlchemy's commit and rollback never run; its "commit"
    and "rollback" event listeners are called here instead. SQLAlchemy's AsyncConnection.commit,
    close and the pool's reset were most of a unit of work's cost: 110 µs of CPU for BEGIN
    IMMEDIATE, one SELECT and COMMIT on SQLite, where sqlite3 runs the three in ~10 µs.
    """
    sync = conn.sync_connection
    assert sync is not None
    dialect = sync.dialect
    pooled = sync.connection
    sql = "COMMIT" if commit else "ROLLBACK"
    if dialect.name == "sqlite":
        loop_connection: Any = pooled.driver_connection
        raw: sqlite3.Connection = loop_connection.sqlite
        if not raw.in_transaction:
            return False
        _dispatch(sync, commit)
        try:
            raw.execute(sql)
        except sqlite3.Error as exc:
            raise _wrap_sql(exc, sql, dialect) from exc
        return True
    adapter: Any = pooled.dbapi_connection
    async with adapter._execute_mutex:
        transaction = adapter._transaction
        if transaction is None:
            return False
        _dispatch(sync, commit)
        try:
            # Discards the adapter's transaction whether it succeeded or not, as its own
            # commit() and rollback() do.
            await adapter._call_and_discard(transaction.commit if commit else transaction.rollback)
        except Exception as error:
            try:
                adapter._handle_exception(error)  # always raises, as the adapter's DBAPI error
            except Exception as translated:
                gone = dialect.is_disconnect(cast(Any, translated), adapter, None)
                raise _wrap_sql(translated, sql, dialect, gone) from error
            raise  # pragma: no cover
    return True


def _dispatch(sync: sa.Connection, commit: bool) -> None:
    """SQLAlchemy's "commit" or "rollback" event, for its listeners (tests count COMMITs)."""
    listeners = sync.dispatch.commit if commit else sync.dispatch.rollback
    if listeners:
        listeners(sync)
