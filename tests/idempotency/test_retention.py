"""Idempotency records expire after their TTL: the key then creates anew, and a background
task purges them."""

import asyncio
import time
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.idempotency.support import REPLAYED, assert_replay_of, count, post
from threads_api.models import IdempotencyRecord
from threads_api.state import app_state


async def _records(app: Any) -> int:
    async with app_state(app).database.reader() as session, session.begin():
        return await session.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0


class TestExpiry:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"idempotency_ttl_seconds": 1}

    @pytest.fixture(autouse=True)
    def no_purger(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Without the background purge, the request path must handle expired records."""

        async def idle(*_: Any) -> None:
            await asyncio.Event().wait()

        monkeypatch.setattr("threads_api.workers.purge_expired_forever", idle)

    async def test_after_expiry_the_same_key_creates_a_new_resource(
        self, app: Any, client: httpx.AsyncClient, path: str
    ) -> None:
        original = await post(client, path, {"content": "x"}, "ttl")
        assert_replay_of(await post(client, path, {"content": "x"}, "ttl"), original)
        await asyncio.sleep(1.2)
        assert await _records(app) == 1  # expired, but nothing purged it

        fresh = await post(client, path, {"content": "x"}, "ttl")
        assert fresh.status_code == 201, fresh.text
        assert REPLAYED not in fresh.headers
        assert fresh.json()["id"] != original.json()["id"]
        assert_replay_of(await post(client, path, {"content": "x"}, "ttl"), fresh)
        assert await count(client, path) == 3

    async def test_after_expiry_the_key_may_carry_another_body(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        assert (await post(client, path, {"content": "x"}, "ttl-2")).status_code == 201
        await asyncio.sleep(1.2)
        other = await post(client, path, {"content": "y"}, "ttl-2")
        assert other.status_code == 201, other.text
        assert REPLAYED not in other.headers


class TestPurge:
    @pytest.fixture
    def settings_overrides(self) -> dict[str, Any]:
        return {"idempotency_ttl_seconds": 1}

    async def test_expired_records_are_purged_in_the_background(
        self, app: Any, client: httpx.AsyncClient, path: str
    ) -> None:
        for key in ("p-1", "p-2"):
            assert (await post(client, path, {"content": key}, key)).status_code == 201
        assert await _records(app) == 2
        deadline = time.monotonic() + 4
        while await _records(app) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert await _records(app) == 0
