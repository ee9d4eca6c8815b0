"""API keys: authentication, creation, revocation, bootstrap."""

import logging
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.auth import repository
from threads_api.auth.cache import PrincipalCache
from threads_api.auth.principal import Principal
from threads_api.auth.schemas import ApiKey, ApiKeyCreate, ApiKeyWithSecret
from threads_api.db import Database
from threads_api.errors import NotFound, Unauthorized, Unprocessable
from threads_api.kit.crypto import display_prefix, hash_secret, new_api_key_secret
from threads_api.kit.ids import is_valid_id, new_id
from threads_api.kit.schemas import utcnow
from threads_api.models import ApiKey as ApiKeyRow

logger = logging.getLogger("threads_api.auth")

# `last_used_at` is written at most this often per key, so that a read stays a read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    title = "API key not found"


class UnknownSpace(Unprocessable):
    code = "unknown_space"
    title = "A space in space_ids does not exist"


def _to_schema(row: ApiKeyRow, space_ids: list[str]) -> ApiKey:
    return ApiKey(
        id=row.id,
        name=row.name,
        scopes=row.scopes,
        space_ids=space_ids,
        prefix=row.prefix,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class ApiKeyService:
    async def authenticate(
        self, db: Database, cache: PrincipalCache, secret: str | None
    ) -> Principal:
        if not secret:
            raise Unauthorized("Send an API key in the X-API-Key header.")
        secret_hash = hash_secret(secret)
        cached = cache.get(secret_hash)
        if cached is not None:
            return cached
        async with db.reader() as session, session.begin():
            row = await repository.get_by_hash(session, secret_hash)
            if row is None or row.revoked_at is not None:
                raise Unauthorized("The API key is unknown or revoked.")
            space_ids = (await repository.space_ids_of(session, [row.id]))[row.id]
        now = utcnow()
        if row.last_used_at is None or row.last_used_at < now - LAST_USED_RESOLUTION:
            async with db.writer() as session, session.begin():
                await repository.touch(session, row.id, now, now - LAST_USED_RESOLUTION)
        principal = Principal(
            key_id=row.id, scopes=frozenset(row.scopes), space_ids=frozenset(space_ids)
        )
        cache.put(secret_hash, principal)
        return principal

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
        row = await repository.get(session, key_id) if is_valid_id("key", key_id) else None
        if row is None:
            raise ApiKeyNotFound()
        return _to_schema(row, (await repository.space_ids_of(session, [row.id]))[row.id])

    async def page(
        self, session: AsyncSession, *, after_id: str | None, limit: int
    ) -> tuple[list[ApiKey], bool]:
        rows = await repository.page(session, after_id=after_id, limit=limit)
        rows, has_more = list(rows[:limit]), len(rows) > limit
        spaces = await repository.space_ids_of(session, [row.id for row in rows])
        return [_to_schema(row, spaces[row.id]) for row in rows], has_more

    async def revoke(
        self, session: AsyncSession, key_id: str, *, cache: PrincipalCache | None = None
    ) -> ApiKey:
        """Revoke at once; revoking a revoked key changes nothing. `cache`: this process's,
        so that it stops serving the key before the next request."""
        row = await repository.get(session, key_id) if is_valid_id("key", key_id) else None
        if row is None:
            raise ApiKeyNotFound()
        if cache is not None:
            cache.revoke(row.id)
        if row.revoked_at is None:
            row.revoked_at = utcnow()
            await session.flush()
        return _to_schema(row, (await repository.space_ids_of(session, [row.id]))[row.id])

    async def bootstrap(self, db: Database, admin_secret: str | None) -> str | None:
        """Make sure an admin key exists. Returns a newly generated secret, to be shown once."""
        async with db.writer() as session, session.begin():
            if admin_secret is not None:
                row = await repository.get_by_hash(session, hash_secret(admin_secret))
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


api_key = ApiKeyService()
