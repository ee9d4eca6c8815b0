from fastapi import APIRouter, Request, Response

from threads_api.auth.dependencies import AdminPrincipal
from threads_api.auth.schemas import ApiKey, ApiKeyCreate, ApiKeyWithSecret
from threads_api.auth.service import ApiKeyNotFound, UnknownSpace
from threads_api.auth.service import api_key as api_key_service
from threads_api.db import SessionDep
from threads_api.errors import (
    Forbidden,
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidIdempotencyKey,
    error_responses,
)
from threads_api.idempotency.service import Created, IdempotencyDep
from threads_api.idempotency.service import idempotency as idempotency_service
from threads_api.kit.pagination import DEFAULT_LIMIT, Cursor, CursorsDep, Limit, Page, build_page
from threads_api.routing import ApiRoute

router = APIRouter(prefix="/api-keys", tags=["api keys"], route_class=ApiRoute)

LIST_BINDING = "api_keys"


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyWithSecret,
    responses=error_responses(
        Forbidden, UnknownSpace, InvalidIdempotencyKey, IdempotencyInFlight, IdempotencyKeyReused
    ),
)
async def create_api_key(
    _: AdminPrincipal, idem: IdempotencyDep, body: ApiKeyCreate, session: SessionDep
) -> Response:
    """Create an API key (admin). The response is the only place its `secret` ever appears."""

    async def create() -> Created:
        key = await api_key_service.create(session, body)
        return Created(
            key, f"/v1/api-keys/{key.id}", replay_body=key.model_copy(update={"secret": None})
        )

    return await idempotency_service.create(session, idem, create)


@router.get("", responses=error_responses(InvalidCursor, Forbidden))
async def list_api_keys(
    request: Request,
    response: Response,
    _: AdminPrincipal,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[ApiKey]:
    """Every API key, revoked ones included, in creation order (admin). Never a secret."""
    after_id = None if cursor is None else cursors.decode(LIST_BINDING, cursor)[0]
    items, has_more = await api_key_service.page(session, after_id=after_id, limit=limit)
    return build_page(
        request, response, items, has_more, binding=LIST_BINDING, position_of=lambda k: [k.id]
    )


@router.get("/{key_id}", responses=error_responses(ApiKeyNotFound, Forbidden))
async def get_api_key(key_id: str, _: AdminPrincipal, session: SessionDep) -> ApiKey:
    """One API key (admin)."""
    return await api_key_service.get(session, key_id)


@router.delete("/{key_id}", responses=error_responses(ApiKeyNotFound, Forbidden))
async def revoke_api_key(
    request: Request, key_id: str, _: AdminPrincipal, session: SessionDep
) -> ApiKey:
    """Revoke an API key at once (admin); revoking again changes nothing."""
    return await api_key_service.revoke(session, key_id, cache=request.app.state.principals)
