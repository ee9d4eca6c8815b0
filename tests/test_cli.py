"""`threads-api migrate | keys … | spaces …`, run as the operator would (contract §12)."""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from tests.helpers import pg_admin, pg_database_url

# Every test runs the command in a subprocess.
pytestmark = pytest.mark.slow


def cli(database_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADS_API_")}
    env["THREADS_API_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "threads_api", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def ok(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


async def table_names(database_url: str) -> set[str]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh' / 'threads.db'}"
        return
    name = f"threads_cli_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_database_url(name)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_migrate_creates_the_schema_and_can_run_again(empty_database: str, tmp_path: Path) -> None:
    first = cli(empty_database, tmp_path, "migrate")
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout
    tables = asyncio.run(table_names(empty_database))
    assert {"spaces", "api_keys", "api_key_spaces", "threads", "messages"} <= tables
    assert "alembic_version" in tables

    second = cli(empty_database, tmp_path, "migrate")
    assert second.returncode == 0, second.stderr
    assert asyncio.run(table_names(empty_database)) == tables


async def test_spaces_and_keys_commands(
    database_url: str, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    space = ok(cli(database_url, tmp_path, "spaces", "create", "--name", "from the shell"))
    assert space["id"].startswith("spc_")
    assert space["name"] == "from the shell"
    # The API sees what the shell made, and the other way round.
    assert (await client.get(f"/v1/spaces/{space['id']}")).json()["name"] == "from the shell"
    other = (await client.post("/v1/spaces", json={"name": "from the API"})).json()
    listed = ok(cli(database_url, tmp_path, "spaces", "list"))
    assert [s["id"] for s in listed] == [space["id"], other["id"]]
    assert [s["name"] for s in listed] == ["from the shell", "from the API"]
    # The fields and timestamps `spaces create` prints, which are the API's.
    assert listed == [space, other]
    assert listed[0] == (await client.get(f"/v1/spaces/{space['id']}")).json()

    created = ok(
        cli(
            database_url,
            tmp_path,
            "keys",
            "create",
            "--name",
            "shell key",
            "--scope",
            "write",
            "--space",
            space["id"],
        )
    )
    secret = created["secret"]
    assert secret.startswith(created["prefix"])
    assert created["scopes"] == ["write"]
    assert created["space_ids"] == [space["id"]]
    headers = {"X-API-Key": secret}
    response = await client.get("/v1/spaces", headers=headers)
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["data"]] == [space["id"]]

    keys_out = cli(database_url, tmp_path, "keys", "list")
    keys = ok(keys_out)
    assert secret not in keys_out.stdout
    assert all("secret" not in k and "secret_hash" not in k for k in keys)
    assert created["id"] in [k["id"] for k in keys]
    # What `keys create` printed but the secret (the key has been used since): the API's view.
    mine = next(k for k in keys if k["id"] == created["id"])
    printed = {k: v for k, v in created.items() if k != "secret"}
    assert mine == {**printed, "last_used_at": mine["last_used_at"]}
    assert mine == (await client.get(f"/v1/api-keys/{created['id']}")).json()
    assert len(keys) == 2  # the bootstrap admin key and this one

    revoked = ok(cli(database_url, tmp_path, "keys", "revoke", created["id"]))
    assert revoked["id"] == created["id"]
    assert revoked["revoked_at"] is not None
    assert "secret" not in revoked
    assert (await client.get("/v1/spaces", headers=headers)).status_code == 401
    api_view = (await client.get(f"/v1/api-keys/{created['id']}")).json()
    assert api_view["revoked_at"] == revoked["revoked_at"]


async def test_cli_errors_exit_non_zero(
    database_url: str, tmp_path: Path, client: httpx.AsyncClient
) -> None:
    commands = {
        "unbound": ("keys", "create", "--name", "k", "--scope", "read"),
        "unknown_space": ("keys", "create", "--name", "k", "--space", "spc_" + "0" * 26),
        "unknown_key": ("keys", "revoke", "key_" + "0" * 26),
        "bad_name": ("spaces", "create", "--name", ""),
    }
    # Independent commands: run side by side to keep the test quick.
    with ThreadPoolExecutor(len(commands)) as pool:
        futures = {
            name: pool.submit(cli, database_url, tmp_path, *args) for name, args in commands.items()
        }
        results = {name: future.result() for name, future in futures.items()}
    for name, result in results.items():
        assert result.returncode != 0, name
        assert result.stdout == "", name
        assert "Traceback" not in result.stderr, (name, result.stderr)
    assert "space" in results["unbound"].stderr
    assert len((await client.get("/v1/api-keys")).json()["data"]) == 1
    assert (await client.get("/v1/spaces")).json()["data"] == []
