from fastapi import APIRouter, Request, Response

from threads_api.auth.dependencies import AdminPrincipal, CurrentPrincipal
from threads_api.errors import Forbidden, InvalidCursor, Unprocessable, error_responses
from threads_api.idempotency.dependencies import IDEMPOTENCY_ERRORS, IdempotencyDep
from threads_api.kit.etag import with_etag
from threads_api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from threads_api.pages import CursorsDep, build_page
from threads_api.routing import ApiRoute
from threads_api.space.dependencies import AdminSpaceId, ReadableSpaceId
from threads_api.space.errors import SpaceNotFound
from threads_api.space.schemas import Space, SpaceCreate, SpaceUpdate
from threads_api.space.service import space as space_service
from threads_api.state import SessionDep

router = APIRouter(prefix="/spaces", tags=["spaces"], route_class=ApiRoute)

LIST_BINDING = "spaces"


@router.post(
    "",
    status_code=201,
    response_model=Space,
    responses=error_responses(Forbidden, *IDEMPOTENCY_ERRORS),
)
async def create_space(
    _: AdminPrincipal, idempotency: IdempotencyDep, body: SpaceCreate, session: SessionDep
) -> Space | Response:
    """Create a space (admin). Accepts `Idempotency-Key`."""
    if replay := await idempotency.replay():
        return replay
    space = await space_service.create(session, body)
    return await idempotency.created(space, location=f"/v1/spaces/{space.id}")


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
async def get_space(space_id: ReadableSpaceId, session: SessionDep, response: Response) -> Space:
    """One space."""
    return with_etag(response, await space_service.get(session, space_id))


@router.patch("/{space_id}", responses=error_responses(SpaceNotFound, Forbidden, Unprocessable))
async def update_space(
    space_id: AdminSpaceId, patch: SpaceUpdate, session: SessionDep, response: Response
) -> Space:
    """Change a space's name or metadata (admin); a JSON merge patch."""
    return with_etag(response, await space_service.update(session, space_id, patch))
