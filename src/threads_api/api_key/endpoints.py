from fastapi import APIRouter, Request, Response

from threads_api.api_key.errors import ApiKeyNotFound, UnknownSpace
from threads_api.api_key.schemas import ApiKey, ApiKeyCreate, ApiKeyWithSecret
from threads_api.api_key.service import api_key as api_key_service
from threads_api.auth.dependencies import AdminPrincipal
from threads_api.errors import Forbidden, InvalidCursor, error_responses
from threads_api.idempotency.dependencies import IDEMPOTENCY_ERRORS, IdempotencyDep
from threads_api.kit.etag import with_etag
from threads_api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Page
from threads_api.pages import CursorsDep, build_page
from threads_api.routing import ApiRoute
from threads_api.state import SessionDep, app_state

router = APIRouter(prefix="/api-keys", tags=["api-keys"], route_class=ApiRoute)

LIST_BINDING = "api_keys"


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyWithSecret,
    responses=error_responses(Forbidden, UnknownSpace, *IDEMPOTENCY_ERRORS),
)
async def create_api_key(
    _: AdminPrincipal, idempotency: IdempotencyDep, body: ApiKeyCreate, session: SessionDep
) -> ApiKeyWithSecret | Response:
    """Create an API key (admin). The response is the only place its `secret` ever appears.
    Accepts `Idempotency-Key`; a replay shows the key with `secret: null` (ADR 0003)."""
    if replay := await idempotency.replay():
        return replay
    key = await api_key_service.create(session, body)
    return await idempotency.created(
        key,
        location=f"/v1/api-keys/{key.id}",
        # The secret is never stored, not even in an idempotency record.
        stored=key.model_copy(update={"secret": None}),
    )


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
async def get_api_key(
    key_id: str, _: AdminPrincipal, session: SessionDep, response: Response
) -> ApiKey:
    """One API key (admin)."""
    return with_etag(response, await api_key_service.get(session, key_id))


@router.delete("/{key_id}", responses=error_responses(ApiKeyNotFound, Forbidden))
async def revoke_api_key(
    request: Request, key_id: str, _: AdminPrincipal, session: SessionDep, response: Response
) -> ApiKey:
    """Revoke an API key at once (admin); revoking again changes nothing."""
    key = await api_key_service.revoke(session, key_id, cache=app_state(request).principals)
    return with_etag(response, key)
