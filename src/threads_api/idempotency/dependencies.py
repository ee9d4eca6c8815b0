"""Idempotency at the edge of a request: the `Idempotency-Key` header, and the replay or
record of what a creating endpoint answers. The rules themselves are in `service.py`.

A creating endpoint that writes through the ORM takes `IdempotencyDep` and reads, top to
bottom:

    if replay := await idempotency.replay():
        return replay                      # the stored response, as it was
    space = await space_service.create(session, body)
    return await idempotency.created(space, location=f"/v1/spaces/{space.id}")

`replay()` runs after the body was validated, so a bad body is a 422 before a key is
claimed; `created()` sets `Location` and `ETag` and stores the response in the request's
transaction (ADR 0003, ADR 0004).

The message creates write on the plain write path (writes.py, ADR 0012): they take
`IdempotencyKeyDep`, run their creating unit under it (`idempotency_service.create`) and
answer with `created_response`. Both ways claim and store with the same units.
"""

from datetime import timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from threads_api.auth.dependencies import current_principal
from threads_api.auth.principal import Principal
from threads_api.errors import ThreadsError
from threads_api.idempotency.errors import (
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)
from threads_api.idempotency.service import Created, IdempotencyKey, StoredResponse, fingerprint
from threads_api.idempotency.service import idempotency as idempotency_service
from threads_api.kit.etag import etag_of
from threads_api.kit.schemas import format_timestamp, utcnow
from threads_api.state import AppState, SessionDep, app_state
from threads_api.urls import public_url
from threads_api.writes import run_in_session

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255
MAX_WAIT_SECONDS = 2.0
# What a route that takes `IdempotencyDep` adds to its `responses=`.
IDEMPOTENCY_ERRORS: tuple[type[ThreadsError], ...] = (
    InvalidIdempotencyKey,
    IdempotencyInFlight,
    IdempotencyKeyReused,
)

T = TypeVar("T", bound=BaseModel)


async def idempotency_key(
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
    # The path as routed (not `request.url`, which starts from the Host header) and the
    # body as ApiRoute parsed and cached it.
    return idempotency_key_of(
        app_state(request),
        current_principal(request),
        key,
        request.method,
        request.scope["path"],
        getattr(request, "_json", None),
    )


def idempotency_key_of(
    state: AppState, principal: Principal, key: str | None, method: str, path: str, body: Any
) -> IdempotencyKey | None:
    """The request's key (400 when malformed), bound to its method, path and JSON body: what
    `idempotency_key` gives, for a route served without dependencies (middleware.py)."""
    if key is None:
        return None
    # Printable ASCII is exactly 0x20-0x7E.
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not (key.isascii() and key.isprintable()):
        raise InvalidIdempotencyKey(
            f"{HEADER} must be 1-{MAX_KEY_LENGTH} printable ASCII characters."
        )
    settings = state.settings
    return IdempotencyKey(
        api_key_id=principal.key_id,
        key=key,
        fingerprint=fingerprint(method, path, body),
        ttl=timedelta(seconds=settings.idempotency_ttl_seconds),
        # Below the statement timeout, so that the wait ends in a 409 rather than a 503.
        wait_seconds=min(MAX_WAIT_SECONDS, settings.database_timeout_seconds / 2),
    )


class IdempotentCreate:
    """A creating endpoint's handle on its `Idempotency-Key`: `replay()` first, then
    `created()` with what the service made. Without the header both still work: nothing is
    claimed or stored."""

    def __init__(
        self,
        request: Request,
        response: Response,
        session: AsyncSession,
        key: IdempotencyKey | None,
    ) -> None:
        self._request = request
        self._response = response
        self._session = session
        self._key = key
        self._claimed = False

    async def replay(self) -> Response | None:
        """The stored response when this key already served this request; otherwise claim
        the key for this request (409 while another holds it, 422 if it served another)."""
        if self._key is None:
            return None
        claim = idempotency_service.claim(self._key, format_timestamp(utcnow()))
        stored = await run_in_session(self._session, claim)
        if stored is None:
            self._claimed = True
            return None
        return self._replayed(stored)

    async def created(self, resource: T, *, location: str, stored: BaseModel | None = None) -> T:
        """Answer with `resource` (the route's 201), with its `Location` and `ETag`; with a key,
        also store the response, or `stored` when a replay must show something else."""
        # The bytes FastAPI sends for `resource`, made once for the stored copy and the ETag.
        body = resource.model_dump_json().encode()
        if self._key is not None:
            if not self._claimed:
                raise RuntimeError("call replay() before creating anything")
            kept = body if stored is None else stored.model_dump_json().encode()
            complete = idempotency_service.complete(self._key, body=kept, location=location)
            await run_in_session(self._session, complete)
        self._response.headers["Location"] = public_url(self._request, location)
        self._response.headers["ETag"] = etag_of(body)
        return resource

    def _replayed(self, stored: StoredResponse) -> Response:
        return created_response(self._request, stored)


def created_response(request: Request, outcome: Created | StoredResponse) -> Response:
    """The 201 of what a creating unit made, or the replay of a stored response."""
    if isinstance(outcome, Created):
        headers = {"Location": public_url(request, outcome.location), "ETag": etag_of(outcome.body)}
        return Response(outcome.body, 201, headers=headers, media_type="application/json")
    headers = {"ETag": etag_of(outcome.body), REPLAYED_HEADER: "true"}
    if outcome.location:
        headers["Location"] = public_url(request, outcome.location)
    return Response(
        outcome.body, outcome.status_code, headers=headers, media_type="application/json"
    )


async def idempotent_create(
    request: Request,
    response: Response,
    key: Annotated[IdempotencyKey | None, Depends(idempotency_key)],
    session: SessionDep,
) -> IdempotentCreate:
    return IdempotentCreate(request, response, session, key)


# Declare them after the space and scope dependencies: a bad key is reported after 404/403.
IdempotencyDep = Annotated[IdempotentCreate, Depends(idempotent_create)]
IdempotencyKeyDep = Annotated[IdempotencyKey | None, Depends(idempotency_key)]
