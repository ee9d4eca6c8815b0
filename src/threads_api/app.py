"""create_app(settings): the application, its lifespan and its error handlers."""

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import swagger_ui_bundle
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException
from starlette.staticfiles import StaticFiles

from threads_api import __version__
from threads_api.api import router as v1_router
from threads_api.auth.cache import PrincipalCache
from threads_api.config import Settings
from threads_api.db import Database
from threads_api.errors import (
    PROBLEM_CONTENT_TYPE,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    ThreadsError,
    Unprocessable,
)
from threads_api.health import router as health_router
from threads_api.idempotency.service import purge_expired_forever
from threads_api.kit.secrets import load_cursor_codec
from threads_api.logs import configure_logging
from threads_api.middleware import RequestContextMiddleware, request_id_of
from threads_api.openapi import build_openapi

logger = logging.getLogger("threads_api")

_MAX_REPORTED_ERRORS = 20
_MAX_REPORTED_CHARS = 100


def problem(request: Request, error: ThreadsError) -> Response:
    return JSONResponse(
        error.to_problem(request_id_of(request.scope)),
        status_code=error.status,
        headers=error.headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _safe(value: object) -> str | int:
    """A piece of a validation error fit to send back: short, and encodable as UTF-8."""
    if isinstance(value, int):
        return value
    text = str(value)[:_MAX_REPORTED_CHARS]
    return text.encode("utf-8", "replace").decode("utf-8")


async def handle_threads_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ThreadsError)
    return problem(request, error)


async def handle_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    # Never echo the input: it may be huge, or hold a lone surrogate that cannot be encoded.
    errors = [
        {"loc": [_safe(part) for part in e["loc"]], "message": _safe(e["msg"])}
        for e in error.errors()[:_MAX_REPORTED_ERRORS]
    ]
    return problem(request, Unprocessable("The request breaks a rule; see errors.", errors=errors))


def method_table(document: dict[str, Any]) -> list[tuple[re.Pattern[str], list[str]]]:
    """Each documented path as a pattern, with all of its methods."""
    return [
        (
            re.compile(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path))),
            sorted(method.upper() for method in operations),
        )
        for path, operations in document["paths"].items()
    ]


def _allowed_methods(request: Request) -> list[str]:
    """The methods of the documented path that matches most exactly (fewest parameters: a
    literal `/threads/messages` beats `/threads/{thread_id}`): the router's own 405 names
    only the first matching route's methods."""
    path = request.scope["path"]
    matches = [
        (pattern.pattern.count("[^/]+"), path_methods)
        for pattern, path_methods in request.app.state.method_table
        if pattern.fullmatch(path)
    ]
    if not matches:
        return []
    fewest = min(parameters for parameters, _ in matches)
    return sorted({m for parameters, ms in matches if parameters == fewest for m in ms})


async def handle_http_exception(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 405:
        allow = ", ".join(_allowed_methods(request))
        return problem(
            request,
            MethodNotAllowed(
                f"{request.method} is not allowed here; use {allow}.", headers={"Allow": allow}
            ),
        )
    if error.status_code == 404:
        return problem(request, NotFound("No such resource."))
    raise error


# SQLSTATE classes that mean "the server is not there for us right now": connection exception,
# insufficient resources (too many connections), operator intervention (shutting down,
# starting up after a crash - asyncpg's CannotConnectNowError - or a cancelled statement).
_OUTAGE_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})


def _is_outage(error: Exception) -> bool:
    if not isinstance(error, sa_exc.DBAPIError):
        return True  # timeouts and OSErrors
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    if error.connection_invalidated:
        return True
    # The asyncpg adapter maps some outage errors (57P03 "the database system is starting up")
    # to the generic DBAPIError: tell them from bugs by their SQLSTATE.
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES


async def handle_database_unavailable(request: Request, error: Exception) -> Response:
    if not _is_outage(error):
        raise error  # integrity and data errors are bugs, not outages
    logger.warning("database unavailable: %s", type(error).__name__)
    return problem(
        request,
        ServiceUnavailable(
            "The database cannot be reached; retry later.", headers={"Retry-After": "1"}
        ),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings)
        try:
            await database.check_durability(allow_unsafe=settings.allow_unsafe_durability)
        except BaseException:
            await database.dispose()
            raise
        app.state.database = database
        app.state.principals = PrincipalCache()
        app.state.known_spaces = set()
        app.state.cursors = await load_cursor_codec(database, settings)
        purger = asyncio.create_task(
            purge_expired_forever(database, settings.idempotency_ttl_seconds)
        )
        try:
            yield
        finally:
            purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await purger
            await database.dispose()

    app = FastAPI(
        title="Threads API",
        version=__version__,
        summary="Spaces hold threads; threads hold messages.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.include_router(health_router)
    app.include_router(v1_router)

    app.add_exception_handler(ThreadsError, handle_threads_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(HTTPException, handle_http_exception)
    for outage in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError, TimeoutError):
        app.add_exception_handler(outage, handle_database_unavailable)

    _mount_docs(app)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    app.state.method_table = method_table(app.openapi())
    app.add_middleware(RequestContextMiddleware)
    return app


def _mount_docs(app: FastAPI) -> None:
    """Swagger UI from the installed swagger-ui-bundle package: /docs works offline."""
    assets = Path(swagger_ui_bundle.swagger_ui_path)
    app.mount("/docs/assets", StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Threads API",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="/docs/assets/favicon-32x32.png",
        )


def create_server_app() -> FastAPI:
    """The factory uvicorn calls in each worker: settings from the environment, JSON logs."""
    settings = Settings()
    configure_logging(settings.log_level)
    return create_app(settings)
