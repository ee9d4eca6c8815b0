"""Reads on the drivers' own connections, for the routes read most (issue 11, ADR 0011): no
ORM session, no SQLAlchemy statement pipeline, no trip to aiosqlite's thread per statement.

A read is a *unit*: a generator that yields `(statement, arguments)` and is sent back each
statement's rows, so one definition runs on both drivers:

- SQLite: the whole unit runs in one call on a reader thread, each thread with its own
  `sqlite3` connection, every statement its own read transaction (WAL readers never wait for
  the writer). The event loop is never blocked by a busy or slow disk.
- PostgreSQL: each statement is one round trip on a pooled asyncpg connection, prepared once
  per connection (asyncpg's statement cache), outside any transaction: under READ COMMITTED
  a transaction would give its statements no common snapshot anyway.

Outages answer 503 as the rest of the service does (app.py), and a SQLite file that left
its path is never re-created empty.
"""

import asyncio
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

import asyncpg  # type: ignore[import-untyped]  # no stubs
from sqlalchemy.engine import URL, make_url

from threads_api.config import Settings
from threads_api.errors import ServiceUnavailable

logger = logging.getLogger("threads_api.db")

T = TypeVar("T")
P = ParamSpec("P")
# Tuples from sqlite3, asyncpg Records from PostgreSQL: both index by column number.
Rows = list[Any]
# What a unit yields: a statement and its arguments.
Step = tuple["Statement", tuple[Any, ...]]
# A unit yields steps, and is sent back each one's rows.
Unit = Generator[Step, Rows, T]

# SQLSTATE classes that mean "the server is not there for us right now": connection exception,
# insufficient resources (too many connections), operator intervention (shutting down,
# starting up after a crash - asyncpg's CannotConnectNowError - or a cancelled statement).
# The engines' errors are classified with them too (app.py).
OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})
_READER_THREADS = 2
# Reads and writes: a write holds one for its transaction, while it waits on a row lock too.
_POSTGRES_CONNECTIONS = 16


def sqlite_pragmas(settings: Settings) -> list[str]:
    """What every SQLite connection of the service is set up with, the engines' (db.py) and
    the plain ones alike."""
    return [
        "PRAGMA journal_mode=WAL",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}",
        # FULL: an acknowledged commit survives power loss, not only a process crash.
        "PRAGMA synchronous=FULL",
        # Erasure (ADR 0007): freed space is zeroed, so deleted text does not linger in free
        # pages or cells. Old WAL frames are dealt with by `checkpoint_after_erasure`.
        "PRAGMA secure_delete=ON",
    ]


def sqlite_path(settings: Settings) -> str | None:
    """The SQLite file's path; None on PostgreSQL."""
    return make_url(settings.database_url).database if settings.is_sqlite else None


def sqlite_file_id(path: str) -> tuple[int, int] | None:
    """The identity of the file at `path` now; None when there is none."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def connect_sqlite(
    path: str,
    settings: Settings,
    current: sqlite3.Connection | None,
    current_file_id: tuple[int, int] | None,
    *,
    writer: bool = False,
) -> tuple[sqlite3.Connection, tuple[int, int] | None]:
    """`current`, or a new connection when the file it has open is no longer the one at
    the path (moved away or replaced: a detached copy must not be served); with its file's
    identity. A reader's connection is read-only; transactions are the caller's."""
    file_id = sqlite_file_id(path)
    if current is not None and file_id is not None and file_id == current_file_id:
        return current, file_id
    # mode=rw: a missing file is an outage ("unable to open database file"), not created.
    # `current` stays open until a new connection stands: the file may come back.
    connection = sqlite3.connect(
        f"file:{quote(path)}?mode=rw",
        uri=True,
        timeout=settings.sqlite_busy_timeout_ms / 1000,
        isolation_level=None,
        check_same_thread=False,
    )
    for pragma in sqlite_pragmas(settings) if writer else ["PRAGMA query_only=ON"]:
        connection.execute(pragma)
    if current is not None:
        current.close()
    return connection, file_id


@dataclass(frozen=True, slots=True)
class Statement:
    sqlite: str
    postgres: str
    # Appends an event: takes the space id first and returns the position (writes.py).
    appends_event: bool = False
    # SQLite has no data-modifying CTE: a write that PostgreSQL does in one statement (a
    # row and the event appended with it, event/repository.py) is two statements there.
    # The write units run `sqlite_first` on the arguments from `sqlite_split` on, then
    # `sqlite` on those before it, and are sent the second's rows.
    sqlite_first: str | None = None
    sqlite_split: int = 0


class _SqliteSql:
    @staticmethod
    def ts(column: str) -> str:
        # Stored as SQLAlchemy writes it: "2026-11-29 15:12:53.579621", UTC.
        return f"replace({column}, ' ', 'T') || 'Z'"

    @staticmethod
    def ts_arg() -> str:
        return "replace(rtrim(?, 'Z'), 'T', ' ')"


class _PostgresSql:
    @staticmethod
    def ts(column: str) -> str:
        return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""

    @staticmethod
    def ts_arg() -> str:
        return "?::text::timestamptz"


Dialect = type[_SqliteSql] | type[_PostgresSql]


def statement(template: Callable[[Dialect], str], *, appends_event: bool = False) -> Statement:
    """A statement for both drivers from one template, written with `?` placeholders, and
    `d.ts(column)` for a timestamp column read as the API writes it
    (`2026-11-29T15:12:53.579621Z`) and `d.ts_arg()` for an argument given so."""
    postgres = template(_PostgresSql)
    numbers = iter(range(1, postgres.count("?") + 1))
    return Statement(
        sqlite=template(_SqliteSql),
        postgres=re.sub(r"\?", lambda _: f"${next(numbers)}", postgres),
        appends_event=appends_event,
    )


class Reads:
    """The plain read connections of one process."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sqlite_path = sqlite_path(settings)
        self._postgres_options = (
            None if settings.is_sqlite else _asyncpg_options(make_url(settings.database_url))
        )
        self._threads: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._opened_lock = threading.Lock()
        self._pool: PostgresConnections | None = None
        self._closed = False
        # Called with each statement's text before it runs: for tests and bench/ to count.
        self.observers: list[Callable[[str], None]] = []

    async def run(self, unit: Callable[P, Unit[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """What `unit(*args)` returns, or 503 when the database cannot be reached."""
        if self._closed:
            # Disposed (the app's lifespan ended) under a request still in flight.
            raise unavailable(RuntimeError("the plain read connections are closed"))
        if self._sqlite_path is not None:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(_READER_THREADS, "sqlite-reader")
            loop = asyncio.get_running_loop()
            work = unit(*args, **kwargs)
            try:
                # Bounded as a wait for a pooled engine connection is (db.py): a stuck disk
                # answers 503 rather than hold every read forever.
                async with asyncio.timeout(self._settings.database_timeout_seconds * 6):
                    return await loop.run_in_executor(self._threads, self._run_sqlite, work)
            except (TimeoutError, sqlite3.OperationalError) as error:
                # Logged here, in the request's context (its request id), not on the thread.
                raise unavailable(error) from error
        return await self._run_postgres(lambda: unit(*args, **kwargs))

    async def close(self) -> None:
        self._closed = True
        if self._threads is not None:
            self._threads.shutdown(wait=True)
        with self._opened_lock:
            for connection in self._opened:
                connection.close()
            self._opened.clear()
        if self._pool is not None:
            await self._pool.close()

    # SQLite ---------------------------------------------------------------------------------

    def _run_sqlite(self, unit: Unit[T]) -> T:
        try:
            connection = self._sqlite_connection()
            query, args = next(unit)
            while True:
                for observe in self.observers:
                    observe(query.sqlite)
                rows = connection.execute(query.sqlite, args).fetchall()
                query, args = unit.send(rows)
        except StopIteration as done:
            result: T = done.value
            return result

    def _sqlite_connection(self) -> sqlite3.Connection:
        """This thread's connection (see `connect_sqlite`)."""
        assert self._sqlite_path is not None
        current: sqlite3.Connection | None = getattr(self._local, "connection", None)
        connection, file_id = connect_sqlite(
            self._sqlite_path, self._settings, current, getattr(self._local, "file_id", None)
        )
        if connection is not current:
            with self._opened_lock:
                if current is not None:
                    self._opened.remove(current)
                self._opened.append(connection)
        self._local.connection, self._local.file_id = connection, file_id
        return connection

    # PostgreSQL -----------------------------------------------------------------------------

    async def _run_postgres(self, make_unit: Callable[[], Unit[T]]) -> T:
        try:
            pool = await self.postgres_pool()
            try:
                return await self._run_postgres_once(pool, make_unit())
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError) as error:
                if not _lost_connection(error):
                    raise
                # A pooled connection that died with the server fails its first statement:
                # once more on a new one, so the first read after a restart succeeds.
                return await self._run_postgres_once(pool, make_unit())
        except (OSError, TimeoutError, asyncpg.InterfaceError) as error:
            raise unavailable(error) from error
        except asyncpg.PostgresError as error:
            if _lost_connection(error):
                raise unavailable(error) from error
            raise

    async def _run_postgres_once(self, pool: "PostgresConnections", unit: Unit[T]) -> T:
        connection = await pool.take()
        reusable = False
        try:
            query, args = next(unit)
            while True:
                for observe in self.observers:
                    observe(query.postgres)
                rows = await connection.fetch(query.postgres, *args)
                query, args = unit.send(rows)
        except StopIteration as done:
            reusable = True
            result: T = done.value
            return result
        except Exception:
            reusable = True  # a statement's error or the unit's own: the connection is fine
            raise
        finally:
            pool.give_back(connection, reusable=reusable)

    async def postgres_pool(self) -> "PostgresConnections":
        """The process's plain PostgreSQL connections: the reads', and the writes' too."""
        if self._pool is None:
            options = dict(self._postgres_options or {})
            # As the engines' (db.py): a write whose process vanished mid-transaction frees
            # its locks and idempotency keys after 30 s.
            options["server_settings"] = {
                **options.get("server_settings", {}),
                "idle_in_transaction_session_timeout": "30000",
            }
            timeout = self._settings.database_timeout_seconds
            self._pool = PostgresConnections(options, _POSTGRES_CONNECTIONS, timeout)
        return self._pool


class PostgresConnections:
    """A plain pool of asyncpg connections, opened on demand: taken and given back without
    a task, a reset query or a ping (asyncpg's own pool runs each acquire and each release
    as a task of its own: ~2 tasks per request). Nothing to reset: reads are single SELECTs,
    and writes (writes.py) end their transactions and set only transaction-local settings.
    A connection that is closed, still in a transaction or was interrupted is not reused."""

    def __init__(self, options: dict[str, Any], size: int, timeout: float) -> None:
        self._options = options
        self._timeout = timeout
        self._free = asyncio.Semaphore(size)
        self._idle: list[asyncpg.Connection] = []
        self._open: set[asyncpg.Connection] = set()
        self._closed = False

    async def take(self) -> asyncpg.Connection:
        """An idle connection, or a new one; waits at most the database timeout for a free
        one (TimeoutError). Once closed, an InterfaceError (an outage: 503)."""
        if self._closed:
            raise asyncpg.InterfaceError("the plain PostgreSQL connections are closed")
        if self._free.locked():
            async with asyncio.timeout(self._timeout):
                await self._free.acquire()
        else:
            await self._free.acquire()  # free: returns at once
        try:
            while self._idle:
                connection = self._idle.pop()
                if not connection.is_closed():
                    return connection
                self._open.discard(connection)
            bounds = {"timeout": self._timeout, "command_timeout": self._timeout}
            connection = await asyncpg.connect(**{**self._options, **bounds})
            self._open.add(connection)
            return connection
        except BaseException:
            self._free.release()
            raise

    def give_back(self, connection: asyncpg.Connection, *, reusable: bool) -> None:
        if (
            reusable
            and not self._closed
            and not connection.is_closed()
            and not connection.is_in_transaction()
        ):
            self._idle.append(connection)
        else:
            connection.terminate()
            self._open.discard(connection)
        self._free.release()

    async def close(self) -> None:
        """Close the idle connections now, those in use as they are given back: a read or
        write in flight at shutdown ends as it would have."""
        self._closed = True
        for connection in self._idle:
            connection.terminate()
            self._open.discard(connection)
        self._idle.clear()


def _asyncpg_options(url: URL) -> dict[str, Any]:
    """What SQLAlchemy's asyncpg dialect gives `asyncpg.connect` for this URL (host, port,
    `ssl`, several hosts...), so that the plain reads connect as the engines do; its own
    statement cache's size is asyncpg's here."""
    _, options = url.get_dialect()().create_connect_args(url)
    options.pop("prepared_statement_name_func", None)
    if "prepared_statement_cache_size" in options:
        options["statement_cache_size"] = options.pop("prepared_statement_cache_size")
    return dict(options)


def _lost_connection(error: BaseException) -> bool:
    if isinstance(error, asyncpg.PostgresError):
        return str(error.sqlstate)[:2] in OUTAGE_SQLSTATE_CLASSES
    return isinstance(error, OSError | asyncpg.InterfaceError)


def unavailable(error: BaseException) -> ServiceUnavailable:
    logger.warning("database unavailable: %s", type(error).__name__)
    return ServiceUnavailable("The database cannot be reached; retry later.")
