"""All SQL about API keys."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import keyset_page
from threads_api.models import ApiKey, Space, api_key_spaces


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


async def add(session: AsyncSession, key: ApiKey, space_ids: Sequence[str]) -> None:
    session.add(key)
    await session.flush()
    if space_ids:
        await session.execute(
            insert(api_key_spaces),
            [{"api_key_id": key.id, "space_id": space_id} for space_id in space_ids],
        )


async def existing_space_ids(session: AsyncSession, space_ids: Sequence[str]) -> set[str]:
    return set(await session.scalars(select(Space.id).where(Space.id.in_(space_ids))))


async def count(session: AsyncSession) -> int:
    return await session.scalar(select(func.count()).select_from(ApiKey)) or 0


async def page(
    session: AsyncSession, *, after_id: str | None, limit: int, order: str = "asc"
) -> Sequence[ApiKey]:
    query = keyset_page(
        select(ApiKey),
        [ApiKey.id],
        None if after_id is None else [after_id],
        order="asc" if order == "asc" else "desc",
        limit=limit,
    )
    return (await session.scalars(query)).all()


async def touch(session: AsyncSession, key_id: str, now: datetime, stale_before: datetime) -> None:
    """Set `last_used_at`, unless another request did so since `stale_before`."""
    await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id)
        .where(or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < stale_before))
        .values(last_used_at=now)
    )
