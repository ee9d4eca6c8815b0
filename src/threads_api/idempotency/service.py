"""Idempotency keys (contract §8, ADR 0003).

The record of a key is claimed, the resource created and the response stored in the
request's one transaction, so a crash at any point leaves either everything or nothing,
and the database's primary key decides races between processes.
"""

import asyncio
import hashlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.config import Settings
from threads_api.db import Database
from threads_api.errors import (
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from threads_api.idempotency import repository
from threads_api.kit.schemas import utcnow

logger = logging.getLogger("threads_api.idempotency")

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
MAX_WAIT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    api_key_id: str
    key: str
    fingerprint: str
    ttl: timedelta
    # How long a duplicate waits for a running request with its key before answering 409.
    wait_seconds: float


@dataclass(frozen=True, slots=True)
class Created:
    """What a creating service returns: the resource and where it lives.

    `replay_body` is what a replay answers when it must differ from the original: a new
    API key's secret is shown once and never stored, not even in an idempotency record."""

    body: BaseModel
    location: str
    replay_body: BaseModel | None = None


def _fingerprint(request: Request) -> str:
    # The parsed body (cached by ApiRoute), re-serialised canonically: key order and
    # whitespace do not change the fingerprint; the method and path do.
    body = json.dumps(getattr(request, "_json", None), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{request.method}\n{request.url.path}\n{body}".encode()).hexdigest()


def idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            # Documentation only (json_schema_extra): a bad key is a 400, not FastAPI's 422.
            json_schema_extra={"pattern": f"^[\\x20-\\x7E]{{1,{MAX_KEY_LENGTH}}}$"},
            description=f"1-{MAX_KEY_LENGTH} printable ASCII characters. A retry with the same "
            "key and request replays the first response instead of creating again.",
        ),
    ] = None,
) -> IdempotencyKey | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(" " <= ch <= "~" for ch in key):
        raise InvalidIdempotencyKey(
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters."
        )
    settings: Settings = request.app.state.settings
    return IdempotencyKey(
        api_key_id=request.state.principal.key_id,
        key=key,
        fingerprint=_fingerprint(request),
        ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
        # Below the statement timeout, so that the wait ends in a 409 rather than a 503.
        wait_seconds=min(MAX_WAIT_SECONDS, settings.database_timeout_seconds / 2),
    )


IdempotencyDep = Annotated[
    IdempotencyKey | None,
    Depends(idempotency_key),
]


def _response(status_code: int, body: bytes, location: str | None, *, replayed: bool) -> Response:
    headers = {"Location": location} if location else {}
    if replayed:
        headers[REPLAYED_HEADER] = "true"
    return Response(body, status_code, headers=headers, media_type="application/json")


class IdempotencyService:
    async def create(
        self,
        session: AsyncSession,
        idem: IdempotencyKey | None,
        create: Callable[[], Awaitable[Created]],
    ) -> Response:
        """Run `create` at most once per key: a 201 the first time, its replay afterwards."""
        if idem is None:
            created = await create()
            return _response(
                201, created.body.model_dump_json().encode(), created.location, replayed=False
            )

        now = utcnow()
        record = await repository.get(session, idem.api_key_id, idem.key)
        expired = record is not None and record.expires_at <= now
        if record is None or expired:
            record = None
            claim = await repository.claim(
                session,
                idem.api_key_id,
                idem.key,
                idem.fingerprint,
                now,
                wait_seconds=idem.wait_seconds,
                replace_expired=expired,
            )
            if claim == "taken":
                # A racing request with this key committed while we waited: answer as it did.
                record = await repository.get(session, idem.api_key_id, idem.key)
            if claim == "busy" or (claim == "taken" and record is None):
                raise IdempotencyInFlight(
                    "A request with this key is still running; retry shortly with the same key.",
                    headers={"Retry-After": "1"},
                )
        if record is not None:
            if record.fingerprint != idem.fingerprint:
                raise IdempotencyKeyReused(
                    f"This {HEADER} was used with another request (method, path or body)."
                )
            return _response(
                record.status_code, record.response_body, record.location, replayed=True
            )

        created = await create()
        body = created.body.model_dump_json().encode()
        stored = (
            body if created.replay_body is None else created.replay_body.model_dump_json().encode()
        )
        await repository.complete(
            session,
            idem.api_key_id,
            idem.key,
            status_code=201,
            body=stored,
            location=created.location,
            expires_at=utcnow() + idem.ttl,
        )
        return _response(201, body, created.location, replayed=False)


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
