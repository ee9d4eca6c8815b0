"""A duplicate of a request that is still running is 409 with Retry-After, at once."""

import asyncio
import time
from typing import Any

import asyncpg
import httpx
import pytest

from tests.helpers import asyncpg_dsn, problem
from tests.idempotency.support import assert_replay_of, count, post


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_duplicate_of_a_request_still_running_is_409_with_retry_after(
    database_url: str, client: httpx.AsyncClient, thread: dict[str, Any], path: str
) -> None:
    """The first request claims the key, then waits for the thread's row, which the test
    holds locked; a duplicate sent meanwhile must answer 409 promptly, not hang or 503."""
    blocker = await asyncpg.connect(asyncpg_dsn(database_url), timeout=10)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("SELECT 1 FROM threads WHERE id = $1 FOR UPDATE", thread["id"])
        first = asyncio.create_task(post(client, path, {"content": "slow"}, "in-flight"))
        await asyncio.sleep(0.5)
        assert not first.done()

        started = time.monotonic()
        duplicate = await post(client, path, {"content": "slow"}, "in-flight")
        waited = time.monotonic() - started
        problem(duplicate, 409, "idempotency_in_flight")
        assert int(duplicate.headers["retry-after"]) >= 1
        assert waited < 4, waited
        assert not first.done()
        await transaction.rollback()
    finally:
        await blocker.close()

    original = await first
    assert original.status_code == 201, original.text
    assert_replay_of(await post(client, path, {"content": "slow"}, "in-flight"), original)
    assert await count(client, path) == 2
