"""The lists read on plain connections (reads.py): every page must be byte for byte what the
model path makes of the same rows, and cursors must walk a list as they did before issue 11
(a cursor is a signed position: the position's text is part of the contract with old cursors).

The model path here is a write that changes nothing (`PATCH {}` of a thread) and the single
message GET, both still rendered by the response models (`Thread`, `Message`)."""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import update

from tests.thread.support import thread_url, threads_url
from threads_api.kit.schemas import format_timestamp
from threads_api.message.endpoints import messages_binding
from threads_api.message.repository import messages as messages_table
from threads_api.state import app_state
from threads_api.thread.endpoints import threads_binding
from threads_api.thread.repository import threads as threads_table

AWKWARD = 'q"uote \\ back\tslash \x01 é 中 🙂 \u2028\u2029 </script>'
WHOLE_SECOND = datetime(2026, 11, 29, 12, 0, 0, 0, tzinfo=UTC)
# 9999-12-31T23:59:59.999999 is asyncpg's `infinity`: one microsecond short of it.
FAR_FUTURE = datetime(9999, 12, 31, 23, 59, 59, 999998, tzinfo=UTC)
FAR_PAST = datetime(1000, 1, 1, 0, 0, 0, 1, tzinfo=UTC)
TEN_MICROSECONDS = datetime(2026, 11, 29, 12, 0, 0, 10, tzinfo=UTC)


async def set_times(app: Any, thread_id: str, created: datetime, last: datetime) -> None:
    """Timestamps no request can make (the clock decides them), written as the app writes."""
    async with app_state(app).database.write_engine.begin() as connection:
        await connection.execute(
            update(threads_table)
            .where(threads_table.c.id == thread_id)
            .values(
                created_at=created,
                last_message_at=last,
                updated_at=last,
                last_message_created_at=last,
            )
        )


async def modelled_thread(client: httpx.AsyncClient, thread: dict[str, Any]) -> bytes:
    """The thread as the `Thread` model renders it: a merge patch that changes nothing."""
    response = await client.patch(thread_url(thread), json={})
    assert response.status_code == 200, response.text
    return response.content


def page_bytes(items: list[bytes], has_more: bool, next_cursor: str | None) -> bytes:
    tail = json.dumps({"has_more": has_more, "next_cursor": next_cursor}, separators=(",", ":"))
    return b'{"object":"list","data":[' + b",".join(items) + b"]," + tail[1:].encode()


def assert_page_is_modelled(page: httpx.Response, modelled: dict[str, bytes], why: Any) -> None:
    """The page's bytes are those of a page made of each item's model JSON (`modelled`)."""
    body = page.json()
    items = [modelled[item["id"]] for item in body["data"]]
    assert page.content == page_bytes(items, body["has_more"], body["next_cursor"]), why


async def arrange(api: Any, client: httpx.AsyncClient, app: Any) -> dict[str, Any]:
    """A space with threads in every status and of every timestamp shape, ties included."""
    space = await api.space()
    space_id = space["id"]
    metadata = {f"k{n:02d}-{'é' * n}🙂": f"v{n}{AWKWARD}" for n in reversed(range(16))}
    response = await client.post(
        f"{threads_url(space_id)}/messages",
        json={"content": AWKWARD, "author": "alice", "thread_metadata": metadata},
    )
    assert response.status_code == 201, response.text
    threads = [response.json()["thread"]]
    for n in range(9):
        threads.append(await api.thread(space_id, f"thread {n}\nsecond line"))
    ids = [t["id"] for t in threads]
    assert (await client.patch(thread_url(threads[1]), json={"status": "locked"})).is_success
    assert (await client.delete(thread_url(threads[2]))).is_success
    await set_times(app, ids[3], WHOLE_SECOND, WHOLE_SECOND)
    await set_times(app, ids[4], WHOLE_SECOND, WHOLE_SECOND)  # a tie: broken by id
    await set_times(app, ids[5], FAR_FUTURE, FAR_FUTURE)
    await set_times(app, ids[6], FAR_PAST, FAR_PAST)
    await set_times(app, ids[7], WHOLE_SECOND, TEN_MICROSECONDS)
    return {"space_id": space_id, "threads": threads}


async def walk(client: httpx.AsyncClient, url: str, params: dict[str, Any]) -> list[httpx.Response]:
    pages = [await client.get(url, params=params)]
    while pages[-1].json()["has_more"]:
        assert len(pages) < 100
        last = pages[-1]
        link = last.headers["link"]
        assert link == f'<{url}?{_query(params, last.json()["next_cursor"])}>; rel="next"'
        pages.append(await client.get(url, params={**params, "cursor": last.json()["next_cursor"]}))
    assert all(page.status_code == 200 for page in pages)
    return pages


def _query(params: dict[str, Any], cursor: str) -> str:
    return str(httpx.QueryParams({**params, "cursor": cursor}))


class TestThreadPages:
    async def test_every_page_is_what_the_models_make(self, api, client, app):
        arranged = await arrange(api, client, app)
        space_id = arranged["space_id"]
        modelled = {t["id"]: await modelled_thread(client, t) for t in arranged["threads"]}

        for status in (None, "all", "open", "locked", "archived"):
            for sort in ("last_message_at", "created_at"):
                for order in ("desc", "asc"):
                    params: dict[str, Any] = {"sort": sort, "order": order, "limit": 3}
                    if status is not None:
                        params["status"] = status
                    for page in await walk(client, threads_url(space_id), params):
                        assert_page_is_modelled(page, modelled, params)

    async def test_a_cursor_walk_sees_every_thread_once_in_order(self, api, client, app):
        arranged = await arrange(api, client, app)
        space_id = arranged["space_id"]

        for sort in ("last_message_at", "created_at"):
            for order in ("desc", "asc"):
                everything = await client.get(
                    threads_url(space_id),
                    params={"sort": sort, "order": order, "status": "all", "limit": 200},
                )
                expected = [t["id"] for t in everything.json()["data"]]
                keys = [(t[sort], t["id"]) for t in everything.json()["data"]]
                assert keys == sorted(keys, reverse=order == "desc")
                assert len(expected) == 10
                for limit in (1, 2, 3):
                    params = {"sort": sort, "order": order, "status": "all", "limit": limit}
                    pages = await walk(client, threads_url(space_id), params)
                    walked = [t["id"] for p in pages for t in p.json()["data"]]
                    assert walked == expected, params

    async def test_cursors_made_before_issue_11_still_work(self, api, client, app):
        """Before, a thread cursor held `format_timestamp(datetime)` and the id: the same text
        must come out of the database now, or old cursors (and the new ones) would point
        elsewhere."""
        arranged = await arrange(api, client, app)
        space_id = arranged["space_id"]
        cursors = app_state(app).cursors

        for sort in ("last_message_at", "created_at"):
            params = {"sort": sort, "order": "asc", "status": "all", "limit": 1}
            for page in await walk(client, threads_url(space_id), params):
                body = page.json()
                if not body["has_more"]:
                    continue
                last = body["data"][-1]
                stamp = datetime.fromisoformat(last[sort])  # what the models held
                binding = threads_binding(space_id, "all", sort, "asc")
                old = cursors.encode(binding, [format_timestamp(stamp), last["id"]])
                assert old == body["next_cursor"]


class TestMessagePages:
    async def arrange(self, api, client, app) -> dict[str, Any]:
        space = await api.space()
        thread = await api.thread(space["id"], AWKWARD)
        url = f"{thread_url(thread)}/messages"
        metadata = {f"k{n:02d}-{'é' * n}": f"v{n}{AWKWARD}" for n in reversed(range(16))}
        ids = []
        for n in range(8):
            body: dict[str, Any] = {"content": f"{n} {AWKWARD}" * (n + 1), "metadata": metadata}
            if n % 2:
                body["author"] = "bob"
            created = await client.post(url, json=body)
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        for n in range(2):  # version 3, edited_at set
            edited = await client.patch(f"{url}/{ids[1]}", json={"content": f"edit {n}"})
            assert edited.status_code == 200, edited.text
        for erased in (ids[2], ids[-1]):  # content null, deleted_at set
            assert (await client.delete(f"{url}/{erased}")).status_code == 200
        async with app_state(app).database.write_engine.begin() as connection:
            await connection.execute(
                update(messages_table)
                .where(messages_table.c.id == ids[3])
                .values(created_at=WHOLE_SECOND, edited_at=FAR_FUTURE)
            )
        return thread

    async def test_every_page_is_what_the_models_make(self, api, client, app):
        thread = await self.arrange(api, client, app)
        url = f"{thread_url(thread)}/messages"
        listed = (await client.get(url, params={"limit": 200})).json()["data"]
        assert len(listed) == 9
        modelled = {}
        for message in listed:
            single = await client.get(f"{url}/{message['id']}")
            assert single.status_code == 200
            modelled[message["id"]] = single.content

        for order in ("asc", "desc"):
            for after_seq in (None, 0, 3, 9, 1000):
                for limit in (1, 4, 200):
                    params: dict[str, Any] = {"order": order, "limit": limit}
                    if after_seq is not None:
                        params["after_seq"] = after_seq
                    pages = await walk(client, url, params)
                    seqs = []
                    for page in pages:
                        assert_page_is_modelled(page, modelled, params)
                        seqs += [m["seq"] for m in page.json()["data"]]
                    wanted = [s for s in range(1, 10) if after_seq is None or s > after_seq]
                    assert seqs == (wanted if order == "asc" else wanted[::-1]), params

    async def test_cursors_made_before_issue_11_still_work(self, api, client, app):
        thread = await self.arrange(api, client, app)
        url = f"{thread_url(thread)}/messages"
        cursors = app_state(app).cursors
        for after_seq in (None, 2):
            params: dict[str, Any] = {"limit": 2, "order": "desc"}
            if after_seq is not None:
                params["after_seq"] = after_seq
            first = (await client.get(url, params=params)).json()
            binding = messages_binding(thread["id"], "desc", after_seq)
            old = cursors.encode(binding, [first["data"][-1]["seq"]])
            assert old == first["next_cursor"]


async def test_reads_during_writes_stay_consistent(api, client):
    """Many plain reads while messages are written: every answer is whole and dense."""
    space = await api.space()
    thread = await api.thread(space["id"])
    url = f"{thread_url(thread)}/messages"

    async def write(n: int) -> None:
        response = await client.post(url, json={"content": f"w{n}"})
        assert response.status_code == 201, response.text

    async def read_messages() -> None:
        response = await client.get(url, params={"limit": 200})
        assert response.status_code == 200, response.text
        seqs = [m["seq"] for m in response.json()["data"]]
        assert seqs == list(range(1, len(seqs) + 1))

    async def read_thread() -> None:
        response = await client.get(thread_url(thread))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["last_message"]["seq"] == body["message_count"]

    async def read_list() -> None:
        response = await client.get(threads_url(space["id"]))
        assert response.status_code == 200, response.text
        assert [t["id"] for t in response.json()["data"]] == [thread["id"]]

    async def poll() -> None:
        response = await client.get(url, params={"after_seq": 1, "wait": 5})
        assert response.status_code == 200, response.text
        assert response.json()["data"]

    readers = [read_messages, read_thread, read_list] * 30
    await asyncio.gather(poll(), *(write(n) for n in range(20)), *(read() for read in readers))
    final = (await client.get(url, params={"limit": 200})).json()["data"]
    assert [m["seq"] for m in final] == list(range(1, 22))
