"""Listing threads: a space's threads, the status filter and the sort orders, with ties
broken by id — over the ASGI app, on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update

from tests.helpers import problem
from tests.thread.support import list_ids, patch, threads_url
from threads_api.models import Thread as ThreadRow
from threads_api.state import app_state


class TestList:
    async def test_list_threads_returns_the_space_threads(self, api, client):
        space = await api.space()
        first = await api.thread(space["id"], "one")
        second = await api.thread(space["id"], "two")
        other = await api.space("other")
        await api.thread(other["id"], "elsewhere")

        response = await client.get(threads_url(space["id"]))

        assert response.status_code == 200
        body = response.json()
        assert body["object"] == "list"
        assert body["has_more"] is False
        assert body["next_cursor"] is None
        assert "link" not in response.headers
        assert [t["id"] for t in body["data"]] == [second["id"], first["id"]]
        assert body["data"][1] == first


class TestListFilters:
    async def arrange(self, api, client) -> tuple[str, dict[str, str]]:
        space = await api.space()
        ids = {}
        for status in ("open", "locked", "archived"):
            thread = await api.thread(space["id"], status)
            if status != "open":
                assert (await patch(client, thread, {"status": status})).status_code == 200
            ids[status] = thread["id"]
        return space["id"], ids

    async def test_default_lists_open_and_locked(self, api, client):
        space_id, ids = await self.arrange(api, client)

        assert set(await list_ids(client, space_id)) == {ids["open"], ids["locked"]}

    async def test_status_archived(self, api, client):
        space_id, ids = await self.arrange(api, client)

        assert await list_ids(client, space_id, status="archived") == [ids["archived"]]

    async def test_status_locked(self, api, client):
        space_id, ids = await self.arrange(api, client)

        assert await list_ids(client, space_id, status="locked") == [ids["locked"]]

    async def test_status_open(self, api, client):
        space_id, ids = await self.arrange(api, client)

        assert await list_ids(client, space_id, status="open") == [ids["open"]]

    async def test_status_all(self, api, client):
        space_id, ids = await self.arrange(api, client)

        assert set(await list_ids(client, space_id, status="all")) == set(ids.values())

    async def test_unknown_status_is_422(self, api, client):
        space = await api.space()

        response = await client.get(threads_url(space["id"]), params={"status": "deleted"})

        problem(response, 422, "validation_failed")

    async def test_unknown_sort_or_order_is_422(self, api, client):
        space = await api.space()

        bad_sort = await client.get(threads_url(space["id"]), params={"sort": "title"})
        bad_order = await client.get(threads_url(space["id"]), params={"order": "up"})

        problem(bad_sort, 422, "validation_failed")
        problem(bad_order, 422, "validation_failed")


class TestListOrder:
    async def arrange(self, api) -> tuple[str, list[dict[str, Any]]]:
        """Three threads; the oldest gets a new message, so activity order differs from
        creation order."""
        space = await api.space()
        threads = [await api.thread(space["id"], f"t{i}") for i in range(3)]
        await api.message(space["id"], threads[0]["id"])
        return space["id"], threads

    async def test_default_sort_is_last_message_at_desc(self, api, client):
        space_id, (a, b, c) = await self.arrange(api)

        assert await list_ids(client, space_id) == [a["id"], c["id"], b["id"]]

    async def test_last_message_at_asc(self, api, client):
        space_id, (a, b, c) = await self.arrange(api)

        ids = await list_ids(client, space_id, sort="last_message_at", order="asc")

        assert ids == [b["id"], c["id"], a["id"]]

    async def test_created_at_desc(self, api, client):
        space_id, (a, b, c) = await self.arrange(api)

        ids = await list_ids(client, space_id, sort="created_at")

        assert ids == [c["id"], b["id"], a["id"]]

    async def test_created_at_asc(self, api, client):
        space_id, (a, b, c) = await self.arrange(api)

        ids = await list_ids(client, space_id, sort="created_at", order="asc")

        assert ids == [a["id"], b["id"], c["id"]]

    async def test_ties_are_broken_by_id_in_the_order_direction(self, api, client, app):
        space = await api.space()
        threads = [await api.thread(space["id"], f"t{i}") for i in range(5)]
        same = datetime(2026, 1, 1, tzinfo=UTC)
        async with app_state(app).database.writer() as session, session.begin():
            await session.execute(
                update(ThreadRow)
                .where(ThreadRow.space_id == space["id"])
                .values(created_at=same, last_message_at=same)
            )
        by_id = sorted(t["id"] for t in threads)

        for sort in ("created_at", "last_message_at"):
            assert await list_ids(client, space["id"], sort=sort, order="asc") == by_id
            assert await list_ids(client, space["id"], sort=sort, order="desc") == by_id[::-1]
            # The tie-break holds across page boundaries too.
            seen, cursor = [], None
            while True:
                params = {"sort": sort, "order": "asc", "limit": 2}
                if cursor:
                    params["cursor"] = cursor
                body = (await client.get(threads_url(space["id"]), params=params)).json()
                seen += [t["id"] for t in body["data"]]
                cursor = body["next_cursor"]
                if not body["has_more"]:
                    break
            assert seen == by_id
