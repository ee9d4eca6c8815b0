"""Fixtures: real `threads-api serve` processes, one per database kind for the session, on
SQLite and on PostgreSQL (a fresh database, created here and dropped at the end).

Helpers a test imports are in sdk_servers.py (the server processes) and sdk_proxy.py. The SDK
never imports the server. The server is started with THREADS_API_SERVER_PYTHON (a
Python that has the `threads_api` package), by default the Python running the tests.
"""

import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from sdk_proxy import FaultProxy
from sdk_servers import ADMIN_KEY, Server, pg_admin, postgres_url, start_server
from threads_api_client import Space, ThreadsClient


@pytest.fixture(scope="session")
def sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("sqlite-server")
    server = start_server(f"sqlite+aiosqlite:///{directory / 'threads.db'}", directory)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    name = f"threads_sdk_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    pg_admin(f'CREATE DATABASE "{name}"')
    try:
        server = start_server(postgres_url(name), tmp_path_factory.mktemp("postgres-server"))
        yield server
        server.stop()
    finally:
        pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgres"])
def server(request: pytest.FixtureRequest) -> Server:
    """A running server on each kind of database (tests share it: each makes its own space)."""
    found: Server = request.getfixturevalue(f"{request.param}_server")
    return found


@pytest.fixture
def client(server: Server) -> Iterator[ThreadsClient]:
    """An admin client."""
    with ThreadsClient(base_url=server.url, api_key=ADMIN_KEY) as threads:
        yield threads


@pytest.fixture
def space(client: ThreadsClient) -> Space:
    return client.spaces.create(name=f"sdk test {uuid.uuid4().hex[:8]}")


@pytest.fixture
def proxy_factory(server: Server) -> Iterator[Callable[[], FaultProxy]]:
    """Starts FaultProxy instances in front of the server; stops them after the test."""
    started: list[FaultProxy] = []

    def factory() -> FaultProxy:
        proxy = FaultProxy(server.url)
        proxy.start()
        started.append(proxy)
        return proxy

    yield factory
    for proxy in started:
        proxy.stop()
