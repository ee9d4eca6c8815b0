"""API keys: creation, listing, revocation, and the bootstrap admin key."""

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.api_key import repository
from threads_api.api_key.errors import ApiKeyNotFound, UnknownSpace
from threads_api.api_key.schemas import ApiKey, ApiKeyCreate, ApiKeyWithSecret
from threads_api.auth import repository as auth_repository
from threads_api.auth.cache import PrincipalCache
from threads_api.auth.principal import ranked
from threads_api.db import Database
from threads_api.kit.crypto import display_prefix, hash_secret, new_api_key_secret
from threads_api.kit.ids import is_valid_id, new_id
from threads_api.kit.schemas import utcnow
from threads_api.models import ApiKey as ApiKeyRow

# The bootstrap's warnings are about authentication: they keep the logger they had.
logger = logging.getLogger("threads_api.auth")


def _to_schema(row: ApiKeyRow, space_ids: list[str]) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        scopes=ranked(row.scopes),
        space_ids=space_ids,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class ApiKeyService:
    async def create(
        self, session: AsyncSession, body: ApiKeyCreate, *, secret: str | None = None
    ) -> ApiKeyWithSecret:
        """A new key; its secret is returned here and never again."""
        missing = set(body.space_ids) - await repository.existing_space_ids(session, body.space_ids)
        if missing:
            raise UnknownSpace(
                errors=[{"loc": ["body", "space_ids"], "message": "unknown space id"}],
            )
        secret = secret or new_api_key_secret()
        row = ApiKeyRow(
            id=new_id("key"),
            name=body.name,
            secret_hash=hash_secret(secret),
            prefix=display_prefix(secret),
            scopes=list(body.scopes),
            created_at=utcnow(),
            last_used_at=None,
            revoked_at=None,
        )
        await repository.add(session, row, body.space_ids)
        return ApiKeyWithSecret(**_to_schema(row, body.space_ids).model_dump(), secret=secret)

    async def get(self, session: AsyncSession, key_id: str) -> ApiKey:
        row = await self._row(session, key_id)
        return _to_schema(row, (await auth_repository.space_ids_of(session, [row.id]))[row.id])

    async def page(
        self, session: AsyncSession, *, after_id: str | None, limit: int
    ) -> tuple[list[ApiKey], bool]:
        rows = await repository.page(session, after_id=after_id, limit=limit)
        rows, has_more = list(rows[:limit]), len(rows) > limit
        spaces = await auth_repository.space_ids_of(session, [row.id for row in rows])
        return [_to_schema(row, spaces[row.id]) for row in rows], has_more

    async def revoke(
        self, session: AsyncSession, key_id: str, *, cache: PrincipalCache | None = None
    ) -> ApiKey:
        """Revoke at once; revoking a revoked key changes nothing. `cache`: this process's,
        so that it stops serving the key before the next request; other processes learn of
        it from the revocation counter, bumped in this transaction (auth/watcher.py)."""
        row = await self._row(session, key_id)
        if cache is not None:
            cache.revoke(row.id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            await session.flush()
            await auth_repository.count_revocation(session)
        return _to_schema(row, (await auth_repository.space_ids_of(session, [row.id]))[row.id])

    async def bootstrap(self, db: Database, admin_secret: str | None) -> str | None:
        """Make sure an admin key exists. Returns a newly generated secret, to be shown once."""
        async with db.writer() as session, session.begin():
            if admin_secret is not None:
                row = await auth_repository.get_by_hash(session, hash_secret(admin_secret))
                if row is None:
                    await self.create(
                        session,
                        ApiKeyCreate(name="bootstrap admin", scopes=["admin"]),
                        secret=admin_secret,
                    )
                elif row.revoked_at is not None:
                    logger.warning(
                        "THREADS_API_ADMIN_KEY names a revoked key (%s); it stays revoked", row.id
                    )
                return None
            if await repository.count(session) > 0:
                return None
            key = await self.create(session, ApiKeyCreate(name="bootstrap admin", scopes=["admin"]))
            return key.secret

    @staticmethod
    async def _row(session: AsyncSession, key_id: str) -> ApiKeyRow:
        row = await auth_repository.get(session, key_id) if is_valid_id("key", key_id) else None
        if row is None:
            raise ApiKeyNotFound()
        return row


api_key = ApiKeyService()
