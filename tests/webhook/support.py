"""Helpers for the webhook API tests: arranging webhooks, reading problems, checking
signatures as a Standard Webhooks receiver does."""

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import standardwebhooks

from tests.helpers import problem
from tests.webhook.receiver import Received

URL = "https://example.com/hooks/threads"
UNKNOWN_WEBHOOK = "whk_" + "0" * 26
UNKNOWN_DELIVERY = "dlv_" + "0" * 26
UNKNOWN_SPACE = "spc_" + "0" * 26
FIELDS = {
    "id",
    "object",
    "url",
    "space_ids",
    "types",
    "description",
    "enabled",
    "disabled_reason",
    "created_at",
    "updated_at",
}


async def create(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await client.post("/v1/webhooks", json={"url": URL, **body})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def listed_ids(client: httpx.AsyncClient) -> list[str]:
    response = await client.get("/v1/webhooks", params={"limit": 200})
    assert response.status_code == 200, response.text
    return [webhook["id"] for webhook in response.json()["data"]]


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def messages(response: httpx.Response) -> list[tuple[list[Any], str]]:
    body = problem(response, 422, "validation_failed")
    return [(error["loc"], error["message"]) for error in body["errors"]]


def signatures(request: Received) -> list[str]:
    return request.headers["webhook-signature"].split(" ")


def verifies(secret: str, request: Received, signature: str | None = None) -> bool:
    """Whether a Standard Webhooks receiver holding `secret` accepts the request (or only
    `signature` of its signatures)."""
    headers = dict(request.headers)
    if signature is not None:
        headers["webhook-signature"] = signature
    try:
        standardwebhooks.Webhook(secret).verify(request.body, headers)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 15) -> None:
    """Poll the async `condition` until it holds; fails the test after `timeout` seconds."""
    for _ in range(int(timeout / 0.05)):
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")
