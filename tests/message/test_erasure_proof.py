"""Erasure, proven on the storage: after a DELETE no copy of the content is left.

SQLite: no byte sequence of a unique marker is in the database file, its -wal or its -shm
within 5 s of the response; the event log (contract §14) included. PostgreSQL: no live row of
any table holds it (old row versions are VACUUM's business: test_cli_erase.py, and
docs/decisions/0007-message-erasure.md)."""

import sqlite3
import threading
import uuid
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from tests.helpers import Api
from tests.message.support import (
    files_holding,
    first_message,
    message_url,
    new_marker,
    rows_holding,
    thread_url,
    wait_until_no_file_holds,
)


async def spread(api: Api, client: httpx.AsyncClient, marker: str) -> list[dict[str, Any]]:
    """Put `marker` everywhere a message's content goes: a derived thread title, the thread's
    last message, stored idempotent responses (of a thread create and a message create),
    earlier versions, and a long content (overflow pages, TOAST)."""
    space = await api.space()
    created = await client.post(
        f"/v1/spaces/{space['id']}/threads/messages",
        json={"content": f"{marker} opens the thread\n" + "filler text " * 2_000 + marker},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert created.status_code == 201, created.text
    thread = created.json()["thread"]
    assert marker in thread["title"]
    first = await first_message(client, thread)
    edited = await client.patch(message_url(first), json={"content": f"edited, still {marker}"})
    assert edited.status_code == 200
    reply = await client.post(
        f"{thread_url(thread)}/messages",
        json={"content": f"a reply quoting {marker}", "metadata": {"quote": marker}},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert reply.status_code == 201, reply.text
    await client.patch(message_url(reply.json()), json={"content": f"reply v2 {marker}"})
    return [first, reply.json()]


def checkpoint(database_url: str) -> None:
    """Copy the WAL into the database file, as SQLite does every 1000 pages written."""
    # Waits (timeout) for a reader in the way, such as the webhook dispatcher's poll.
    with sqlite3.connect(str(make_url(database_url).database), timeout=10) as connection:
        busy, _, _ = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    connection.close()
    assert busy == 0


async def erase_all(client: httpx.AsyncClient, messages: list[dict[str, Any]]) -> None:
    for message in messages:
        response = await client.delete(message_url(message))
        assert response.status_code == 200, response.text
        assert response.json()["content"] is None


async def test_no_row_holds_erased_content(
    api: Api, client: httpx.AsyncClient, database_url: str
) -> None:
    marker = new_marker()
    messages = await spread(api, client, marker)
    before = await rows_holding(database_url, marker)
    assert set(before) >= {
        "messages",
        "message_versions",
        "threads",
        "idempotency_records",
        "events",
    }

    await erase_all(client, messages)

    assert await rows_holding(database_url, marker) == {}


async def test_other_messages_keep_their_content(
    api: Api, client: httpx.AsyncClient, database_url: str
) -> None:
    erased, kept = new_marker(), new_marker()
    space = await api.space()
    thread = await api.thread(space["id"], f"kept {kept}")
    doomed = await api.message(space["id"], thread["id"], f"erased {erased}")

    await erase_all(client, [doomed])

    assert await rows_holding(database_url, erased) == {}
    assert set(await rows_holding(database_url, kept)) == {"messages", "threads", "events"}


async def test_sqlite_files_hold_no_byte_of_it_after_the_response(
    api: Api, client: httpx.AsyncClient, database_url: str
) -> None:
    if not database_url.startswith("sqlite"):
        # PostgreSQL's files are the server's: no live row holds it (above), and VACUUM
        # removes dead row versions (test_cli_erase.py).
        assert await rows_holding(database_url, "no such marker") == {}
        return
    marker = new_marker()
    messages = await spread(api, client, marker)
    # Old content lives in the database file, recent content in the WAL: have both.
    checkpoint(database_url)
    assert files_holding(database_url, marker) == ["threads.db"]
    await client.patch(message_url(messages[1]), json={"content": f"reply v3 {marker}"})
    assert files_holding(database_url, marker) == ["threads.db", "threads.db-wal"]

    await erase_all(client, messages)

    assert wait_until_no_file_holds(database_url, marker) == []


async def test_sqlite_erasure_outlasts_a_reader_in_the_way(
    api: Api, client: httpx.AsyncClient, database_url: str
) -> None:
    """A long read transaction keeps the WAL from being truncated: the checkpoint after the
    erasure retries until the reader is gone."""
    if not database_url.startswith("sqlite"):
        assert await rows_holding(database_url, "no such marker") == {}
        return
    marker = new_marker()
    messages = await spread(api, client, marker)
    reader = sqlite3.connect(str(make_url(database_url).database), check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM messages").fetchone()  # holds a snapshot
    release = threading.Timer(1.0, reader.rollback)
    release.start()
    try:
        await erase_all(client, messages)
        assert wait_until_no_file_holds(database_url, marker) == []
    finally:
        release.cancel()
        reader.close()
