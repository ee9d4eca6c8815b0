"""client.events.stream(): a space's events as they happen, over Server-Sent Events, resumed
after a dropped connection or a `stream.reset` from the last position seen, so that the
caller gets every event once, in order.

Each (re)connection sends `Last-Event-ID: <the last position seen>`: the server then sends
what came after it from its log before the live events. An event at or below that position
is never yielded twice. Opening is retried like any request (connection errors, 429, 503, up
to the client's `max_retries`, counted afresh after each successful opening); a stream that
ends is reopened after a short backoff, which grows while streams keep ending empty.
"""

import logging
from collections.abc import AsyncGenerator, Generator, Sequence
from types import TracebackType

import httpx

from threads_api_client._base_client import (
    AsyncAPIClient,
    RequestOptions,
    SyncAPIClient,
    request_options,
)
from threads_api_client._models import Event, ResponseInfo, with_response
from threads_api_client._operations import LIST_EVENTS, STREAM_EVENTS
from threads_api_client._retry import retry_delay
from threads_api_client._sse import ServerSentEvent, SSEDecoder

logger = logging.getLogger("threads_api_client")

RESET = "stream.reset"
# The server sends a comment every 15 s: a read may wait this much longer than the client's
# read timeout before the connection counts as lost.
HEARTBEAT_SLACK_SECONDS = 30.0


def types_query(types: str | Sequence[str] | None) -> str | None:
    if types is None or isinstance(types, str):
        return types
    return ",".join(types)


class _Resume:
    """What the sync and async streams share: the request that (re)opens the stream, and
    which of the events received are new."""

    def __init__(
        self,
        space_id: str,
        after: int | None,
        thread_id: str | None,
        types: str | Sequence[str] | None,
    ) -> None:
        self.space_id = space_id
        self.position = after
        self.query = {"thread_id": thread_id, "types": types_query(types)}
        self.reset = False
        self.quiet = 0  # streams in a row that ended without a new event

    def start(self) -> RequestOptions:
        """Without `after`: one list request for the space's newest position, so that even a
        resume before the first event misses nothing."""
        return request_options(LIST_EVENTS, {"space_id": self.space_id}, query={"limit": 1})

    def started(self, response: httpx.Response) -> None:
        self.position = int(response.json()["last_position"])

    def options(self) -> RequestOptions:
        return request_options(
            STREAM_EVENTS,
            {"space_id": self.space_id},
            query=self.query,
            headers={"Accept": "text/event-stream", "Last-Event-ID": str(self.position)},
            long_poll_seconds=HEARTBEAT_SLACK_SECONDS,
        )

    def take(self, sse: ServerSentEvent, info: ResponseInfo) -> Event | None:
        """The event to yield, if `sse` is a new one; a `stream.reset` sets `reset`."""
        if sse.event == RESET:
            # Its id is the position to resume after (everything up to it was sent).
            if sse.id is not None and sse.id.isdigit():
                self.position = max(self.position or 0, int(sse.id))
            self.reset = True
            logger.info("event stream of %s reset by the server: %s", self.space_id, sse.data)
            return None
        event = Event.model_validate_json(sse.data)
        if self.position is not None and event.position <= self.position:
            return None
        self.position = event.position
        self.quiet = -1
        with_response(event, info)
        return event

    def ended(self, decoder: SSEDecoder) -> float:
        """The stream ended: seconds to wait before reopening it."""
        self.reset = False
        self.quiet += 1
        if decoder.retry_ms is not None and self.quiet == 0:
            return decoder.retry_ms / 1000
        return retry_delay(self.quiet)


class EventStream:
    """Iterate it for the events; `close()` it (or use `with`) to stop before the end.
    `last_position` is the position of the last event yielded (or resumed after)."""

    def __init__(self, client: SyncAPIClient, resume: _Resume) -> None:
        self._client = client
        self._resume = resume
        self._events = self._run()

    @property
    def last_position(self) -> int | None:
        return self._resume.position

    def __iter__(self) -> "EventStream":
        return self

    def __next__(self) -> Event:
        return next(self._events)

    def close(self) -> None:
        self._events.close()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> Generator[Event, None, None]:
        client, resume = self._client, self._resume
        if resume.position is None:
            resume.started(client._send(resume.start())[0])
        while True:
            response, info = client._send(resume.options(), stream=True)
            decoder = SSEDecoder()
            try:
                for line in response.iter_lines():
                    sse = decoder.decode(line)
                    event = None if sse is None else resume.take(sse, info)
                    if event is not None:
                        yield event
                    elif resume.reset:
                        break
            except httpx.TransportError as exc:
                logger.info("event stream of %s lost (%r); resuming", resume.space_id, exc)
            finally:
                response.close()
            client._sleep(resume.ended(decoder))


class AsyncEventStream:
    """`async for` it for the events; `await aclose()` it (or use `async with`) to stop
    before the end. `last_position` is the position of the last event yielded."""

    def __init__(self, client: AsyncAPIClient, resume: _Resume) -> None:
        self._client = client
        self._resume = resume
        self._events = self._run()

    @property
    def last_position(self) -> int | None:
        return self._resume.position

    def __aiter__(self) -> "AsyncEventStream":
        return self

    async def __anext__(self) -> Event:
        return await anext(self._events)

    async def aclose(self) -> None:
        await self._events.aclose()

    async def __aenter__(self) -> "AsyncEventStream":
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self) -> AsyncGenerator[Event, None]:
        client, resume = self._client, self._resume
        if resume.position is None:
            resume.started((await client._send(resume.start()))[0])
        while True:
            response, info = await client._send(resume.options(), stream=True)
            decoder = SSEDecoder()
            try:
                async for line in response.aiter_lines():
                    sse = decoder.decode(line)
                    event = None if sse is None else resume.take(sse, info)
                    if event is not None:
                        yield event
                    elif resume.reset:
                        break
            except httpx.TransportError as exc:
                logger.info("event stream of %s lost (%r); resuming", resume.space_id, exc)
            finally:
                await response.aclose()
            await client._sleep(resume.ended(decoder))
