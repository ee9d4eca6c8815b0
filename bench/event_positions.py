"""What the event log costs on the write path, and what each way of ordering positions
costs (ADR 0009): POST message throughput with the event log off, with the per-space
counter row (what src/ does), and (PostgreSQL) with a sequence plus the transaction's xid8
(readers would then stop below the oldest transaction in flight), for writers on one thread
and writers spread over 100 threads of one space.

    .venv/bin/python bench/event_positions.py
    BENCH_DATABASES=postgres BENCH_SECONDS=10 BENCH_ROUNDS=3 .venv/bin/python \
        bench/event_positions.py

Each variant is `threads-api serve` with `event.repository.append` replaced in its process
(`event_positions.py serve VARIANT …`); wrk drives it with bench/event_writes.lua. Rounds
rotate the order of the variants; the median of each is reported, with the server's CPU
time per request (robust on a shared machine) next to the requests per second.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "10"))
KINDS = os.environ.get("BENCH_DATABASES", "sqlite postgres").split()
SPREAD = 100
LUA = Path(__file__).resolve().parent / "event_writes.lua"

# The xid8 variant: positions from one sequence, each event stamped with its transaction.
XID_SCHEMA = [
    # Far above the counter variant's positions, which share the table in these runs.
    "CREATE SEQUENCE IF NOT EXISTS bench_event_position START 1000000000000",
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS xid xid8",
]
XID_APPEND = (
    "WITH added AS (INSERT INTO events "
    "(id, space_id, position, type, thread_id, message_id, created_at, data, xid) "
    "VALUES (:id, :space_id, nextval('bench_event_position'), :type, :thread_id, "
    ":message_id, :created_at, :data, pg_current_xact_id()) RETURNING position) "
    "SELECT position, pg_notify('threads_api_events', :space_id || ':' || position) FROM added"
)


# The same three variants on PostgreSQL alone, without the HTTP server: N connections each
# running a message's transaction (thread counter, message row, event) as fast as they can.
DB_MESSAGE = (
    "WITH counted AS (UPDATE threads SET message_count = message_count + 1, "
    "updated_at = now() WHERE id = $1 RETURNING space_id, message_count) "
    "INSERT INTO messages (id, space_id, thread_id, seq, content, metadata, created_at, "
    "version) SELECT $2, space_id, $1, message_count, 'x', '{}', now(), 1 FROM counted "
    "RETURNING space_id"
)
DB_EVENTS = {
    "off": None,
    "counter": (
        "WITH bumped AS (INSERT INTO event_counters (space_id, last_position, purged_through) "
        "VALUES ($1, 1, 0) ON CONFLICT (space_id) DO UPDATE SET last_position = "
        "event_counters.last_position + 1 RETURNING last_position), added AS (INSERT INTO "
        "events (id, space_id, position, type, thread_id, created_at, data) SELECT $2, $1, "
        "last_position, 'message.created', $3, now(), '{}' FROM bumped RETURNING position) "
        "SELECT pg_notify('threads_api_events', $1 || ':' || position) FROM added"
    ),
    "xid": (
        "WITH added AS (INSERT INTO events (id, space_id, position, type, thread_id, "
        "created_at, data, xid) VALUES ($2, $1, nextval('bench_event_position'), "
        "'message.created', $3, now(), '{}', pg_current_xact_id()) RETURNING position) "
        "SELECT pg_notify('threads_api_events', $1 || ':' || position) FROM added"
    ),
}
# The same without NOTIFY: what ordering positions costs, apart from notifying at commit.
_NOTIFY = "SELECT pg_notify('threads_api_events', $1 || ':' || position) FROM added"
for _name in ("counter", "xid"):
    _sql = DB_EVENTS[_name]
    assert _sql is not None
    DB_EVENTS[f"{_name}, no NOTIFY"] = _sql.replace(_NOTIFY, "SELECT position FROM added")


async def database_only(url: str, variant: str, threads: list[str]) -> float:
    """Transactions per second of CONNECTIONS connections for SECONDS."""
    import asyncpg

    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    event = DB_EVENTS[variant]
    done = 0
    deadline = time.monotonic() + SECONDS

    async def worker(n: int) -> None:
        nonlocal done
        connection = await asyncpg.connect(dsn)
        try:
            while time.monotonic() < deadline:
                thread = threads[(n + done) % len(threads)]
                async with connection.transaction():
                    space = await connection.fetchval(DB_MESSAGE, thread, uuid.uuid4().hex[:26])
                    if event is not None:
                        await connection.fetchval(event, space, uuid.uuid4().hex[:26], thread)
                done += 1
        finally:
            await connection.close()

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(CONNECTIONS)))
    return done / (time.monotonic() - started)


def serve(variant: str, argv: list[str]) -> None:
    """Run `threads-api serve` with the event append of `variant`."""
    from sqlalchemy import text

    from threads_api.cli import main
    from threads_api.event import repository

    if variant == "off":

        async def append(session: Any, values: dict[str, Any]) -> int:
            return 0

        repository.append = append  # type: ignore[assignment]
    elif variant == "xid":
        statement = text(XID_APPEND)

        async def append_xid(session: Any, values: dict[str, Any]) -> int:
            return int((await session.execute(statement, values)).scalar_one())

        repository.append = append_xid  # type: ignore[assignment]
    elif variant != "counter":
        raise SystemExit(f"unknown variant {variant!r}")
    sys.argv = ["threads-api", "serve", *argv]
    main()


def wrk(base: str, paths: list[str]) -> dict[str, Any]:
    from common import ADMIN_KEY, CLIENT_CPU, ROOT, taskset

    command = [
        *taskset(CLIENT_CPU),
        "wrk",
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{SECONDS}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base,
        "--",
        ADMIN_KEY,
        ",".join(paths),
    ]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    found = re.search(r"^BENCH_RESULT (\{.*\})$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed: {done.stdout}{done.stderr}")
    result: dict[str, Any] = json.loads(found.group(1))
    return result


def arrange(base: str) -> dict[str, list[str]]:
    import httpx
    from common import ADMIN_KEY

    with httpx.Client(base_url=base, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as http:
        space = http.post("/v1/spaces", json={"name": "positions"}).json()["id"]
        threads = [
            http.post(f"/v1/spaces/{space}/threads/messages", json={"content": f"t{n}"}).json()[
                "thread"
            ]["id"]
            for n in range(SPREAD)
        ]
    paths = [f"/v1/spaces/{space}/threads/{thread}/messages" for thread in threads]
    return {"one thread": paths[:1], f"{SPREAD} threads": paths}


async def add_xid_schema(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for statement in XID_SCHEMA:
            await connection.execute(statement)
    finally:
        await connection.close()


def measure(kind: str) -> dict[str, dict[str, dict[str, float]]]:
    from common import fresh_database, log, migrate, start_ours

    variants = ["off", "counter"] + (["xid"] if kind == "postgres" else [])
    samples: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    with fresh_database(kind, "positions") as db:
        migrate(db)
        if kind == "postgres":
            asyncio.run(add_xid_schema(db.url))
        env = {"THREADS_API_LOG_LEVEL": "WARNING"}
        for round_no in range(ROUNDS):
            order = variants[round_no % len(variants) :] + variants[: round_no % len(variants)]
            for variant in order:
                command = [sys.executable, str(Path(__file__).resolve()), "serve", variant]
                server = start_ours(db, f"positions-{variant}", extra_env=env, command=command)
                try:
                    scenarios = arrange(server.base)
                    for name, paths in scenarios.items():
                        cpu = server.cpu_seconds()
                        result = wrk(server.base, paths)
                        cpu = server.cpu_seconds() - cpu
                        rps = result["requests"] / (result["duration_us"] / 1e6)
                        cpu_ms = 1000 * cpu / max(1, result["requests"])
                        samples.setdefault(variant, {}).setdefault(name, []).append(
                            (rps, cpu_ms, result["p99_us"] / 1000)
                        )
                        log(f"{kind} {variant} {name}: {rps:.0f} req/s, {cpu_ms:.2f} ms CPU/req")
                finally:
                    server.stop()
            if kind == "postgres":
                threads = [path.split("/")[-2] for path in scenarios[f"{SPREAD} threads"]]
                for variant in DB_EVENTS:
                    for name, ids in (("one thread", threads[:1]), (f"{SPREAD} threads", threads)):
                        tps = asyncio.run(database_only(db.url, variant, ids))
                        samples.setdefault(f"{variant} (database only)", {}).setdefault(
                            name, []
                        ).append((tps, 0.0, 0.0))
                        log(f"{kind} {variant}, database only, {name}: {tps:.0f} tx/s")
    return {
        variant: {
            name: {
                "req_per_s": round(statistics.median(s[0] for s in runs)),
                "cpu_ms_per_req": round(statistics.median(s[1] for s in runs), 3),
                "p99_ms": round(statistics.median(s[2] for s in runs), 1),
            }
            for name, runs in by_name.items()
        }
        for variant, by_name in samples.items()
    }


def main() -> None:
    from common import OUT

    report: dict[str, Any] = {"seconds": SECONDS, "rounds": ROUNDS, "connections": CONNECTIONS}
    for kind in KINDS:
        results = measure(kind)
        for variant, by_name in results.items():
            base = results["off (database only)" if "database" in variant else "off"]
            for name, figures in by_name.items():
                off = base[name]
                if off["req_per_s"] and off["cpu_ms_per_req"]:
                    figures["req_per_s_vs_off_percent"] = round(
                        100 * (figures["req_per_s"] / off["req_per_s"] - 1), 1
                    )
                    figures["cpu_vs_off_percent"] = round(
                        100 * (figures["cpu_ms_per_req"] / off["cpu_ms_per_req"] - 1), 1
                    )
        report[kind] = results
    OUT.mkdir(exist_ok=True)
    (OUT / "event_positions.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3:])
    else:
        main()
