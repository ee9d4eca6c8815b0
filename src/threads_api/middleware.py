"""The outermost layer: request ids, one JSON log line per request, and the last-resort 500.

Pure ASGI rather than BaseHTTPMiddleware so that it wraps everything, streams untouched,
and still answers with a problem document (and the request id) when the app raises.
"""

import json
import logging
import os
import random
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threads_api.errors import PROBLEM_CONTENT_TYPE, InternalError, ThreadsError
from threads_api.kit.load import request_load
from threads_api.logs import current_request_id, request_log

logger = logging.getLogger("threads_api.request")

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Logged (never sent) for a request whose client left before it was read: nginx's convention.
CLIENT_CLOSED_REQUEST = 499
# Request ids need to be unique, not secret: seeded from os.urandom, and again in a forked
# child, which would otherwise repeat its parent's ids.
_request_ids = random.Random()
os.register_at_fork(after_in_child=_request_ids.seed)


def request_id_of(scope: Scope) -> str:
    request_id: str = scope.get("state", {}).get("request_id", "")
    return request_id


def problem_response_parts(
    error: ThreadsError, request_id: str
) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps(error.to_problem(request_id), ensure_ascii=False).encode()
    headers = [
        (b"content-type", PROBLEM_CONTENT_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
    ]
    return body, headers


# A route's handler, given the values of its `{parameters}` in order.
DirectHandler = Callable[[Scope, Receive, Send, list[str]], Awaitable[None]]
# Whether a request is one the direct handler takes (its query string, say); one it declines
# goes to its FastAPI route, which validates and answers everything else.
DirectAccepts = Callable[[Scope], bool]


class DirectRoutes:
    """Routes this middleware answers itself, without the router, the exception middleware
    and FastAPI's request handling in between: ~190 µs of CPU a request less on GET thread
    (FastAPI matches nested routers twice, then solves the dependencies; issue 11).

    Each is also declared as a FastAPI route, which documents it (OpenAPI) and still serves
    it whenever it is not served from here; both must answer alike (the tests compare them).
    A method and path registered here must be ones that no route declared before it answers.
    An error the handler raises goes to the app's own exception handlers, as it would there.
    A route registered with `accepts` serves only the requests it accepts (a list: the
    query strings it can read without FastAPI's validation); the others go to FastAPI.
    """

    # The methods a direct route may have; HEAD is looked up as GET.
    METHODS = frozenset({"GET", "HEAD", "POST"})

    def __init__(self) -> None:
        # Each route's method, path segments (a literal, or None for a `{parameter}`: one
        # non-empty segment) and what it accepts.
        self._routes: list[tuple[str, list[str | None], DirectHandler, DirectAccepts | None]] = []

    def add(
        self, method: str, path: str, handler: DirectHandler, accepts: DirectAccepts | None = None
    ) -> None:
        if method not in self.METHODS - {"HEAD"}:
            raise ValueError(f"a direct route cannot be {method}")
        segments = [None if s[:1] == "{" and s[-1:] == "}" else s for s in path.split("/")]
        self._routes.append((method, segments, handler, accepts))

    def find(
        self, method: str, path: str
    ) -> tuple[DirectHandler, list[str], DirectAccepts | None] | None:
        if method == "HEAD":
            method = "GET"
        parts = path.split("/")
        for route_method, segments, handler, accepts in self._routes:
            if route_method != method or len(segments) != len(parts):
                continue
            values = []
            for segment, part in zip(segments, parts, strict=True):
                if segment is None and part:
                    values.append(part)
                elif segment != part:
                    break
            else:
                return handler, values, accepts
        return None


direct_routes = DirectRoutes()


def _exception_handler(app: Any, error: Exception) -> Callable[..., Awaitable[Response]] | None:
    """The app's handler for `error`, looked up as Starlette's exception middleware does."""
    handlers = getattr(app, "exception_handlers", {})
    for cls in type(error).__mro__:
        if cls is Exception:  # the server error middleware's, outside this one
            return None
        if cls in handlers:
            handler: Callable[..., Awaitable[Response]] = handlers[cls]
            return handler
    return None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._serves_directly: bool | None = None  # known at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            try:
                await self.app(scope, receive, send)
            finally:
                # The last request lines may still wait for the loop to turn, and on SIGTERM
                # uvicorn ends the process by raising the signal again once shut down: no
                # further turn, no exit handlers.
                request_log.flush()
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = self._request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})
        state["request_id"] = request_id
        current_request_id.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False
        # HEAD is answered as GET without a body (§16): the same status and headers, and no
        # second operation in the OpenAPI document.
        head = scope["method"] == "HEAD"
        app_scope = {**scope, "method": "GET"} if head else scope
        state["head"] = head  # a stream answers a HEAD with its headers, and ends (event/sse.py)

        async def send_with_request_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        direct = self._direct_route(scope)
        request_load.started(state)
        try:
            if direct is None:
                await self.app(app_scope, receive, send_with_request_id)
            else:
                await self._serve_directly(*direct, app_scope, receive, send_with_request_id)
        except ClientDisconnect:
            # The client went away before its request was read: its doing, not a server error.
            status = CLIENT_CLOSED_REQUEST
            logger.info("client disconnected before sending the whole request")
        except Exception:
            logger.exception("unhandled error")
            if not response_started:
                body, headers = problem_response_parts(
                    InternalError("The server failed to handle the request."), request_id
                )
                await send_with_request_id(
                    {"type": "http.response.start", "status": 500, "headers": headers}
                )
                await send({"type": "http.response.body", "body": body})
        finally:
            request_load.finished(state)
            request_log.write(
                request_id=request_id,
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                api_key_id=state.get("api_key_id"),
            )

    def _direct_route(self, scope: Scope) -> tuple[DirectHandler, list[str]] | None:
        found = self._registered_route(scope)
        if found is None:
            return None
        handler, values, accepts = found
        return None if accepts is not None and not accepts(scope) else (handler, values)

    def _registered_route(
        self, scope: Scope
    ) -> tuple[DirectHandler, list[str], DirectAccepts | None] | None:
        if scope["method"] not in DirectRoutes.METHODS or scope.get("root_path"):
            return None
        if self._serves_directly is None:
            # A direct route skips what lies between this middleware and the router: only
            # while that is nothing of the app's own (CORS is a middleware there).
            middleware = getattr(scope.get("app"), "user_middleware", None)
            self._serves_directly = middleware is not None and all(
                m.cls is RequestContextMiddleware for m in middleware
            )
        if not self._serves_directly:
            return None
        return direct_routes.find(scope["method"], scope["path"])

    @staticmethod
    async def _serve_directly(
        handler: DirectHandler, values: list[str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        try:
            await handler(scope, receive, send, values)
        except Exception as error:
            handle = _exception_handler(scope.get("app"), error)
            if handle is None:
                raise
            response = await handle(Request(scope, receive, send), error)
            await response(scope, receive, send)

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate: str = value.decode("latin-1")
                if REQUEST_ID_PATTERN.fullmatch(candidate):
                    return candidate
                break
        # 32 hex digits, as uuid4().hex gave. Not from os.urandom: that call lets go of the
        # GIL, and under load a reader thread takes it each time (two context switches).
        return f"{_request_ids.getrandbits(128):032x}"
