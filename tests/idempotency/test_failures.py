"""A request that fails stores nothing: the same key may be used again once it can succeed."""

from typing import Any

import httpx

from tests.helpers import problem
from tests.idempotency.support import REPLAYED, assert_replay_of, count, messages_path, post


class TestFailuresStoreNothing:
    async def test_a_409_stores_nothing_and_the_key_works_once_the_thread_reopens(
        self, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        thread_url = f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}"
        assert (await client.patch(thread_url, json={"status": "locked"})).status_code == 200
        body = {"content": "let me in"}
        for _ in range(2):  # retrying the error runs it again: it was not stored
            problem(await post(client, path, body, "k-6"), 409, "thread_closed")

        assert (await client.patch(thread_url, json={"status": "open"})).status_code == 200
        created = await post(client, path, body, "k-6")
        assert created.status_code == 201, created.text
        assert REPLAYED not in created.headers
        assert_replay_of(await post(client, path, body, "k-6"), created)
        assert await count(client, path) == 2

    async def test_a_422_stores_nothing_and_the_corrected_body_may_use_the_key(
        self, client: httpx.AsyncClient, path: str
    ) -> None:
        invalid = await post(client, path, {"content": "   "}, "k-7")
        problem(invalid, 422, "validation_failed")
        created = await post(client, path, {"content": "fixed"}, "k-7")
        assert created.status_code == 201, created.text
        assert REPLAYED not in created.headers
        assert await count(client, path) == 2

    async def test_a_404_stores_nothing(
        self, client: httpx.AsyncClient, thread: dict[str, Any], path: str
    ) -> None:
        missing = messages_path(thread["space_id"], "thr_00000000000000000000000000")
        problem(await post(client, missing, {"content": "x"}, "k-8"), 404, "thread_not_found")
        created = await post(client, path, {"content": "x"}, "k-8")
        assert created.status_code == 201, created.text

    async def test_an_unknown_space_in_a_new_api_key_stores_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        body = {"name": "k", "scopes": ["read"], "space_ids": ["spc_00000000000000000000000000"]}
        problem(await post(client, "/v1/api-keys", body, "k-9"), 422, "unknown_space")
        created = await post(client, "/v1/api-keys", {"name": "k", "scopes": ["admin"]}, "k-9")
        assert created.status_code == 201, created.text
        assert REPLAYED not in created.headers
