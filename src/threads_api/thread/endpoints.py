from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from threads_api.auth.dependencies import ReadableSpaceId, WritableSpaceId
from threads_api.db import SessionDep
from threads_api.errors import (
    Forbidden,
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidIdempotencyKey,
    PreconditionFailed,
    Unprocessable,
    error_responses,
)
from threads_api.idempotency.service import IdempotencyDep
from threads_api.idempotency.service import idempotency as idempotency_service
from threads_api.kit.pagination import (
    DEFAULT_LIMIT,
    Cursor,
    CursorsDep,
    Limit,
    Order,
    Page,
    build_page,
)
from threads_api.routing import ApiRoute
from threads_api.space.errors import SpaceNotFound
from threads_api.thread.errors import ThreadNotFound
from threads_api.thread.schemas import (
    StatusFilter,
    Thread,
    ThreadSort,
    ThreadUpdate,
    ThreadWithMessage,
    ThreadWithMessageCreate,
)
from threads_api.thread.service import etag_of, if_none_match_hits
from threads_api.thread.service import thread as thread_service

router = APIRouter(prefix="/spaces/{space_id}/threads", tags=["threads"], route_class=ApiRoute)


# Declared before /{thread_id}, so that "messages" is never taken for a thread id.
@router.post(
    "/messages",
    status_code=201,
    response_model=ThreadWithMessage,
    responses=error_responses(
        SpaceNotFound,
        Forbidden,
        InvalidIdempotencyKey,
        IdempotencyInFlight,
        IdempotencyKeyReused,
    ),
)
async def create_thread_with_message(
    space_id: WritableSpaceId,
    idem: IdempotencyDep,
    body: ThreadWithMessageCreate,
    session: SessionDep,
) -> Response:
    """Start a thread with its first message. Accepts `Idempotency-Key`."""
    return await idempotency_service.create(
        session, idem, lambda: thread_service.create_with_message(session, space_id, body)
    )


@router.get("", responses=error_responses(SpaceNotFound, InvalidCursor))
async def list_threads(
    request: Request,
    response: Response,
    space_id: ReadableSpaceId,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Annotated[
        StatusFilter | None, Query(description="Default: every status but `archived`.")
    ] = None,
    sort: ThreadSort = "last_message_at",
    order: Order = "desc",
) -> Page[Thread]:
    """The threads of a space, most recently active first by default."""
    binding = f"threads:{space_id}:{status}:{sort}:{order}"
    items, has_more = await thread_service.page(
        session,
        space_id,
        status=status,
        sort=sort,
        order=order,
        after=None if cursor is None else cursors.decode(binding, cursor),
        limit=limit,
    )
    return build_page(
        request,
        response,
        items,
        has_more,
        binding=binding,
        position_of=lambda t: thread_service.position_of(t, sort),
    )


@router.get(
    "/{thread_id}",
    responses={
        304: {"description": "Not modified: the `If-None-Match` ETag is current."},
        **error_responses(SpaceNotFound, ThreadNotFound),
    },
)
async def get_thread(
    space_id: ReadableSpaceId,
    thread_id: str,
    session: SessionDep,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Thread:
    """One thread, with a strong `ETag`; `If-None-Match` answers 304 when it is current."""
    thread = await thread_service.get(session, space_id, thread_id)
    etag = etag_of(thread)
    if if_none_match_hits(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})  # type: ignore[return-value]
    response.headers["ETag"] = etag
    return thread


@router.patch(
    "/{thread_id}",
    responses=error_responses(
        SpaceNotFound, ThreadNotFound, Forbidden, PreconditionFailed, Unprocessable
    ),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/ThreadUpdate"}
                }
            }
        }
    },
)
async def update_thread(
    space_id: WritableSpaceId,
    thread_id: str,
    patch: ThreadUpdate,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> Thread:
    """Change title, status or metadata (JSON merge patch). `{"status": "open"}` restores an
    archived thread. With `If-Match`, answers 412 unless the thread is unchanged."""
    thread = await thread_service.update(session, space_id, thread_id, patch, if_match=if_match)
    response.headers["ETag"] = etag_of(thread)
    return thread


@router.delete("/{thread_id}", responses=error_responses(SpaceNotFound, ThreadNotFound, Forbidden))
async def archive_thread(
    space_id: WritableSpaceId, thread_id: str, session: SessionDep, response: Response
) -> Thread:
    """Archive a thread: hidden from default lists, closed to new messages, restorable."""
    thread = await thread_service.archive(session, space_id, thread_id)
    response.headers["ETag"] = etag_of(thread)
    return thread
