"""Fixtures for the idempotency tests: a thread, and the path of its messages."""

from typing import Any

import pytest

from tests.helpers import Api
from tests.idempotency.support import messages_path


@pytest.fixture
async def thread(api: Api) -> dict[str, Any]:
    space = await api.space()
    return await api.thread(space["id"])


@pytest.fixture
def path(thread: dict[str, Any]) -> str:
    return messages_path(thread["space_id"], thread["id"])
