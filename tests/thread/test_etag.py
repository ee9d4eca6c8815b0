"""A thread's strong ETag: If-None-Match on reads, If-Match on updates."""

from typing import Any

from tests.helpers import problem
from tests.thread.support import get, patch, thread_url


class TestETag:
    async def arrange(self, api) -> dict[str, Any]:
        space = await api.space()
        return await api.thread(space["id"])

    async def test_get_has_a_strong_etag(self, api, client):
        thread = await self.arrange(api)

        response = await client.get(thread_url(thread))

        etag = response.headers["etag"]
        assert etag.startswith('"') and etag.endswith('"')
        assert not etag.startswith("W/")
        assert (await client.get(thread_url(thread))).headers["etag"] == etag

    async def test_if_none_match_current_is_304(self, api, client):
        thread = await self.arrange(api)
        etag = (await client.get(thread_url(thread))).headers["etag"]

        response = await client.get(thread_url(thread), headers={"If-None-Match": etag})

        assert response.status_code == 304
        assert response.headers["etag"] == etag
        assert response.content == b""

    async def test_if_none_match_stale_is_200(self, api, client):
        thread = await self.arrange(api)
        etag = (await client.get(thread_url(thread))).headers["etag"]
        await patch(client, thread, {"title": "changed"})

        response = await client.get(thread_url(thread), headers={"If-None-Match": etag})

        assert response.status_code == 200
        assert response.headers["etag"] != etag
        assert response.json()["title"] == "changed"

    async def test_if_match_stale_is_412_and_changes_nothing(self, api, client):
        thread = await self.arrange(api)
        stale = (await client.get(thread_url(thread))).headers["etag"]
        await patch(client, thread, {"title": "first writer"})
        current = await get(client, thread)

        response = await patch(
            client, thread, {"title": "second writer"}, headers={"If-Match": stale}
        )

        problem(response, 412, "precondition_failed")
        assert await get(client, thread) == current

    async def test_if_match_with_weak_etag_is_412(self, api, client):
        thread = await self.arrange(api)
        etag = (await client.get(thread_url(thread))).headers["etag"]

        response = await patch(client, thread, {"title": "x"}, headers={"If-Match": f"W/{etag}"})

        problem(response, 412, "precondition_failed")
        assert await get(client, thread) == thread

    async def test_if_match_current_is_200_with_new_etag(self, api, client):
        thread = await self.arrange(api)
        etag = (await client.get(thread_url(thread))).headers["etag"]

        response = await patch(client, thread, {"title": "mine"}, headers={"If-Match": etag})

        assert response.status_code == 200, response.text
        new_etag = response.headers["etag"]
        assert new_etag != etag
        assert (await client.get(thread_url(thread))).headers["etag"] == new_etag

    async def test_new_message_changes_the_etag(self, api, client):
        thread = await self.arrange(api)
        etag = (await client.get(thread_url(thread))).headers["etag"]

        await api.message(thread["space_id"], thread["id"])

        response = await client.get(thread_url(thread), headers={"If-None-Match": etag})
        assert response.status_code == 200
        assert response.headers["etag"] != etag
