from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from threads_api.auth import repository as auth_repository
from threads_api.auth.dependencies import CurrentPrincipal, current_principal
from threads_api.auth.principal import Principal
from threads_api.errors import InvalidCursor, Unauthorized, Unprocessable, error_responses
from threads_api.event.errors import EventsExpired, TooManyStreams
from threads_api.event.schemas import EVENT_TYPES, EventPage, StreamToken
from threads_api.event.service import Filters
from threads_api.event.service import event as event_service
from threads_api.event.sse import EventStreamResponse
from threads_api.event.streams import EventStream
from threads_api.kit.etag import with_etag
from threads_api.kit.pagination import DEFAULT_LIMIT, Cursor, Limit
from threads_api.pages import CursorsDep, build_page
from threads_api.routing import ApiRoute
from threads_api.space.dependencies import ReadableSpaceId
from threads_api.space.errors import SpaceNotFound
from threads_api.state import DatabaseDep, SessionDep, app_state

router = APIRouter(prefix="/spaces/{space_id}/events", tags=["events"], route_class=ApiRoute)

MAX_POSITION = 2**63 - 1
After = Annotated[
    int | None,
    Query(ge=0, le=MAX_POSITION, description="Only events after this position."),
]
ThreadFilter = Annotated[
    str | None,
    Query(description="Only the events of this thread.", pattern="^thr_[0-9A-HJKMNP-TV-Z]{26}$"),
]
_TYPE = "(" + "|".join(sorted(t.replace(".", "\\.") for t in EVENT_TYPES)) + ")"
TypesFilter = Annotated[
    str | None,
    Query(
        description="Only these types, comma-separated: "
        + ", ".join(f"`{t}`" for t in sorted(EVENT_TYPES)),
        max_length=500,
        pattern=f"^{_TYPE}(,{_TYPE})*$",
    ),
]


class StreamRoute(ApiRoute):
    """The stream route also opens with a stream token (`?token=`), because a browser's
    EventSource cannot send `X-API-Key`. Only here; and an API key is never read from the
    URL: a token is looked up among stream tokens, nowhere else."""

    async def authenticate(self, request: Request) -> Principal:
        token = request.query_params.get("token")
        if token is None or "x-api-key" in request.headers:
            return await super().authenticate(request)
        database = app_state(request).database
        key_id, space_id = await event_service.redeem_stream_token(database, token)
        async with database.reader() as session, session.begin():
            key = await auth_repository.get(session, key_id)
            if key is None or key.revoked_at is not None:
                raise Unauthorized("The API key of this stream token is revoked.")
        # Read-only, and bound to the token's space: another space answers 404.
        return Principal(key_id=key_id, scopes=frozenset({"read"}), space_ids=frozenset({space_id}))


def _filters(thread_id: str | None, types: str | None) -> Filters:
    """The filters of a list or stream, their syntax checked by the query's patterns."""
    return Filters(
        thread_id=thread_id, types=None if types is None else frozenset(types.split(","))
    )


def _binding(space_id: str, after: int | None, filters: Filters) -> str:
    types = ",".join(sorted(filters.types or ()))
    return f"events:{space_id}:{after}:{filters.thread_id}:{types}"


@router.get("", responses=error_responses(SpaceNotFound, InvalidCursor, EventsExpired))
async def list_events(
    request: Request,
    response: Response,
    space_id: ReadableSpaceId,
    session: SessionDep,
    cursors: CursorsDep,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    after: After = None,
    thread_id: ThreadFilter = None,
    types: TypesFilter = None,
) -> EventPage:
    """The space's events, oldest first; without `after`, from the oldest retained one.
    `last_position` is the newest position in the space: poll with `after` set to it."""
    filters = _filters(thread_id, types)
    binding = _binding(space_id, after, filters)
    start = after
    if cursor is not None:
        position = cursors.decode(binding, cursor)[0]
        if not isinstance(position, int):
            raise InvalidCursor("The cursor is malformed.")
        start = position
    items, has_more, last_position = await event_service.page(
        session, space_id, after=start, filters=filters, limit=limit
    )
    page = build_page(
        request, response, items, has_more, binding=binding, position_of=lambda e: [e.position]
    )
    return EventPage(
        data=page.data,
        has_more=page.has_more,
        next_cursor=page.next_cursor,
        last_position=last_position,
    )


_STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: each event as `id: <position>`, `event: <type>`, "
        "`data: <event JSON>`; a comment line every 15 s; `stream.reset` (data "
        '`{"reason", "resume_after"}`) when the server ends the stream early.',
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **error_responses(SpaceNotFound, EventsExpired, TooManyStreams),
}


async def stream_events(
    request: Request,
    space_id: ReadableSpaceId,
    database: DatabaseDep,
    after: After = None,
    thread_id: ThreadFilter = None,
    types: TypesFilter = None,
    token: Annotated[
        str | None,
        Query(description="A stream token (createStreamToken), instead of `X-API-Key`."),
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="Resume after this position (EventSource)."),
    ] = None,
) -> Response:
    """Server-Sent Events of the space: with `Last-Event-ID` or `after`, first the events
    after that position, then live ones, with no gap and no duplicate; with neither, live
    events only. Same filters as the list. Opens with `X-API-Key`, or with a stream token."""
    filters = _filters(thread_id, types)
    resume = after
    if last_event_id is not None:
        if not last_event_id.strip().isdigit() or int(last_event_id) > MAX_POSITION:
            raise Unprocessable(
                "Last-Event-ID must be an event position.",
                errors=[{"loc": ["header", "Last-Event-ID"], "message": "not a position"}],
            )
        resume = int(last_event_id)
    async with database.reader() as session, session.begin():
        last_position, purged = await event_service.counter(session, space_id)
    if resume is not None and resume < purged:
        raise EventsExpired(purged)
    state = app_state(request)
    streams = state.streams
    principal = current_principal(request)
    subscription = streams.subscription(principal.key_id, space_id, filters)
    streams.open(subscription, request.scope)
    try:
        # A key revoked while this request was on its way is not among those the registry
        # checked: check it once more, now that the stream is registered.
        await streams.end_revoked([principal.key_id])
    except BaseException:
        streams.close(subscription)
        raise
    stream = EventStream(
        database,
        state.broker,
        subscription,
        state.settings,
        after=last_position if resume is None else resume,
    )
    return EventStreamResponse(stream, on_close=lambda: streams.close(subscription))


router.add_api_route(
    "/stream",
    stream_events,
    methods=["GET"],
    status_code=200,
    response_class=EventStreamResponse,
    responses=_STREAM_RESPONSES,
    route_class_override=StreamRoute,
)


@router.post("/stream-tokens", responses=error_responses(SpaceNotFound))
async def create_stream_token(
    response: Response, space_id: ReadableSpaceId, principal: CurrentPrincipal, session: SessionDep
) -> StreamToken:
    """A token that opens one stream of this space (`…/events/stream?token=`) within 60 s,
    read-only, for browsers' EventSource, which cannot send `X-API-Key`. It ends with the key."""
    token = await event_service.create_stream_token(session, principal.key_id, space_id)
    return with_etag(response, token)
