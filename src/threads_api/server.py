"""The HTTP server: uvicorn's httptools protocol with connection limits, configured from Settings.

uvicorn alone waits forever for request headers, reads headers of any size, and its own
connection limit answers in plain text, so idle or slow sockets could hold every file
descriptor and a 50 MB header was read whole. `ThreadsHttpProtocol` adds, per connection:

- a deadline for complete request headers, counted from the accept and, on a keep-alive
  connection, from the end of the previous response: past it the connection is closed;
- a bound on the request line and headers (16 KiB): bytes past it never reach the parser, and
  the answer is `431`;
- a connection limit per process: the connection past it is answered `503 server_busy` at once
  and closed, so refusing costs no file descriptor for longer than one write;
- for event streams (event/sse.py), an ASGI extension: an event set when graceful shutdown
  begins, so that streams end at once instead of holding it up, and `finish`, which ends a
  stream whose client stopped reading without waiting for it.

The answers are the service's problem documents, with an `X-Request-ID`.
"""

import asyncio
import contextlib
import functools
import logging
import resource
import socket
import sys
import uuid
import weakref
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import (
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)
from uvicorn.server import ServerState
from uvicorn.supervisors import Multiprocess

from threads_api.config import Settings
from threads_api.errors import BadRequest, RequestHeadersTooLarge, ServerBusy, ThreadsError
from threads_api.event.sse import SERVER_EXTENSION
from threads_api.middleware import problem_response_parts

logger = logging.getLogger("threads_api.server")

APP = "threads_api.app:create_server_app"
MAX_HEADER_BYTES = 16 * 1024
# File descriptors kept back from client connections: the listening socket, the database
# (up to 20 PostgreSQL connections, or a few files per SQLite connection), the log, and the
# sockets being refused with 503.
RESERVED_FDS = 100
# uvicorn's own exit status when the application fails to start.
STARTUP_FAILURE = 3
# A stream ended by `finish` whose client reads nothing is cut this long after.
FINISH_SECONDS = 10.0
# Per server (one per process): set when its graceful shutdown begins.
_STOPPING: "weakref.WeakKeyDictionary[ServerState, asyncio.Event]" = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout_seconds: float
    max_connections: int
    max_header_bytes: int = MAX_HEADER_BYTES


class ServerConfig(uvicorn.Config):
    """uvicorn's Config with our limits on it: the protocol of every worker reads them there
    (the config is what uvicorn hands each worker process)."""

    def __init__(self, app: str, *, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.limits = limits


class ThreadsHttpProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        assert isinstance(config, ServerConfig)
        self.limits = config.limits
        # True from the accept, and again once a request has been read whole: the bytes that
        # follow are the next request's line and headers.
        self.awaiting_headers = True
        self.header_bytes = 0
        self.header_deadline: asyncio.TimerHandle | None = None

    def connection_made(  # type: ignore[override]  # as uvicorn's: narrower than asyncio's
        self, transport: asyncio.Transport
    ) -> None:
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            self.connections.discard(self)
            self.refuse(ServerBusy("The server is at its connection limit; retry later."))
            return
        self.arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self.disarm_header_deadline()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self.awaiting_headers:
            super().data_received(data)
            return
        room = self.limits.max_header_bytes - self.header_bytes
        self.header_bytes += min(len(data), room)
        super().data_received(data[:room])
        if len(data) <= room or self.transport.is_closing():
            return
        if self.awaiting_headers:
            self.refuse(
                RequestHeadersTooLarge(
                    f"The request line and headers exceed {self.limits.max_header_bytes} bytes."
                )
            )
            return
        # The headers ended within the allowance; the rest is body (and, pipelined, maybe the
        # next request, whose first bytes in this chunk go uncounted: at most one read).
        self.data_received(data[room:])

    def on_headers_complete(self) -> None:
        self.awaiting_headers = False
        self.disarm_header_deadline()
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.scope is self.scope:
            # What an event stream needs of its connection (event/sse.py).
            self.scope.setdefault("extensions", {})[SERVER_EXTENSION] = {
                "stopping": self.stopping(),
                "finish": functools.partial(self.finish, cycle),
                "limit_send_buffer": self.limit_send_buffer,
            }

    def stopping(self) -> asyncio.Event:
        """Set once this server begins a graceful shutdown: open streams then end at once."""
        event = _STOPPING.get(self.server_state)
        if event is None:
            event = _STOPPING[self.server_state] = asyncio.Event()
        return event

    def shutdown(self) -> None:
        self.stopping().set()
        super().shutdown()

    def limit_send_buffer(self, size: int) -> None:
        """Fix the kernel's send buffer of this connection (SO_SNDBUF), instead of letting
        it grow to several MB for a client that reads nothing: what such a client costs
        stays bounded, and it is found slow sooner."""
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)

    def finish(self, cycle: RequestResponseCycle, data: bytes) -> None:
        """End the streaming response of `cycle` now, however slowly its client reads:
        `data` and the end of the body go to the transport's buffer (a write that never
        waits), and the connection closes once they are sent, or is cut FINISH_SECONDS
        later. The application has stopped sending (it could not: its write was waiting
        for the client)."""
        if cycle.response_complete or self.transport.is_closing():
            return
        if cycle.scope["method"] == "HEAD":
            data = b""
        elif cycle.chunked_encoding:
            data = (b"%x\r\n%s\r\n" % (len(data), data) if data else b"") + b"0\r\n\r\n"
        if data:
            self.transport.write(data)
        cycle.response_complete = True
        cycle.keep_alive = False
        self.transport.close()
        self.loop.call_later(FINISH_SECONDS, self.transport.abort)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.awaiting_headers = True
        self.header_bytes = 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The next request's clock starts now, not while a response is still being written
        # (a long poll must not count against it). A pipelined request has its headers already.
        if self.awaiting_headers and not self.pipeline and not self.transport.is_closing():
            self.arm_header_deadline()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to bytes that are not HTTP, as a problem document."""
        self.refuse(BadRequest("The request is not valid HTTP/1.1."))

    def arm_header_deadline(self) -> None:
        self.disarm_header_deadline()
        self.header_deadline = self.loop.call_later(
            self.limits.header_timeout_seconds, self.header_deadline_passed
        )

    def disarm_header_deadline(self) -> None:
        if self.header_deadline is not None:
            self.header_deadline.cancel()
            self.header_deadline = None

    def header_deadline_passed(self) -> None:
        self.header_deadline = None
        if self.awaiting_headers and not self.transport.is_closing():
            self.transport.close()

    def refuse(self, error: ThreadsError) -> None:
        """Answer `error` without the application, then close the connection."""
        self.disarm_header_deadline()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if self.awaiting_headers:
                # A pipelined request went wrong while the previous response is being written:
                # read no more, and close once that response is sent.
                cycle.keep_alive = False
                self.flow.pause_reading()
                return
            if cycle.response_started:
                self.transport.close()  # nothing can be said in the middle of a response
                return
        request_id = uuid.uuid4().hex
        logger.warning(error.detail, extra={"request_id": request_id, "status": error.status})
        body, headers = problem_response_parts(error, request_id)
        head = [STATUS_LINE[error.status]]
        for name, value in [
            *self.server_state.default_headers,
            *headers,
            (b"x-request-id", request_id.encode()),
            (b"connection", b"close"),
        ]:
            head += [name, b": ", value, b"\r\n"]
        self.transport.write(b"".join([*head, b"\r\n", body]))
        self.transport.close()


def connection_limit(configured: int) -> int:
    """`configured`, or less when the open-file limit (`ulimit -n`) cannot hold that many
    connections besides RESERVED_FDS: a process out of descriptors cannot even refuse."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or configured <= soft - RESERVED_FDS:
        return configured
    fitted = max(1, soft - RESERVED_FDS)
    logger.warning(
        "THREADS_API_MAX_CONNECTIONS=%d does not fit the open-file limit %d; using %d",
        configured,
        soft,
        fitted,
    )
    return fitted


def server_config(settings: Settings, *, workers: int) -> ServerConfig:
    return ServerConfig(
        APP,
        factory=True,
        workers=workers,
        http=ThreadsHttpProtocol,
        limits=ConnectionLimits(
            header_timeout_seconds=settings.header_timeout_seconds,
            max_connections=connection_limit(settings.max_connections),
        ),
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=30,
    )


def listen(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The listening socket, bound here so that a taken port is known before anything else
    (port 0: any free port; `getsockname()` names it). Raises OSError."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve(config: ServerConfig, sock: socket.socket) -> None:
    """Serve on `sock` until a signal: in this process, or in `config.workers` children."""
    # uvicorn re-raises the SIGINT it caught once it has shut down: that is no error.
    if config.workers > 1:
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[sock]).run()
        return
    server = uvicorn.Server(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=[sock])
    if not server.started:
        sys.exit(STARTUP_FAILURE)
