"""Deliveries: signed per Standard Webhooks, verified with its reference library."""

import asyncio
import json
import logging

import httpx
import pytest
import standardwebhooks

from tests.helpers import Api
from tests.webhook.receiver import Receiver
from threads_api.logs import JsonFormatter


async def test_a_message_is_delivered_signed(
    client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    created = await client.post("/v1/webhooks", json={"url": receiver.url})
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    space = await api.space()
    thread = await api.thread(space["id"])

    requests = await receiver.wait_for(2)
    events = [
        standardwebhooks.Webhook(secret).verify(request.body, request.headers)
        for request in requests
    ]
    assert sorted(event["type"] for event in events) == ["message.created", "thread.created"]
    assert {event["thread_id"] for event in events} == {thread["id"]}
    for request, event in zip(requests, events, strict=True):
        assert request.headers["webhook-id"] == event["id"]
        assert request.path == "/hook?token=sekrit"
        assert json.loads(request.body) == event


async def test_the_etag_of_a_create_or_rotation_is_the_webhooks_own(
    client: httpx.AsyncClient, receiver: Receiver
) -> None:
    """The secret in those answers is not part of the webhook: their ETag works in If-Match."""
    created = await client.post("/v1/webhooks", json={"url": receiver.url})
    url = f"/v1/webhooks/{created.json()['id']}"
    assert created.headers["etag"] == (await client.get(url)).headers["etag"]
    rotated = await client.post(f"{url}/rotate-secret", json={})
    assert rotated.headers["etag"] == (await client.get(url)).headers["etag"]
    patched = await client.patch(
        url, json={"description": "x"}, headers={"If-Match": rotated.headers["etag"]}
    )
    assert patched.status_code == 200, patched.text


async def test_each_attempt_logs_one_line_without_the_query_string_or_secret(
    client: httpx.AsyncClient, api: Api, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="threads_api.webhook")
    created = await client.post(
        "/v1/webhooks", json={"url": receiver.url, "types": ["thread.created"]}
    )
    space = await api.space()
    await api.thread(space["id"])
    [request] = await receiver.wait_for(1)
    attempts = [r for r in caplog.records if hasattr(r, "webhook_attempt")]
    assert len(attempts) == 1
    line = json.loads(JsonFormatter().format(attempts[0]))
    assert line["message"] == "webhook delivery succeeded"
    assert line["webhook_attempt"] | {"duration_ms": 0} == {
        "webhook_id": created.json()["id"],
        "url": receiver.url.split("?")[0],
        "event_id": request.headers["webhook-id"],
        "attempt": 1,
        "status_code": 200,
        "duration_ms": 0,
        "error": None,
    }
    everything = "\n".join(JsonFormatter().format(r) for r in caplog.records)
    assert "sekrit" not in everything
    assert created.json()["secret"] not in everything


async def test_a_webhook_gets_what_it_asks_for_from_when_it_is_enabled(
    client: httpx.AsyncClient, api: Api, receiver: Receiver
) -> None:
    one, other = await api.space("one"), await api.space("other")
    thread = await api.thread(one["id"])  # before any webhook: owed to none
    narrow = await client.post(
        "/v1/webhooks",
        json={
            "url": receiver.url + "&to=narrow",
            "space_ids": [one["id"]],
            "types": ["message.created"],
        },
    )
    wide = await client.post("/v1/webhooks", json={"url": receiver.url + "&to=wide"})
    await api.message(one["id"], thread["id"])  # narrow and wide
    await api.thread(other["id"])  # wide: thread.created and message.created
    await receiver.wait_for(4)
    # Disabled meanwhile: what it missed is not sent when it is enabled again.
    toggle = f"/v1/webhooks/{wide.json()['id']}"
    assert (await client.patch(toggle, json={"enabled": False})).status_code == 200
    await api.message(one["id"], thread["id"])  # narrow only
    assert (await client.patch(toggle, json={"enabled": True})).status_code == 200
    await api.message(other["id"], (await api.thread(other["id"]))["id"])  # wide: three

    await receiver.wait_for(8)
    await asyncio.sleep(0.3)  # time for anything owed to nobody to arrive anyway
    got: dict[str, list[tuple[str, str]]] = {"narrow": [], "wide": []}
    for request in receiver.requests:
        event = json.loads(request.body)
        got[request.path.rpartition("=")[2]].append((event["space_id"], event["type"]))
    assert sorted(got["narrow"]) == [(one["id"], "message.created")] * 2
    assert sorted(got["wide"]) == sorted(
        [(one["id"], "message.created")]
        + [(other["id"], "thread.created"), (other["id"], "message.created")] * 2
        + [(other["id"], "message.created")]
    )
    assert narrow.status_code == wide.status_code == 201
