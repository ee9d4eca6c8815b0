"""A stream outlives its database going away (contract §14): PostgreSQL restarting, or a
SQLite file leaving its path and coming back. Nothing written before or after is lost: the
LISTEN connection comes back and the feed catches up from the log."""

import asyncio
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.event.support import Listener, all_events, listening, post_messages
from tests.helpers import ADMIN_SECRET, Api
from tests.reliability.pg_cluster import PgCluster
from tests.servers import Server

pytestmark = pytest.mark.slow


def client(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": ADMIN_SECRET}, timeout=30)


async def writes_again(http: httpx.AsyncClient, thread: dict[str, object]) -> list[str]:
    """Post one message as soon as the database answers again."""
    deadline = time.monotonic() + 30
    while True:
        response = await http.post(
            f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}/messages",
            json={"content": "after the outage"},
        )
        if response.status_code == 201:
            return [response.json()["id"]]
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "the database never came back"
        await asyncio.sleep(0.2)


async def outage_while_streaming(
    reader: Server, writer: Server, leave: Callable[[], None], come_back: Callable[[], None]
) -> tuple[Listener, list[dict[str, object]]]:
    """A stream on `reader` while `writer` (another process) writes before, during and after
    an outage: what it gets after it must come through the database, not this process."""
    async with client(reader) as on_reader, client(writer) as on_writer:
        space = await Api(on_writer).space()
        thread = await Api(on_writer).thread(space["id"], "before")
        async with listening(on_reader, space["id"], params={"after": 0}) as stream:
            await post_messages(on_writer, thread, 2)
            await stream.count(4)
            leave()
            try:
                await asyncio.sleep(1.0)  # the stream waits through it, open
                assert not stream.ended
            finally:
                come_back()
            await writes_again(on_writer, thread)
            await post_messages(on_writer, thread, 2)
            listed = await all_events(on_writer, space["id"])
            await stream.count(len(listed))
        return stream, listed


async def test_a_stream_survives_a_postgres_restart(
    running_pg_cluster: PgCluster,
    server_factory: Callable[..., Server],
) -> None:
    database_url = await asyncio.to_thread(running_pg_cluster.create_database)
    reader, writer = server_factory(database_url), server_factory(database_url)
    stream, listed = await outage_while_streaming(
        reader,
        writer,
        leave=lambda: running_pg_cluster.stop("immediate"),
        come_back=running_pg_cluster.start,
    )
    assert [e.json for e in stream.changes] == listed
    assert len(listed) == 7
    log = reader.log.read_text()
    assert "LISTEN connection" in log and "listening again" in log


async def test_a_stream_survives_its_sqlite_file_going_away(
    tmp_path: Path, server_factory: Callable[..., Server]
) -> None:
    directory, aside = tmp_path / "data", tmp_path / "aside"
    aside.mkdir()
    database = directory / "threads.db"
    database_url = f"sqlite+aiosqlite:///{database}"
    reader, writer = server_factory(database_url), server_factory(database_url)
    files = [database.name, f"{database.name}-wal", f"{database.name}-shm"]

    def move(source: Path, target: Path) -> None:
        for name in files:
            if (source / name).exists():
                shutil.move(source / name, target / name)

    stream, listed = await outage_while_streaming(
        reader,
        writer,
        leave=lambda: move(directory, aside),
        come_back=lambda: move(aside, directory),
    )
    assert [e.json for e in stream.changes] == listed
    assert len(listed) == 7
