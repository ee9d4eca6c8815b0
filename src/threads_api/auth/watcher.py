"""Learns of key revocations made by other processes, by polling the revocation counter.

Every revocation bumps a one-row counter in its own transaction. Each process reads it every
`revocation_poll_ms`, on a connection of its own so that a poll never queues behind requests
for a pooled one; when the value moves, the principal cache is cleared and whoever waits on
`next_change()` is woken. Each successful poll lets the cache serve for a short while after
the poll began (auth/cache.py), which is what bounds revocation to 100 ms (ADR 0005).
"""

import asyncio
import logging
import time

from threads_api.auth import repository
from threads_api.auth.cache import PrincipalCache
from threads_api.db import Database

logger = logging.getLogger("threads_api.auth")

_UNSEEN = object()


class RevocationWatcher:
    def __init__(self, db: Database, cache: PrincipalCache, interval_seconds: float) -> None:
        self._db = db
        self._cache = cache
        self._interval = interval_seconds
        # Unseen until the first poll, which clears the cache too: lookups made before it
        # may hold what they read before a revocation.
        self._seen: object = _UNSEEN
        self._changed = asyncio.Event()

    def next_change(self) -> asyncio.Event:
        """Set once this process next learns of a revocation, made here or elsewhere. Take
        the next one before acting on a change, not after: one that comes meanwhile sets it.
        """
        return self._changed

    async def check(self) -> None:
        """One poll: forget cached keys if any key was revoked since the last poll."""
        started = time.monotonic()
        async with self._db.watch_engine.connect() as connection:
            value = await repository.revocation_count(connection)
        if value != self._seen:
            self._seen = value
            self._cache.clear()
            self._changed.set()
            self._changed = asyncio.Event()
        self._cache.trust_from(started)

    async def run(self) -> None:
        """Poll until cancelled. While polls fail the cache serves nothing, so every request
        reads its key from the database; the outage is logged once, not at each poll."""
        failing = False
        while True:
            started = time.monotonic()
            try:
                await self.check()
            except Exception as error:
                if not failing:
                    logger.warning(
                        "revocation watcher: database unreachable (%s); keys are read from "
                        "the database on every request until it is back",
                        type(error).__name__,
                    )
                failing = True
            else:
                if failing:
                    logger.info("revocation watcher: database reachable again")
                failing = False
            await asyncio.sleep(max(0.0, self._interval - (time.monotonic() - started)))
