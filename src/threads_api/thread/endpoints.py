from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from threads_api.errors import (
    Forbidden,
    InvalidCursor,
    PreconditionFailed,
    Unprocessable,
    error_responses,
)
from threads_api.kit.etag import etag_of, if_none_match_hits
from threads_api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Order, Page
from threads_api.pages import CursorsDep, page_response
from threads_api.routing import ApiRoute
from threads_api.space.dependencies import ReadableSpaceId, WritableSpaceId
from threads_api.space.errors import SpaceNotFound
from threads_api.state import SessionDep, app_state
from threads_api.thread.errors import ThreadNotFound
from threads_api.thread.schemas import StatusFilter, Thread, ThreadSort, ThreadUpdate
from threads_api.thread.service import thread as thread_service

router = APIRouter(prefix="/spaces/{space_id}/threads", tags=["threads"], route_class=ApiRoute)


def threads_binding(
    space_id: str, status: StatusFilter | None, sort: ThreadSort, order: Order
) -> str:
    """What a cursor of this list is bound to: the space and every parameter that shapes the
    list (kit/cursor.py). bench/ makes cursors with it too."""
    return f"threads:{space_id}:{status}:{sort}:{order}"


@router.get(
    "", response_model=Page[Thread], responses=error_responses(SpaceNotFound, InvalidCursor)
)
async def list_threads(
    request: Request,
    space_id: ReadableSpaceId,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Annotated[
        StatusFilter | None, Query(description="Default: every status but `archived`.")
    ] = None,
    sort: ThreadSort = "last_message_at",
    order: Order = "desc",
) -> Response:
    """The threads of a space, most recently active first by default."""
    binding = threads_binding(space_id, status, sort, order)
    items, has_more = await thread_service.page(
        app_state(request).database.reads,
        space_id,
        status=status,
        sort=sort,
        order=order,
        after=None if cursor is None else cursors.decode(binding, cursor),
        limit=limit,
    )
    return page_response(
        request,
        items,
        has_more,
        binding=binding,
        position_of=lambda t: thread_service.position_of(t, sort),
    )


@router.get(
    "/{thread_id}",
    response_model=Thread,
    responses={
        304: {"description": "Not modified: the `If-None-Match` ETag is current."},
        **error_responses(SpaceNotFound, ThreadNotFound),
    },
)
async def get_thread(
    request: Request,
    space_id: ReadableSpaceId,
    thread_id: str,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """One thread, with a strong `ETag`; `If-None-Match` answers 304 when it is current."""
    body = await thread_service.read_json(app_state(request).database.reads, space_id, thread_id)
    etag = etag_of(body)
    if if_none_match_hits(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


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


@router.delete(
    "/{thread_id}",
    responses=error_responses(SpaceNotFound, ThreadNotFound, Forbidden, PreconditionFailed),
)
async def archive_thread(
    space_id: WritableSpaceId,
    thread_id: str,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> Thread:
    """Archive a thread: hidden from default lists, closed to new messages, restorable.
    With `If-Match`, answers 412 unless the thread is unchanged."""
    thread = await thread_service.archive(session, space_id, thread_id, if_match=if_match)
    response.headers["ETag"] = etag_of(thread)
    return thread
