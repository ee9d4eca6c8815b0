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
