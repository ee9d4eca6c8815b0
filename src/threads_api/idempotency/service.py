"""Idempotency keys (contract §8, ADR 0003): the rules, free of HTTP.

The record of a key is claimed, the resource created and the response stored in the
request's one transaction, so a crash at any point leaves either everything or nothing,
and the database's primary key decides races between processes. `dependencies.py` reads
the header and turns what this returns into responses.
"""

import asyncio
import hashlib
import json
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from threads_api.db import Database
from threads_api.idempotency import repository
from threads_api.idempotency.errors import IdempotencyInFlight, IdempotencyKeyReused
from threads_api.idempotency.repository import Claim
from threads_api.kit.schemas import format_timestamp, utcnow
from threads_api.reads import Unit

logger = logging.getLogger("threads_api.idempotency")


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """A request's `Idempotency-Key`, scoped to the API key that sent it."""

    api_key_id: str
    key: str
    fingerprint: str
    ttl: timedelta
    # How long a duplicate waits for a running request with its key before answering 409.
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response of the first request with a key, as it was stored."""

    status_code: int
    body: bytes
    # The path of the created resource ("/v1/…"); the public base is added when it is sent.
    location: str | None


@dataclass(frozen=True, slots=True)
class Created:
    """What a creating unit made: the 201's body, and the path of the created resource."""

    body: bytes
    location: str


def fingerprint(method: str, path: str, body: Any) -> str:
    """The parsed body, re-serialised canonically: key order and whitespace do not change
    the fingerprint; the method and path do."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


class IdempotencyService:
    def create(
        self, key: IdempotencyKey | None, create: Unit[Created]
    ) -> Unit[Created | StoredResponse]:
        """Run the creating unit `create` under `key`: claimed first, the response stored
        after, all in the one transaction; or the stored response, to replay, with nothing
        created. Without a key, just `create`."""
        if key is not None:
            stored = yield from self.claim(key, format_timestamp(utcnow()))
            if stored is not None:
                return stored
        created = yield from create
        if key is not None:
            yield from self.complete(key, body=created.body, location=created.location)
        return created

    def claim(self, key: IdempotencyKey, now: str) -> Unit[StoredResponse | None]:
        """Claim `key` for this request, or return the response stored under it to replay.
        A unit (reads.py): run in the request's write transaction.

        Raises `IdempotencyInFlight` (409) while another request holds the key, and
        `IdempotencyKeyReused` (422) when it was used with another request."""
        # Claim first: a new key (the usual case) costs one statement; the record is read
        # only when the key is taken.
        claim = yield from self._claim(key, now, replace_expired=False)
        record = None
        if claim == "taken":
            record = yield from repository.get(key.api_key_id, key.key)
            if record is not None and record[4] <= now:
                # An expired record counts as absent: replace it with this request's claim.
                claim = yield from self._claim(key, now, replace_expired=True)
                record = None
                if claim == "taken":
                    # A racing request replaced it first and committed: answer as it did.
                    record = yield from repository.get(key.api_key_id, key.key)
        if claim == "claimed":
            return None
        if record is None:
            # Busy, or the record went between the claim and the read (purged): in flight.
            raise IdempotencyInFlight(
                "A request with this key is still running; retry shortly with the same key."
            )
        fingerprint, status_code, body, location, _ = record
        if fingerprint != key.fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used with another request (method, path or body)."
            )
        return StoredResponse(status_code, bytes(body), location)

    def _claim(self, key: IdempotencyKey, now: str, *, replace_expired: bool) -> Unit[Claim]:
        return repository.claim(
            key.api_key_id,
            key.key,
            key.fingerprint,
            now,
            wait_seconds=key.wait_seconds,
            replace_expired=replace_expired,
        )

    def complete(self, key: IdempotencyKey, *, body: bytes, location: str) -> Unit[None]:
        """Store the 201 of the request that claimed `key` (`body`: its JSON, as sent);
        retention counts from now."""
        return repository.complete(
            key.api_key_id,
            key.key,
            status_code=201,
            body=body,
            location=location,
            expires_at=format_timestamp(utcnow() + key.ttl),
        )


idempotency = IdempotencyService()


async def purge_expired_forever(db: Database, ttl_seconds: int) -> None:
    """Delete expired records now and then, so that no cron job is needed."""
    interval = min(ttl_seconds, 300)
    while True:
        await asyncio.sleep(interval * random.uniform(0.5, 1.0))
        try:
            async with db.writer() as session, session.begin():
                purged = await repository.purge_expired(session, utcnow())
            if purged:
                logger.info("purged %d expired idempotency records", purged)
        except Exception:
            logger.warning("purging idempotency records failed; will retry", exc_info=True)
