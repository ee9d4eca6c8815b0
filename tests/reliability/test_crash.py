"""Crash durability: kill -9 a real server (and crash PostgreSQL) under 8 concurrent writers.

After each crash: every message whose 201 a client received is there exactly once; requests
whose outcome was unknown, retried with the same Idempotency-Key, create no duplicates; seqs
are dense; counters equal the rows; the SQLite file passes `PRAGMA integrity_check`.
Set CRASH_SEED to replay a run's kill moments.
"""

import asyncio
import os
import random
import time
from pathlib import Path

import httpx
import pytest

from tests.reliability.pg_cluster import PgCluster
from tests.reliability.workload import (
    Outcomes,
    Writers,
    check_database,
    integrity_check,
    replay_sample,
    resolve_unknown,
    seed,
)
from tests.servers import start_server

pytestmark = pytest.mark.slow

ROUNDS = 10
THREADS = 4


def _seed() -> int:
    return int(os.environ.get("CRASH_SEED", time.time_ns() % 1_000_000))


@pytest.fixture(params=["sqlite", "postgres"])
def crash_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database the server will migrate: a SQLite file, or one on the private
    PostgreSQL cluster (so that a test may crash the cluster)."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'crash.db'}"
    cluster: PgCluster = request.getfixturevalue("running_pg_cluster")
    return cluster.create_database()


def _kill_rounds(
    database_url: str, tmp_path: Path, rng: random.Random, rounds: int
) -> tuple[Outcomes, int]:
    outcomes = Outcomes()
    server = start_server(database_url, tmp_path)
    try:
        _space, paths = seed(server.url, THREADS)
        for number in range(rounds):
            with Writers(server.url, paths, outcomes, count=8):
                time.sleep(rng.uniform(0.2, 1.5))
                server.process.kill()  # SIGKILL, mid-request
                server.process.wait()
            if database_url.startswith("sqlite"):
                integrity_check(database_url)  # the file exactly as the crash left it
            server = start_server(database_url, tmp_path)
            resolve_unknown(server.url, outcomes, database_url)
            assert not outcomes.unexpected, (number, outcomes.unexpected[:5])
            check_database(database_url, outcomes, seeded=THREADS)
        replay_sample(server.url, outcomes)
        return outcomes, check_database(database_url, outcomes, seeded=THREADS)
    finally:
        server.stop()


def test_acknowledged_writes_survive_kill_9(crash_database: str, tmp_path: Path) -> None:
    seed_value = _seed()
    started = time.monotonic()
    outcomes, rows = _kill_rounds(crash_database, tmp_path, random.Random(seed_value), ROUNDS)
    # The rounds must have done real work, or the test proves nothing.
    assert len(outcomes.acked) > ROUNDS * 20, (seed_value, outcomes.statuses)
    assert sum(n for s, n in outcomes.statuses.items() if not isinstance(s, int)) >= 1
    print(
        f"\n{crash_database.split(':')[0]}: {ROUNDS} kill -9 rounds, seed {seed_value}, "
        f"{rows} messages, {dict(outcomes.statuses)}, {time.monotonic() - started:.1f}s"
    )


def test_acknowledged_writes_survive_postgres_crash(
    running_pg_cluster: PgCluster,
    tmp_path: Path,
) -> None:
    """PostgreSQL itself stopped with `-m immediate` under load, and started again: the same
    server process carries on, and nothing acknowledged is lost."""
    rng = random.Random(seed_value := _seed())
    database_url = running_pg_cluster.create_database()
    outcomes = Outcomes()
    server = start_server(database_url, tmp_path)
    try:
        _space, paths = seed(server.url, THREADS)
        for number in range(3):
            with Writers(server.url, paths, outcomes, count=8):
                time.sleep(rng.uniform(0.3, 1.0))
                running_pg_cluster.stop("immediate")
                time.sleep(0.5)
                running_pg_cluster.start()
                time.sleep(1.0)  # the same process must serve writes again
            acked_before = len(outcomes.acked)
            resolve_unknown(server.url, outcomes, database_url)
            assert not outcomes.unexpected, (number, seed_value, outcomes.unexpected[:5])
            check_database(database_url, outcomes, seeded=THREADS)
            assert server.process.poll() is None, "the server died with the database"
            assert acked_before > 0
        assert outcomes.statuses[503] > 0, outcomes.statuses  # the crash was seen
        assert 500 not in outcomes.statuses, outcomes.statuses
        replay_sample(server.url, outcomes)
    finally:
        server.stop()


# --- refusing settings that would lose acknowledged writes ------------------------------


def test_server_refuses_postgres_with_synchronous_commit_off(
    running_pg_cluster: PgCluster,
    tmp_path: Path,
) -> None:
    database_url = running_pg_cluster.create_database()
    name = database_url.rsplit("/", 1)[1]
    asyncio.run(running_pg_cluster.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    with pytest.raises(RuntimeError, match="server exited") as refused:
        start_server(database_url, tmp_path)
    assert "synchronous_commit=off" in str(refused.value)
    assert "refusing to serve" in str(refused.value)


def test_unsafe_durability_can_be_allowed_with_a_loud_warning(
    running_pg_cluster: PgCluster,
    tmp_path: Path,
) -> None:
    database_url = running_pg_cluster.create_database()
    name = database_url.rsplit("/", 1)[1]
    asyncio.run(running_pg_cluster.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    server = start_server(
        database_url, tmp_path, env={"THREADS_API_ALLOW_UNSAFE_DURABILITY": "true"}
    )
    try:
        assert httpx.get(f"{server.url}/readyz").status_code == 200
        log = server.log.read_text()
        assert "UNSAFE" in log and "synchronous_commit=off" in log
    finally:
        server.stop()


def test_durable_databases_pass_the_start_up_check(crash_database: str, tmp_path: Path) -> None:
    server = start_server(crash_database, tmp_path)
    try:
        assert "UNSAFE" not in server.log.read_text()
    finally:
        server.stop()
