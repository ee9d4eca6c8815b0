"""Writes on the drivers' own connections, for the requests written most: a message, and a
thread with its first message (issue 11, ADR 0012). No ORM session, no SQLAlchemy pipeline.

A write is a *unit*, as a read is (reads.py): a generator that yields `(statement,
arguments)` and is sent back each statement's rows. It answers an error by raising a
`ThreadsError`; then nothing it wrote stays. Its caller is answered only after its
transaction committed.

- SQLite: one writer thread with its own `sqlite3` connection runs whole units, one hop per
  request. **Group commit**: the units that queued while the previous COMMIT was writing
  to disk run next, together, in one `BEGIN IMMEDIATE` transaction, each inside its own
  SAVEPOINT (a unit that fails or answers an error is rolled back alone), and share one
  COMMIT and one fsync. A unit that waits alone runs in a transaction of its own.
- PostgreSQL: a unit runs in a transaction on a pooled asyncpg connection (the plain reads'
  pool), one round trip per statement; the database orders concurrent writers by row locks.

A statement marked `appends_event` takes the space id as its first argument and returns the
new event's position: once its transaction committed, `on_commit` listeners (the event
broker) learn "space id -> newest position", as they do of the ORM sessions' commits.
"""

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import asyncpg  # type: ignore[import-untyped]  # no stubs
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.config import Settings
from threads_api.reads import (
    OUTAGE_SQLSTATE_CLASSES,
    Reads,
    Unit,
    connect_sqlite,
    sqlite_path,
    unavailable,
)

T = TypeVar("T")
P = ParamSpec("P")
# "space id -> the newest event position it appended", for a committed transaction.
Appended = dict[str, int]

# The most units that share one transaction: bounds the latency a group adds to its first.
MAX_GROUP = 64
# PostgreSQL's code for a lock wait that ran past `lock_timeout`.
_LOCK_NOT_AVAILABLE = "55P03"


class LockTimeout(Exception):
    """Thrown into a unit whose statement waited past its `lock_timeout` (PostgreSQL)."""


async def run_in_session(session: AsyncSession, unit: Unit[T]) -> T:
    """Run `unit` in the ORM session's transaction, on its connection: how the endpoints
    that write through the ORM share a unit with the plain write path (the idempotency
    record's). Statements go to the driver as they are; the session commits."""
    connection = await session.connection()
    sqlite = connection.dialect.name == "sqlite"
    try:
        query, args = next(unit)
        while True:
            try:
                if sqlite and query.sqlite_first is not None:
                    await connection.exec_driver_sql(query.sqlite_first, args[query.sqlite_split :])
                    args = args[: query.sqlite_split]
                result = await connection.exec_driver_sql(
                    query.sqlite if sqlite else query.postgres, args
                )
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
                    raise
                query, args = unit.throw(LockTimeout())
                continue
            rows = list(result.all()) if result.returns_rows else []
            query, args = unit.send(rows)
    except StopIteration as done:
        value: T = done.value
        return value


class Writes:
    """The plain write path of one process."""

    def __init__(self, settings: Settings, reads: Reads) -> None:
        self._settings = settings
        self._reads = reads
        path = sqlite_path(settings)
        self._sqlite = None if path is None else _SqliteWriter(path, settings, self._notify)
        self._closed = False
        # Called on the event loop after each commit that appended events.
        self.on_commit: list[Callable[[Appended], None]] = []

    @property
    def group_commits(self) -> tuple[int, int]:
        """(transactions committed, units in them) by the SQLite writer: for tests, bench/."""
        return (0, 0) if self._sqlite is None else (self._sqlite.commits, self._sqlite.units)

    @property
    def waiting(self) -> int:
        """Units queued for the SQLite writer, not yet started."""
        return 0 if self._sqlite is None else len(self._sqlite.waiting)

    async def run(self, unit: Callable[P, Unit[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """What `unit(*args)` returns once its transaction committed; what it raised, with
        nothing written; or 503 when the database cannot be reached."""
        if self._closed:
            raise unavailable(RuntimeError("the plain write connections are closed"))
        if self._sqlite is None:
            return await self._run_postgres(lambda: unit(*args, **kwargs))
        try:
            return await self._sqlite.run(unit(*args, **kwargs))
        except (TimeoutError, sqlite3.OperationalError) as error:
            # Locked past the busy timeout, the file gone, a full disk: as the reads do.
            raise unavailable(error) from error

    async def close(self) -> None:
        self._closed = True
        if self._sqlite is not None:
            await self._sqlite.close()

    def _notify(self, appended: Appended) -> None:
        for listener in self.on_commit:
            listener(appended)

    # PostgreSQL -----------------------------------------------------------------------------

    async def _run_postgres(self, make_unit: Callable[[], Unit[T]]) -> T:
        pool = await self._reads.postgres_pool()
        try:
            connection = await pool.take()
            try:
                transaction = connection.transaction()
                await transaction.start()
            except (OSError, asyncpg.InterfaceError, asyncpg.PostgresError):
                # A pooled connection that died with the server fails here, before anything
                # was written: once more on a new one.
                pool.give_back(connection, reusable=False)
                connection = await pool.take()
                transaction = connection.transaction()
                try:
                    await transaction.start()
                except BaseException:
                    pool.give_back(connection, reusable=False)
                    raise
            reusable = False
            try:
                result = await self._run_postgres_unit(connection, transaction, make_unit())
                reusable = True
                return result
            except Exception:
                reusable = True  # rolled back: the connection is fine, unless it is closed
                raise
            finally:
                pool.give_back(connection, reusable=reusable)
        except (OSError, TimeoutError, asyncpg.InterfaceError) as error:
            raise unavailable(error) from error
        except asyncpg.PostgresError as error:
            if str(error.sqlstate)[:2] in OUTAGE_SQLSTATE_CLASSES:
                raise unavailable(error) from error
            raise

    async def _run_postgres_unit(
        self, connection: asyncpg.Connection, transaction: Any, unit: Unit[T]
    ) -> T:
        appended: Appended = {}
        try:
            query, args = next(unit)
            while True:
                try:
                    rows = await connection.fetch(query.postgres, *args)
                except asyncpg.PostgresError as error:
                    if error.sqlstate != _LOCK_NOT_AVAILABLE:
                        raise
                    query, args = unit.throw(LockTimeout())
                    continue
                if query.appends_event:
                    appended[args[0]] = rows[0][0]
                query, args = unit.send(rows)
        except StopIteration as done:
            result: T = done.value
        except BaseException:
            if not connection.is_closed():
                # A rollback that fails leaves the connection in its transaction: not reused.
                with contextlib.suppress(Exception):
                    await transaction.rollback()
            raise
        await transaction.commit()
        if appended:
            self._notify(appended)
        return result


class _SqliteWriter:
    """The write connection, its thread, and the units waiting for it.

    A group's statements run on the event loop: they only take the write lock's holder's
    pages, so they do not wait, and a unit costs no hop and no fight for the GIL with the
    thread (a unit run on the thread waited for the GIL after each statement while the loop
    was busy: up to 5 ms each, seconds a group). What can wait runs on the writer's thread:
    `BEGIN IMMEDIATE` (for another writer's lock, up to `busy_timeout`) and the COMMIT (the
    fsync), while the loop serves on and the next group queues."""

    def __init__(
        self, path: str, settings: Settings, committed: Callable[[Appended], None]
    ) -> None:
        self._path = path
        self._settings = settings
        self._committed = committed
        self.waiting: list[tuple[asyncio.Future[Any], Unit[Any]]] = []
        self._writing: asyncio.Task[None] | None = None
        self._thread = ThreadPoolExecutor(1, "sqlite-writer")
        self._connection: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None
        self.commits = 0
        self.units = 0

    async def run(self, unit: Unit[T]) -> T:
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        job = (done, unit)
        self.waiting.append(job)
        if self._writing is None:
            self._writing = asyncio.create_task(self._write_groups(), name="sqlite writer")
        try:
            # Bounded as the wait for the ORM's writer connection is (db.py), but only while
            # the unit has not started: one that runs is waited for, to answer what it did.
            async with asyncio.timeout(self._settings.database_timeout_seconds * 6):
                return await asyncio.shield(done)
        except TimeoutError:
            if job in self.waiting:
                self.waiting.remove(job)
                raise
            return await done
        except asyncio.CancelledError:
            if job in self.waiting:  # the caller left before its unit started: drop it
                self.waiting.remove(job)
            raise

    async def close(self) -> None:
        if self._writing is not None:
            await self._writing
        loop = asyncio.get_running_loop()
        if self._connection is not None:
            await loop.run_in_executor(self._thread, self._connection.close)
            self._connection = None
        self._thread.shutdown(wait=True)

    async def _write_groups(self) -> None:
        """Write groups for as long as units wait: each group is the units that queued while
        the last one was being begun or committed (at most MAX_GROUP)."""
        loop = asyncio.get_running_loop()
        try:
            while self.waiting:
                try:
                    connection = await loop.run_in_executor(self._thread, self._begin)
                except Exception as error:
                    group, self.waiting = self.waiting[:MAX_GROUP], self.waiting[MAX_GROUP:]
                    _settle([(done, False, error) for done, _ in group])
                    continue
                group, self.waiting = self.waiting[:MAX_GROUP], self.waiting[MAX_GROUP:]
                appended: Appended = {}
                try:
                    outcomes = self._run_group(connection, group, appended)
                    if connection.in_transaction:
                        await loop.run_in_executor(self._thread, _commit, connection)
                except Exception as error:
                    # A failed COMMIT, or a savepoint SQLite would not take: nobody's work
                    # is kept, everybody is told.
                    with contextlib.suppress(sqlite3.Error):
                        if connection.in_transaction:
                            connection.execute("ROLLBACK")
                    outcomes = [(done, False, error) for done, _ in group]
                else:
                    self.commits += 1
                    self.units += len(group)
                    if appended:
                        self._committed(appended)
                _settle(outcomes)
        finally:
            self._writing = None

    def _begin(self) -> sqlite3.Connection:
        """On the writer's thread: the connection, in a write transaction."""
        connection, self._file_id = connect_sqlite(
            self._path, self._settings, self._connection, self._file_id, writer=True
        )
        self._connection = connection
        connection.execute("BEGIN IMMEDIATE")
        return connection

    def _run_group(
        self,
        connection: sqlite3.Connection,
        group: list[tuple[asyncio.Future[Any], Unit[Any]]],
        appended: Appended,
    ) -> list[tuple[asyncio.Future[Any], bool, Any]]:
        """Each unit in its own savepoint (none when it is alone): (future, succeeded,
        result or error) of each."""
        alone = len(group) == 1
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        for done, unit in group:
            if not alone:
                connection.execute("SAVEPOINT unit")
            try:
                result = self._run_unit(connection, unit, appended)
            except Exception as error:
                if not connection.in_transaction:
                    # SQLite ended the whole transaction (a full disk, an I/O error): every
                    # unit of the group is lost with it.
                    return [(future, False, error) for future, _ in group]
                connection.execute("ROLLBACK" if alone else "ROLLBACK TO unit")
                outcomes.append((done, False, error))
            else:
                outcomes.append((done, True, result))
            if not alone:
                connection.execute("RELEASE unit")
        return outcomes

    @staticmethod
    def _run_unit(connection: sqlite3.Connection, unit: Unit[T], appended: Appended) -> T:
        try:
            query, args = next(unit)
            while True:
                if query.sqlite_first is not None:
                    connection.execute(query.sqlite_first, args[query.sqlite_split :])
                    args = args[: query.sqlite_split]
                rows = connection.execute(query.sqlite, args).fetchall()
                if query.appends_event:
                    appended[args[0]] = rows[0][0]
                query, args = unit.send(rows)
        except StopIteration as done:
            result: T = done.value
            return result


def _commit(connection: sqlite3.Connection) -> None:
    """On the writer's thread: COMMIT (the fsync); ROLLBACK when it fails."""
    try:
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


def _settle(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for done, succeeded, value in outcomes:
        if done.done():
            continue
        if succeeded:
            done.set_result(value)
        else:
            done.set_exception(value)
