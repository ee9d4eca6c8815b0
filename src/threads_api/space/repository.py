"""All SQL about spaces."""

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.kit.pagination import keyset_page
from threads_api.models import Space
from threads_api.reads import Unit, statement

_EXISTS = statement(lambda d: "SELECT 1 FROM spaces WHERE id = ?")


def exists(space_id: str) -> Unit[bool]:
    """Whether the space exists, on a plain connection (reads.py)."""
    return bool((yield _EXISTS, (space_id,)))


async def get(session: AsyncSession, space_id: str) -> Space | None:
    return await session.get(Space, space_id)


async def add(session: AsyncSession, space: Space) -> None:
    session.add(space)
    await session.flush()


async def page(
    session: AsyncSession,
    *,
    only: Collection[str] | None,
    after_id: str | None,
    limit: int,
) -> Sequence[Space]:
    """Spaces in creation (id) order; `only` restricts them to a key's spaces."""
    query = select(Space)
    if only is not None:
        query = query.where(Space.id.in_(only))
    query = keyset_page(
        query,
        [Space.id.expression],
        None if after_id is None else [after_id],
        order="asc",
        limit=limit,
    )
    return (await session.scalars(query)).all()
