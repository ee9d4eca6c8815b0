"""The claim bounds its own wait on PostgreSQL, in one statement: `lock_timeout` is set for
the claim, and the default is back once the key is claimed (ADR 0003, "The 409 path")."""

from typing import Any

import pytest
from sqlalchemy import text

from threads_api.idempotency import repository
from threads_api.kit.schemas import utcnow
from threads_api.state import app_state

FINGERPRINT = "f" * 64


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_claimed_key_leaves_the_default_lock_timeout(app: Any) -> None:
    async with app_state(app).database.writer() as session, session.begin():
        default = await session.scalar(text("SHOW lock_timeout"))
        key_id = await session.scalar(text("SELECT id FROM api_keys"))

        claim = await repository.claim(
            session, key_id, "k", FINGERPRINT, utcnow(), wait_seconds=0.25
        )
        assert claim == "claimed"
        # What the request does next (the thread's row lock) waits as it always did.
        assert await session.scalar(text("SHOW lock_timeout")) == default

        again = await repository.claim(
            session, key_id, "k", FINGERPRINT, utcnow(), wait_seconds=0.25
        )
        assert again == "taken"
        # A taken key keeps the bound: the request only reads the record and answers.
        assert await session.scalar(text("SHOW lock_timeout")) == "250ms"
