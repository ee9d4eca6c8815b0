"""Authentication: who asks, from the key in a request. Managing keys is api_key/."""

import asyncio
from datetime import timedelta

from threads_api.auth import repository
from threads_api.auth.cache import PrincipalCache
from threads_api.auth.principal import Principal
from threads_api.db import Database
from threads_api.errors import Unauthorized
from threads_api.kit.crypto import hash_secret
from threads_api.kit.schemas import utcnow

# `last_used_at` is written at most this often per key, so that a read stays a read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AuthService:
    async def authenticate(
        self, db: Database, cache: PrincipalCache, secret: str | None
    ) -> Principal:
        if not secret:
            raise Unauthorized("Send an API key in the X-API-Key header.")
        secret_hash = hash_secret(secret)
        cached = cache.get(secret_hash)
        if cached is not None:
            return cached
        lookup = cache.lookup_in_flight(secret_hash)
        if lookup is None:
            # A task of its own: a request that goes away does not take it from the others.
            lookup = asyncio.ensure_future(self._look_up(db, cache, secret_hash))
            cache.lookup_started(secret_hash, lookup)
        principal = await asyncio.shield(lookup)
        if cache.is_revoked(principal.key_id):
            raise Unauthorized("The API key is unknown or revoked.")
        return principal

    async def _look_up(self, db: Database, cache: PrincipalCache, secret_hash: str) -> Principal:
        epoch = cache.epoch  # before the read: see PrincipalCache.put
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
        cache.put(secret_hash, principal, epoch)
        return principal


auth = AuthService()
