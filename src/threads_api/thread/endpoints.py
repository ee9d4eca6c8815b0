from typing import Annotated, cast

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.types import Receive, Scope, Send

from threads_api.errors import (
    Forbidden,
    InvalidCursor,
    PreconditionFailed,
    Unprocessable,
    error_responses,
)
from threads_api.kit.etag import etag_of, if_none_match_hits
from threads_api.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Cursor, Limit, Order, Page
from threads_api.middleware import direct_routes
from threads_api.pages import digits_within, page_response, simple_query
from threads_api.routing import ApiRoute, authenticate_directly, header
from threads_api.space.dependencies import ReadableSpaceId, WritableSpaceId, checked_space_id
from threads_api.space.errors import SpaceNotFound
from threads_api.state import AppState, SessionDep, app_state
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
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    status: Annotated[
        StatusFilter | None, Query(description="Default: every status but `archived`.")
    ] = None,
    sort: ThreadSort = "last_message_at",
    order: Order = "desc",
) -> Response:
    """The threads of a space, most recently active first by default."""
    return await _threads_page(request, space_id, limit, cursor, status, sort, order)


async def _threads_page(
    request: Request,
    space_id: str,
    limit: int,
    cursor: str | None,
    status: StatusFilter | None,
    sort: ThreadSort,
    order: Order,
) -> Response:
    binding = threads_binding(space_id, status, sort, order)
    state = app_state(request)
    items, has_more = await thread_service.page(
        state.database.reads,
        space_id,
        status=status,
        sort=sort,
        order=order,
        after=None if cursor is None else state.cursors.decode(binding, cursor),
        limit=limit,
    )
    return page_response(
        request,
        items,
        has_more,
        binding=binding,
        position_of=lambda t: thread_service.position_of(t, sort),
    )


# What a page of threads served directly reads by itself; any other query goes to FastAPI.
_THREADS_QUERY = {
    "limit": digits_within(1, MAX_LIMIT),
    "cursor": lambda value: True,  # checked as the route checks it: InvalidCursor
    "status": lambda value: value in ("open", "locked", "archived", "all"),
    "sort": lambda value: value in ("last_message_at", "created_at"),
    "order": lambda value: value in ("asc", "desc"),
}


async def list_threads_directly(
    scope: Scope, receive: Receive, send: Send, values: list[str]
) -> None:
    """`list_threads`, served by the request middleware (as `get_thread_directly`) for the
    query strings `_THREADS_QUERY` reads: the others go to the FastAPI route."""
    (space_id,) = values
    query = simple_query(scope, _THREADS_QUERY)
    assert query is not None  # accepted by `_reads_threads_query` already
    state = app_state(scope["app"])
    principal = await authenticate_directly(state, scope)
    await checked_space_id(state, space_id, principal, "read")
    response = await _threads_page(
        Request(scope, receive),
        space_id,
        int(query.get("limit", DEFAULT_LIMIT)),
        query.get("cursor"),
        cast(StatusFilter | None, query.get("status")),
        cast(ThreadSort, query.get("sort", "last_message_at")),
        cast(Order, query.get("order", "desc")),
    )
    await response(scope, receive, send)


def _reads_threads_query(scope: Scope) -> bool:
    return simple_query(scope, _THREADS_QUERY) is not None


direct_routes.add(
    "GET", "/v1/spaces/{space_id}/threads", list_threads_directly, _reads_threads_query
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
    return await _thread_response(app_state(request), space_id, thread_id, if_none_match)


async def _thread_response(
    state: AppState, space_id: str, thread_id: str, if_none_match: str | None
) -> Response:
    body = await thread_service.read_json(state.database.reads, space_id, thread_id)
    etag = etag_of(body)
    if if_none_match_hits(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})


async def get_thread_directly(
    scope: Scope, receive: Receive, send: Send, values: list[str]
) -> None:
    """`get_thread`, served by the request middleware without FastAPI's routing and
    dependencies, as the route read most (issue 11): the same checks in the contract's order
    (§9: authentication, the space's visibility, then its scope) and the same answer."""
    space_id, thread_id = values
    state = app_state(scope["app"])
    principal = await authenticate_directly(state, scope)
    await checked_space_id(state, space_id, principal, "read")
    response = await _thread_response(state, space_id, thread_id, header(scope, b"if-none-match"))
    await response(scope, receive, send)


direct_routes.add("GET", "/v1/spaces/{space_id}/threads/{thread_id}", get_thread_directly)


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
