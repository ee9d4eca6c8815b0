"""Engines and sessions. One request is one transaction, committed before the response.

SQLite gets two engines over the same file: readers begin deferred transactions and run side
by side (WAL), while writers take the write lock up front (`BEGIN IMMEDIATE`) and share a
single connection, so concurrent writers queue in the pool instead of failing with
"database is locked". PostgreSQL uses one engine for both.
"""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from threads_api.config import Settings

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _sqlite_engine(settings: Settings, *, immediate: bool, pool_size: int) -> AsyncEngine:
    url = make_url(settings.database_url)
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
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
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        # FULL: an acknowledged commit survives power loss, not only a process crash.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql(begin)

    return engine


def _postgres_engine(settings: Settings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=10,
        max_overflow=10,
        pool_timeout=settings.database_timeout_seconds,
        connect_args={"timeout": settings.database_timeout_seconds},
    )


class Database:
    """The engines and session factories of one process, made in the app's lifespan."""

    def __init__(self, settings: Settings) -> None:
        if settings.is_sqlite:
            self.read_engine = _sqlite_engine(settings, immediate=False, pool_size=4)
            self.write_engine = _sqlite_engine(settings, immediate=True, pool_size=1)
        else:
            self.read_engine = self.write_engine = _postgres_engine(settings)
        self.dialect = self.write_engine.dialect.name
        self.reader = async_sessionmaker(self.read_engine, expire_on_commit=False)
        self.writer = async_sessionmaker(self.write_engine, expire_on_commit=False)

    async def ping(self) -> None:
        async with self.read_engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.read_engine.dispose()
        if self.write_engine is not self.read_engine:
            await self.write_engine.dispose()


def database(request: Request) -> Database:
    return request.app.state.database


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction: reads on the reader, everything else on the writer.

    Used with `scope="function"`, so the commit runs when the endpoint returns and before
    the response is sent: a client never sees a success that did not commit.
    """
    db = database(request)
    maker = db.reader if request.method in READ_METHODS else db.writer
    async with maker() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
DatabaseDep = Annotated[Database, Depends(database)]
