"""Helpers for the message lifecycle tests: URLs, and where erased content could still be."""

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.helpers import asyncpg_dsn

MERGE_PATCH = {"Content-Type": "application/merge-patch+json"}


def thread_url(thread: dict[str, Any]) -> str:
    return f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}"


def message_url(message: dict[str, Any]) -> str:
    return (
        f"/v1/spaces/{message['space_id']}/threads/{message['thread_id']}/messages/{message['id']}"
    )


def new_marker() -> str:
    """Text that occurs nowhere but where a test puts it."""
    return f"MARKER{uuid.uuid4().hex.upper()}"


async def first_message(client: httpx.AsyncClient, thread: dict[str, Any]) -> dict[str, Any]:
    listed = await client.get(f"{thread_url(thread)}/messages", params={"limit": 1})
    message: dict[str, Any] = listed.json()["data"][0]
    return message


def sqlite_files(database_url: str) -> list[Path]:
    path = Path(str(make_url(database_url).database))
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def files_holding(database_url: str, marker: str) -> list[str]:
    """The SQLite files (database, -wal, -shm) in which any byte sequence of `marker` is."""
    needle = marker.encode()
    return [p.name for p in sqlite_files(database_url) if p.exists() and needle in p.read_bytes()]


def wait_until_no_file_holds(database_url: str, marker: str, seconds: float = 5.0) -> list[str]:
    """Poll the files for up to `seconds`; the files still holding `marker` at the end."""
    deadline = time.monotonic() + seconds
    while True:
        holding = files_holding(database_url, marker)
        if not holding or time.monotonic() >= deadline:
            return holding
        time.sleep(0.05)


async def pg_tables_holding(database_url: str, marker: str) -> dict[str, int]:
    """Live rows of every table in the public schema whose text form holds `marker`, as text
    or as the hex of its bytes (bytea columns print as hex)."""
    connection = await asyncpg.connect(asyncpg_dsn(database_url), timeout=10)
    try:
        tables = [
            r["tablename"]
            for r in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            )
        ]
        found: dict[str, int] = {}
        for table in tables:
            count = await connection.fetchval(
                f'SELECT count(*) FROM "{table}" t '
                "WHERE strpos(t::text, $1) > 0 OR strpos(t::text, $2) > 0",
                marker,
                marker.encode().hex(),
            )
            if count:
                found[table] = count
        return found
    finally:
        await connection.close()


async def sqlite_rows_holding(database_url: str, marker: str) -> dict[str, int]:
    """The same check as `pg_tables_holding`, on SQLite through SQL (the files are checked
    byte by byte elsewhere)."""
    import sqlite3

    def scan() -> dict[str, int]:
        path = str(make_url(database_url).database)
        with sqlite3.connect(path) as connection:
            tables = [
                r[0]
                for r in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            found: dict[str, int] = {}
            for table in tables:
                columns = [r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')]
                where = " OR ".join(f'instr(CAST("{c}" AS BLOB), ?) > 0' for c in columns)
                count = connection.execute(
                    f'SELECT count(*) FROM "{table}" WHERE {where}',
                    [marker.encode()] * len(columns),
                ).fetchone()[0]
                if count:
                    found[table] = count
        connection.close()
        return found

    return await asyncio.to_thread(scan)


async def rows_holding(database_url: str, marker: str) -> dict[str, int]:
    if database_url.startswith("sqlite"):
        return await sqlite_rows_holding(database_url, marker)
    return await pg_tables_holding(database_url, marker)
