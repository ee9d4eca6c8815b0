"""The message routes the request middleware serves itself (middleware.py's direct routes,
issue 11, ADR 0012): the page of messages for the query strings it reads without FastAPI,
and the two creates. Each answers as its FastAPI route in endpoints.py does, with the same
checks in the contract's order (§9), and shares that route's work."""

from typing import cast

from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from threads_api.idempotency.dependencies import idempotency_key_of
from threads_api.idempotency.service import IdempotencyKey
from threads_api.kit.pagination import DEFAULT_LIMIT, MAX_LIMIT, Order
from threads_api.message.endpoints import created_message, messages_page, started_thread
from threads_api.message.schemas import MessageCreate, ThreadWithMessageCreate
from threads_api.middleware import direct_routes
from threads_api.pages import digits_within, simple_query
from threads_api.routing import (
    JSON_ONLY,
    ModelT,
    authenticate_directly,
    header,
    read_json_body,
    validate_body,
)
from threads_api.space.dependencies import checked_space_id
from threads_api.state import app_state

# What a page of messages served directly reads by itself: no long-poll (`wait`), and any
# other query goes to the FastAPI route.
_MESSAGES_QUERY = {
    "limit": digits_within(1, MAX_LIMIT),
    "cursor": lambda value: True,  # checked as the route checks it: InvalidCursor
    "order": lambda value: value in ("asc", "desc"),
    "after_seq": digits_within(0, 2**31 - 1),
}


async def list_messages_directly(
    scope: Scope, receive: Receive, send: Send, values: list[str]
) -> None:
    """`list_messages` without `wait`, for the query strings `_MESSAGES_QUERY` reads."""
    space_id, thread_id = values
    query = simple_query(scope, _MESSAGES_QUERY)
    assert query is not None  # accepted by `_reads_messages_query` already
    state = app_state(scope["app"])
    principal = await authenticate_directly(state, scope)
    await checked_space_id(state, space_id, principal, "read")
    after_seq = query.get("after_seq")
    response = await messages_page(
        Request(scope, receive),
        space_id,
        thread_id,
        int(query.get("limit", DEFAULT_LIMIT)),
        query.get("cursor"),
        cast(Order, query.get("order", "asc")),
        None if after_seq is None else int(after_seq),
        0,
    )
    await response(scope, receive, send)


def _reads_messages_query(scope: Scope) -> bool:
    return simple_query(scope, _MESSAGES_QUERY) is not None


async def _checked_create(
    scope: Scope, receive: Receive, space_id: str, model: type[ModelT]
) -> tuple[Request, IdempotencyKey | None, ModelT]:
    """A creating POST's checks, in the contract's order: authentication, the body's size,
    media type and JSON syntax, the space's visibility, its scope; then the
    `Idempotency-Key` and the body's rules. The request, its key and its body."""
    state = app_state(scope["app"])
    principal = await authenticate_directly(state, scope)
    request = Request(scope, receive)
    _, value = await read_json_body(request, JSON_ONLY)
    await checked_space_id(state, space_id, principal, "write")
    key = idempotency_key_of(
        state, principal, header(scope, b"idempotency-key"), "POST", scope["path"], value
    )
    return request, key, validate_body(model, value)


async def create_message_directly(
    scope: Scope, receive: Receive, send: Send, values: list[str]
) -> None:
    """`create_message`, served without FastAPI's routing and dependencies."""
    space_id, thread_id = values
    request, key, body = await _checked_create(scope, receive, space_id, MessageCreate)
    response = await created_message(request, space_id, thread_id, key, body)
    await response(scope, receive, send)


async def create_thread_with_message_directly(
    scope: Scope, receive: Receive, send: Send, values: list[str]
) -> None:
    """`create_thread_with_message`, served without FastAPI's routing and dependencies."""
    (space_id,) = values
    request, key, body = await _checked_create(scope, receive, space_id, ThreadWithMessageCreate)
    response = await started_thread(request, space_id, key, body)
    await response(scope, receive, send)


def register() -> None:
    """Add these routes to the request middleware's (api.py, once)."""
    base = "/v1/spaces/{space_id}/threads"
    messages = f"{base}/{{thread_id}}/messages"
    direct_routes.add("GET", messages, list_messages_directly, _reads_messages_query)
    direct_routes.add("POST", messages, create_message_directly)
    direct_routes.add("POST", f"{base}/messages", create_thread_with_message_directly)
