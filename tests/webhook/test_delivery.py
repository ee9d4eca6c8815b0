"""Deliveries: signed per Standard Webhooks, verified with its reference library."""

import json

import httpx
import standardwebhooks

from tests.helpers import Api
from tests.webhook.receiver import Receiver


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
