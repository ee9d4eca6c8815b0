"""All SQL about idempotency records.

The statements of the request path are built once, here, and executed with parameters: a
request builds no statement and computes no cache key (docs/perf-notes-issue11.md). They
are Core statements on the table: no ORM instance is made or tracked for a record.
"""

from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    LargeBinary,
    Row,
    String,
    Table,
    bindparam,
    delete,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.models import IdempotencyRecord

records = cast(Table, IdempotencyRecord.__table__)

# An UPDATE or DELETE may not name a bind parameter after a column of its table.
_THIS_KEY = (
    records.c.api_key_id == bindparam("where_api_key_id"),
    records.c.key == bindparam("where_key"),
)
_GET = select(
    records.c.fingerprint,
    records.c.status_code,
    records.c.response_body,
    records.c.location,
    records.c.expires_at,
).where(*_THIS_KEY)
# Executed with the column values: a placeholder row, status 0 and an empty body.
_CLAIM_ON_SQLITE = sqlite.insert(records).on_conflict_do_nothing().returning(records.c.key)
# On PostgreSQL the claim bounds its own wait (ADR 0003, "The 409 path"): its WHERE sets
# `lock_timeout` for the transaction before the row reaches the unique index, where a racing
# insert of the same key is waited for; RETURNING, evaluated only for a row that went in,
# puts the default back (a NULL value is `SET LOCAL … TO DEFAULT`), so that the rest of the
# request (the thread's row lock) waits as before. A claim that inserts nothing leaves the
# bound set: the request then only reads the record, replaces an expired one (a wait the
# bound is meant for) and ends. One round trip where set_config, INSERT, SET LOCAL were three.
_CLAIM_ON_POSTGRESQL = text(
    "INSERT INTO idempotency_records (api_key_id, key, fingerprint, status_code,"
    " response_body, location, created_at, expires_at)"
    " SELECT :api_key_id, :key, :fingerprint, 0, '', NULL, :now, :now"
    " WHERE set_config('lock_timeout', :lock_timeout, true) IS NOT NULL"
    " ON CONFLICT DO NOTHING"
    " RETURNING set_config('lock_timeout', NULL, true)"
).bindparams(
    bindparam("api_key_id", type_=records.c.api_key_id.type),
    bindparam("key", type_=records.c.key.type),
    bindparam("fingerprint", type_=records.c.fingerprint.type),
    bindparam("now", type_=records.c.created_at.type),
    bindparam("lock_timeout", type_=String()),
)
_SET_LOCK_TIMEOUT = select(func.set_config("lock_timeout", bindparam("lock_timeout"), True))
_DELETE_EXPIRED = delete(records).where(
    *_THIS_KEY, records.c.expires_at <= bindparam("where_now", type_=records.c.expires_at.type)
)
_COMPLETE = update(records).where(*_THIS_KEY)


async def get(
    session: AsyncSession, api_key_id: str, key: str
) -> Row[Any, Any, Any, Any, Any] | None:
    """The key's record (fingerprint, status_code, response_body, location, expires_at)."""
    params = {"where_api_key_id": api_key_id, "where_key": key}
    return (await session.execute(_GET, params)).first()


Claim = Literal["claimed", "taken", "busy"]

# PostgreSQL's code for a lock wait that ran past `lock_timeout`.
LOCK_NOT_AVAILABLE = "55P03"


async def claim(
    session: AsyncSession,
    api_key_id: str,
    key: str,
    fingerprint: str,
    now: datetime,
    *,
    wait_seconds: float,
    replace_expired: bool = False,
) -> Claim:
    """Insert the record for this key unless one exists (after deleting the expired record
    of the key first, with `replace_expired`).

    "claimed": inserted; "taken": a committed record exists; "busy": another transaction
    holds the key and did not finish within `wait_seconds`.

    On PostgreSQL a racing insert of the same key waits here until the first transaction
    ends: if that one committed this is "taken", if it rolled back this one claims the key.
    The wait is bounded by `lock_timeout` (see `_CLAIM_ON_POSTGRESQL`), so a duplicate of a
    slow request is told so rather than held until the statement timeout.
    On SQLite the writer's `BEGIN IMMEDIATE` already excludes every other claim.
    """
    expired = {"where_api_key_id": api_key_id, "where_key": key, "where_now": now}
    if session.get_bind().dialect.name != "postgresql":
        if replace_expired:
            await session.execute(_DELETE_EXPIRED, expired)
        values = {
            "api_key_id": api_key_id,
            "key": key,
            "fingerprint": fingerprint,
            "status_code": 0,
            "response_body": b"",
            "location": None,
            "created_at": now,
            "expires_at": now,
        }
        claimed = (await session.execute(_CLAIM_ON_SQLITE, values)).first()
        return "claimed" if claimed else "taken"
    lock_timeout = f"{max(1, int(wait_seconds * 1000))}ms"
    # No savepoint: when the wait runs out the request answers 409 and its whole transaction
    # is rolled back anyway, so the failed statement needs no recovery.
    try:
        if replace_expired:
            # The delete waits for whoever else is replacing the record: bounded too.
            await session.execute(_SET_LOCK_TIMEOUT, {"lock_timeout": lock_timeout})
            await session.execute(_DELETE_EXPIRED, expired)
        params = {
            "api_key_id": api_key_id,
            "key": key,
            "fingerprint": fingerprint,
            "now": now,
            "lock_timeout": lock_timeout,
        }
        claimed = (await session.execute(_CLAIM_ON_POSTGRESQL, params)).first()
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return "busy"
        raise
    return "claimed" if claimed else "taken"


async def complete(
    session: AsyncSession,
    api_key_id: str,
    key: str,
    *,
    status_code: int,
    body: bytes,
    location: str | None,
    expires_at: datetime,
) -> None:
    await session.execute(
        _COMPLETE,
        {
            "where_api_key_id": api_key_id,
            "where_key": key,
            "status_code": status_code,
            "response_body": body,
            "location": location,
            "expires_at": expires_at,
        },
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    # A DELETE's result is a CursorResult, which counts rows; the stubs say only Result.
    result = cast(
        CursorResult[Any],
        await session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now)),
    )
    return result.rowcount or 0


async def records_mentioning(
    session: AsyncSession, needle: str, *, since: datetime, until: datetime
) -> list[tuple[str, str, bytes]]:
    """(api_key_id, key, response_body) of the records created in [since, until] whose stored
    body holds `needle`: how a message's edit or erasure finds the response that holds it
    (ADR 0007). The created_at index bounds the scan; the match is a coarse filter (LIKE's
    `_` matches any character), so callers check what they find."""
    body = IdempotencyRecord.response_body
    holds: ColumnElement[bool]
    if session.get_bind().dialect.name == "postgresql":
        holds = body.op("LIKE", is_comparison=True)(literal(f"%{needle}%".encode(), LargeBinary))
    else:
        # SQLite's LIKE does not look into blobs; instr() does, byte by byte.
        holds = func.instr(body, literal(needle.encode(), LargeBinary)) > 0
    query = select(IdempotencyRecord.api_key_id, IdempotencyRecord.key, body).where(
        IdempotencyRecord.created_at.between(since, until), holds
    )
    return [(r[0], r[1], r[2]) for r in (await session.execute(query)).all()]


async def replace_body(session: AsyncSession, api_key_id: str, key: str, body: bytes) -> None:
    await session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key)
        .values(response_body=body)
    )
