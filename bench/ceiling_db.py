"""The ceiling's drivers: one way each to run a unit of work (`ceiling_units.py`).

`CEILING_MODE` picks one (SQLite; PostgreSQL is always `asyncpg`):

  inline     stdlib sqlite3 called on the event loop, reads and writes: no thread hop at all,
             but the loop stands still during each commit's fsync
  thread     one thread per connection (a reader, the writer); a request's whole transaction
             is one hop to its connection's thread and back
  hybrid     reads and a write's statements inline; its COMMIT (the fsync) one hop to the
             writer's thread, so the loop keeps serving while the disk works; one write
             transaction at a time, one fsync per request
  group      as hybrid, but group-committed: the write requests that arrived while a COMMIT
             ran go next, in one transaction, each in its own SAVEPOINT (rolled back alone if
             it fails), with one COMMIT (one fsync) for all; each is answered only after it
  aiosqlite  the old ceiling's way: aiosqlite, one hop to its thread per statement, 4 readers

Every mode: WAL, synchronous=FULL, foreign_keys=ON, secure_delete=ON, busy_timeout as the
service sets them; one writer connection and `BEGIN IMMEDIATE`; reads in a deferred `BEGIN`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

from ceiling_units import PostgresDialect, Problem, SqliteDialect, Unit

PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    "busy_timeout=10000",
    "synchronous=FULL",
    "secure_delete=ON",
)
GROUP_MAX = int(os.environ.get("CEILING_GROUP_MAX", "64"))


def run_unit(conn: Any, unit: Unit) -> Any:
    """Drive a unit on a sqlite3 connection, statement by statement, without a hop."""
    try:
        sql, args = next(unit)
        while True:
            sql, args = unit.send(conn.execute(sql, args).fetchall())
    except StopIteration as stop:
        return stop.value


def read_tx(conn: sqlite3.Connection, unit: Unit) -> Any:
    conn.execute("BEGIN")
    try:
        return run_unit(conn, unit)
    finally:
        conn.execute("COMMIT")


def write_tx(conn: sqlite3.Connection, unit: Unit) -> Any:
    conn.execute("BEGIN IMMEDIATE")
    try:
        result = run_unit(conn, unit)
        conn.execute("ROLLBACK" if isinstance(result, Problem) else "COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return result


def run_batch(conn: sqlite3.Connection, units: list[Unit]) -> list[Any]:
    """Several write requests in one open transaction, a SAVEPOINT each: a unit that raises
    or answers an error is rolled back to its savepoint alone, the others stay."""
    results: list[Any] = []
    for unit in units:
        conn.execute("SAVEPOINT request")
        try:
            result = run_unit(conn, unit)
        except Exception as error:  # this request fails; the others go on
            result = error
        if isinstance(result, Exception):  # Problem included
            conn.execute("ROLLBACK TO request")
        conn.execute("RELEASE request")
        results.append(result)
    return results


def commit(conn: sqlite3.Connection) -> None:
    """COMMIT (the fsync), on the writer's thread; ROLLBACK if it fails."""
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def sqlite_connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    for pragma in PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    return conn


class Worker(threading.Thread):
    """A connection and its own thread; a job is one whole function of the connection."""

    def __init__(self, path: str) -> None:
        super().__init__(daemon=True)
        self.loop = asyncio.get_running_loop()
        self.conn = sqlite_connect(path)
        self.jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.start()

    def submit(self, job: Callable[[sqlite3.Connection], Any]) -> asyncio.Future[Any]:
        future = self.loop.create_future()
        self.jobs.put((job, future))
        return future

    def run(self) -> None:
        while (item := self.jobs.get()) is not None:
            job, future = item
            try:
                result, error = job(self.conn), None
            except BaseException as caught:
                result, error = None, caught
            self.loop.call_soon_threadsafe(_settle, future, result, error)
        self.conn.close()

    def stop(self) -> None:
        self.jobs.put(None)
        self.join()


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


class SqliteDb:
    dialect = SqliteDialect

    def __init__(self, path: str, mode: str) -> None:
        self.path, self.mode = path, mode
        self.pending: list[tuple[Unit, asyncio.Future[Any]]] = []
        self.committing = self.scheduled = False
        self.write_lock = asyncio.Lock()
        self.batches: list[int] = []  # batch sizes (group mode), for the report

    async def start(self) -> None:
        self.reader = sqlite_connect(self.path)
        self.writer = sqlite_connect(self.path)
        # The revocation poll's own connection (the service's watcher has one too).
        self.watch = sqlite_connect(self.path)
        if self.mode in ("thread", "hybrid", "group"):
            self.write_worker = Worker(self.path)
        if self.mode == "thread":
            self.read_worker = Worker(self.path)
        if self.mode == "aiosqlite":
            import aiosqlite

            async def connect() -> Any:
                conn = await aiosqlite.connect(self.path, isolation_level=None)
                for pragma in PRAGMAS:
                    await conn.execute(f"PRAGMA {pragma}")
                return conn

            self.aio_writer = await connect()
            self.aio_lock = asyncio.Lock()
            self.aio_readers: asyncio.Queue[Any] = asyncio.Queue()
            for _ in range(4):
                self.aio_readers.put_nowait(await connect())

    async def stop(self) -> None:
        for name in ("write_worker", "read_worker"):
            if hasattr(self, name):
                getattr(self, name).stop()
        if self.mode == "aiosqlite":
            await self.aio_writer.close()
            while not self.aio_readers.empty():
                await self.aio_readers.get_nowait().close()
        for conn in (self.reader, self.writer, self.watch):
            conn.close()

    async def poll(self, unit: Unit) -> Any:
        return run_unit(self.watch, unit)

    async def read(self, unit: Unit) -> Any:
        if self.mode == "thread":
            return await self.read_worker.submit(lambda conn: read_tx(conn, unit))
        if self.mode == "aiosqlite":
            conn = await self.aio_readers.get()
            try:
                await conn.execute("BEGIN")
                try:
                    return await _drive_aiosqlite(conn, unit)
                finally:
                    await conn.execute("COMMIT")
            finally:
                self.aio_readers.put_nowait(conn)
        return read_tx(self.reader, unit)

    async def write(self, unit: Unit) -> Any:
        if self.mode == "inline":
            return write_tx(self.writer, unit)
        if self.mode == "thread":
            return await self.write_worker.submit(lambda conn: write_tx(conn, unit))
        if self.mode == "aiosqlite":
            async with self.aio_lock:
                await self.aio_writer.execute("BEGIN IMMEDIATE")
                try:
                    result = await _drive_aiosqlite(self.aio_writer, unit)
                except BaseException:
                    await self.aio_writer.execute("ROLLBACK")
                    raise
                await self.aio_writer.execute(
                    "ROLLBACK" if isinstance(result, Problem) else "COMMIT"
                )
                return result
        if self.mode == "hybrid":
            async with self.write_lock:
                self.writer.execute("BEGIN IMMEDIATE")
                try:
                    result = run_unit(self.writer, unit)
                except BaseException:
                    self.writer.execute("ROLLBACK")
                    raise
                if isinstance(result, Problem):
                    self.writer.execute("ROLLBACK")
                    return result
                await self.write_worker.submit(lambda _: commit(self.writer))
                return result
        future = asyncio.get_running_loop().create_future()
        self.pending.append((unit, future))
        if not self.committing and not self.scheduled:
            # Not at once: the requests that reach this point in this loop iteration join it.
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self._next_batch)
        result = await future
        if isinstance(result, BaseException) and not isinstance(result, Problem):
            raise result
        return result

    def _next_batch(self) -> None:
        """Group commit: every write request that queued while the last COMMIT ran goes into
        one transaction, its statements run here, its COMMIT on the writer's thread."""
        self.scheduled = False
        if self.committing or not self.pending:
            return
        batch, self.pending = self.pending[:GROUP_MAX], self.pending[GROUP_MAX:]
        self.committing = True
        self.batches.append(len(batch))
        try:
            self.writer.execute("BEGIN IMMEDIATE")
            results = run_batch(self.writer, [unit for unit, _ in batch])
        except BaseException as error:
            if self.writer.in_transaction:
                self.writer.execute("ROLLBACK")
            self._settle(batch, [error] * len(batch))
            return
        done = self.write_worker.submit(lambda _: commit(self.writer))
        done.add_done_callback(lambda f: self._committed(batch, results, f))

    def _committed(self, batch: list[Any], results: list[Any], done: Any) -> None:
        error = done.exception()
        self._settle(batch, results if error is None else [error] * len(batch))

    def _settle(self, batch: list[Any], results: list[Any]) -> None:
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
        self.committing = False
        if self.pending:
            self._next_batch()


async def _drive_aiosqlite(conn: Any, unit: Unit) -> Any:
    try:
        sql, args = next(unit)
        while True:
            sql, args = unit.send(list(await conn.execute_fetchall(sql, args)))
    except StopIteration as stop:
        return stop.value


_NUMBERED: dict[str, str] = {}


def numbered(sql: str) -> str:
    """`?` placeholders to `$1, $2, …`, once per statement text."""
    out = _NUMBERED.get(sql)
    if out is None:
        counter = iter(range(1, 1000))
        out = _NUMBERED[sql] = re.sub(r"\?", lambda _: f"${next(counter)}", sql)
    return out


class PostgresDb:
    """asyncpg: prepared statements (asyncpg's per-connection cache prepares each text once),
    connections in a plain queue (no reset query on release: nothing here changes session
    state), reads without BEGIN/COMMIT (under READ COMMITTED a transaction gives a read no
    other snapshot than its statements' own), writes in one transaction."""

    dialect = PostgresDialect

    def __init__(self, dsn: str, size: int = 20) -> None:
        self.dsn, self.size = dsn, size

    async def start(self) -> None:
        import asyncpg

        settings = {
            "idle_in_transaction_session_timeout": "30000",
            # The duplicate-key wait bound, once per connection, not twice per claim.
            "lock_timeout": "2000",
        }
        self.conns: asyncio.Queue[Any] = asyncio.Queue()
        for _ in range(self.size):
            conn = await asyncpg.connect(self.dsn, server_settings=settings, command_timeout=5)
            self.conns.put_nowait(conn)
        self.watch = await asyncpg.connect(self.dsn, command_timeout=5)

    async def stop(self) -> None:
        while not self.conns.empty():
            await self.conns.get_nowait().close()
        await self.watch.close()

    async def poll(self, unit: Unit) -> Any:
        return await _drive_asyncpg(self.watch, unit)

    async def read(self, unit: Unit) -> Any:
        conn = await self.conns.get()
        try:
            return await _drive_asyncpg(conn, unit)
        finally:
            self.conns.put_nowait(conn)

    async def write(self, unit: Unit) -> Any:
        conn = await self.conns.get()
        try:
            await conn.execute("BEGIN")
            try:
                result = await _drive_asyncpg(conn, unit)
            except BaseException:
                with contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
                raise
            await conn.execute("ROLLBACK" if isinstance(result, Problem) else "COMMIT")
            return result
        finally:
            self.conns.put_nowait(conn)


async def _drive_asyncpg(conn: Any, unit: Unit) -> Any:
    try:
        sql, args = next(unit)
        while True:
            sql, args = unit.send(await conn.fetch(numbered(sql), *args))
    except StopIteration as stop:
        return stop.value


def make_db(url: str, mode: str) -> SqliteDb | PostgresDb:
    if url.startswith("sqlite"):
        return SqliteDb(url.split("///", 1)[1], mode)
    return PostgresDb(url.replace("postgresql+asyncpg://", "postgresql://"))
