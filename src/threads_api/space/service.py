"""Spaces: the containers of threads."""

from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.auth.principal import Principal
from threads_api.errors import Unprocessable
from threads_api.kit.ids import new_id
from threads_api.kit.schemas import MAX_METADATA_KEYS, merge_metadata, utcnow
from threads_api.models import Space as SpaceRow
from threads_api.space import repository
from threads_api.space.errors import SpaceNotFound
from threads_api.space.schemas import Space, SpaceCreate, SpaceUpdate


def check_merged_metadata(metadata: dict[str, str]) -> None:
    if len(metadata) > MAX_METADATA_KEYS:
        raise Unprocessable(
            f"metadata may hold at most {MAX_METADATA_KEYS} keys after the merge.",
            errors=[{"loc": ["body", "metadata"], "message": "too many keys"}],
        )


class SpaceService:
    async def create(self, session: AsyncSession, body: SpaceCreate) -> Space:
        now = utcnow()
        row = SpaceRow(
            id=new_id("spc"),
            name=body.name,
            metadata_=body.metadata,
            created_at=now,
            updated_at=now,
        )
        await repository.add(session, row)
        return Space.model_validate(row)

    async def get(self, session: AsyncSession, space_id: str) -> Space:
        row = await repository.get(session, space_id)
        if row is None:
            raise SpaceNotFound()
        return Space.model_validate(row)

    async def update(self, session: AsyncSession, space_id: str, patch: SpaceUpdate) -> Space:
        row = await repository.get(session, space_id)
        if row is None:
            raise SpaceNotFound()
        name = row.name if patch.name is None else patch.name
        metadata = row.metadata_
        if "metadata" in patch.model_fields_set:
            metadata = merge_metadata(row.metadata_, patch.metadata)
            check_merged_metadata(metadata)
        if (name, metadata) == (row.name, row.metadata_):
            return Space.model_validate(row)  # same values: updated_at stays (as for threads)
        row.name, row.metadata_ = name, metadata
        row.updated_at = utcnow()
        await session.flush()
        return Space.model_validate(row)

    async def page(
        self, session: AsyncSession, principal: Principal, *, after_id: str | None, limit: int
    ) -> tuple[list[Space], bool]:
        only = None if principal.is_admin else principal.space_ids
        rows = await repository.page(session, only=only, after_id=after_id, limit=limit)
        return [Space.model_validate(r) for r in rows[:limit]], len(rows) > limit


space = SpaceService()
