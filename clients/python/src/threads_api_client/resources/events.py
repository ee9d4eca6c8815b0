"""client.events: list, stream, create_stream_token (the change feed, contract §14)."""

from collections.abc import Sequence

import httpx

from threads_api_client._base_client import RequestOptions, parse_page, request_options
from threads_api_client._models import Event, ResponseInfo, StreamToken
from threads_api_client._operations import CREATE_STREAM_TOKEN, LIST_EVENTS
from threads_api_client._pagination import AsyncEventPager, EventPage, SyncEventPager
from threads_api_client._streaming import AsyncEventStream, EventStream, _Resume, types_query
from threads_api_client.resources._resource import AsyncAPIResource, SyncAPIResource

# Event types: "thread.created", "thread.updated", "message.created", "message.updated",
# "message.deleted"; `types=` takes a list of them (or one comma-separated string).
Types = str | Sequence[str] | None


def _list(
    space_id: str,
    after: int | None,
    thread_id: str | None,
    types: Types,
    limit: int | None,
    cursor: str | None,
) -> RequestOptions:
    query = {
        "after": after,
        "thread_id": thread_id,
        "types": types_query(types),
        "limit": limit,
        "cursor": cursor,
    }
    return request_options(LIST_EVENTS, {"space_id": space_id}, query=query)


def _event_page(response: httpx.Response, info: ResponseInfo) -> EventPage:
    page = parse_page(Event, response, info)
    last_position = int(response.json()["last_position"])
    return EventPage(page.data, page.has_more, page.next_cursor, info, last_position)


def _token(space_id: str) -> RequestOptions:
    return request_options(CREATE_STREAM_TOKEN, {"space_id": space_id})


class Events(SyncAPIResource):
    def list(
        self,
        space_id: str,
        *,
        after: int | None = None,
        thread_id: str | None = None,
        types: Types = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> SyncEventPager:
        """The space's events after position `after` (else from the oldest kept), oldest
        first. Each page has `last_position`, the newest position in the space; so has the
        pager, once iterated: list again with `after=` it for what came since.
        GoneError (410 events_expired) if `after` is older than the events kept."""

        def fetch(page_cursor: str | None) -> EventPage:
            options = _list(space_id, after, thread_id, types, limit, page_cursor)
            return _event_page(*self._client._send(options))

        return SyncEventPager(fetch, cursor)

    def stream(
        self,
        space_id: str,
        *,
        after: int | None = None,
        thread_id: str | None = None,
        types: Types = None,
    ) -> EventStream:
        """The space's events as they happen (after position `after`, else from now on),
        resumed from the last position after a dropped connection or a server's
        `stream.reset`, never yielding an event twice. Iterate it; `close()` it or use
        `with` to stop. Nothing is sent until the first event is asked for."""
        return EventStream(self._client, _Resume(space_id, after, thread_id, types))

    def create_stream_token(self, space_id: str) -> StreamToken:
        """A token that opens one stream of the space within 60 s, read-only, for a
        browser's EventSource (`…/events/stream?token=`), which cannot send X-API-Key."""
        return self._client._object(StreamToken, _token(space_id))


class AsyncEvents(AsyncAPIResource):
    def list(
        self,
        space_id: str,
        *,
        after: int | None = None,
        thread_id: str | None = None,
        types: Types = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> AsyncEventPager:
        """The space's events, oldest first; `async for` over it (see ThreadsClient)."""

        async def fetch(page_cursor: str | None) -> EventPage:
            options = _list(space_id, after, thread_id, types, limit, page_cursor)
            return _event_page(*await self._client._send(options))

        return AsyncEventPager(fetch, cursor)

    def stream(
        self,
        space_id: str,
        *,
        after: int | None = None,
        thread_id: str | None = None,
        types: Types = None,
    ) -> AsyncEventStream:
        """The space's events as they happen; `async for` over it, `await aclose()` or
        `async with` to stop (see ThreadsClient)."""
        return AsyncEventStream(self._client, _Resume(space_id, after, thread_id, types))

    async def create_stream_token(self, space_id: str) -> StreamToken:
        return await self._client._object(StreamToken, _token(space_id))
