"""Fixtures for the event tests: a real HTTP server in the test's own event loop (live.py)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.event.live import Live, start_live
from threads_api.config import Settings


@pytest.fixture
async def live(settings: Settings) -> AsyncIterator[Live]:
    server = await start_live(settings)
    try:
        yield server
    finally:
        await server.http.aclose()
        await server.stop()


@pytest.fixture
def fast_streams() -> dict[str, Any]:
    """Settings that make stream behaviour quick to observe."""
    return {"stream_heartbeat_seconds": 0.2}
