"""Updating a thread: PATCH is a JSON merge patch (title, status, metadata), and what it
refuses leaves the thread unchanged."""

from typing import Any

from tests.helpers import problem
from tests.thread.support import get, patch, thread_url, threads_url


class TestUpdate:
    async def test_update_title(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"])

        response = await patch(client, thread, {"title": "Updated Thread Title"})

        assert response.status_code == 200, response.text
        assert response.json()["title"] == "Updated Thread Title"
        assert response.json()["updated_at"] > thread["updated_at"]
        assert (await get(client, thread))["title"] == "Updated Thread Title"

    async def test_update_accepts_merge_patch_content_type(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"])

        response = await client.patch(
            thread_url(thread),
            content=b'{"title": "merged"}',
            headers={"Content-Type": "application/merge-patch+json"},
        )

        assert response.status_code == 200, response.text
        assert response.json()["title"] == "merged"


class TestMergePatch:
    async def arrange(self, api, metadata: dict[str, str] | None = None) -> dict[str, Any]:
        space = await api.space()
        return await api.thread(space["id"], "t", thread_metadata=metadata or {})

    async def test_metadata_merges(self, api, client):
        thread = await self.arrange(api, {"a": "1", "b": "2"})

        response = await patch(client, thread, {"metadata": {"b": "20", "c": "3"}})

        assert response.status_code == 200, response.text
        assert response.json()["metadata"] == {"a": "1", "b": "20", "c": "3"}
        assert (await get(client, thread))["metadata"] == {"a": "1", "b": "20", "c": "3"}

    async def test_metadata_key_null_removes_it(self, api, client):
        thread = await self.arrange(api, {"a": "1", "b": "2"})

        response = await patch(client, thread, {"metadata": {"a": None, "missing": None}})

        assert response.status_code == 200, response.text
        assert response.json()["metadata"] == {"b": "2"}

    async def test_metadata_null_clears_all(self, api, client):
        thread = await self.arrange(api, {"a": "1", "b": "2"})

        response = await patch(client, thread, {"metadata": None})

        assert response.status_code == 200, response.text
        assert response.json()["metadata"] == {}

    async def test_absent_fields_are_left_alone(self, api, client):
        thread = await self.arrange(api, {"a": "1"})
        await patch(client, thread, {"status": "locked"})

        response = await patch(client, thread, {"title": "new"})

        body = response.json()
        assert body["metadata"] == {"a": "1"}
        assert body["status"] == "locked"

    async def test_empty_patch_changes_nothing(self, api, client):
        thread = await self.arrange(api, {"a": "1"})

        response = await patch(client, thread, {})

        assert response.status_code == 200
        assert response.json() == thread

    async def test_title_null_is_422(self, api, client):
        thread = await self.arrange(api)

        response = await patch(client, thread, {"title": None})

        problem(response, 422, "validation_failed")
        assert await get(client, thread) == thread

    async def test_status_null_is_422(self, api, client):
        thread = await self.arrange(api)

        response = await patch(client, thread, {"status": None})

        problem(response, 422, "validation_failed")
        assert await get(client, thread) == thread

    async def test_unknown_status_is_422(self, api, client):
        thread = await self.arrange(api)

        response = await patch(client, thread, {"status": "deleted"})

        problem(response, 422, "validation_failed")

    async def test_merged_metadata_over_16_keys_is_422_and_changes_nothing(self, api, client):
        start = {f"k{i}": "v" for i in range(10)}
        thread = await self.arrange(api, start)

        response = await patch(
            client,
            thread,
            {"title": "changed", "metadata": {f"n{i}": "v" for i in range(7)}},
        )

        problem(response, 422, "validation_failed")
        assert await get(client, thread) == thread

    async def test_merged_metadata_of_exactly_16_keys_is_ok(self, api, client):
        thread = await self.arrange(api, {f"k{i}": "v" for i in range(10)})

        response = await patch(
            client,
            thread,
            {"metadata": {"k0": None, **{f"n{i}": "v" for i in range(7)}}},
        )

        assert response.status_code == 200, response.text
        assert len(response.json()["metadata"]) == 16

    async def test_unknown_field_is_422(self, api, client):
        thread = await self.arrange(api)

        response = await patch(client, thread, {"title": "x", "color": "red"})

        problem(response, 422, "validation_failed")
        assert await get(client, thread) == thread

    async def test_patch_of_unknown_thread_is_404(self, api, client):
        space = await api.space()

        response = await client.patch(
            f"{threads_url(space['id'])}/thr_{'0' * 26}", json={"title": "x"}
        )

        problem(response, 404, "thread_not_found")
