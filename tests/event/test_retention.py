"""Retention (contract §14): a background purge deletes old events and records a watermark;
`after` below it is `410 events_expired`. Expired stream tokens go too."""

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.event.support import all_events
from tests.helpers import Api, problem
from threads_api.models import Event, StreamToken
from threads_api.state import app_state

RETENTION_SECONDS = 1.0


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"event_retention_days": RETENTION_SECONDS / 86400}


async def count(app: Any, model: Any) -> int:
    async with app_state(app).database.reader() as session, session.begin():
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def until_purged(app: Any) -> None:
    deadline = time.monotonic() + 20
    while await count(app, Event):
        assert time.monotonic() < deadline, "the purge did not run"
        await asyncio.sleep(0.1)


async def test_old_events_are_purged_and_after_below_the_watermark_is_410(
    app: Any, api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    thread = await api.thread(space["id"], "old")
    old = await all_events(client, space["id"])
    assert len(old) == 2
    await until_purged(app)

    url = f"/v1/spaces/{space['id']}/events"
    for after in (0, 1):
        body = problem(await client.get(url, params={"after": after}), 410, "events_expired")
        assert "resync" in body["detail"]
    purged = await client.get(url)
    assert purged.json()["data"] == [] and purged.json()["last_position"] == 2
    assert (await client.get(url, params={"after": 2})).json()["data"] == []

    await api.message(space["id"], thread["id"], "new")
    fresh = (await client.get(url)).json()["data"]
    assert [e["position"] for e in fresh] == [3]
    assert (await client.get(url, params={"after": 2})).json()["data"] == fresh
    problem(
        await client.get(f"{url}/stream", params={"after": 1}, headers={"Last-Event-ID": "1"}),
        410,
        "events_expired",
    )


async def test_a_cursor_that_fell_below_the_watermark_is_410(
    app: Any, api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    await api.thread(space["id"], "old")
    url = f"/v1/spaces/{space['id']}/events"
    cursor = (await client.get(url, params={"limit": 1})).json()["next_cursor"]
    await until_purged(app)
    problem(await client.get(url, params={"limit": 1, "cursor": cursor}), 410, "events_expired")


async def test_expired_stream_tokens_open_nothing_and_are_purged(
    app: Any, api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    created = await client.post(f"/v1/spaces/{space['id']}/events/stream-tokens")
    token = created.json()["token"]
    async with app_state(app).database.writer() as session, session.begin():
        expired = datetime.now(UTC) - timedelta(seconds=1)
        await session.execute(update(StreamToken).values(expires_at=expired))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as browser:
        response = await browser.get(
            f"/v1/spaces/{space['id']}/events/stream", params={"token": token}
        )
    problem(response, 401)
    await client.post(f"/v1/spaces/{space['id']}/events/stream-tokens")  # another, expired:
    async with app_state(app).database.writer() as session, session.begin():
        await session.execute(update(StreamToken).values(expires_at=expired))
    deadline = time.monotonic() + 20
    while await count(app, StreamToken):
        assert time.monotonic() < deadline, "the purge did not run"
        await asyncio.sleep(0.1)
