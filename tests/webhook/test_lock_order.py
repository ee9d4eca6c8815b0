"""The lock order of webhooks on PostgreSQL (webhook/repository.py `lock`): whatever changes a
webhook's jobs locks the webhook's row first, as a DELETE of the webhook does. Each test plays
the other side of a deadlock PostgreSQL once found (the dispatcher recording outcomes against
an endpoint being deleted) from a connection of its own, holding the webhook's row, and
checks that the app waits for it without touching the jobs, then finishes cleanly."""

import asyncio
import logging
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from tests.helpers import Api, asyncpg_dsn
from tests.webhook.receiver import Receiver
from tests.webhook.support import until
from tests.webhook.test_engine import webhook

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)


@pytest.fixture
async def connection(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=10)
    yield connection
    await connection.close()


async def someone_waits_for_a_lock(connection: asyncpg.Connection) -> bool:
    waiting = await connection.fetchval(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return bool(waiting)


async def unlocked_jobs(database_url: str, webhook_id: str) -> int:
    """How many of the webhook's jobs no transaction holds, seen from a third connection."""
    other = await asyncpg.connect(asyncpg_dsn(database_url), timeout=10)
    try:
        async with other.transaction():
            rows = await other.fetch(
                "SELECT id FROM webhook_jobs WHERE webhook_id = $1 FOR UPDATE SKIP LOCKED",
                webhook_id,
            )
    finally:
        await other.close()
    return len(rows)


async def test_recording_an_outcome_waits_for_a_webhook_being_deleted(
    client: httpx.AsyncClient,
    api: Api,
    receiver: Receiver,
    connection: asyncpg.Connection,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver.delay = 1.0  # the attempt is in flight while the webhook's row is taken
    hook = await webhook(client, receiver.url, types=["thread.created"])
    space = await api.space()
    await api.thread(space["id"])
    await receiver.wait_for(1)
    async with connection.transaction():
        # A DELETE of the webhook, in two steps: its row first, then (below) the rest.
        await connection.execute("SELECT id FROM webhooks WHERE id = $1 FOR UPDATE", hook["id"])
        await until(lambda: someone_waits_for_a_lock(connection))  # the outcome's record
        assert await unlocked_jobs(database_url, hook["id"]) == 1
        await connection.execute("DELETE FROM webhooks WHERE id = $1", hook["id"])
    await asyncio.sleep(0.2)  # the record, let go, finds the webhook gone
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert (await client.get(f"/v1/webhooks/{hook['id']}")).status_code == 404


async def test_disabling_a_webhook_takes_its_row_before_its_jobs(
    client: httpx.AsyncClient,
    api: Api,
    receiver: Receiver,
    connection: asyncpg.Connection,
    database_url: str,
) -> None:
    receiver.status = 500  # the first attempt fails: its job waits 5 s for a retry
    hook = await webhook(client, receiver.url, types=["thread.created"])
    space = await api.space()
    await api.thread(space["id"])
    await receiver.wait_for(1)
    await until(lambda: unlocked_jobs_left(database_url, hook["id"]))
    async with connection.transaction():
        # The dispatcher recording an outcome: the webhook's row, then its jobs.
        await connection.execute(
            "SELECT id FROM webhooks WHERE id = $1 FOR NO KEY UPDATE", hook["id"]
        )
        patch = asyncio.create_task(
            client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": False})
        )
        await until(lambda: someone_waits_for_a_lock(connection))
        assert await unlocked_jobs(database_url, hook["id"]) == 1
        await connection.execute("DELETE FROM webhook_jobs WHERE webhook_id = $1", hook["id"])
    disabled = await patch
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["enabled"] is False


async def unlocked_jobs_left(database_url: str, webhook_id: str) -> bool:
    """The failed attempt's job is rescheduled and no longer held by its record."""
    return await unlocked_jobs(database_url, webhook_id) == 1
