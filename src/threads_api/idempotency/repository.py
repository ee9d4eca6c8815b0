"""All SQL about idempotency records."""

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.models import IdempotencyRecord


async def get(session: AsyncSession, api_key_id: str, key: str) -> IdempotencyRecord | None:
    return await session.scalar(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    )


async def claim(
    session: AsyncSession, api_key_id: str, key: str, fingerprint: str, now: datetime
) -> bool:
    """Insert the record for this key unless one exists; False when one does.

    On PostgreSQL a racing insert of the same key waits here until the first transaction
    ends: if that one committed this returns False, if it rolled back this one claims the key.
    """
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
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
    return (await session.execute(statement)).first() is not None


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


async def remove(session: AsyncSession, api_key_id: str, key: str) -> None:
    await session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.api_key_id == api_key_id, IdempotencyRecord.key == key
        )
    )


async def purge_expired(session: AsyncSession, now: datetime) -> int:
    result = await session.execute(
        delete(IdempotencyRecord).where(IdempotencyRecord.expires_at < now)
    )
    return result.rowcount or 0
