"""The claim bounds its own wait on PostgreSQL, in one statement: `lock_timeout` is set for
the claim, and the default is back once the key is claimed (ADR 0003, "The 409 path"). The
same unit runs in an ORM session (the creating endpoints that write through it) and on the
plain write path (the message creates)."""

from typing import Any

import pytest
from sqlalchemy import text

from threads_api.idempotency import repository
from threads_api.kit.schemas import format_timestamp, utcnow
from threads_api.reads import Statement, Unit
from threads_api.state import app_state
from threads_api.writes import run_in_session

FINGERPRINT = "f" * 64
_SHOW = Statement(sqlite="", postgres="SHOW lock_timeout")


def _claim_twice(key_id: str) -> Unit[list[tuple[str, str]]]:
    """Claim a key, then claim it again; each claim's outcome with the lock_timeout after it."""
    seen = []
    for _ in range(2):
        now = format_timestamp(utcnow())
        claim = yield from repository.claim(key_id, "k", FINGERPRINT, now, wait_seconds=0.25)
        timeout = yield _SHOW, ()
        seen.append((claim, timeout[0][0]))
    return seen


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_claimed_key_leaves_the_default_lock_timeout_in_a_session(app: Any) -> None:
    async with app_state(app).database.writer() as session, session.begin():
        default = await session.scalar(text("SHOW lock_timeout"))
        key_id = await session.scalar(text("SELECT id FROM api_keys"))
        seen = await run_in_session(session, _claim_twice(key_id))
    # What the request does next (the thread's row lock) waits as it always did; a taken key
    # keeps the bound: the request only reads the record and answers.
    assert seen == [("claimed", default), ("taken", "250ms")]


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_claimed_key_leaves_the_default_lock_timeout_on_the_write_path(
    app: Any,
) -> None:
    database = app_state(app).database
    async with database.writer() as session:
        default = await session.scalar(text("SHOW lock_timeout"))
        key_id = await session.scalar(text("SELECT id FROM api_keys"))
    seen = await database.writes.run(_claim_twice, key_id)
    assert seen == [("claimed", default), ("taken", "250ms")]
