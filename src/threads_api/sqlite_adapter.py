"""SQLAlchemy's aiosqlite dialect, with each statement one trip to the connection's thread.

Stock, a statement costs four trips between the event loop and aiosqlite's thread: make a
cursor, execute, fetch the rows, close the cursor. Each trip is a future, a wake-up of the
loop and a turn in its queue; on SQLite's one writer connection, a write transaction holds
the database's write lock through all of them, so under load the turns add up to most of
the time a write holds the lock (issue 11, docs/perf-notes-issue11.md). Here one function
does all four on the thread, and the cursor SQLAlchemy sees holds what it returned.

Relies on aiosqlite's `Connection._execute` (run a function on its thread) and `_conn` (its
sqlite3 connection), stable since aiosqlite 0.17; the version is pinned (pyproject.toml) and
tests/test_sqlite_adapter.py checks the trip count.
"""

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

# The driver name db.py gives its SQLite URLs: `sqlite+threads_aiosqlite://…`.
DRIVER = "threads_aiosqlite"

_Outcome = tuple[list[Any], Any, int, int | None]


def _execute(connection: sqlite3.Connection, operation: str, parameters: Any) -> _Outcome:
    """On aiosqlite's thread: the statement, its rows and what SQLAlchemy asks of a cursor."""
    cursor = connection.cursor()
    try:
        if parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return rows, description, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _execute_many(connection: sqlite3.Connection, operation: str, rows: Any) -> _Outcome:
    cursor = connection.cursor()
    try:
        cursor.executemany(operation, rows)
        return [], None, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A cursor that is only the outcome of its last statement: no aiosqlite cursor behind."""

    __slots__ = ("_arraysize", "_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        # sqlite3's default: what `fetchmany()` without a size fetches.
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(
                lambda: _execute(self._connection._conn, operation, parameters)
            )
        self._take(outcome)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(
                lambda: _execute_many(self._connection._conn, operation, seq_of_parameters)
            )
        self._take(outcome)

    def _take(self, outcome: _Outcome) -> None:
        rows, self._description, self._rowcount, self._lastrowid = outcome
        self._rows = collections.deque(rows)

    async def _async_soft_close(self) -> None:
        return  # nothing is open on the thread

    def close(self) -> None:
        self._rows.clear()


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneTripCursor

    def rollback(self) -> None:
        # The pool rolls back every connection it gets back, most of them committed already:
        # no trip for nothing. (Read here, on the loop: nothing else runs on it meanwhile.)
        driver = self._connection._connection
        if driver is not None and driver.in_transaction:
            super().rollback()


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        connection = self.aiosqlite.connect(*arg, **kw)
        connection._thread.daemon = True  # as the stock dialect: never blocks exit
        return OneTripConnection(self, await_(connection))


class OneTripDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneTripDbapi:
        return OneTripDbapi(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneTripDialect")
