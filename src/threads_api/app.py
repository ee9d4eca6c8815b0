"""create_app(settings): the application, its lifespan and its error handlers."""

import contextlib
import functools
import gc
import logging
import re
import traceback
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException

from threads_api import __version__
from threads_api.api import router as v1_router
from threads_api.app_secrets import load_cursor_codec, load_webhook_secrets_box
from threads_api.auth.cache import PrincipalCache
from threads_api.config import Settings
from threads_api.cors import add_cors
from threads_api.db import Database
from threads_api.docs_ui import mount_docs
from threads_api.errors import (
    PROBLEM_CONTENT_TYPE,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    ThreadsError,
    Unprocessable,
)
from threads_api.health import router as health_router
from threads_api.kit.validation import error_message
from threads_api.logs import configure_logging
from threads_api.middleware import RequestContextMiddleware, request_id_of
from threads_api.openapi import build_openapi, operation_id
from threads_api.reads import OUTAGE_SQLSTATE_CLASSES
from threads_api.state import AppState, set_app_state
from threads_api.workers import Workers

logger = logging.getLogger("threads_api")

_MAX_REPORTED_ERRORS = 20
# A location may hold input (a metadata key); a message names what is allowed, which for
# a choice of values (event types) can run longer.
_MAX_REPORTED_CHARS = 100
_MAX_MESSAGE_CHARS = 300
# Collections of the middle generation before a full one (Python's default: 10); why in
# create_server_app.
FULL_COLLECTION_AFTER = 100


def problem(request: Request, error: ThreadsError) -> Response:
    return JSONResponse(
        error.to_problem(request_id_of(request.scope)),
        status_code=error.status,
        headers=error.headers,
        media_type=PROBLEM_CONTENT_TYPE,
    )


def _safe(value: object, limit: int = _MAX_REPORTED_CHARS) -> str | int:
    """A piece of a validation error fit to send back: short, and encodable as UTF-8."""
    if isinstance(value, int):
        return value
    text = str(value)[:limit]
    return text.encode("utf-8", "replace").decode("utf-8")


async def handle_threads_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ThreadsError)
    return problem(request, error)


async def handle_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    # Never echo the input: it may be huge, or hold a lone surrogate that cannot be encoded.
    errors = [
        {
            "loc": [_safe(part) for part in e["loc"]],
            "message": _safe(error_message(e), _MAX_MESSAGE_CHARS),
        }
        for e in error.errors()[:_MAX_REPORTED_ERRORS]
    ]
    return problem(request, Unprocessable("The request breaks a rule; see errors.", errors=errors))


MethodTable = list[tuple[re.Pattern[str], list[str]]]


def method_table(document: dict[str, Any]) -> MethodTable:
    """Each documented path as a pattern, with all of its methods (HEAD wherever GET is)."""
    table: MethodTable = []
    for path, operations in document["paths"].items():
        methods = {method.upper() for method in operations}
        if "GET" in methods:
            methods.add("HEAD")
        pattern = re.compile(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)))
        table.append((pattern, sorted(methods)))
    return table


def _allowed_methods(table: MethodTable, request: Request) -> list[str]:
    """The methods of the documented path that matches most exactly (fewest parameters: a
    literal `/threads/messages` beats `/threads/{thread_id}`): the router's own 405 names
    only the first matching route's methods."""
    path = request.scope["path"]
    matches = [
        (pattern.pattern.count("[^/]+"), path_methods)
        for pattern, path_methods in table
        if pattern.fullmatch(path)
    ]
    if not matches:
        return []
    fewest = min(parameters for parameters, _ in matches)
    return sorted({m for parameters, ms in matches if parameters == fewest for m in ms})


async def handle_http_exception(table: MethodTable, request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 405:
        allow = ", ".join(_allowed_methods(table, request))
        return problem(
            request,
            MethodNotAllowed(
                f"{request.method} is not allowed here; use {allow}.", headers={"Allow": allow}
            ),
        )
    if error.status_code == 404:
        return problem(request, NotFound("No such resource."))
    raise error


# The database stack. asyncpg raises a refused or lost connection as a bare OSError and a
# statement past its timeout as a bare TimeoutError, and SQLAlchemy passes both through: raised
# in here they mean the database did not answer. Raised anywhere else, they are bugs (500).
_DATABASE_PACKAGES = frozenset({"sqlalchemy", "asyncpg", "aiosqlite"})


def _raised_by_database(error: BaseException) -> bool:
    return any(
        frame.f_globals.get("__name__", "").partition(".")[0] in _DATABASE_PACKAGES
        for frame, _ in traceback.walk_tb(error.__traceback__)
    )


# PostgreSQL's serialization failure and deadlock: the server chose this transaction to end.
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})


def _is_outage(error: Exception) -> bool:
    if isinstance(error, sa_exc.TimeoutError):
        return True  # no pooled connection came free in time
    if not isinstance(error, sa_exc.DBAPIError):
        return _raised_by_database(error)  # an OSError or a TimeoutError
    if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
        return True
    if error.connection_invalidated:
        return True
    # The asyncpg adapter maps some outage errors (57P03 "the database system is starting up")
    # to the generic DBAPIError: tell them from bugs by their SQLSTATE.
    sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    if not isinstance(sqlstate, str):
        return False
    # A deadlock or a serialization failure rolled the transaction back: nothing was written,
    # and the same request succeeds when retried (503 with Retry-After, not a 500).
    return sqlstate[:2] in OUTAGE_SQLSTATE_CLASSES or sqlstate in _TRANSIENT_SQLSTATES


async def handle_database_unavailable(request: Request, error: Exception) -> Response:
    if not _is_outage(error):
        raise error  # integrity and data errors, and OSErrors of our own, are bugs: 500
    logger.warning("database unavailable: %s", type(error).__name__)
    return problem(
        request,
        ServiceUnavailable("The database cannot be reached; retry later."),
    )


class ThreadsApi(FastAPI):
    """FastAPI, with the OpenAPI document that openapi.py makes."""

    def openapi(self) -> dict[str, Any]:
        return build_openapi(self)


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
        principals = PrincipalCache()
        cursors = await load_cursor_codec(database, settings)
        webhook_secrets = await load_webhook_secrets_box(database, settings)
        # background loops: workers.py
        workers = Workers(database, settings, principals, webhook_secrets)
        set_app_state(
            app,
            AppState(
                settings=settings,
                database=database,
                cursors=cursors,
                principals=principals,
                revocations=workers.revocations,
                broker=workers.broker,
                streams=workers.streams,
                webhook_secrets=webhook_secrets,
                webhooks=workers.webhooks,
            ),
        )
        workers.start()
        try:
            yield
        finally:
            await workers.stop()
            await database.dispose()

    app = ThreadsApi(
        title="Threads API",
        version=__version__,
        summary="Spaces hold threads; threads hold messages.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,
        # `/v1/spaces/` is a 404, not a 307 to a URL built from the forgeable Host (§16).
        redirect_slashes=False,
    )
    app.include_router(health_router)
    app.include_router(v1_router)

    app.add_exception_handler(ThreadsError, handle_threads_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    for outage in (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError, TimeoutError):
        app.add_exception_handler(outage, handle_database_unavailable)

    mount_docs(app)
    table = method_table(app.openapi())
    app.add_exception_handler(HTTPException, functools.partial(handle_http_exception, table))
    add_cors(app, settings)  # inside the request context: preflights get ids and log lines
    app.add_middleware(RequestContextMiddleware)
    return app


def create_server_app() -> FastAPI:
    """The factory uvicorn calls in each worker: settings from the environment, JSON logs."""
    settings = Settings()
    configure_logging(settings.log_level)
    app = create_app(settings)
    # What is alive now (modules, the app and its schemas) lives as long as the process: out
    # of the garbage collector's sight, its full collections walk only what requests make.
    # With a thousand open streams, walking it all paused the loop for 100-300 ms.
    gc.freeze()
    # A full collection still walks every open stream (~150 objects each): with a thousand
    # it stalled every subscriber for 100-140 ms, and at Python's default threshold one ran
    # every ~13 s under a feed's load (docs/benchmarks.md). Most garbage dies young, so the
    # oldest generation can wait ten times longer: the stall is as long, about ten times rarer.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)
    return app
