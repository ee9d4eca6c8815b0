"""Archiving, locking and restoring threads, and what a closed thread still allows."""

from typing import Any

from tests.helpers import problem
from tests.thread.support import get, list_ids, patch, thread_url, threads_url


class TestArchive:
    async def test_archive_returns_archived_thread(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"])

        response = await client.delete(thread_url(thread))

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "archived"
        assert body["archived_at"] is not None
        assert body["archived_at"] >= thread["created_at"]
        assert await get(client, thread) == body

    async def test_archive_twice_is_harmless(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"])
        first = (await client.delete(thread_url(thread))).json()

        response = await client.delete(thread_url(thread))

        assert response.status_code == 200
        assert response.json() == first

    async def test_archived_thread_is_hidden_from_default_list(self, api, client):
        space = await api.space()
        kept = await api.thread(space["id"])
        archived = await api.thread(space["id"])
        await client.delete(thread_url(archived))

        assert await list_ids(client, space["id"]) == [kept["id"]]

    async def test_restore_clears_archived_at(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"])
        await client.delete(thread_url(thread))

        response = await patch(client, thread, {"status": "open"})

        assert response.status_code == 200, response.text
        assert response.json()["status"] == "open"
        assert response.json()["archived_at"] is None
        assert await list_ids(client, space["id"]) == [thread["id"]]
        await api.message(space["id"], thread["id"], "back again")

    async def test_archive_by_patch_sets_archived_at_and_lock_clears_it(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"])

        archived = (await patch(client, thread, {"status": "archived"})).json()
        locked = (await patch(client, thread, {"status": "locked"})).json()

        assert archived["status"] == "archived"
        assert archived["archived_at"] is not None
        assert locked["status"] == "locked"
        assert locked["archived_at"] is None

    async def test_delete_unknown_thread_is_404(self, api, client):
        space = await api.space()

        response = await client.delete(f"{threads_url(space['id'])}/thr_{'0' * 26}")

        problem(response, 404, "thread_not_found")


class TestClosedThreads:
    async def closed(self, api, client, status: str) -> dict[str, Any]:
        space = await api.space()
        thread = await api.thread(space["id"], "first")
        await api.message(space["id"], thread["id"], "second")
        if status == "archived":
            response = await client.delete(thread_url(thread))
        else:
            response = await patch(client, thread, {"status": status})
        assert response.status_code == 200, response.text
        return response.json()

    async def test_locked_thread_refuses_messages(self, api, client):
        thread = await self.closed(api, client, "locked")

        response = await client.post(f"{thread_url(thread)}/messages", json={"content": "x"})

        problem(response, 409, "thread_closed")

    async def test_archived_thread_refuses_messages(self, api, client):
        thread = await self.closed(api, client, "archived")

        response = await client.post(f"{thread_url(thread)}/messages", json={"content": "x"})

        problem(response, 409, "thread_closed")

    async def test_refused_post_leaves_thread_unchanged(self, api, client):
        for status in ("locked", "archived"):
            thread = await self.closed(api, client, status)

            await client.post(f"{thread_url(thread)}/messages", json={"content": "x"})

            after = await get(client, thread)
            assert after == thread
            assert after["message_count"] == 2
            messages = (await client.get(f"{thread_url(thread)}/messages")).json()["data"]
            assert [m["seq"] for m in messages] == [1, 2]

    async def test_locked_thread_is_readable(self, api, client):
        thread = await self.closed(api, client, "locked")

        assert await get(client, thread) == thread

    async def test_archived_thread_is_readable(self, api, client):
        thread = await self.closed(api, client, "archived")

        assert await get(client, thread) == thread

    async def test_closed_thread_messages_are_listable(self, api, client):
        for status in ("locked", "archived"):
            thread = await self.closed(api, client, status)

            response = await client.get(f"{thread_url(thread)}/messages")

            assert response.status_code == 200
            assert [m["content"] for m in response.json()["data"]] == ["first", "second"]

    async def test_unlocked_thread_accepts_messages_again(self, api, client):
        thread = await self.closed(api, client, "locked")
        await patch(client, thread, {"status": "open"})

        message = await api.message(thread["space_id"], thread["id"], "third")

        assert message["seq"] == 3
