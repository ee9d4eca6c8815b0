"""Fixtures for the error tests: the app runs with a body limit of MAX_BODY."""

from typing import Any

import pytest

from tests.errors.support import MAX_BODY


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_body_bytes": MAX_BODY}
