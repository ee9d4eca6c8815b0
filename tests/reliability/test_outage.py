"""Database outages: PostgreSQL stopped, the SQLite file gone from its path.

While the database is away, /readyz and the API answer 503 problems with Retry-After, never a
500, and never later than a bounded time. When it returns, the same process serves again.
"""

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.reliability.pg_cluster import PgCluster
from tests.reliability.workload import HEADERS, integrity_check, query
from tests.servers import Server, start_server

pytestmark = pytest.mark.slow

TIMEOUT_SECONDS = 2.0  # THREADS_API_DATABASE_TIMEOUT_SECONDS for these servers
BOUND_SECONDS = TIMEOUT_SECONDS * 2 + 1  # the longest an answer may take during an outage
ENV = {"THREADS_API_DATABASE_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS)}


def _requests(space_id: str, thread_id: str) -> list[tuple[str, str, dict | None]]:
    """One of each kind: readiness, reads, writes (with and without an idempotency key)."""
    thread = f"/v1/spaces/{space_id}/threads/{thread_id}"
    return [
        ("GET", "/readyz", None),
        ("GET", "/v1/spaces", None),
        ("GET", thread, None),
        ("GET", f"{thread}/messages", None),
        ("POST", f"{thread}/messages", {"content": "during the outage"}),
        ("POST", f"/v1/spaces/{space_id}/threads/messages", {"content": "new thread"}),
    ]


def _arrange(server: Server) -> tuple[str, str]:
    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as http:
        space_id = http.post("/v1/spaces", json={"name": "outage"}).json()["id"]
        response = http.post(f"/v1/spaces/{space_id}/threads/messages", json={"content": "before"})
        assert response.status_code == 201, response.text
        return space_id, response.json()["thread"]["id"]


def _assert_unavailable(server: Server, space_id: str, thread_id: str, rounds: int = 3) -> None:
    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=BOUND_SECONDS + 5) as http:
        for number in range(rounds):
            for method, path, body in _requests(space_id, thread_id):
                headers = {"Idempotency-Key": f"outage-{number}-{path}"} if body else {}
                started = time.monotonic()
                response = http.request(method, path, json=body, headers=headers)
                elapsed = time.monotonic() - started
                where = (method, path, number)
                assert response.status_code == 503, (where, response.status_code, response.text)
                assert elapsed < BOUND_SECONDS, (where, elapsed)
                assert response.headers["Retry-After"].isdigit(), where
                assert response.headers["Content-Type"] == "application/problem+json", where
                assert response.json()["code"] == "database_unavailable", where


def _assert_serves_again(server: Server, space_id: str, thread_id: str) -> None:
    """The same process, without a restart, answers every request normally again."""
    deadline = time.monotonic() + 15
    while httpx.get(f"{server.url}/readyz", timeout=BOUND_SECONDS + 5).status_code != 200:
        assert time.monotonic() < deadline, "never ready again"
        time.sleep(0.2)
    with httpx.Client(base_url=server.url, headers=HEADERS, timeout=10) as http:
        for method, path, body in _requests(space_id, thread_id):
            response = http.request(method, path, json=body)
            assert response.status_code == (201 if method == "POST" else 200), response.text
    assert server.process.poll() is None
    log = server.log.read_text()
    assert "unhandled error" not in log and "Traceback" not in log, log[-3000:]


def _outage(
    server: Server, leave: Callable[[], None], come_back: Callable[[], None]
) -> tuple[str, str]:
    space_id, thread_id = _arrange(server)
    pid = server.process.pid
    leave()
    try:
        _assert_unavailable(server, space_id, thread_id)
    finally:
        come_back()
    _assert_serves_again(server, space_id, thread_id)
    assert server.process.pid == pid
    return space_id, thread_id


def test_postgres_outage_answers_503_then_recovers(
    running_pg_cluster: PgCluster,
    tmp_path: Path,
) -> None:
    database_url = running_pg_cluster.create_database()
    server = start_server(database_url, tmp_path, env=ENV)
    try:
        _outage(
            server,
            leave=lambda: running_pg_cluster.stop("immediate"),
            come_back=running_pg_cluster.start,
        )
    finally:
        server.stop()


def test_postgres_outage_of_a_running_workload_recovers_each_time(
    running_pg_cluster: PgCluster,
    tmp_path: Path,
) -> None:
    """Several outages in a row, with pooled connections in every state."""
    database_url = running_pg_cluster.create_database()
    server = start_server(database_url, tmp_path, env=ENV)
    try:
        for _ in range(3):
            _outage(
                server,
                leave=lambda: running_pg_cluster.stop("immediate"),
                come_back=running_pg_cluster.start,
            )
    finally:
        server.stop()


def test_sqlite_file_gone_answers_503_then_recovers(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    database = directory / "threads.db"
    aside = tmp_path / "aside"
    aside.mkdir()
    database_url = f"sqlite+aiosqlite:///{database}"
    server = start_server(database_url, tmp_path, env=ENV)
    files = [database.name, f"{database.name}-wal", f"{database.name}-shm"]

    def leave() -> None:
        # As when a volume goes away: the file and its WAL leave their path, though the
        # server's pooled connections still hold them open.
        for name in files:
            if (directory / name).exists():
                shutil.move(directory / name, aside / name)

    def come_back() -> None:
        # Nothing may have been created in the file's place meanwhile (an empty database).
        assert not database.exists(), "the server created a new database file during the outage"
        for name in files:
            if (aside / name).exists():
                shutil.move(aside / name, directory / name)

    try:
        space_id, _thread_id = _outage(server, leave, come_back)
    finally:
        server.stop()
    integrity_check(database_url)
    # What was written before the outage and after it is all there.
    assert query(database_url, "SELECT count(*) FROM spaces WHERE id = '" + space_id + "'") == [
        (1,)
    ]
    assert query(database_url, "SELECT content FROM messages ORDER BY seq")[:1] == [("before",)]
