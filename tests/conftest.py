"""Fixtures: every test runs against a real database, on SQLite and on PostgreSQL.

- SQLite: a template file is migrated once per session and copied for each test.
- PostgreSQL: a fresh database is created on the local server once per session (or on the
  server named by THREADS_API_TEST_POSTGRES_URL), migrated, and emptied before each test.
  When PostgreSQL cannot be reached the PostgreSQL tests fail; they are never skipped.

This module holds fixtures only: helpers a test imports live in tests/helpers.py (problem
assertions, `Api`, settings, PostgreSQL) and tests/servers.py (real server processes).
"""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.helpers import (
    Api,
    admin_client,
    asyncpg_dsn,
    make_settings,
    pg_admin,
    pg_database_url,
    started_app,
)
from tests.reliability.pg_cluster import PgCluster, start_cluster
from tests.servers import Server, start_server
from threads_api.config import Settings
from threads_api.migrate import migrate
from threads_api.models import Base

# Emptied before each PostgreSQL test, children first. DELETE rather than TRUNCATE: on tables
# this small it is several times faster (TRUNCATE makes and fsyncs new files), ~500 times a run.
# Kept: the shared secrets (app_secrets) and the revocation counter, which the app expects.
KEPT_TABLES = {"app_secrets", "revocation_counter"}
EMPTIED = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in KEPT_TABLES]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "threads.db"
    asyncio.run(migrate(make_settings(f"sqlite:///{path}")))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    name = f"threads_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    url = pg_database_url(name)
    try:
        asyncio.run(migrate(make_settings(url)))
        yield url
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "threads.db"
        shutil.copyfile(template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")

    async def empty() -> None:
        connection = await asyncpg.connect(asyncpg_dsn(url), timeout=10)
        try:
            async with connection.transaction():
                for table in EMPTIED:
                    await connection.execute(f"DELETE FROM {table}")
        finally:
            await connection.close()

    asyncio.run(empty())
    return url


@pytest.fixture
def sqlite_database_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated, empty SQLite database, for real-server tests of what does not depend on the
    database (connection limits, header and body sizes): both kinds would prove no more."""
    path = tmp_path / "threads.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change the app's settings."""
    return {}


@pytest.fixture
def settings(database_url: str, settings_overrides: dict[str, Any]) -> Settings:
    return make_settings(database_url, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    async with started_app(settings) as application:
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client over the ASGI app."""
    async with admin_client(app) as http:
        yield http


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


# --- real server processes (tests/servers.py) ------------------------------------------


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def factory(database_url: str, **kwargs: Any) -> Server:
        server = start_server(database_url, tmp_path, **kwargs)
        started.append(server)
        return server

    yield factory
    for server in started:
        server.stop()


# --- a private PostgreSQL cluster, for tests that stop it (tests/reliability/pg_cluster.py) --


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """A private PostgreSQL cluster for tests that stop PostgreSQL. Never the shared one.

    One cluster per session, started when a test first asks for it, removed at the end."""
    cluster = start_cluster()
    yield cluster
    if cluster.is_running():
        cluster.stop("fast")
    shutil.rmtree(cluster.directory, ignore_errors=True)


@pytest.fixture
def running_pg_cluster(pg_cluster: PgCluster) -> PgCluster:
    """The private cluster, started again if an earlier test left it stopped."""
    if not pg_cluster.is_running():
        pg_cluster.start()
    return pg_cluster
