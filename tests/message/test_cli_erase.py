"""`threads-api messages erase`: an operator answering an erasure request from the shell."""

import asyncio
import json
from typing import Any

import asyncpg
import httpx
from click.testing import CliRunner, Result

from tests.helpers import Api, asyncpg_dsn
from tests.message.support import (
    files_holding,
    first_message,
    message_url,
    new_marker,
    rows_holding,
    thread_url,
)
from threads_api.cli import main
from threads_api.message.erasure import CONTENT_TABLES


async def erase(database_url: str, *args: str) -> Result:
    """The command, in a thread of its own: it runs its own event loop."""
    command = ["messages", "erase", *args, "--database-url", database_url]
    return await asyncio.to_thread(CliRunner().invoke, main, command)


async def arrange(api: Api, marker: str) -> tuple[dict[str, Any], dict[str, Any]]:
    space = await api.space()
    thread = await api.thread(space["id"], f"{marker} asks for erasure")
    message = await first_message(api.http, thread)
    return thread, message


def ids(message: dict[str, Any]) -> list[str]:
    return [message["space_id"], message["thread_id"], message["id"]]


async def test_erase_prints_the_tombstone_and_leaves_no_content(
    api: Api, client: httpx.AsyncClient, database_url: str
) -> None:
    marker = new_marker()
    thread, message = await arrange(api, marker)
    await client.patch(message_url(message), json={"content": f"edited {marker}"})

    result = await erase(database_url, *ids(message))

    assert result.exit_code == 0, result.output
    tombstone = json.loads(result.stdout)
    assert tombstone["id"] == message["id"]
    assert tombstone["content"] is None and tombstone["deleted_at"] is not None
    assert (await client.get(message_url(message))).json() == tombstone
    assert (await client.get(thread_url(thread))).json()["title"] == "Untitled"
    assert await rows_holding(database_url, marker) == {}
    if database_url.startswith("sqlite"):
        # The command truncated the WAL before it returned.
        assert files_holding(database_url, marker) == []


async def test_erasing_twice_prints_the_same_tombstone(
    api: Api, client: httpx.AsyncClient, database_url: str
) -> None:
    _, message = await arrange(api, new_marker())
    first = await erase(database_url, *ids(message))

    again = await erase(database_url, *ids(message))

    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == json.loads(first.stdout)


async def test_unknown_and_malformed_ids_are_one_line_errors(api: Api, database_url: str) -> None:
    _, message = await arrange(api, new_marker())
    space_id, thread_id, _ = ids(message)

    unknown = await erase(database_url, space_id, thread_id, "msg_01AAAAAAAAAAAAAAAAAAAAAAAA")
    malformed = await erase(database_url, space_id, "thread-1", message["id"])

    assert unknown.exit_code == 1
    assert "No message with this id" in unknown.stderr
    assert malformed.exit_code == 1
    assert malformed.stderr.startswith("Error: THREAD: not an id")
    for result in (unknown, malformed):
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1


# --- PostgreSQL: what VACUUM does about the row versions an erasure leaves behind ----------

TUPLES_HOLDING = """
SELECT count(*) FROM generate_series(0, pg_relation_size($1::regclass) / 8192 - 1) AS block,
    LATERAL heap_page_items(get_raw_page($1::text, block::int)) AS item
WHERE position($2::bytea IN item.t_data) > 0
"""
PAGES_HOLDING = """
SELECT count(*) FROM generate_series(0, pg_relation_size($1::regclass) / 8192 - 1) AS block
WHERE position($2::bytea IN get_raw_page($1::text, block::int)) > 0
"""


async def pg_storage_holding(database_url: str, marker: str, query: str) -> dict[str, int]:
    """Per table (and TOAST table) of the content tables: tuples, live or dead, or whole raw
    pages (`query`) whose bytes hold `marker`."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=10)
    try:
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
        found: dict[str, int] = {}
        for table in CONTENT_TABLES:
            toast = await connection.fetchval(
                "SELECT reltoastrelid::regclass::text FROM pg_class WHERE oid = $1::regclass",
                table,
            )
            for relation in (table, toast):
                count = await connection.fetchval(query, relation, marker.encode())
                if count:
                    found[relation] = count
        return found
    finally:
        await connection.close()


async def test_vacuum_removes_the_dead_row_versions(
    api: Api, client: httpx.AsyncClient, database_url: str
) -> None:
    marker = new_marker()
    _, message = await arrange(api, marker)
    await client.delete(message_url(message))
    if not database_url.startswith("sqlite"):
        # No live row holds it, but the old row versions are still in the pages.
        assert await rows_holding(database_url, marker) == {}
        assert "messages" in await pg_storage_holding(database_url, marker, TUPLES_HOLDING)

    result = await erase(database_url, *ids(message), "--vacuum")

    assert result.exit_code == 0, result.output
    if database_url.startswith("sqlite"):
        assert files_holding(database_url, marker) == []
        return
    assert await pg_storage_holding(database_url, marker, TUPLES_HOLDING) == {}


async def test_vacuum_full_leaves_no_byte_in_the_table_files(
    api: Api, client: httpx.AsyncClient, database_url: str
) -> None:
    marker = new_marker()
    _, message = await arrange(api, marker)
    await client.delete(message_url(message))
    if not database_url.startswith("sqlite"):
        assert await pg_storage_holding(database_url, marker, PAGES_HOLDING) != {}

    result = await erase(database_url, *ids(message), "--vacuum-full")

    assert result.exit_code == 0, result.output
    if database_url.startswith("sqlite"):
        assert files_holding(database_url, marker) == []
        return
    assert await pg_storage_holding(database_url, marker, PAGES_HOLDING) == {}
