from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request, Response

from threads_api.auth.dependencies import current_principal
from threads_api.errors import (
    Forbidden,
    InvalidCursor,
    PreconditionFailed,
    Unprocessable,
    error_responses,
)
from threads_api.event.errors import TooManyStreams
from threads_api.event.service import Filters
from threads_api.idempotency.dependencies import (
    IDEMPOTENCY_ERRORS,
    IdempotencyKeyDep,
    created_response,
)
from threads_api.idempotency.service import IdempotencyKey
from threads_api.idempotency.service import idempotency as idempotency_service
from threads_api.kit.etag import etag_of, if_none_match_hits, with_etag
from threads_api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit, Order, Page
from threads_api.message.erasure import checkpoint_after_erasure
from threads_api.message.errors import MessageDeleted, MessageNotFound
from threads_api.message.schemas import (
    Message,
    MessageCreate,
    MessageUpdate,
    MessageVersion,
    ThreadWithMessage,
    ThreadWithMessageCreate,
)
from threads_api.message.service import message as message_service
from threads_api.pages import CursorsDep, build_page, page_response
from threads_api.routing import (
    ApiRoute,
)
from threads_api.space.dependencies import ReadableSpaceId, WritableSpaceId
from threads_api.space.errors import SpaceNotFound
from threads_api.state import DatabaseDep, SessionDep, app_state
from threads_api.thread.errors import ThreadClosed, ThreadNotFound

# The longest long-poll (contract §14).
MAX_WAIT_SECONDS = 30


def messages_binding(thread_id: str, order: Order, after_seq: int | None) -> str:
    """What a cursor of this list is bound to: the thread and every parameter that shapes
    the list (kit/cursor.py); `wait` shapes none. bench/ makes cursors with it too."""
    return f"messages:{thread_id}:{order}:{after_seq}"


def versions_binding(message_id: str) -> str:
    return f"message_versions:{message_id}"


router = APIRouter(
    prefix="/spaces/{space_id}/threads/{thread_id}/messages",
    tags=["messages"],
    route_class=ApiRoute,
)

# Starting a thread writes its first message, so it is here (ADR 0006); its path is a thread
# path. api.py mounts this router before the threads one, so that "messages" is never taken
# for a thread id.
thread_start_router = APIRouter(
    prefix="/spaces/{space_id}/threads", tags=["threads"], route_class=ApiRoute
)


@thread_start_router.post(
    "/messages",
    status_code=201,
    response_model=ThreadWithMessage,
    responses=error_responses(SpaceNotFound, Forbidden, *IDEMPOTENCY_ERRORS),
)
async def create_thread_with_message(
    request: Request,
    space_id: WritableSpaceId,
    key: IdempotencyKeyDep,
    body: ThreadWithMessageCreate,
) -> Response:
    """Start a thread with its first message. Accepts `Idempotency-Key`. `Location` is the
    thread's; `ETag` is that of this response's body."""
    return await started_thread(request, space_id, key, body)


async def started_thread(
    request: Request, space_id: str, key: IdempotencyKey | None, body: ThreadWithMessageCreate
) -> Response:
    start = message_service.start_thread(space_id, body)
    outcome = await app_state(request).database.writes.run(idempotency_service.create, key, start)
    return created_response(request, outcome)


@router.get(
    "",
    response_model=Page[Message],
    responses=error_responses(SpaceNotFound, ThreadNotFound, InvalidCursor, TooManyStreams),
)
async def list_messages(
    request: Request,
    space_id: ReadableSpaceId,
    thread_id: str,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    order: Order = "asc",
    after_seq: Annotated[
        int | None,
        # Bounded by the seq column (a 32-bit integer): a bigger number is a 422, not a 500.
        Query(ge=0, le=2**31 - 1, description="Only messages with a greater seq: for polling."),
    ] = None,
    wait: Annotated[
        float,
        Query(
            ge=0,
            le=MAX_WAIT_SECONDS,
            description="Long-poll: when the page would be empty, wait up to this many "
            "seconds for a new message (with `after_seq`: one with a greater seq).",
        ),
    ] = 0,
) -> Response:
    """The messages of a thread, oldest first by default. With `wait`, a long-poll: the
    answer comes as soon as a message matches, or with an empty page after `wait` s."""
    return await messages_page(request, space_id, thread_id, limit, cursor, order, after_seq, wait)


async def messages_page(
    request: Request,
    space_id: str,
    thread_id: str,
    limit: int,
    cursor: str | None,
    order: Order,
    after_seq: int | None,
    wait: float,
) -> Response:
    state = app_state(request)
    binding = messages_binding(thread_id, order, after_seq)
    after = None if cursor is None else state.cursors.decode(binding, cursor)[0]

    async def read() -> tuple[list[dict[str, Any]], bool]:
        # Each read on a plain connection: nothing is held while the long-poll waits.
        return await message_service.page(
            state.database.reads,
            space_id,
            thread_id,
            after_seq=after_seq,
            order=order,
            after=after,
            limit=limit,
        )

    items, has_more = await state.streams.wait_for(
        current_principal(request).key_id,
        space_id,
        Filters(thread_id=thread_id, types=frozenset({"message.created"})),
        request.scope,
        read,
        found=lambda page: bool(page[0]),
        seconds=wait,
    )
    return page_response(
        request, items, has_more, binding=binding, position_of=lambda m: [m["seq"]]
    )


@router.post(
    "",
    status_code=201,
    response_model=Message,
    responses=error_responses(
        SpaceNotFound, ThreadNotFound, Forbidden, ThreadClosed, *IDEMPOTENCY_ERRORS
    ),
)
async def create_message(
    request: Request,
    space_id: WritableSpaceId,
    thread_id: str,
    key: IdempotencyKeyDep,
    body: MessageCreate,
) -> Response:
    """Add a message to an open thread. Accepts `Idempotency-Key`."""
    return await created_message(request, space_id, thread_id, key, body)


async def created_message(
    request: Request,
    space_id: str,
    thread_id: str,
    key: IdempotencyKey | None,
    body: MessageCreate,
) -> Response:
    create = message_service.create(space_id, thread_id, body)
    outcome = await app_state(request).database.writes.run(idempotency_service.create, key, create)
    return created_response(request, outcome)


@router.get(
    "/{message_id}",
    response_model=Message,
    responses={
        304: {"description": "Not modified: the `If-None-Match` ETag is current."},
        **error_responses(SpaceNotFound, MessageNotFound),
    },
)
async def get_message(
    space_id: ReadableSpaceId,
    thread_id: str,
    message_id: str,
    session: SessionDep,
    response: Response,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Message | Response:
    """One message: where the `Location` of a created message points. Strong `ETag`;
    `If-None-Match` answers 304 when it is current."""
    message = await message_service.get(session, space_id, thread_id, message_id)
    etag = etag_of(message)
    if if_none_match_hits(if_none_match, etag):
        return Response(status_code=304, headers={"ETag": etag})
    return with_etag(response, message)


@router.patch(
    "/{message_id}",
    responses=error_responses(
        SpaceNotFound,
        MessageNotFound,
        Forbidden,
        PreconditionFailed,
        MessageDeleted,
        ThreadClosed,
        Unprocessable,
    ),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/MessageUpdate"}
                }
            }
        }
    },
)
async def update_message(
    space_id: WritableSpaceId,
    thread_id: str,
    message_id: str,
    patch: MessageUpdate,
    session: SessionDep,
    response: Response,
    if_match: Annotated[str | None, Header()] = None,
) -> Message:
    """Edit content or metadata (JSON merge patch) of a message in an open thread; the
    version it replaces joins the message's history. With `If-Match`, answers 412 unless
    the message is unchanged."""
    message = await message_service.update(
        session, space_id, thread_id, message_id, patch, if_match=if_match
    )
    return with_etag(response, message)


@router.delete(
    "/{message_id}",
    responses=error_responses(SpaceNotFound, MessageNotFound, Forbidden, PreconditionFailed),
)
async def erase_message(
    space_id: WritableSpaceId,
    thread_id: str,
    message_id: str,
    session: SessionDep,
    database: DatabaseDep,
    response: Response,
    background: BackgroundTasks,
    if_match: Annotated[str | None, Header()] = None,
) -> Message:
    """Erase a message, whatever the thread's status: `200` with its tombstone (same `id`,
    `seq`, `author`, `created_at`; `content: null`). Its content and earlier versions are
    gone for good. Repeating it is harmless. With `If-Match`, answers 412 unless the message
    is unchanged."""
    tombstone = await message_service.erase(
        session, space_id, thread_id, message_id, if_match=if_match
    )
    # After the response, so after the commit: the WAL then holds the erasing pages.
    background.add_task(checkpoint_after_erasure, database)
    return with_etag(response, tombstone)


@router.get(
    "/{message_id}/versions",
    responses=error_responses(SpaceNotFound, MessageNotFound, InvalidCursor),
)
async def list_message_versions(
    request: Request,
    response: Response,
    space_id: ReadableSpaceId,
    thread_id: str,
    message_id: str,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> Page[MessageVersion]:
    """The earlier versions of a message, newest first; none once it is erased."""
    binding = versions_binding(message_id)
    items, has_more = await message_service.versions(
        session,
        space_id,
        thread_id,
        message_id,
        after=None if cursor is None else cursors.decode(binding, cursor)[0],
        limit=limit,
    )
    return build_page(
        request, response, items, has_more, binding=binding, position_of=lambda v: [v.version]
    )
