"""Fixtures: every test runs against a real database, on SQLite and on PostgreSQL.

- SQLite: a template file is migrated once per session and copied for each test.
- PostgreSQL: a fresh database is created on the local server once per session (or on the
  server named by THREADS_API_TEST_POSTGRES_URL), migrated, and emptied before each test.
  When PostgreSQL cannot be reached the PostgreSQL tests fail; they are never skipped.
"""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from threads_api.app import create_app
from threads_api.auth.service import api_key as api_key_service
from threads_api.config import Settings
from threads_api.migrate import migrate

ADMIN_SECRET = "tk_test_admin_secret_0123456789"
DEFAULT_POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
TABLES = "idempotency_records, messages, threads, api_key_spaces, api_keys, spaces"


def _postgres_server() -> str:
    return os.environ.get("THREADS_API_TEST_POSTGRES_URL", DEFAULT_POSTGRES_SERVER)


def _asyncpg_dsn(url: str) -> str:
    return str(make_url(url).set(drivername="postgresql")).replace("***", "")


def _pg_database_url(name: str) -> str:
    url = make_url(_postgres_server()).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def _pg_admin(statement: str) -> None:
    server = make_url(_postgres_server())
    connection = await asyncpg.connect(
        server.set(drivername="postgresql").render_as_string(hide_password=False), timeout=10
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _settings(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "admin_key": ADMIN_SECRET,
        "secret_key": None,
        "idempotency_ttl_seconds": 24 * 3600,
        "max_body_bytes": 1024 * 1024,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "threads.db"
    asyncio.run(migrate(_settings(f"sqlite:///{path}")))
    return path


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    name = f"threads_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    url = _pg_database_url(name)
    try:
        asyncio.run(migrate(_settings(url)))
        yield url
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
        connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
        try:
            await connection.execute(f"TRUNCATE {TABLES} CASCADE")
        finally:
            await connection.close()

    asyncio.run(empty())
    return url


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change the app's settings."""
    return {}


@pytest.fixture
def settings(database_url: str, settings_overrides: dict[str, Any]) -> Settings:
    return _settings(database_url, **settings_overrides)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await api_key_service.bootstrap(application.state.database, ADMIN_SECRET)
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client over the ASGI app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"X-API-Key": ADMIN_SECRET}
    ) as http:
        yield http


@dataclass
class Api:
    """Shortcuts for arranging a test through the public HTTP API."""

    http: httpx.AsyncClient

    async def space(self, name: str = "space") -> dict[str, Any]:
        response = await self.http.post("/v1/spaces", json={"name": name})
        assert response.status_code == 201, response.text
        return response.json()

    async def key(self, scopes: list[str], space_ids: list[str]) -> str:
        response = await self.http.post(
            "/v1/api-keys", json={"name": "k", "scopes": scopes, "space_ids": space_ids}
        )
        assert response.status_code == 201, response.text
        return response.json()["secret"]

    async def thread(self, space_id: str, content: str = "hello", **fields: Any) -> dict[str, Any]:
        response = await self.http.post(
            f"/v1/spaces/{space_id}/threads/messages", json={"content": content, **fields}
        )
        assert response.status_code == 201, response.text
        return response.json()["thread"]

    async def message(self, space_id: str, thread_id: str, content: str = "hi") -> dict[str, Any]:
        response = await self.http.post(
            f"/v1/spaces/{space_id}/threads/{thread_id}/messages", json={"content": content}
        )
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


# --- real server processes ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A `threads-api serve` process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def start_server(
    database_url: str, log_dir: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Server:
    port = free_port()
    log = log_dir / f"server-{port}.log"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("THREADS_API_")},
        "THREADS_API_DATABASE_URL": database_url,
        "THREADS_API_ADMIN_KEY": ADMIN_SECRET,
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "threads_api",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=log_dir,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    if wait_until_ready(server.url, process):
        return server
    if process.poll() is not None:
        raise RuntimeError(f"server exited:\n{log.read_text()}")
    server.stop()
    raise RuntimeError(f"server did not become ready:\n{log.read_text()}")


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> bool:
    """True once `url` answers /readyz with 200; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


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
