"""Every POST that accepts `Idempotency-Key` replays, refuses reuse and checks the key; a replayed
API key creation never shows or stores the secret."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.helpers import Api, problem
from tests.idempotency.support import REPLAYED, assert_replay_of, count, messages_path, post
from threads_api.models import IdempotencyRecord
from threads_api.state import app_state


@dataclass(frozen=True)
class Endpoint:
    """A POST that accepts `Idempotency-Key`, arranged through the API."""

    name: str
    arrange: Callable[[Api], Awaitable[tuple[str, dict[str, Any], dict[str, Any], str]]]


async def _message(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    space = await api.space()
    thread = await api.thread(space["id"])
    path = messages_path(space["id"], thread["id"])
    return path, {"content": "a"}, {"content": "b"}, path


async def _thread_with_message(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    space = await api.space()
    path = f"/v1/spaces/{space['id']}/threads/messages"
    return path, {"content": "a"}, {"content": "b"}, f"/v1/spaces/{space['id']}/threads?status=all"


async def _space(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    return "/v1/spaces", {"name": "a"}, {"name": "b"}, "/v1/spaces"


async def _api_key(api: Api) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    space = await api.space()
    body = {"name": "a", "scopes": ["read"], "space_ids": [space["id"]]}
    return "/v1/api-keys", body, {**body, "name": "b"}, "/v1/api-keys"


ENDPOINTS = [
    Endpoint("message", _message),
    Endpoint("thread_with_message", _thread_with_message),
    Endpoint("space", _space),
    Endpoint("api_key", _api_key),
]


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
class TestEveryEndpoint:
    async def test_replay(self, api: Api, client: httpx.AsyncClient, endpoint: Endpoint) -> None:
        path, body, _, list_path = await endpoint.arrange(api)
        before = await count(client, list_path)
        original = await post(client, path, body, "every-1")
        assert original.status_code == 201, original.text
        assert REPLAYED not in original.headers
        assert original.headers["location"]
        assert_replay_of(await post(client, path, body, "every-1"), original)
        assert await count(client, list_path) == before + 1

    async def test_reuse_with_another_body(
        self, api: Api, client: httpx.AsyncClient, endpoint: Endpoint
    ) -> None:
        path, body, other, list_path = await endpoint.arrange(api)
        assert (await post(client, path, body, "every-2")).status_code == 201
        before = await count(client, list_path)
        problem(await post(client, path, other, "every-2"), 422, "idempotency_key_reused")
        assert await count(client, list_path) == before

    async def test_bad_key(self, api: Api, client: httpx.AsyncClient, endpoint: Endpoint) -> None:
        path, body, _, list_path = await endpoint.arrange(api)
        before = await count(client, list_path)
        problem(await post(client, path, body, b"\x01"), 400, "invalid_idempotency_key")
        assert await count(client, list_path) == before


async def test_replayed_api_key_creation_never_shows_or_stores_the_secret(
    app: Any, client: httpx.AsyncClient
) -> None:
    """A secret is shown once and only its hash is stored: the idempotency record keeps the
    response without it, so a replay answers the same key with `secret: null`."""
    body = {"name": "replayed", "scopes": ["admin"]}
    original = await post(client, "/v1/api-keys", body, "mint")
    replay = await post(client, "/v1/api-keys", body, "mint")
    assert original.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.headers["Location"] == original.headers["Location"]
    secret = original.json()["secret"]
    assert replay.json() == {**original.json(), "secret": None}
    async with app_state(app).database.reader() as session, session.begin():
        stored = await session.scalars(select(IdempotencyRecord.response_body))
        assert all(secret.encode() not in body for body in stored)
    assert (await client.get("/v1/spaces", headers={"X-API-Key": secret})).status_code == 200
