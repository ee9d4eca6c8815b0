"""`threads-api migrate | keys … | spaces …` do what they say, and the API sees what they did
(contract §12). The commands run in this process (the `invoke` fixture, quicker than a
subprocess); the operator's own subprocess runs are in test_errors.py."""

import asyncio
import json
from typing import Any

import httpx
from click.testing import Result
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from tests.cli.support import Invoke
from threads_api.config import Settings

# A key revoked by another process fails for requests that start this long after (api.md §2).
REVOCATION_BOUND_SECONDS = 0.1


async def table_names(database_url: str) -> set[str]:
    engine = create_async_engine(Settings(database_url=database_url).database_url)
    try:
        async with engine.connect() as connection:
            return set(await connection.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def run(invoke: Invoke, database_url: str, *args: str) -> Result:
    """The command with THREADS_API_DATABASE_URL set, beside the app this test talks to: in a
    thread, as the command runs its own event loop."""
    return await asyncio.to_thread(invoke, *args, env={"THREADS_API_DATABASE_URL": database_url})


def ok(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_migrate_creates_the_schema_and_can_run_again(invoke: Invoke, empty_database: str) -> None:
    environment = {"THREADS_API_DATABASE_URL": empty_database}
    first = invoke("migrate", env=environment)
    assert first.exit_code == 0, first.output
    assert "up to date" in first.stdout
    tables = asyncio.run(table_names(empty_database))
    assert {"spaces", "api_keys", "api_key_spaces", "threads", "messages"} <= tables
    assert "alembic_version" in tables

    second = invoke("migrate", env=environment)
    assert second.exit_code == 0, second.output
    assert asyncio.run(table_names(empty_database)) == tables


async def test_spaces_and_keys_commands(
    invoke: Invoke, database_url: str, client: httpx.AsyncClient
) -> None:
    space = ok(await run(invoke, database_url, "spaces", "create", "--name", "from the shell"))
    assert space["id"].startswith("spc_")
    assert space["name"] == "from the shell"
    # The API sees what the shell made, and the other way round.
    assert (await client.get(f"/v1/spaces/{space['id']}")).json()["name"] == "from the shell"
    other = (await client.post("/v1/spaces", json={"name": "from the API"})).json()
    listed = ok(await run(invoke, database_url, "spaces", "list"))
    assert [s["id"] for s in listed] == [space["id"], other["id"]]
    assert [s["name"] for s in listed] == ["from the shell", "from the API"]
    # The fields and timestamps `spaces create` prints, which are the API's.
    assert listed == [space, other]
    assert listed[0] == (await client.get(f"/v1/spaces/{space['id']}")).json()

    created = ok(
        await run(
            invoke,
            database_url,
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

    keys_out = await run(invoke, database_url, "keys", "list")
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

    revoked = ok(await run(invoke, database_url, "keys", "revoke", created["id"]))
    assert revoked["id"] == created["id"]
    assert revoked["revoked_at"] is not None
    assert "secret" not in revoked
    await asyncio.sleep(REVOCATION_BOUND_SECONDS)
    assert (await client.get("/v1/spaces", headers=headers)).status_code == 401
    api_view = (await client.get(f"/v1/api-keys/{created['id']}")).json()
    assert api_view["revoked_at"] == revoked["revoked_at"]
