"""Threads: the product workflows as a client runs them, listing, closed threads, merge patch,
ETags and counters — over the ASGI app, on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import update

from threads_api.models import Thread as ThreadRow

PROBLEM = "application/problem+json"


def threads_url(space_id: str) -> str:
    return f"/v1/spaces/{space_id}/threads"


def thread_url(thread: dict[str, Any]) -> str:
    return f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}"


async def list_ids(client: httpx.AsyncClient, space_id: str, **params: Any) -> list[str]:
    response = await client.get(threads_url(space_id), params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["has_more"] is False
    return [t["id"] for t in body["data"]]


async def get(client: httpx.AsyncClient, thread: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(thread_url(thread))
    assert response.status_code == 200, response.text
    return response.json()


async def patch(client: httpx.AsyncClient, thread: dict[str, Any], body: Any, **kw: Any):
    return await client.patch(thread_url(thread), json=body, **kw)


def assert_problem(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == code


class TestWorkflow:
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

    async def test_retrieve_thread(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"], "Hello there", thread_metadata={"k": "v"})

        response = await client.get(thread_url(thread))

        assert response.status_code == 200
        body = response.json()
        assert body == thread
        assert body["object"] == "thread"
        assert body["id"].startswith("thr_")
        assert body["space_id"] == space["id"]
        assert body["title"] == "Hello there"
        assert body["status"] == "open"
        assert body["metadata"] == {"k": "v"}
        assert body["message_count"] == 1
        assert body["archived_at"] is None

    async def test_retrieve_thread_of_another_space_is_404(self, api, client):
        space = await api.space()
        other = await api.space("other")
        thread = await api.thread(space["id"])

        response = await client.get(f"{threads_url(other['id'])}/{thread['id']}")

        assert_problem(response, 404, "thread_not_found")

    async def test_retrieve_malformed_thread_id_is_404(self, api, client):
        space = await api.space()

        response = await client.get(f"{threads_url(space['id'])}/thr_nope")

        assert response.status_code == 404

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

        assert_problem(response, 404, "thread_not_found")


class TestCreateWithFirstMessage:
    async def test_creates_thread_and_message(self, api, client):
        space = await api.space()

        response = await client.post(
            f"{threads_url(space['id'])}/messages",
            json={"content": "Starting a new conversation.", "author": "alice"},
        )

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["object"] == "thread_with_message"
        thread, message = body["thread"], body["message"]
        assert thread["object"] == "thread"
        assert thread["status"] == "open"
        assert thread["message_count"] == 1
        assert thread["last_message_at"] == message["created_at"]
        assert message["object"] == "message"
        assert message["thread_id"] == thread["id"]
        assert message["space_id"] == space["id"]
        assert message["seq"] == 1
        assert message["author"] == "alice"
        assert message["content"] == "Starting a new conversation."

    async def test_location_points_at_the_thread(self, api, client):
        space = await api.space()

        response = await client.post(f"{threads_url(space['id'])}/messages", json={"content": "x"})

        location = response.headers["location"]
        assert location.endswith(
            f"/v1/spaces/{space['id']}/threads/{response.json()['thread']['id']}"
        )
        fetched = await client.get(location)
        assert fetched.status_code == 200
        assert fetched.json() == response.json()["thread"]

    async def test_first_message_is_listed(self, api, client):
        space = await api.space()
        response = await client.post(f"{threads_url(space['id'])}/messages", json={"content": "x"})
        body = response.json()

        listed = await client.get(f"{thread_url(body['thread'])}/messages")

        assert listed.json()["data"] == [body["message"]]

    async def test_default_title_is_first_non_blank_line_trimmed(self, api):
        space = await api.space()

        thread = await api.thread(space["id"], "\n   \n\t  Hello, world!  \nsecond line")

        assert thread["title"] == "Hello, world!"

    async def test_default_title_of_100_characters_is_kept_whole(self, api):
        space = await api.space()
        line = "é" * 100

        thread = await api.thread(space["id"], f"{line}\nmore")

        assert thread["title"] == line

    async def test_default_title_over_100_characters_is_cut_with_ellipsis(self, api):
        space = await api.space()
        line = "".join(chr(ord("a") + i % 26) for i in range(101))

        thread = await api.thread(space["id"], line)

        assert thread["title"] == line[:99] + "…"
        assert len(thread["title"]) == 100

    async def test_default_title_counts_code_points_not_bytes(self, api):
        space = await api.space()
        line = "😀" * 150

        thread = await api.thread(space["id"], line)

        assert thread["title"] == "😀" * 99 + "…"

    async def test_explicit_title_wins(self, api):
        space = await api.space()

        thread = await api.thread(space["id"], "content line", title="  My title ")

        assert thread["title"] == "  My title "

    async def test_thread_metadata_and_message_metadata_are_separate(self, api, client):
        space = await api.space()

        response = await client.post(
            f"{threads_url(space['id'])}/messages",
            json={"content": "x", "metadata": {"m": "1"}, "thread_metadata": {"t": "2"}},
        )

        body = response.json()
        assert body["thread"]["metadata"] == {"t": "2"}
        assert body["message"]["metadata"] == {"m": "1"}

    async def test_author_defaults_to_null(self, api, client):
        space = await api.space()

        response = await client.post(f"{threads_url(space['id'])}/messages", json={"content": "x"})

        assert response.json()["message"]["author"] is None

    async def test_unknown_space_is_404(self, client):
        response = await client.post(
            f"/v1/spaces/spc_{'0' * 26}/threads/messages", json={"content": "x"}
        )

        assert response.status_code == 404


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

        assert_problem(response, 422, "validation_failed")

    async def test_unknown_sort_or_order_is_422(self, api, client):
        space = await api.space()

        bad_sort = await client.get(threads_url(space["id"]), params={"sort": "title"})
        bad_order = await client.get(threads_url(space["id"]), params={"order": "up"})

        assert_problem(bad_sort, 422, "validation_failed")
        assert_problem(bad_order, 422, "validation_failed")


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
        async with app.state.database.writer() as session, session.begin():
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

        assert_problem(response, 409, "thread_closed")

    async def test_archived_thread_refuses_messages(self, api, client):
        thread = await self.closed(api, client, "archived")

        response = await client.post(f"{thread_url(thread)}/messages", json={"content": "x"})

        assert_problem(response, 409, "thread_closed")

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

        assert_problem(response, 422, "validation_failed")
        assert await get(client, thread) == thread

    async def test_status_null_is_422(self, api, client):
        thread = await self.arrange(api)

        response = await patch(client, thread, {"status": None})

        assert_problem(response, 422, "validation_failed")
        assert await get(client, thread) == thread

    async def test_unknown_status_is_422(self, api, client):
        thread = await self.arrange(api)

        response = await patch(client, thread, {"status": "deleted"})

        assert_problem(response, 422, "validation_failed")

    async def test_merged_metadata_over_16_keys_is_422_and_changes_nothing(self, api, client):
        start = {f"k{i}": "v" for i in range(10)}
        thread = await self.arrange(api, start)

        response = await patch(
            client,
            thread,
            {"title": "changed", "metadata": {f"n{i}": "v" for i in range(7)}},
        )

        assert_problem(response, 422, "validation_failed")
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

        assert_problem(response, 422, "validation_failed")
        assert await get(client, thread) == thread

    async def test_patch_of_unknown_thread_is_404(self, api, client):
        space = await api.space()

        response = await client.patch(
            f"{threads_url(space['id'])}/thr_{'0' * 26}", json={"title": "x"}
        )

        assert_problem(response, 404, "thread_not_found")


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

        assert_problem(response, 412, "precondition_failed")
        assert await get(client, thread) == current

    async def test_if_match_with_weak_etag_is_412(self, api, client):
        thread = await self.arrange(api)
        etag = (await client.get(thread_url(thread))).headers["etag"]

        response = await patch(client, thread, {"title": "x"}, headers={"If-Match": f"W/{etag}"})

        assert_problem(response, 412, "precondition_failed")
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


class TestCounters:
    async def test_each_message_updates_count_and_times(self, api, client):
        space = await api.space()
        thread = await api.thread(space["id"])
        previous = thread
        for expected_count in (2, 3, 4):
            message = await api.message(space["id"], thread["id"])

            current = await get(client, thread)

            assert message["seq"] == expected_count
            assert current["message_count"] == expected_count
            assert current["last_message_at"] == message["created_at"]
            assert current["updated_at"] == message["created_at"]
            assert current["last_message_at"] > previous["last_message_at"]
            assert current["created_at"] == thread["created_at"]
            previous = current
