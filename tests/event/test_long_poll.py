"""Long-polls and streams wait holding no database connection or transaction (contract §14):
`GET …/messages?after_seq=N&wait=S` answers as soon as a newer message exists."""

import asyncio
import sqlite3
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from tests.event.live import Live
from tests.event.support import listening, post_messages
from tests.helpers import asyncpg_dsn, problem


def messages_url(thread: dict[str, Any]) -> str:
    return f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}/messages"


async def started(live: Live) -> dict[str, Any]:
    space = await live.api.space()
    return await live.api.thread(space["id"], "first")


async def test_a_long_poll_answers_when_a_newer_message_arrives(live: Live) -> None:
    thread = await started(live)
    poll = asyncio.create_task(
        live.http.get(messages_url(thread), params={"after_seq": 1, "wait": 25})
    )
    await asyncio.sleep(0.3)
    assert not poll.done()
    ids = await post_messages(live.http, thread, 1)
    response = await asyncio.wait_for(poll, 20)
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == ids


async def test_a_long_poll_answers_at_once_when_there_is_something(live: Live) -> None:
    thread = await started(live)
    response = await live.http.get(messages_url(thread), params={"after_seq": 0, "wait": 30})
    assert [m["seq"] for m in response.json()["data"]] == [1]


async def test_a_long_poll_ends_with_an_empty_page(live: Live) -> None:
    thread = await started(live)
    other = await live.api.thread(thread["space_id"], "elsewhere")
    poll = asyncio.create_task(
        live.http.get(messages_url(thread), params={"after_seq": 1, "wait": 0.8})
    )
    await post_messages(live.http, other, 2)  # another thread's: no answer for this one
    response = await asyncio.wait_for(poll, 20)
    assert response.status_code == 200
    assert response.json() == {"object": "list", "data": [], "has_more": False, "next_cursor": None}


async def test_wait_is_not_part_of_the_cursor(live: Live) -> None:
    thread = await started(live)
    await post_messages(live.http, thread, 3)
    first = await live.http.get(messages_url(thread), params={"limit": 2, "wait": 1})
    cursor = first.json()["next_cursor"]
    rest = await live.http.get(messages_url(thread), params={"limit": 2, "cursor": cursor})
    assert [m["seq"] for m in rest.json()["data"]] == [3, 4]
    again = await live.http.get(
        messages_url(thread), params={"limit": 2, "cursor": cursor, "wait": 3}
    )
    assert again.json() == rest.json()


async def test_wait_beyond_30_seconds_is_422(live: Live) -> None:
    thread = await started(live)
    for wait in ("31", "-1", "soon", "nan"):
        problem(await live.http.get(messages_url(thread), params={"wait": wait}), 422)


async def test_a_long_poll_of_an_unknown_thread_is_404_at_once(live: Live) -> None:
    thread = await started(live)
    url = messages_url({**thread, "id": "thr_01M8E3VXFJW1RA7ERYFSZFVZVB"})
    problem(await live.http.get(url, params={"wait": 30}), 404, "thread_not_found")


async def sessions_in_a_transaction(database_url: str) -> int:
    """PostgreSQL: sessions of the test database inside a transaction, other than ours."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=10)
    try:
        count: int = await connection.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
        )
        return count
    finally:
        await connection.close()


def checkpoint_truncates(database_url: str) -> bool:
    """SQLite: a checkpoint that truncates the WAL cannot finish past an open read
    transaction; it succeeds only if nobody holds one."""
    with sqlite3.connect(str(make_url(database_url).database), timeout=5) as connection:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    connection.close()
    return busy == 0


async def holds_nothing(database_url: str) -> bool:
    if database_url.startswith("sqlite"):
        return await asyncio.to_thread(checkpoint_truncates, database_url)
    return await sessions_in_a_transaction(database_url) == 0


async def test_a_waiting_long_poll_holds_no_connection(live: Live, database_url: str) -> None:
    thread = await started(live)
    poll = asyncio.create_task(
        live.http.get(messages_url(thread), params={"after_seq": 1, "wait": 25})
    )
    await asyncio.sleep(0.5)
    for _ in range(5):
        assert not poll.done()
        assert await holds_nothing(database_url)
        await asyncio.sleep(0.1)
    await post_messages(live.http, thread, 1)
    assert (await asyncio.wait_for(poll, 20)).json()["data"]


async def test_a_waiting_stream_holds_no_connection(live: Live, database_url: str) -> None:
    thread = await started(live)
    async with listening(live.http, thread["space_id"], params={"after": 0}) as stream:
        await stream.count(2)
        for _ in range(5):
            assert await holds_nothing(database_url)
            await asyncio.sleep(0.1)
        await post_messages(live.http, thread, 1)
        await stream.count(3)
