"""All SQL about idempotency records."""

from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    LargeBinary,
    delete,
    func,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.models import IdempotencyRecord


async def get(session: AsyncSession, api_key_id: str, key: str) -> IdempotencyRecord | None:
    return await session.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    )


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
    The wait is bounded by `lock_timeout`, set for this statement only, so a
    duplicate of a slow request is told so rather than held until the statement timeout.
    On SQLite the writer's `BEGIN IMMEDIATE` already excludes every other claim.
    """
    on_postgresql = session.get_bind().dialect.name == "postgresql"
    insert = postgresql.insert if on_postgresql else sqlite.insert
    statement = (
        insert(IdempotencyRecord)
        .values(
            api_key_id=api_key_id,
            key=key,
            fingerprint=fingerprint,
            status_code=0,
            response_body=b"",
            location=None,
            created_at=now,
            expires_at=now,
        )
        .on_conflict_do_nothing()
        .returning(IdempotencyRecord.key)
    )
    expired = delete(IdempotencyRecord).where(
        IdempotencyRecord.api_key_id == api_key_id,
        IdempotencyRecord.key == key,
        IdempotencyRecord.expires_at <= now,
    )
    if not on_postgresql:
        if replace_expired:
            await session.execute(expired)
        return "claimed" if (await session.execute(statement)).first() else "taken"
    # No savepoint: when the wait runs out the request answers 409 and its whole transaction
    # is rolled back anyway, so the failed statement needs no recovery.
    try:
        await session.execute(
            select(func.set_config("lock_timeout", f"{max(1, int(wait_seconds * 1000))}ms", True))
        )
        if replace_expired:
            await session.execute(expired)
        row = (await session.execute(statement)).first()
        await session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    except DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            return "busy"
        raise
    return "claimed" if row else "taken"


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
        update(IdempotencyRecord)
        .where(IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key)
        .values(
            status_code=status_code, response_body=body, location=location, expires_at=expires_at
        )
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
