"""Engines and session factories. A request's session, one transaction committed before the
response, is state.py's `SessionDep`.

SQLite gets two engines over the same file: readers begin deferred transactions and run side
by side (WAL), while writers take the write lock up front (`BEGIN IMMEDIATE`) and share a
single connection, so concurrent writers queue in the pool instead of failing with
"database is locked". PostgreSQL uses one engine for both.

Outages answer 503 rather than hang or 500: every wait on the database is bounded by
`database_timeout_seconds`, a connection is checked before each use, and a SQLite file that
vanished from its path is never silently re-created empty.
"""

import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import event, exc, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from threads_api.config import Settings
from threads_api.reads import Reads, sqlite_file_id, sqlite_pragmas
from threads_api.sqlite_adapter import DRIVER as ONE_TRIP_DRIVER
from threads_api.writes import Writes

logger = logging.getLogger("threads_api.db")


class UnsafeDurability(RuntimeError):
    """The database is configured so that an acknowledged write could be lost."""


def _sqlite_engine(
    settings: Settings, *, immediate: bool, pool_size: int, create: bool, watcher: bool = False
) -> AsyncEngine:
    # aiosqlite with one trip to its thread per statement (sqlite_adapter.py).
    url = make_url(settings.database_url).set(drivername=f"sqlite+{ONE_TRIP_DRIVER}")
    path = url.database if url.database and url.database != ":memory:" else None
    if path and create:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    elif path:
        # mode=rw: when the file is gone (unmounted, moved away) fail with "unable to open
        # database file" -> 503, rather than create an empty database in its place.
        url = url.set(database=f"file:{quote(path)}?mode=rw", query={**url.query, "uri": "true"})
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        pool_timeout=settings.database_timeout_seconds * 6,
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in sqlite_pragmas(settings):
            cursor.execute(pragma)
        cursor.close()

    if path:

        @event.listens_for(engine.sync_engine, "connect")
        def remember_file(_dbapi_connection: Any, record: Any) -> None:
            record.info["file_id"] = sqlite_file_id(path)

        @event.listens_for(engine.sync_engine, "checkout")
        def check_file(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            # A pooled connection keeps its file descriptor after the file leaves its path,
            # and would go on serving a detached copy: drop it and reconnect by path instead.
            if sqlite_file_id(path) != record.info.get("file_id"):
                raise exc.DisconnectionError("the SQLite file is no longer at its path")

    if watcher:
        # The revocation watcher's polls are single statements, each its own read transaction
        # in autocommit mode: no BEGIN and ROLLBACK trips to aiosqlite's thread.
        return engine

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def _postgres_engine(settings: Settings, *, migrating: bool, watcher: bool = False) -> AsyncEngine:
    connect_args: dict[str, Any] = {
        "timeout": settings.database_timeout_seconds,
        # If this server's machine vanishes mid-transaction, PostgreSQL ends the session (and
        # frees the idempotency keys and rows it held) after 30 s instead of hours of TCP
        # keepalive. No request of ours leaves its transaction idle for that long.
        "server_settings": {"idle_in_transaction_session_timeout": "30000"},
    }
    if not migrating:
        # A statement on a connection whose server went silent fails instead of hanging.
        connect_args["command_timeout"] = settings.database_timeout_seconds
    if watcher:
        # One connection and one statement per poll: no transaction around it and no ping
        # before it (a dead connection fails one poll, and the next poll reconnects).
        return create_async_engine(
            settings.database_url,
            pool_size=1,
            max_overflow=0,
            pool_timeout=settings.database_timeout_seconds,
            isolation_level="AUTOCOMMIT",
            connect_args=connect_args,
        )
    return create_async_engine(
        settings.database_url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=settings.database_timeout_seconds,
        # Connections that died with the server are replaced on checkout: once the database
        # is back, the first request succeeds instead of failing on a stale connection.
        pool_pre_ping=True,
        connect_args=connect_args,
    )


class Database:
    """The engines and session factories of one process, made in the app's lifespan."""

    def __init__(self, settings: Settings, *, migrating: bool = False) -> None:
        """`migrating`: may create the SQLite file, and statements are not time-bounded."""
        if settings.is_sqlite:
            self.read_engine = _sqlite_engine(
                settings, immediate=False, pool_size=4, create=migrating
            )
            self.write_engine = _sqlite_engine(
                settings, immediate=True, pool_size=1, create=migrating
            )
        else:
            self.read_engine = self.write_engine = _postgres_engine(settings, migrating=migrating)
        # The revocation watcher's own connection (auth/watcher.py): its polls never wait
        # behind requests for a pooled one. Opened only when a watcher runs.
        self.watch_engine = (
            _sqlite_engine(settings, immediate=False, pool_size=1, create=migrating, watcher=True)
            if settings.is_sqlite
            else _postgres_engine(settings, migrating=migrating, watcher=True)
        )
        # The routes read and written most use the drivers' own connections (reads.py,
        # writes.py).
        self.reads = Reads(settings)
        self.writes = Writes(settings, self.reads)
        self.dialect = self.write_engine.dialect.name
        self.reader = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self.writer = async_sessionmaker(self.write_engine, expire_on_commit=False)

    async def ping(self) -> None:
        async with self.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def durability_problems(self) -> list[str]:
        """Settings under which the database could lose a write it acknowledged."""
        problems = []
        async with self.write_engine.connect() as connection:
            if self.dialect == "postgresql":
                for name, lossy in (
                    ("fsync", {"off"}),
                    ("synchronous_commit", {"off"}),
                    ("full_page_writes", {"off"}),
                ):
                    value = (await connection.execute(text(f"SHOW {name}"))).scalar_one()
                    if value in lossy:
                        problems.append(f"PostgreSQL {name}={value}")
            else:
                level = (await connection.execute(text("PRAGMA synchronous"))).scalar_one()
                if int(level) < 2:  # 2 = FULL, 3 = EXTRA
                    problems.append(f"SQLite synchronous={level} (below FULL)")
            await connection.rollback()
        return problems

    async def check_durability(self, *, allow_unsafe: bool) -> None:
        """Refuse to serve when acknowledged writes could be lost, unless told to allow it."""
        problems = await self.durability_problems()
        if not problems:
            return
        message = "acknowledged writes could be lost: " + ", ".join(problems)
        if not allow_unsafe:
            raise UnsafeDurability(
                message + " (fix the database settings, or set "
                "THREADS_API_ALLOW_UNSAFE_DURABILITY=true to serve anyway)"
            )
        logger.warning("UNSAFE: %s; serving anyway (THREADS_API_ALLOW_UNSAFE_DURABILITY)", message)

    async def dispose(self) -> None:
        await self.writes.close()
        await self.reads.close()
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()
        await self.watch_engine.dispose()
