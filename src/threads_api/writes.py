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
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
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
        self._sqlite = None if path is None else _SqliteWriter(path, settings, self._committed)
        self._loop: asyncio.AbstractEventLoop | None = None
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
        return 0 if self._sqlite is None else self._sqlite.waiting

    async def run(self, unit: Callable[P, Unit[T]], *args: P.args, **kwargs: P.kwargs) -> T:
        """What `unit(*args)` returns once its transaction committed; what it raised, with
        nothing written; or 503 when the database cannot be reached."""
        if self._closed:
            raise unavailable(RuntimeError("the plain write connections are closed"))
        if self._sqlite is None:
            return await self._run_postgres(lambda: unit(*args, **kwargs))
        self._loop = asyncio.get_running_loop()
        job = self._sqlite.submit(unit(*args, **kwargs))
        try:
            try:
                # Bounded as the wait for the ORM's writer connection is (db.py), but only
                # while the unit has not started: one that runs is waited for, to answer
                # what it did.
                async with asyncio.timeout(self._settings.database_timeout_seconds * 6):
                    return await asyncio.shield(asyncio.wrap_future(job))
            except TimeoutError as error:
                if job.cancel():
                    raise unavailable(error) from error
                return await asyncio.wrap_future(job)
        except sqlite3.OperationalError as error:
            # Locked past the busy timeout, the file gone, a full disk: as the reads do.
            raise unavailable(error) from error

    async def close(self) -> None:
        self._closed = True
        if self._sqlite is not None:
            await asyncio.to_thread(self._sqlite.close)

    def _committed(self, appended: Appended) -> None:
        """From the writer thread: tell the listeners, on the event loop."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._notify, appended)

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
    """The writer thread, its connection, and the queue of units waiting for it."""

    def __init__(
        self, path: str, settings: Settings, committed: Callable[[Appended], None]
    ) -> None:
        self._path = path
        self._settings = settings
        self._committed = committed
        self._queue: queue.SimpleQueue[Future[Any] | None] = queue.SimpleQueue()
        self._units: dict[Future[Any], Unit[Any]] = {}
        self._units_lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._file_id: tuple[int, int] | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.commits = 0
        self.units = 0

    def submit(self, unit: Unit[T]) -> "Future[T]":
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._serve, name="sqlite-writer", daemon=True
                    )
                    self._thread.start()
        job: Future[T] = Future()
        with self._units_lock:
            self._units[job] = unit
        self._queue.put(job)
        return job

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _serve(self) -> None:
        while True:
            group = self._next_group()
            if group is None:
                return
            if not group:
                continue
            try:
                self._write(group)
            except BaseException as error:
                # A bug or a broken connection: its callers are told, the writer goes on,
                # on a new connection.
                for job, _ in group:
                    if not job.done():
                        job.set_exception(error)
                if self._connection is not None:
                    self._connection.close()
                    self._connection = None

    def _next_group(self) -> list[tuple[Future[Any], Unit[Any]]] | None:
        """The units waiting now, in arrival order (at least one; None once closing), without
        those whose caller gave up before they started."""
        jobs = [self._queue.get()]
        while len(jobs) < MAX_GROUP and jobs[-1] is not None:
            try:
                jobs.append(self._queue.get_nowait())
            except queue.Empty:
                break
        group = []
        for job in jobs:
            if job is None:
                self._queue.put(None)  # seen again once this group is written
                if len(jobs) == 1:
                    return None
                continue
            with self._units_lock:
                unit = self._units.pop(job)
            if job.set_running_or_notify_cancel():
                group.append((job, unit))
        return group

    def _write(self, group: list[tuple[Future[Any], Unit[Any]]]) -> None:
        """Run the group's units in one transaction and commit it once; then answer each."""
        alone = len(group) == 1
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        appended: Appended = {}
        try:
            connection = self._connect()
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:
            for job, _ in group:
                job.set_exception(error)
            return
        for job, unit in group:
            if not alone:
                connection.execute("SAVEPOINT unit")
            try:
                result = self._run_unit(connection, unit, appended)
            except Exception as error:
                if not connection.in_transaction:
                    # SQLite ended the whole transaction (a full disk, an I/O error): every
                    # unit of the group is lost with it.
                    for failed, _ in group:
                        failed.set_exception(error)
                    return
                connection.execute("ROLLBACK TO unit" if not alone else "ROLLBACK")
                outcomes.append((job, False, error))
            else:
                outcomes.append((job, True, result))
            if not alone:
                connection.execute("RELEASE unit")
        try:
            if connection.in_transaction:
                connection.execute("COMMIT")
        except sqlite3.Error as error:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            for job, _ in group:
                job.set_exception(error)
            return
        self.commits += 1
        self.units += len(group)
        if appended:
            self._committed(appended)
        for job, succeeded, value in outcomes:
            if succeeded:
                job.set_result(value)
            else:
                job.set_exception(value)

    @staticmethod
    def _run_unit(connection: sqlite3.Connection, unit: Unit[T], appended: Appended) -> T:
        try:
            query, args = next(unit)
            while True:
                rows = connection.execute(query.sqlite, args).fetchall()
                if query.appends_event:
                    appended[args[0]] = rows[0][0]
                query, args = unit.send(rows)
        except StopIteration as done:
            result: T = done.value
            return result

    def _connect(self) -> sqlite3.Connection:
        """The writer's connection, reopened when the file at the path is another one."""
        connection, self._file_id = connect_sqlite(
            self._path, self._settings, self._connection, self._file_id, writer=True
        )
        self._connection = connection
        return connection
