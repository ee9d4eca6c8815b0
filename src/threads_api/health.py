"""Liveness and readiness, outside /v1 and without authentication."""

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from threads_api.errors import ServiceUnavailable, error_responses

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Answers while the process runs."""
    return {"status": "ok"}


@router.get("/readyz", responses=error_responses(ServiceUnavailable))
async def readyz(request: Request) -> JSONResponse:
    """Answers 200 when the database does, 503 otherwise."""
    settings = request.app.state.settings
    try:
        async with asyncio.timeout(settings.database_timeout_seconds):
            await request.app.state.database.ping()
    except Exception as error:
        raise ServiceUnavailable(
            "The database cannot be reached.", headers={"Retry-After": "1"}
        ) from error
    return JSONResponse({"status": "ready"})
