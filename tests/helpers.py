"""Assertions and small helpers shared by the test modules (fixtures live in conftest.py;
real server processes in servers.py). Test modules import from here, never from conftest.py
or from another test module."""

import contextlib
import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from threads_api.api_key.service import api_key as api_key_service
from threads_api.app import create_app
from threads_api.config import Settings
from threads_api.state import app_state

ADMIN_SECRET = "tk_test_admin_secret_0123456789"
DEFAULT_POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}


@contextlib.asynccontextmanager
async def started_app(settings: Settings) -> AsyncIterator[Any]:
    """The app through its lifespan, with the admin key (ADMIN_SECRET) bootstrapped."""
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        await api_key_service.bootstrap(app_state(application).database, ADMIN_SECRET)
        yield application


@contextlib.asynccontextmanager
async def admin_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client over the ASGI app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", headers={"X-API-Key": ADMIN_SECRET}
    ) as client:
        yield client


def problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert `response` is an RFC 9457 problem document with `status` and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) >= PROBLEM_KEYS, body
    assert set(body) - PROBLEM_KEYS <= {"errors"}, body
    assert body["status"] == status
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", body["code"]), body["code"]
    assert body["type"] and body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code
    return body


def flip(cursor: str, index: int) -> str:
    """`cursor` with the character at `index` replaced by another: every character of a
    cursor's payload and signature carries data bits (the last one of a base64 text may
    not: changing it can decode to the same bytes)."""
    replacement = "B" if cursor[index] != "B" else "C"
    return cursor[:index] + replacement + cursor[index + 1 :]


def make_settings(database_url: str, **overrides: Any) -> Settings:
    """The settings every test app runs with, plus `overrides`."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "admin_key": ADMIN_SECRET,
        "secret_key": None,
        "idempotency_ttl_seconds": 24 * 3600,
        "max_body_bytes": 1024 * 1024,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


@dataclass
class Api:
    """Shortcuts for arranging a test through the public HTTP API (the `api` fixture)."""

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


# --- PostgreSQL ------------------------------------------------------------------------------


def postgres_server() -> str:
    """The PostgreSQL server the tests use: THREADS_API_TEST_POSTGRES_URL, or the local one."""
    return os.environ.get("THREADS_API_TEST_POSTGRES_URL", DEFAULT_POSTGRES_SERVER)


def asyncpg_dsn(url: str) -> str:
    """`url` (a SQLAlchemy URL) as a DSN for `asyncpg.connect`."""
    return str(make_url(url).set(drivername="postgresql")).replace("***", "")


def pg_database_url(name: str) -> str:
    """The app's database URL for database `name` on the test server."""
    url = make_url(postgres_server()).set(drivername="postgresql+asyncpg", database=name)
    return url.render_as_string(hide_password=False)


async def pg_admin(statement: str) -> None:
    """Run `statement` (CREATE/DROP DATABASE …) on the test server's maintenance database."""
    server = make_url(postgres_server())
    connection = await asyncpg.connect(
        server.set(drivername="postgresql").render_as_string(hide_password=False), timeout=10
    )
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


# --- a real browser --------------------------------------------------------------------------

# Debian's Chromium (.ci/run installs it); playwright only drives it.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
