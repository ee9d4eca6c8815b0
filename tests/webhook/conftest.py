"""Fixtures for the webhook tests: deliveries to a local receiver, which only
THREADS_API_WEBHOOKS_ALLOW_PRIVATE lets through."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.webhook.receiver import Receiver


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"webhooks_allow_private": True, "webhook_timeout_seconds": 2}


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = await Receiver().start()
    yield server
    await server.stop()
