"""The message lifecycle migration on a database that already holds threads and messages."""

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Connection, text

from tests.helpers import make_settings, pg_admin, pg_database_url
from threads_api.db import Database
from threads_api.migrate import alembic_config, migrate

BEFORE = "0002"  # the revision before message versions and the thread's last message
SPACE, THREAD = "spc_01M8E3VWRTHZ45TEK83A2HR0NJ", "thr_01M8E3VWVJA14JCX70NQ2YYY8G"
MESSAGES = ["msg_01M8E3VX1J2E077EQ7WB17DBH1", "msg_01M8E3VX1J2E077EQ7WB17DBH2"]


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'threads.db'}"
        return
    name = f"threads_mig_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_database_url(name)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def run(database_url: str, work: Any) -> Any:
    database = Database(make_settings(database_url), migrating=True)
    try:
        async with database.write_engine.begin() as connection:
            return await connection.run_sync(work)
    finally:
        await database.dispose()


def upgrade_to_before(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, BEFORE)


def fill_old_schema(connection: Connection) -> None:
    """A thread with two messages, as the code before this migration wrote them."""
    # Timestamps as SQL literals: text on SQLite, timestamptz on PostgreSQL.
    at = "'2026-11-27 10:00:00'"
    connection.execute(
        text(f"INSERT INTO spaces VALUES (:id, 'old', '{{}}', {at}, {at})"), {"id": SPACE}
    )
    connection.execute(
        text(
            "INSERT INTO threads (id, space_id, title, status, metadata, message_count, "
            "last_message_at, created_at, updated_at, archived_at) "
            f"VALUES (:id, :space, 'Old thread', 'open', '{{}}', 2, {at}, {at}, {at}, NULL)"
        ),
        {"id": THREAD, "space": SPACE},
    )
    contents = ["hello", "é" * 300]
    for seq, (message_id, content) in enumerate(zip(MESSAGES, contents, strict=True), 1):
        connection.execute(
            text(
                "INSERT INTO messages (id, space_id, thread_id, seq, author, content, metadata, "
                f"created_at) VALUES (:id, :space, :thread, :seq, 'ann', :content, '{{}}', "
                f"'2026-11-27 10:00:0{seq}')"
            ),
            {
                "id": message_id,
                "space": SPACE,
                "thread": THREAD,
                "seq": seq,
                "content": content,
            },
        )


def read_back(connection: Connection) -> dict[str, Any]:
    thread = connection.execute(
        text(
            "SELECT last_message_id, last_message_seq, last_message_author, "
            "last_message_preview, last_message_created_at FROM threads"
        )
    ).one()
    messages = connection.execute(
        text("SELECT id, version, edited_at, deleted_at FROM messages ORDER BY seq")
    ).all()
    versions = connection.execute(text("SELECT count(*) FROM message_versions")).scalar_one()
    return {"thread": tuple(thread), "messages": [tuple(m) for m in messages], "versions": versions}


async def test_existing_rows_are_backfilled(empty_database: str) -> None:
    await run(empty_database, upgrade_to_before)
    await run(empty_database, fill_old_schema)

    await migrate(make_settings(empty_database))

    found = await run(empty_database, read_back)
    last_id, seq, author, preview, created_at = found["thread"]
    assert (last_id, seq, author, preview) == (MESSAGES[1], 2, "ann", "é" * 200)
    assert str(created_at).startswith("2026-11-27 10:00:02")
    assert found["messages"] == [(MESSAGES[0], 1, None, None), (MESSAGES[1], 1, None, None)]
    assert found["versions"] == 0
