from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from threads_api.auth.dependencies import ReadableSpaceId, WritableSpaceId
from threads_api.db import SessionDep
from threads_api.errors import (
    Forbidden,
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidCursor,
    InvalidIdempotencyKey,
    ThreadClosed,
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
from threads_api.message.schemas import Message, MessageCreate
from threads_api.message.service import MessageNotFound
from threads_api.message.service import message as message_service
from threads_api.routing import ApiRoute
from threads_api.space.errors import SpaceNotFound
from threads_api.thread.errors import ThreadNotFound

router = APIRouter(
    prefix="/spaces/{space_id}/threads/{thread_id}/messages",
    tags=["messages"],
    route_class=ApiRoute,
)


@router.get("", responses=error_responses(SpaceNotFound, ThreadNotFound, InvalidCursor))
async def list_messages(
    request: Request,
    response: Response,
    space_id: ReadableSpaceId,
    thread_id: str,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    order: Order = "asc",
    after_seq: Annotated[
        int | None,
        # Bounded by the seq column (a 32-bit integer): a bigger number is a 422, not a 500.
        Query(ge=0, le=2**31 - 1, description="Only messages with a greater seq: for polling."),
    ] = None,
) -> Page[Message]:
    """The messages of a thread, oldest first by default."""
    binding = f"messages:{thread_id}:{order}:{after_seq}"
    items, has_more = await message_service.page(
        session,
        space_id,
        thread_id,
        after_seq=after_seq,
        order=order,
        after=None if cursor is None else cursors.decode(binding, cursor)[0],
        limit=limit,
    )
    return build_page(
        request, response, items, has_more, binding=binding, position_of=lambda m: [m.seq]
    )


@router.post(
    "",
    status_code=201,
    response_model=Message,
    responses=error_responses(
        SpaceNotFound,
        ThreadNotFound,
        Forbidden,
        ThreadClosed,
        InvalidIdempotencyKey,
        IdempotencyInFlight,
        IdempotencyKeyReused,
    ),
)
async def create_message(
    space_id: WritableSpaceId,
    thread_id: str,
    idem: IdempotencyDep,
    body: MessageCreate,
    session: SessionDep,
) -> Response:
    """Add a message to an open thread. Accepts `Idempotency-Key`."""
    return await idempotency_service.create(
        session, idem, lambda: message_service.create(session, space_id, thread_id, body)
    )


@router.get("/{message_id}", responses=error_responses(SpaceNotFound, MessageNotFound))
async def get_message(
    space_id: ReadableSpaceId, thread_id: str, message_id: str, session: SessionDep
) -> Message:
    """One message: where the `Location` of a created message points."""
    return await message_service.get(session, space_id, thread_id, message_id)
