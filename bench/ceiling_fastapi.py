"""The ceiling's work behind FastAPI: what the framework alone costs (a candidate, not the
ceiling). The same handler as bench/ceiling.py, reached through FastAPI's router, a `Request`
object and a `Response`, inside a pure ASGI middleware for the request id and the log line
(as the service has it). Settings as bench/ceiling.py (CEILING_MODE, CEILING_JSON, ...).

    uvicorn ceiling_fastapi:app --app-dir bench --http httptools --loop uvloop
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

import ceiling
from ceiling import DB, LOG, PRINCIPALS, REQUEST_ID, Problem, handle, log_line, problem_body
from fastapi import FastAPI, Request, Response


@contextlib.asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await DB.start()
    watcher = asyncio.create_task(PRINCIPALS.watch())
    yield
    watcher.cancel()
    await DB.stop()


inner = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)


async def endpoint(request: Request) -> Response:
    state = request.scope["state"]
    status, body, out = await handle(request.scope, request.receive, state["headers"], state)
    return Response(body, status, headers={k.decode(): v.decode() for k, v in out})


async def problem(request: Request, error: Exception) -> Response:
    assert isinstance(error, Problem)
    body = problem_body(error, request.scope["state"]["request_id"])
    headers = {k.decode(): v.decode() for k, v in error.headers}
    return Response(body, error.status, headers, media_type="application/problem+json")


for path in (
    "/v1/spaces/{space_id}/threads",
    "/v1/spaces/{space_id}/threads/messages",
    "/v1/spaces/{space_id}/threads/{thread_id}",
    "/v1/spaces/{space_id}/threads/{thread_id}/messages",
):
    inner.add_api_route(path, endpoint, methods=["GET", "POST"])
inner.add_exception_handler(Problem, problem)


async def app(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        await inner(scope, receive, send)
        return
    started = time.perf_counter()
    headers = dict(scope["headers"])
    given = headers.get(b"x-request-id")
    request_id = given.decode("latin-1") if given is not None else ""
    if not REQUEST_ID.fullmatch(request_id):
        request_id = secrets.token_hex(16)
    state: dict[str, Any] = {"headers": headers, "request_id": request_id}
    scope["state"] = state
    status = 500

    async def send_with_id(message: Any) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            message["headers"] = [*message["headers"], (b"x-request-id", request_id.encode())]
        await send(message)

    await inner(scope, receive, send_with_id)
    if ceiling.LOG != "off" and LOG != "off":
        log_line(
            request_id, scope["method"], scope["path"], status, started, state.get("api_key_id")
        )
