"""All SQL of managing API keys; what authentication reads is in auth/repository.py."""

from collections.abc import Sequence

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import keyset_page
from threads_api.models import ApiKey, Space, api_key_spaces


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


async def page(session: AsyncSession, *, after_id: str | None, limit: int) -> Sequence[ApiKey]:
    query = keyset_page(
        select(ApiKey),
        [ApiKey.id.expression],
        None if after_id is None else [after_id],
        order="asc",
        limit=limit,
    )
    return (await session.scalars(query)).all()
