"""The SQL of authentication: keys by their secret, and the revocation counter (ADR 0005).

The SQL of managing keys (create, list) is in api_key/repository.py.
"""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from threads_api.models import ApiKey, RevocationCounter, api_key_spaces


async def get_by_hash(session: AsyncSession, secret_hash: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.secret_hash == secret_hash))


async def get(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def space_ids_of(session: AsyncSession, key_ids: Sequence[str]) -> dict[str, list[str]]:
    rows = await session.execute(
        select(api_key_spaces.c.api_key_id, api_key_spaces.c.space_id)
        .where(api_key_spaces.c.api_key_id.in_(key_ids))
        .order_by(api_key_spaces.c.space_id)
    )
    spaces: dict[str, list[str]] = {key_id: [] for key_id in key_ids}
    for key_id, space_id in rows:
        spaces[key_id].append(space_id)
    return spaces


async def touch(session: AsyncSession, key_id: str, now: datetime, stale_before: datetime) -> None:
    """Set `last_used_at`, unless another request did so since `stale_before`."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < stale_before))
        .values(last_used_at=now)
    )


async def count_revocation(session: AsyncSession) -> None:
    """Bump the revocation counter, in the revoking transaction (ADR 0005)."""
    bumped = await session.scalar(
        update(RevocationCounter)
        .where(RevocationCounter.id == 1)
        .values(value=RevocationCounter.value + 1)
        .returning(RevocationCounter.value)
        .execution_options(synchronize_session=False)
    )
    if bumped is None:
        # The migration seeds the row; should it be gone, start it again, so that the
        # other processes still see a change.
        session.add(RevocationCounter(id=1, value=1))
        await session.flush()


# Polled by every process many times a second: plain SQL, which skips SQLAlchemy's statement
# compilation and halves the cost of a poll.
_REVOCATION_COUNT = "SELECT value FROM revocation_counter WHERE id = 1"


async def revocation_count(connection: AsyncConnection) -> int | None:
    value: int | None = (await connection.exec_driver_sql(_REVOCATION_COUNT)).scalar()
    return value


async def revoked_among(session: AsyncSession, key_ids: Sequence[str]) -> set[str]:
    """Which of these keys are revoked: their open event streams end (event/streams.py)."""
    query = select(ApiKey.id).where(ApiKey.id.in_(key_ids), ApiKey.revoked_at.is_not(None))
    return set(await session.scalars(query))
