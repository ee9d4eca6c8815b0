"""A key is bound to its request: another body, thread or endpoint is a reuse (422); keys are
scoped to the API key that sent them."""

from typing import Any

import httpx

from tests.helpers import Api, problem
from tests.idempotency.support import REPLAYED, assert_replay_of, count, messages_path, post


class TestFingerprint:
    async def test_same_key_with_another_body_is_422(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        assert (await post(client, path, {"content": "one"}, "k-2")).status_code == 201
        reused = await post(client, path, {"content": "two"}, "k-2")
        problem(reused, 422, "idempotency_key_reused")
        assert REPLAYED not in reused.headers
        assert await count(client, path) == 2

    async def test_same_key_on_another_thread_is_422(
        self, api: Api, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        other = await api.thread(thread["space_id"], "other")
        other_path = messages_path(other["space_id"], other["id"])
        assert (await post(client, path, {"content": "same"}, "k-3")).status_code == 201
        reused = await post(client, other_path, {"content": "same"}, "k-3")
        problem(reused, 422, "idempotency_key_reused")
        assert await count(client, other_path) == 1

    async def test_same_key_on_another_endpoint_is_422(
        self, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        assert (await post(client, path, {"content": "same"}, "k-4")).status_code == 201
        threads_path = f"/v1/spaces/{thread['space_id']}/threads/messages"
        reused = await post(client, threads_path, {"content": "same"}, "k-4")
        problem(reused, 422, "idempotency_key_reused")
        assert await count(client, f"/v1/spaces/{thread['space_id']}/threads?status=all") == 1


class TestScoping:
    async def test_two_api_keys_may_use_the_same_key_value(
        self, api: Api, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        alice = await api.key(["write"], [thread["space_id"]])
        bob = await api.key(["write"], [thread["space_id"]])
        body = {"content": "shared key value"}

        first_a = await post(client, path, body, "shared", secret=alice)
        first_b = await post(client, path, body, "shared", secret=bob)
        assert first_a.status_code == first_b.status_code == 201
        assert REPLAYED not in first_b.headers
        assert first_a.json()["id"] != first_b.json()["id"]

        assert_replay_of(await post(client, path, body, "shared", secret=alice), first_a)
        assert_replay_of(await post(client, path, body, "shared", secret=bob), first_b)
        assert await count(client, path) == 3

    async def test_another_api_key_with_another_body_is_not_a_reuse(
        self, api: Api, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        alice = await api.key(["write"], [thread["space_id"]])
        assert (await post(client, path, {"content": "a"}, "k-5", secret=alice)).status_code == 201
        other = await post(client, path, {"content": "b"}, "k-5")
        assert other.status_code == 201, other.text
        assert REPLAYED not in other.headers
