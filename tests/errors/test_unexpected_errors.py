"""An unexpected error is a 500 problem without a traceback or secrets, and a failed commit is
never reported as a success."""

import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event, text

from tests.helpers import ADMIN_SECRET, problem
from threads_api.state import SessionDep, app_state

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class TestUnexpectedErrors:
    async def test_500_is_a_problem_without_a_traceback(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        async def explode() -> None:
            raise RuntimeError("boom: SELECT secret_hash FROM api_keys; " + ADMIN_SECRET)

        app.add_api_route("/test-explode", explode, methods=["GET"])
        response = await client.get("/test-explode", headers={"X-Request-ID": "req-500.test"})
        body = problem(response, 500, "internal_error")
        assert response.headers["x-request-id"] == "req-500.test"
        assert body["request_id"] == "req-500.test"
        for leak in ("Traceback", "RuntimeError", "boom", "SELECT", "secret_hash", ADMIN_SECRET):
            assert leak not in response.text

        generated = await client.get("/test-explode")
        problem(generated, 500)
        assert REQUEST_ID.fullmatch(generated.headers["x-request-id"])

        # The app goes on serving.
        assert (await client.get("/v1/spaces")).status_code == 200

    @pytest.mark.parametrize(
        "error", [FileNotFoundError("no such file: /etc/threads"), TimeoutError("too slow")]
    )
    async def test_an_oserror_or_timeout_of_our_own_is_a_500_not_an_outage(
        self, app: Any, client: httpx.AsyncClient, error: Exception
    ) -> None:
        # Raised by the application, with the request's transaction open: only the database's
        # own OSErrors and timeouts are outages (503, Retry-After).
        async def fail(session: SessionDep) -> None:
            await session.execute(text("SELECT 1"))
            raise error

        app.add_api_route("/test-fail", fail, methods=["GET"])
        response = await client.get("/test-fail")
        problem(response, 500, "internal_error")
        assert "retry-after" not in response.headers
        assert "/etc/threads" not in response.text

    @pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
    @pytest.mark.parametrize("sqlstate", ["40P01", "40001"])
    async def test_a_deadlock_or_serialization_failure_is_a_503_to_retry(
        self, app: Any, client: httpx.AsyncClient, sqlstate: str
    ) -> None:
        # PostgreSQL ends one of two deadlocked transactions (seen under the fuzzer: DELETE of
        # a webhook against the dispatcher): nothing was written, a retry succeeds.
        async def conflict(session: SessionDep) -> None:
            await session.execute(
                text(f"DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = '{sqlstate}'; END $$")
            )

        app.add_api_route("/test-conflict", conflict, methods=["GET"])
        response = await client.get("/test-conflict")
        problem(response, 503, "database_unavailable")
        assert response.headers["retry-after"]

    async def test_failed_commit_is_never_reported_as_success(
        self, app: Any, client: httpx.AsyncClient, api: Any
    ) -> None:
        """A space is written through the ORM session: its commit is refused by an engine
        event."""
        space = await api.space("existing")  # also records the admin key's last use
        engine = app_state(app).database.write_engine.sync_engine

        def refuse_commit(connection: Any) -> None:
            raise RuntimeError("commit refused by the test")

        event.listen(engine, "commit", refuse_commit)
        try:
            response = await client.post("/v1/spaces", json={"name": "ghost"})
        finally:
            event.remove(engine, "commit", refuse_commit)

        assert response.status_code >= 500, response.text
        body = problem(response, response.status_code)
        assert "commit refused" not in response.text
        assert body["request_id"]
        names = [s["name"] for s in (await client.get("/v1/spaces")).json()["data"]]
        assert names == ["existing"]
        # The connection is usable again.
        assert (await client.post("/v1/spaces", json={"name": "after"})).status_code == 201
        assert (
            await client.post(f"/v1/spaces/{space['id']}/threads/messages", json={"content": "x"})
        ).status_code == 201

    async def test_failed_commit_of_a_plain_write_is_never_reported_as_success(
        self, app: Any, client: httpx.AsyncClient, api: Any
    ) -> None:
        """A thread is started on the plain write path (writes.py): the database refuses its
        COMMIT (SQLite: the writer connection's authorizer; PostgreSQL: a deferred
        constraint trigger)."""
        space = await api.space("existing")
        before = await api.thread(space["id"], "before")  # opens the writer's connection
        database = app_state(app).database
        async with refused_commits(database):
            response = await client.post(
                f"/v1/spaces/{space['id']}/threads/messages", json={"content": "ghost"}
            )

        assert response.status_code >= 500, response.text
        body = problem(response, response.status_code)
        assert "commit refused" not in response.text and "not authorized" not in response.text
        assert body["request_id"]
        threads = await client.get(f"/v1/spaces/{space['id']}/threads", params={"status": "all"})
        assert [t["id"] for t in threads.json()["data"]] == [before["id"]]
        # The writer is usable again.
        after = await client.post(
            f"/v1/spaces/{space['id']}/threads/messages", json={"content": "after"}
        )
        assert after.status_code == 201, after.text


@contextlib.asynccontextmanager
async def refused_commits(database: Any) -> AsyncIterator[None]:
    if database.dialect == "sqlite":
        # Test-only reach into the writer: its connection, made by the first write.
        connection = database.writes._sqlite._connection
        assert connection is not None

        def deny_commit(action: int, arg1: Any, *_: Any) -> int:
            refused = action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT"
            return sqlite3.SQLITE_DENY if refused else sqlite3.SQLITE_OK

        connection.set_authorizer(deny_commit)
        try:
            yield
        finally:
            connection.set_authorizer(None)
        return
    async with database.write_engine.begin() as connection:
        await connection.execute(text(_REFUSE_COMMIT))
        await connection.execute(
            text(
                "CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER INSERT ON threads"
                " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse_commit()"
            )
        )
    try:
        yield
    finally:
        async with database.write_engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER test_refuse_commit ON threads"))
            await connection.execute(text("DROP FUNCTION test_refuse_commit()"))


_REFUSE_COMMIT = """
CREATE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'commit refused by the test';
END $$
"""
