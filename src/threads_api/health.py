"""Liveness and readiness, outside /v1 and without authentication."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from threads_api.errors import ServiceUnavailable, error_responses
from threads_api.state import app_state

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Answers while the process runs."""
    return {"status": "ok"}


@router.get("/readyz", responses=error_responses(ServiceUnavailable))
async def readyz(request: Request) -> JSONResponse:
    """Answers 200 when the database does, 503 otherwise."""
    state = app_state(request)
    try:
        async with asyncio.timeout(state.settings.database_timeout_seconds):
            await state.database.ping()
    except Exception as error:
        raise ServiceUnavailable("The database cannot be reached.") from error
    return JSONResponse({"status": "ready"})
