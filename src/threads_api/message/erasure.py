"""Erasure beyond the rows: the bytes a database keeps after a transaction removed them.

SQLite (every connection runs with `secure_delete=ON`, db.py) zeroes freed space in the
database file, but the WAL still holds the page images written before the erasure until a
checkpoint copies the new pages back and the WAL is truncated. PostgreSQL keeps old row
versions in the table files until VACUUM removes them. ADR 0007 has the whole story.
"""

import asyncio
import logging

from threads_api.db import Database

logger = logging.getLogger("threads_api.erasure")

# The contract: no byte of erased content is left in the files 5 s after the response.
CHECKPOINT_WITHIN_SECONDS = 4.0
_RETRY_SECONDS = 0.05
# Per attempt: a reader in the way makes one attempt wait this long, then we try again.
_ATTEMPT_BUSY_TIMEOUT_MS = 100
# The tables that can hold a message's content (PostgreSQL VACUUM), and how long it may take.
CONTENT_TABLES = ("messages", "message_versions", "threads", "idempotency_records", "events")
_VACUUM_TIMEOUT_SECONDS = 3600.0


async def checkpoint_after_erasure(
    db: Database, *, within_seconds: float = CHECKPOINT_WITHIN_SECONDS
) -> bool:
    """SQLite: fold the WAL into the database file and truncate it to zero bytes, retrying
    while readers or writers are in the way. True once done (always, on PostgreSQL).

    Run after the erasure committed: the pages it wrote must be in the WAL for the
    checkpoint to copy them over the old ones."""
    if db.dialect != "sqlite":
        return True
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within_seconds
    while True:
        if await _truncate_wal(db):
            return True
        if loop.time() >= deadline:
            logger.warning("could not truncate the WAL after an erasure; will on the next one")
            return False
        await asyncio.sleep(_RETRY_SECONDS)


async def _truncate_wal(db: Database) -> bool:
    # On the driver's own connection: SQLAlchemy would wrap the PRAGMA in a transaction,
    # and a checkpoint cannot finish inside one.
    async with db.read_engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        (timeout,) = await (await driver.execute("PRAGMA busy_timeout")).fetchone()
        await driver.execute(f"PRAGMA busy_timeout={_ATTEMPT_BUSY_TIMEOUT_MS}")
        try:
            cursor = await driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy, _, _ = await cursor.fetchone()
        finally:
            await driver.execute(f"PRAGMA busy_timeout={int(timeout)}")
    return bool(busy == 0)


async def vacuum(db: Database, *, full: bool = False) -> None:
    """PostgreSQL: VACUUM the tables that can hold content, so that no row version, live or
    dead, holds erased text; with `full`, VACUUM FULL, which also rewrites them into new
    files, leaving no stale bytes in free page space, at the price of locking them out
    meanwhile. SQLite: truncate the WAL, as after every erasure."""
    if db.dialect == "sqlite":
        await checkpoint_after_erasure(db)
        return
    statement = f"VACUUM {'FULL ' if full else ''}{', '.join(CONTENT_TABLES)}"
    async with db.write_engine.connect() as connection:
        # On the driver's connection: VACUUM cannot run inside a transaction block, and may
        # take longer than the statement timeout of requests.
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        await driver.execute(statement, timeout=_VACUUM_TIMEOUT_SECONDS)
