"""Streams across server processes on one database (contract §14): an event reaches every
subscriber of every process, in order, with no gap, whoever wrote it; SIGTERM ends streams
cleanly."""

import asyncio
import signal
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest

from tests.event.live import Live
from tests.event.support import WAIT_SECONDS, all_events, listening, post_messages
from tests.helpers import ADMIN_SECRET, Api, asyncpg_dsn
from tests.servers import Server
from threads_api.event.repository import CHANNEL

pytestmark = pytest.mark.slow

THREADS = 4
PER_WRITER = 12


def client(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": ADMIN_SECRET}, timeout=30)


async def test_writers_on_two_processes_and_subscribers_on_both_miss_nothing(
    database_url: str, server_factory: Callable[..., Server]
) -> None:
    one, two = server_factory(database_url), server_factory(database_url)
    async with client(one) as http_one, client(two) as http_two:
        space = await Api(http_one).space()
        threads = [await Api(http_two).thread(space["id"], f"thread {n}") for n in range(THREADS)]
        resumed = {"after": 0}
        async with (
            listening(http_one, space["id"], params=resumed) as on_one,
            listening(http_two, space["id"]) as live_on_two,
        ):
            # Writers on both processes at once, on threads of one space: their commits
            # interleave, and positions must still reach every reader in order.
            await asyncio.gather(
                *(
                    post_messages(http, thread, PER_WRITER)
                    for http in (http_one, http_two)
                    for thread in threads
                )
            )
            listed = await all_events(http_one, space["id"])
            assert len(listed) == THREADS * (2 + 2 * PER_WRITER)
            seen_on_one = await on_one.count(len(listed))
            seen_on_two = await live_on_two.count(2 * THREADS * PER_WRITER)
    positions = [e["position"] for e in listed]
    assert positions == sorted(set(positions))
    assert [e.json for e in seen_on_one] == listed
    assert [e.json for e in seen_on_two] == listed[-2 * THREADS * PER_WRITER :]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_other_processes_are_notified_of_what_committed(
    live: Live, database_url: str
) -> None:
    """PostgreSQL: a process tells the others of its appends by NOTIFY "<space_id>:<position>"
    once they committed (event/broker.py). This listener stands for another process."""
    # PostgreSQL only: on SQLite other processes poll PRAGMA data_version; nothing is sent.
    notified: asyncio.Queue[str] = asyncio.Queue()
    connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=10)
    try:
        await connection.add_listener(CHANNEL, lambda *args: notified.put_nowait(args[-1]))
        space = await live.api.space()
        thread = await live.api.thread(space["id"], "notified")
        await post_messages(live.http, thread, 3)
        last = (await all_events(live.http, space["id"]))[-1]
        # Appends that commit close together may be told in one notification, the newest.
        expected = f"{space['id']}:{last['position']}"
        while await asyncio.wait_for(notified.get(), WAIT_SECONDS) != expected:
            pass
    finally:
        await connection.close()


async def test_sigterm_ends_open_streams_with_stream_reset(
    database_url: str, server_factory: Callable[..., Server]
) -> None:
    server = server_factory(database_url)
    async with client(server) as http:
        space = await Api(http).space()
        thread = await Api(http).thread(space["id"], "before shutdown")
        async with listening(http, space["id"]) as stream:
            await post_messages(http, thread, 1)
            await stream.count(1)
            server.process.send_signal(signal.SIGTERM)
            await stream.end()
    last: Any = stream.events[-1]
    assert last.event == "stream.reset"
    assert last.json == {"reason": "shutdown", "resume_after": stream.events[0].position}
    # Within uvicorn's graceful bound (server.py), and without an error on the way out.
    assert await asyncio.to_thread(server.process.wait, 30) in (0, -signal.SIGTERM)
    log = server.log.read_text()
    assert "Traceback" not in log and '"level": "error"' not in log, log[-3000:]
