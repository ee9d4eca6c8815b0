"""The outermost layer: request ids, one JSON log line per request, and the last-resort 500.

Pure ASGI rather than BaseHTTPMiddleware so that it wraps everything, streams untouched,
and still answers with a problem document (and the request id) when the app raises.
"""

import json
import logging
import os
import re
import time
from typing import Any

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threads_api.errors import PROBLEM_CONTENT_TYPE, InternalError, ThreadsError
from threads_api.logs import current_request_id, request_log

logger = logging.getLogger("threads_api.request")

REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Logged (never sent) for a request whose client left before it was read: nginx's convention.
CLIENT_CLOSED_REQUEST = 499


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


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

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

        try:
            await self.app(app_scope, receive, send_with_request_id)
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
            request_log.write(
                request_id=request_id,
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 3),
                api_key_id=state.get("api_key_id"),
            )

    @staticmethod
    def _request_id(scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate: str = value.decode("latin-1")
                if REQUEST_ID_PATTERN.fullmatch(candidate):
                    return candidate
                break
        # 32 hex digits, as uuid4().hex gave, for a third of its cost (no UUID object).
        return os.urandom(16).hex()
