"""All SQL about idempotency records.

The statements of the request path are units (reads.py): SQL text made once, run on the
plain write connections (writes.py) by the message creates, and on an ORM session's
connection by the other creating endpoints (`writes.run_in_session`). Timestamps go in and
come out as the API writes them (`2026-11-29T15:12:53.579621Z`), which sort as they compare.
"""

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
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.models import IdempotencyRecord
from threads_api.reads import Statement, Unit, statement
from threads_api.writes import LockTimeout

_THIS_KEY = "api_key_id = ? AND key = ?"
_GET = statement(
    lambda d: (
        "SELECT fingerprint, status_code, response_body, location,"
        f" {d.ts('expires_at')} FROM idempotency_records WHERE {_THIS_KEY}"
    )
)
# A placeholder row (status 0, an empty body) until `complete`. On PostgreSQL the claim bounds
# its own wait (ADR 0003, "The 409 path"): its WHERE sets `lock_timeout` for the transaction
# before the row reaches the unique index, where a racing insert of the same key is waited
# for; RETURNING, evaluated only for a row that went in, puts the default back (a NULL value
# is `SET LOCAL … TO DEFAULT`), so that the rest of the request (the thread's row lock) waits
# as before. A claim that inserts nothing leaves the bound set: the request then only reads
# the record, replaces an expired one (a wait the bound is meant for) and ends. SQLite's one
# writer excludes every other claim already; it takes the same arguments and ignores ?5.
# (INSERT … SELECT … ON CONFLICT needs a WHERE on SQLite, to parse.)
_CLAIM = Statement(
    sqlite="INSERT INTO idempotency_records (api_key_id, key, fingerprint, status_code,"
    " response_body, location, created_at, expires_at)"
    " SELECT ?1, ?2, ?3, 0, X'', NULL, replace(rtrim(?4, 'Z'), 'T', ' '),"
    " replace(rtrim(?4, 'Z'), 'T', ' ') WHERE ?5 IS NOT NULL"
    " ON CONFLICT DO NOTHING RETURNING key",
    postgres="INSERT INTO idempotency_records (api_key_id, key, fingerprint, status_code,"
    " response_body, location, created_at, expires_at)"
    " SELECT $1::text, $2::text, $3::text, 0, ''::bytea, NULL, $4::text::timestamptz,"
    " $4::text::timestamptz WHERE set_config('lock_timeout', $5::text, true) IS NOT NULL"
    " ON CONFLICT DO NOTHING RETURNING set_config('lock_timeout', NULL, true)",
)
# SQLite has nothing to bound (its one writer waits for nobody here): a no-op, same argument.
_SET_LOCK_TIMEOUT = Statement(
    sqlite="SELECT ?1", postgres="SELECT set_config('lock_timeout', $1::text, true)"
)
_DELETE_EXPIRED = statement(
    lambda d: f"DELETE FROM idempotency_records WHERE {_THIS_KEY} AND expires_at <= {d.ts_arg()}"
)
_COMPLETE = statement(
    lambda d: (
        "UPDATE idempotency_records SET status_code = ?, response_body = ?,"
        f" location = ?, expires_at = {d.ts_arg()} WHERE {_THIS_KEY}"
    )
)

Claim = Literal["claimed", "taken", "busy"]


def get(api_key_id: str, key: str) -> Unit[Any | None]:
    """The key's record (fingerprint, status_code, response_body, location, expires_at)."""
    rows = yield _GET, (api_key_id, key)
    return rows[0] if rows else None


def claim(
    api_key_id: str,
    key: str,
    fingerprint: str,
    now: str,
    *,
    wait_seconds: float,
    replace_expired: bool = False,
) -> Unit[Claim]:
    """Insert the record for this key unless one exists (after deleting the expired record
    of the key first, with `replace_expired`).

    "claimed": inserted; "taken": a committed record exists; "busy": another transaction
    holds the key and did not finish within `wait_seconds`.

    On PostgreSQL a racing insert of the same key waits here until the first transaction
    ends: if that one committed this is "taken", if it rolled back this one claims the key.
    The wait is bounded by `lock_timeout` (see `_CLAIM`), so a duplicate of a slow request is
    told so rather than held until the statement timeout. No savepoint: when the wait runs
    out the request answers 409 and its whole transaction is rolled back anyway.
    """
    lock_timeout = f"{max(1, int(wait_seconds * 1000))}ms"
    try:
        if replace_expired:
            # The delete waits for whoever else is replacing the record: bounded too.
            yield _SET_LOCK_TIMEOUT, (lock_timeout,)
            yield _DELETE_EXPIRED, (api_key_id, key, now)
        claimed = yield _CLAIM, (api_key_id, key, fingerprint, now, lock_timeout)
    except LockTimeout:
        return "busy"
    return "claimed" if claimed else "taken"


def complete(
    api_key_id: str,
    key: str,
    *,
    status_code: int,
    body: bytes,
    location: str | None,
    expires_at: str,
) -> Unit[None]:
    yield _COMPLETE, (status_code, body, location, expires_at, api_key_id, key)


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
