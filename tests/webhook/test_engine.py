"""The delivery engine (contract §15): retries with backoff on a clock the test moves, 410 and
three days of failures disable, no copy of content outlives an erasure, the purge keeps what
is still owed, a slow endpoint holds up nobody else, manual retries."""

import asyncio
from datetime import datetime, timedelta
from typing import Any

import httpx
import standardwebhooks
from fastapi import FastAPI

from tests.helpers import Api, problem
from tests.message.support import message_url, new_marker, rows_holding
from tests.webhook.receiver import Receiver
from threads_api.event.service import event as event_service
from threads_api.kit.schemas import utcnow
from threads_api.state import app_state
from threads_api.webhook.dispatcher import BACKOFF, JITTER
from threads_api.webhook.service import GONE_REASON


class Clock:
    """The dispatcher's clock, moved on by the test."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return utcnow() + self.offset


def clock_of(app: FastAPI) -> Clock:
    clock = Clock()
    app_state(app).webhooks.clock = clock
    return clock


def move_on(app: FastAPI, clock: Clock, by: timedelta) -> None:
    clock.offset += by
    app_state(app).webhooks.wake()


async def webhook(client: httpx.AsyncClient, url: str, **fields: Any) -> dict[str, Any]:
    created = await client.post("/v1/webhooks", json={"url": url, **fields})
    assert created.status_code == 201, created.text
    result: dict[str, Any] = created.json()
    return result


async def deliveries(client: httpx.AsyncClient, hook: dict[str, Any]) -> list[dict[str, Any]]:
    listed = await client.get(f"/v1/webhooks/{hook['id']}/deliveries")
    assert listed.status_code == 200, listed.text
    result: list[dict[str, Any]] = listed.json()["data"]
    return result


async def settled(client: httpx.AsyncClient, hook: dict[str, Any], count: int) -> list[Any]:
    """The deliveries log once it holds `count` attempts (outcomes are written in batches)."""
    for _ in range(200):
        found = await deliveries(client, hook)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(found)} of {count} attempts recorded")


async def disabled(client: httpx.AsyncClient, hook: dict[str, Any]) -> dict[str, Any]:
    """The webhook once the engine has disabled it (its outcome is written in a batch)."""
    for _ in range(100):
        current: dict[str, Any] = (await client.get(f"/v1/webhooks/{hook['id']}")).json()
        if not current["enabled"]:
            return current
        await asyncio.sleep(0.02)
    raise AssertionError("the webhook is still enabled")


async def one_failed_delivery(
    client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A webhook of thread.created, a new thread, and the failed first attempt to tell of it."""
    receiver.status = 500
    hook = await webhook(client, receiver.url, types=["thread.created"])
    space = await api.space()
    await api.thread(space["id"])
    await receiver.wait_for(1)
    [failed] = await settled(client, hook, 1)
    return hook, space, failed


def parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


async def test_failures_are_retried_with_backoff_and_the_same_webhook_id(
    app: FastAPI, client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    clock = clock_of(app)
    receiver.status = 500
    hook = await webhook(client, receiver.url, types=["thread.created"])
    space = await api.space()
    await api.thread(space["id"])
    [first] = await receiver.wait_for(1)
    [attempt] = await settled(client, hook, 1)
    assert (attempt["attempt"], attempt["status_code"]) == (1, 500)
    assert attempt["error"] == "the endpoint answered 500"
    wait = parse(attempt["next_retry_at"]) - parse(attempt["created_at"])
    assert BACKOFF[0] * (1 - JITTER) - timedelta(seconds=1) <= wait <= BACKOFF[0] * (1 + JITTER)
    assert wait <= timedelta(seconds=10)  # the first retry within 10 s

    move_on(app, clock, timedelta(seconds=2))  # not due yet
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == 1
    receiver.status = 200
    move_on(app, clock, timedelta(seconds=6))
    second = (await receiver.wait_for(2))[1]
    log = await settled(client, hook, 2)
    assert [(d["attempt"], d["status_code"], d["error"]) for d in log] == [
        (2, 200, None),
        (1, 500, "the endpoint answered 500"),
    ]
    assert log[0]["next_retry_at"] is None
    # One event, one webhook-id; each attempt signed afresh, at its own time.
    assert second.headers["webhook-id"] == first.headers["webhook-id"]
    assert int(second.headers["webhook-timestamp"]) > int(first.headers["webhook-timestamp"])
    assert second.body == first.body

    move_on(app, clock, timedelta(days=2))  # delivered: nothing more, however long we wait
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == 2


async def test_the_schedule_runs_for_a_day_and_more_then_gives_up(
    app: FastAPI, client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    clock = clock_of(app)
    receiver.status = 503
    hook = await webhook(client, receiver.url, types=["thread.created"])
    space = await api.space()
    await api.thread(space["id"])
    started = clock()
    for attempt in range(1, len(BACKOFF) + 2):
        await receiver.wait_for(attempt)
        log = await settled(client, hook, attempt)
        if log[0]["next_retry_at"] is None:
            break
        move_on(app, clock, parse(log[0]["next_retry_at"]) - clock() + timedelta(seconds=1))
    assert [d["attempt"] for d in log] == list(range(len(BACKOFF) + 1, 0, -1))
    assert log[0]["next_retry_at"] is None  # given up
    assert clock() - started >= timedelta(hours=24)
    # Still enabled: failing for less than three days.
    assert (await client.get(f"/v1/webhooks/{hook['id']}")).json()["enabled"] is True


async def test_three_days_of_failures_disable_the_endpoint(
    app: FastAPI, client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    clock = clock_of(app)
    receiver.status = 500
    hook = await webhook(client, receiver.url, types=["message.created"])
    space = await api.space()
    thread = await api.thread(space["id"])
    await receiver.wait_for(1)
    await settled(client, hook, 1)
    move_on(app, clock, timedelta(days=3))
    await api.message(space["id"], thread["id"])
    await receiver.wait_for(2)  # whichever attempt fails first three days on disables it
    current = await disabled(client, hook)
    assert current["enabled"] is False
    assert current["disabled_reason"].startswith("every delivery failed for 3 days")
    count = len(receiver.requests)
    move_on(app, clock, timedelta(days=1))
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == count  # what was pending was dropped

    # Re-enabled: new events only, none of those in between.
    await api.message(space["id"], thread["id"], "while disabled")
    enabled = await client.patch(f"/v1/webhooks/{hook['id']}", json={"enabled": True})
    assert enabled.json()["disabled_reason"] is None
    receiver.status = 200
    await api.message(space["id"], thread["id"], "after")
    [*_, last] = await receiver.wait_for(count + 1)
    assert b'"content":"after"' in last.body
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == count + 1


async def test_410_gone_disables_the_endpoint(
    client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    receiver.status = 410
    hook = await webhook(client, receiver.url)
    space = await api.space()
    await api.thread(space["id"])
    await receiver.wait_for(1)
    current = await disabled(client, hook)
    assert (current["enabled"], current["disabled_reason"]) == (False, GONE_REASON)
    await asyncio.sleep(0.3)
    # The other event of the thread was dropped with the endpoint, or refused with it.
    assert len(receiver.requests) <= 2


async def test_a_slow_endpoint_holds_up_nobody_else(
    client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    stuck = await Receiver(delay=30).start()
    try:
        await webhook(client, stuck.url, types=["message.created"])
        await webhook(client, receiver.url, types=["message.created"])
        space = await api.space()
        thread = await api.thread(space["id"])
        for n in range(20):
            await api.message(space["id"], thread["id"], f"message {n}")
        await receiver.wait_for(21)
        # The stuck endpoint has only its own share in flight, none of them answered.
        assert 1 <= len(stuck.requests) <= 8
    finally:
        await stuck.stop()


async def test_an_erased_message_is_delivered_as_its_tombstone_and_no_copy_is_kept(
    app: FastAPI,
    client: httpx.AsyncClient,
    api: Api,
    receiver: Receiver,
    database_url: str,
) -> None:
    clock = clock_of(app)
    receiver.status = 500
    hook = await webhook(client, receiver.url, types=["message.created"])
    secret = hook["secret"]
    marker = new_marker()
    space = await api.space()
    thread = await api.thread(space["id"])
    message = await api.message(space["id"], thread["id"], f"erase me {marker}")
    await receiver.wait_for(2)
    assert any(marker.encode() in r.body for r in receiver.requests)  # delivery is unordered
    erased = await client.delete(message_url(message))
    assert erased.status_code == 200, erased.text

    receiver.status = 200
    move_on(app, clock, timedelta(seconds=10))
    await receiver.wait_for(4)
    retried = [
        standardwebhooks.Webhook(secret).verify(r.body, r.headers) for r in receiver.requests[2:]
    ]
    mine = [e for e in retried if e["data"]["id"] == message["id"]]
    assert mine and mine[0]["data"]["content"] is None
    assert await rows_holding(database_url, marker) == {}


async def test_the_purge_keeps_events_still_owed_and_a_retry_of_a_purged_one_is_410(
    app: FastAPI, client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    clock = clock_of(app)
    hook, space, failed = await one_failed_delivery(client, api, receiver)
    database = app_state(app).database

    await event_service.purge(database, timedelta(0))
    events = (await client.get(f"/v1/spaces/{space['id']}/events")).json()["data"]
    # Owed, so kept, and everything after it (a watermark cannot skip over an event).
    assert [e["type"] for e in events] == ["thread.created", "message.created"]

    retried = await client.post(f"/v1/webhooks/{hook['id']}/deliveries/{failed['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert (retried.json()["attempt"], retried.json()["status_code"]) == (2, 500)

    receiver.status = 200
    move_on(app, clock, timedelta(seconds=10))
    await receiver.wait_for(3)
    await settled(client, hook, 3)
    await event_service.purge(database, timedelta(0))
    assert (await client.get(f"/v1/spaces/{space['id']}/events")).json()["data"] == []
    gone = await client.post(f"/v1/webhooks/{hook['id']}/deliveries/{failed['id']}/retry")
    problem(gone, 410, "event_purged")


async def test_the_purge_keeps_events_no_job_was_made_of_yet(
    app: FastAPI, client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    await webhook(client, receiver.url, types=["thread.created"])
    dispatcher = app_state(app).webhooks
    dispatcher.busy = lambda: True
    space = await api.space()
    await api.thread(space["id"])
    await receiver.wait_for(1)
    await api.thread(space["id"])  # its jobs wait for the next round, a second away
    await event_service.purge(app_state(app).database, timedelta(0))
    events = (await client.get(f"/v1/spaces/{space['id']}/events")).json()["data"]
    assert [e["type"] for e in events] == ["thread.created", "message.created"]
    dispatcher.busy = lambda: False
    await receiver.wait_for(2)


async def test_a_manual_retry_that_succeeds_settles_the_pending_job(
    app: FastAPI, client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    clock = clock_of(app)
    hook, _, failed = await one_failed_delivery(client, api, receiver)
    receiver.status = 200
    retried = await client.post(f"/v1/webhooks/{hook['id']}/deliveries/{failed['id']}/retry")
    assert retried.status_code == 200, retried.text
    assert retried.json() | {"id": None, "created_at": None, "duration_ms": None} == {
        "id": None,
        "object": "webhook_delivery",
        "webhook_id": hook["id"],
        "event_id": failed["event_id"],
        "attempt": 2,
        "status_code": 200,
        "duration_ms": None,
        "error": None,
        "next_retry_at": None,
        "created_at": None,
    }
    assert retried.headers["etag"]
    move_on(app, clock, timedelta(days=2))
    await asyncio.sleep(0.3)
    assert len(receiver.requests) == 2  # the scheduled retry had nothing left to do


async def test_the_deliveries_log_keeps_seven_days(
    app: FastAPI, client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    clock = clock_of(app)
    hook = await webhook(client, receiver.url, types=["thread.created"])
    space = await api.space()
    await api.thread(space["id"])
    await settled(client, hook, 1)
    move_on(app, clock, timedelta(days=6, hours=23))
    await asyncio.sleep(1.5)  # a full round, which purges (the last was over 10 minutes ago)
    assert len(await deliveries(client, hook)) == 1
    move_on(app, clock, timedelta(hours=2))
    for _ in range(40):
        if not await deliveries(client, hook):
            break
        await asyncio.sleep(0.1)
    assert await deliveries(client, hook) == []


async def test_while_requests_keep_the_process_busy_deliveries_wait_their_turn(
    app: FastAPI, client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    dispatcher = app_state(app).webhooks
    dispatcher.busy = lambda: True
    await webhook(client, receiver.url, types=["thread.created"])
    space = await api.space()
    await api.thread(space["id"])
    [first] = await receiver.wait_for(1)
    await api.thread(space["id"])
    await asyncio.sleep(0.6)
    assert len(receiver.requests) == 1  # at most one round a second
    [_, second] = await receiver.wait_for(2)
    assert second.at - first.at >= 0.9
