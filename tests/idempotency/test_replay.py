"""A retried POST with the same `Idempotency-Key` gets the stored response and creates nothing
(contract §8, ADR 0003), also after the server restarts."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.helpers import ADMIN_SECRET
from tests.idempotency.support import KEY, REPLAYED, assert_replay_of, count, messages_path, post
from tests.servers import Server


class TestReplay:
    async def test_replay_returns_the_stored_response_and_creates_nothing(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        body = {"content": "once", "author": "alice", "metadata": {"a": "1"}}
        original = await post(client, path, body, "k-1")
        assert original.status_code == 201, original.text
        assert REPLAYED not in original.headers
        assert original.headers["location"].endswith(original.json()["id"])

        for _ in range(2):
            assert_replay_of(await post(client, path, body, "k-1"), original)
        assert await count(client, path) == 2  # the thread's first message and this one

    async def test_without_a_key_every_request_creates(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        first = await post(client, path, {"content": "x"}, None)
        second = await post(client, path, {"content": "x"}, None)
        assert first.status_code == second.status_code == 201
        assert first.json()["id"] != second.json()["id"]
        assert await count(client, path) == 3

    async def test_key_order_and_whitespace_do_not_change_the_fingerprint(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        original = await post(client, path, '{"content":"x","author":"bob"}', "k-ws")
        assert original.status_code == 201, original.text
        replay = await post(client, path, '{\n  "author" : "bob",\t"content": "x"\n}  ', "k-ws")
        assert_replay_of(replay, original)
        assert await count(client, path) == 2

    async def test_replay_is_the_stored_response_even_after_the_thread_is_locked(
        self, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        original = await post(client, path, {"content": "before"}, "k-lock")
        assert original.status_code == 201, original.text
        locked = await client.patch(
            f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}", json={"status": "locked"}
        )
        assert locked.status_code == 200, locked.text
        assert_replay_of(await post(client, path, {"content": "before"}, "k-lock"), original)

    async def test_location_of_a_replay_points_at_the_created_resource(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        original = await post(client, path, {"content": "find me"}, "k-loc")
        replay = await post(client, path, {"content": "find me"}, "k-loc")
        fetched = await client.get(replay.headers["location"])
        assert fetched.status_code == 200
        assert fetched.json() == original.json()


@pytest.mark.slow
def test_replay_survives_a_server_restart(
    database_url: str, server_factory: Callable[..., Server]
) -> None:
    server = server_factory(database_url)
    with httpx.Client(base_url=server.url, headers={"X-API-Key": ADMIN_SECRET}) as http:
        space = http.post("/v1/spaces", json={"name": "restart"}).json()
        thread = http.post(
            f"/v1/spaces/{space['id']}/threads/messages", json={"content": "first"}
        ).json()["thread"]
        path = messages_path(space["id"], thread["id"])
        original = http.post(path, json={"content": "durable"}, headers={KEY: "restart"})
        assert original.status_code == 201, original.text
    server.stop()
    assert server.process.returncode is not None

    restarted = server_factory(database_url)
    with httpx.Client(base_url=restarted.url, headers={"X-API-Key": ADMIN_SECRET}) as http:
        replay = http.post(path, json={"content": "durable"}, headers={KEY: "restart"})
        assert_replay_of(replay, original)
        messages = http.get(path).json()["data"]
        assert [m["id"] for m in messages][1:] == [original.json()["id"]]
