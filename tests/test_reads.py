"""The plain read connections (reads.py): they open from the same settings as the engines
(a SQLite path with URI characters, PostgreSQL URL options SQLAlchemy accepts), and reads in
flight when the app shuts down answer or get a 503, never a 500."""

import asyncio
import collections
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.helpers import ADMIN_SECRET, Api, admin_client, make_settings, started_app
from threads_api.api_key.service import api_key as api_key_service
from threads_api.app import create_app
from threads_api.config import Settings
from threads_api.state import app_state


@contextlib.asynccontextmanager
async def serve(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url)
    async with started_app(settings) as application, admin_client(application) as client:
        yield client


async def assert_every_read_answers(client: httpx.AsyncClient) -> None:
    space = await client.post("/v1/spaces", json={"name": "s"})
    assert space.status_code == 201, space.text
    threads = f"/v1/spaces/{space.json()['id']}/threads"
    # Starting a thread checks the space on a plain connection (an admin key).
    started = await client.post(f"{threads}/messages", json={"content": "hello"})
    assert started.status_code == 201, started.text
    thread = f"{threads}/{started.json()['thread']['id']}"
    for url in (thread, threads, f"{thread}/messages"):
        response = await client.get(url)
        assert response.status_code == 200, (url, response.text)


@pytest.mark.parametrize("directory", ["hash#sign", "space d", "percent%25"])
async def test_a_sqlite_path_with_uri_characters(
    sqlite_template: Path, tmp_path: Path, directory: str
) -> None:
    """`#` ends the path of a `file:` URI and `%xx` is decoded: db.py quotes the path for
    its engines; the plain reads must open the same file."""
    path = tmp_path / directory / "threads.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    url = make_url("sqlite+aiosqlite://").set(database=str(path))
    async with serve(url.render_as_string()) as client:
        await assert_every_read_answers(client)


@pytest.mark.parametrize(
    "query",
    [
        # Both are SQLAlchemy asyncpg options: TLS (`ssl=require` in production; the test
        # server has none) and the PgBouncer setting of SQLAlchemy's statement cache.
        {"ssl": "disable"},
        {"prepared_statement_cache_size": "0"},
    ],
)
async def test_a_postgres_url_with_sqlalchemy_options(
    postgres_database: str, query: dict[str, Any]
) -> None:
    url = make_url(postgres_database).update_query_dict(query)
    async with serve(url.render_as_string(hide_password=False)) as client:
        await assert_every_read_answers(client)


async def test_reads_in_flight_at_shutdown_never_answer_500(settings: Settings) -> None:
    application = create_app(settings)
    lifespan = application.router.lifespan_context(application)
    await lifespan.__aenter__()
    # The client outlives the app's lifespan: the reads end after the database is disposed.
    async with admin_client(application) as client:
        try:
            await api_key_service.bootstrap(app_state(application).database, ADMIN_SECRET)
            api = Api(client)
            space = await api.space()
            thread = await api.thread(space["id"])
            url = f"/v1/spaces/{space['id']}/threads/{thread['id']}"
            reads: list[asyncio.Task[Any]] = [
                asyncio.create_task(client.get(path))
                for _ in range(20)
                for path in (url, f"{url}/messages", f"/v1/spaces/{space['id']}/threads")
            ]
            await asyncio.sleep(0.005)
        finally:
            await lifespan.__aexit__(None, None, None)
        answered = await asyncio.gather(*reads)
        late = await client.get(url)

    statuses = collections.Counter(response.status_code for response in [*answered, late])
    assert set(statuses) <= {200, 503}, statuses
