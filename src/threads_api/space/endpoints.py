from fastapi import APIRouter, Request, Response

from threads_api.auth.dependencies import (
    AdminPrincipal,
    AdminSpaceId,
    CurrentPrincipal,
    ReadableSpaceId,
)
from threads_api.db import SessionDep
from threads_api.errors import (
    Forbidden,
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidIdempotencyKey,
    Unprocessable,
    error_responses,
)
from threads_api.idempotency.service import IdempotencyDep
from threads_api.idempotency.service import idempotency as idempotency_service
from threads_api.kit.pagination import DEFAULT_LIMIT, Cursor, CursorsDep, Limit, Page, build_page
from threads_api.routing import ApiRoute
from threads_api.space.errors import SpaceNotFound
from threads_api.space.schemas import Space, SpaceCreate, SpaceUpdate
from threads_api.space.service import space as space_service

router = APIRouter(prefix="/spaces", tags=["spaces"], route_class=ApiRoute)

LIST_BINDING = "spaces"


@router.post(
    "",
    status_code=201,
    response_model=Space,
    responses=error_responses(
        Forbidden, InvalidIdempotencyKey, IdempotencyInFlight, IdempotencyKeyReused
    ),
)
async def create_space(
    _: AdminPrincipal, idem: IdempotencyDep, body: SpaceCreate, session: SessionDep
) -> Response:
    """Create a space (admin). Accepts `Idempotency-Key`."""
    return await idempotency_service.create(
        session, idem, lambda: space_service.create(session, body)
    )


@router.get("", responses=error_responses(InvalidCursor, Forbidden))
async def list_spaces(
    request: Request,
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[Space]:
    """The spaces this key can see, in creation order."""
    after_id = None if cursor is None else cursors.decode(LIST_BINDING, cursor)[0]
    items, has_more = await space_service.page(session, principal, after_id=after_id, limit=limit)
    return build_page(
        request, response, items, has_more, binding=LIST_BINDING, position_of=lambda s: [s.id]
    )


@router.get("/{space_id}", responses=error_responses(SpaceNotFound, Forbidden))
async def get_space(space_id: ReadableSpaceId, session: SessionDep) -> Space:
    """One space."""
    return await space_service.get(session, space_id)


@router.patch("/{space_id}", responses=error_responses(SpaceNotFound, Forbidden, Unprocessable))
async def update_space(space_id: AdminSpaceId, patch: SpaceUpdate, session: SessionDep) -> Space:
    """Change a space's name or metadata (admin); a JSON merge patch."""
    return await space_service.update(session, space_id, patch)
