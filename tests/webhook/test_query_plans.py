"""The dispatcher's statements reach the event log and the jobs through their indexes: what
a delivery costs must not grow with the log (a claim once read every event of the log to
find the 32 it was sending: 25 ms at 80,000 events). Checked on SQLite with EXPLAIN QUERY
PLAN over every statement a delivery and a failed attempt's retry run."""

import sqlite3
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from tests.helpers import Api
from tests.webhook.receiver import Receiver
from tests.webhook.test_engine import clock_of, move_on, settled, webhook
from threads_api.state import app_state

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

# The tables that grow with traffic; a scan of the others (webhooks, cursors) is a scan of a
# handful of rows.
GROWING = ("events", "webhook_jobs", "webhook_deliveries")


async def test_a_delivery_and_its_retry_scan_no_growing_table(
    app: FastAPI, client: httpx.AsyncClient, api: Api, receiver: Receiver, database_url: str
) -> None:
    statements: list[tuple[str, Any]] = []

    def remember(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "webhook" in statement or "events" in statement:
            statements.append((statement, parameters))

    engine = app_state(app).database.write_engine.sync_engine
    event.listen(engine, "before_cursor_execute", remember)
    try:
        clock = clock_of(app)
        receiver.status = 500
        hook = await webhook(client, receiver.url)
        space = await api.space()
        await api.thread(space["id"])  # two events: thread.created, message.created
        await receiver.wait_for(2)
        await settled(client, hook, 2)
        receiver.status = 200
        move_on(app, clock, timedelta(seconds=10))
        await receiver.wait_for(4)
        await settled(client, hook, 4)
    finally:
        event.remove(engine, "before_cursor_execute", remember)

    file = sqlite3.connect(database_url.removeprefix("sqlite+aiosqlite:///"))
    try:
        scans = {
            statement: step
            for statement, parameters in statements
            if not statement.lstrip().upper().startswith("INSERT")
            for *_, step in file.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            if any(step.startswith(f"SCAN {table}") for table in GROWING)
        }
    finally:
        file.close()
    assert any("FROM events" in statement for statement, _ in statements)  # the claim's read
    assert scans == {}
