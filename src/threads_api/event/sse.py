"""Server-Sent Events on the wire, and the ASGI response that sends one stream.

The response sends what the stream yields, notices a client that went away, and ends the
stream promptly when told to (a revoked key, a slow subscriber, shutdown): the body ends by
itself unless a write is stuck behind a client that reads nothing. Then, on our server
(server.py), the last words (`stream.reset`) and the end of the body are left in the
connection's buffer, which is closed once they are sent; elsewhere the response is cut.
"""

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncGenerator, Callable
from typing import TYPE_CHECKING, Protocol

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from threads_api.event.service import StoredEvent

if TYPE_CHECKING:
    from threads_api.event.broker import Subscription

logger = logging.getLogger("threads_api.event")

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    # Proxies must neither cache nor buffer a stream (pitfalls: nginx buffers by default).
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),
]
# Comments: the first makes clients see the stream open at once, the other keeps it open.
OPENING = b": stream open\n\n"
HEARTBEAT = b": keep-alive\n\n"
# The ASGI extension threads_api.server.ThreadsHttpProtocol offers every request.
SERVER_EXTENSION = "threads_api.server"
# How long a stream told to end may take to end by itself before it is cut.
END_GRACE_SECONDS = 0.05
# The kernel's send buffer of a stream's connection (the kernel doubles it): bounded, unlike
# the several MB it would grow to for a client that stops reading.
SEND_BUFFER_BYTES = 128 * 1024


def frame(event: StoredEvent) -> bytes:
    """One event: its position as the SSE id (what EventSource sends back as Last-Event-ID)."""
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (
        event.position,
        event.type.encode(),
        event.to_json().encode(),
    )


def reset(reason: str, position: int) -> bytes:
    """The last event of a stream that ends before the client left: resume after `position`."""
    data = json.dumps({"reason": reason, "resume_after": position}, separators=(",", ":"))
    return b"id: %d\nevent: stream.reset\ndata: %s\n\n" % (position, data.encode())


class Stream(Protocol):
    subscription: "Subscription"

    def body(self) -> AsyncGenerator[bytes, None]: ...

    def last_words(self) -> bytes:
        """What to leave in the buffer when a stuck stream is cut."""
        ...


class EventStreamResponse(Response):
    media_type = "text/event-stream"

    def __init__(self, stream: Stream, *, on_close: Callable[[], None]) -> None:
        # Not Response.__init__: there is no body to measure; the headers are HEADERS.
        self.status_code = 200
        self.background = None
        self.raw_headers = list(HEADERS)
        self._stream = stream
        self._on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        subscription = self._stream.subscription
        ended = asyncio.Event()
        subscription.on_end = ended.set
        server = scope.get("extensions", {}).get(SERVER_EXTENSION, {})
        if "limit_send_buffer" in server:
            server["limit_send_buffer"](SEND_BUFFER_BYTES)
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            if scope.get("state", {}).get("head"):  # a HEAD (middleware.py): no stream
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            sending = asyncio.create_task(self._send_body(send))
            sending.add_done_callback(lambda _: ended.set())
            watching = asyncio.create_task(self._watch(receive))
            try:
                await ended.wait()
                done, _ = await asyncio.wait({sending}, timeout=END_GRACE_SECONDS)
                if not done:
                    sending.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await sending
                    if "finish" in server:
                        server["finish"](self._stream.last_words())
            finally:
                watching.cancel()
                sending.cancel()
        finally:
            self._on_close()

    async def _send_body(self, send: Send) -> None:
        body = self._stream.body()
        try:
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except Exception:
            logger.exception("event stream failed")
        finally:
            await body.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self._stream.subscription.end("disconnected")
