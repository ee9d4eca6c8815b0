"""What the event log costs on the write path, and what each way of ordering positions
costs (ADR 0009): POST message throughput with the event log off, with the per-space
counter row (what src/ does), and (PostgreSQL) with a sequence plus the transaction's xid8
(readers would then stop below the oldest transaction in flight), for writers on one thread
and writers spread over 100 threads of one space; on PostgreSQL alone, also writers
spread over 100 spaces.

    .venv/bin/python bench/event_positions.py
    BENCH_DATABASES=postgres BENCH_SECONDS=10 BENCH_ROUNDS=3 .venv/bin/python \
        bench/event_positions.py
    BENCH_DATABASES=postgres BENCH_CONNECTIONS="10 32" BENCH_DATABASE_ONLY=0 \
        BENCH_VARIANTS="off counter counter-no-notify notify-only" .venv/bin/python \
        bench/event_positions.py

BENCH_CONNECTIONS: wrk's connections, one run each (default 10). BENCH_VARIANTS: which of
`off`, `counter`, `xid` (the defaults) and the diagnostic `counter-no-notify` (the counter
row and the event, no NOTIFY: cross-process wake-ups broken), `notify-only` (the NOTIFY,
no counter row and no event: nothing to read), `round-trip` (a `SELECT 1` where the
append is) and `counter-no-webhooks` (appends do not wake the webhook dispatcher) to
serve, and `bare-off` / `bare-events`: the ceiling (bench/ceiling.py, the same durable work
on the bare drivers) without and with the events of its creates (`CEILING_EVENTS`), what
the log costs an app with nothing else to cut; they are compared with `bare-off`.
BENCH_DATABASE_ONLY=0 skips the runs on PostgreSQL alone; BENCH_DATABASE_VARIANTS (names
in DB_EVENTS, separated by ";") picks some of them.
Results: bench/out/event_positions.json (or BENCH_OUTPUT).

Since ADR 0012 a message create appends its event in its write unit
(`event.repository.append_plain`): `off` removes that append too (the message's INSERT,
which the append carries on PostgreSQL, still runs on its own), while `xid` and the
diagnostic variants replace only the ORM path's `append` (thread changes, edits), so they
no longer change what POST message does.

Each variant is `threads-api serve` with `event.repository.append` replaced in its process
(`event_positions.py serve VARIANT …`) on a database of its own; wrk drives it with
bench/event_writes.lua. All run at once, taking turns: each round runs every variant on
each scenario back to back, in rotating order. Reported: the median of each, with the
server's CPU time per request next to the requests per second, and the median over rounds
of each round's change against `off`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = [int(n) for n in os.environ.get("BENCH_CONNECTIONS", "10").split()]
VARIANTS = os.environ.get("BENCH_VARIANTS", "off counter xid").split()
DATABASE_ONLY = os.environ.get("BENCH_DATABASE_ONLY", "1") != "0"
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

# To tell the costs of src/'s append apart (PostgreSQL): its counter row and event without
# the NOTIFY, the NOTIFY alone, and a round trip alone.
DIAGNOSTIC_APPEND = {
    "counter-no-notify": (
        "WITH bumped AS (INSERT INTO event_counters (space_id, last_position, purged_through) "
        "VALUES (:space_id, 1, 0) ON CONFLICT (space_id) DO UPDATE SET last_position = "
        "event_counters.last_position + 1 RETURNING last_position) INSERT INTO events "
        "(id, space_id, position, type, thread_id, message_id, created_at, data) "
        "SELECT :id, :space_id, last_position, :type, :thread_id, :message_id, :created_at, "
        ":data FROM bumped RETURNING position"
    ),
    "notify-only": "SELECT 1 FROM pg_notify('threads_api_events', :space_id || ':' || 1)",
    "round-trip": "SELECT 1",
}

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
# ... and with the NOTIFY sent after the commit, in a transaction of its own.
DB_EVENTS["counter, NOTIFY after commit"] = DB_EVENTS["counter, no NOTIFY"]
NOTIFY_AFTER_COMMIT = "SELECT pg_notify('threads_api_events', $1)"
# BENCH_DATABASE_VARIANTS: which of these, separated by ";" (default: all).
DATABASE_ONLY_VARIANTS = [
    name.strip()
    for name in os.environ.get("BENCH_DATABASE_VARIANTS", ";".join(DB_EVENTS)).split(";")
]


async def database_only(url: str, variant: str, threads: list[str], connections: int) -> float:
    """Transactions per second of `connections` connections for SECONDS."""
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
                        position = await connection.fetchval(
                            event, space, uuid.uuid4().hex[:26], thread
                        )
                if variant.endswith("NOTIFY after commit"):
                    await connection.execute(NOTIFY_AFTER_COMMIT, f"{space}:{position}")
                done += 1
        finally:
            await connection.close()

    started = time.monotonic()
    await asyncio.gather(*(worker(n) for n in range(connections)))
    return done / (time.monotonic() - started)


def serve(variant: str, argv: list[str]) -> None:
    """Run `threads-api serve` with the event append of `variant`."""
    from sqlalchemy import text

    from threads_api.cli import main
    from threads_api.event import repository
    from threads_api.event.service import EventService

    # repository.append runs as the transaction commits, synchronously (event/service.py).
    statements = {"xid": XID_APPEND, **DIAGNOSTIC_APPEND}
    if variant == "off":
        # No event at all: neither its row nor the JSON of its data, on the ORM path and
        # in the message creates' write units (writes.py).
        async def append(*args: Any, **kwargs: Any) -> None:
            return None

        def append_plain(*args: Any, with_write: Any = None, **kwargs: Any) -> Any:
            # The row the event would have been written with (the message's INSERT) still
            # is, in a statement of its own.
            if with_write is not None:
                yield with_write
            return 0

        EventService.append = append  # type: ignore[method-assign]
        repository.append_plain = append_plain
    elif variant in statements:
        statement = text(statements[variant])

        def append_instead(session: Any, values: dict[str, Any]) -> int:
            return int(session.execute(statement, values).scalar_one())

        repository.append = append_instead
    elif variant == "counter-no-webhooks":
        # The log as src/ writes it, but appends do not wake the webhook dispatcher: its
        # rounds run on its 1 s timer only.
        from threads_api.webhook.dispatcher import Dispatcher

        Dispatcher.appended = lambda self: None  # type: ignore[method-assign]
    elif variant != "counter":
        raise SystemExit(f"unknown variant {variant!r}")
    sys.argv = ["threads-api", "serve", *argv]
    main()


def wrk(base: str, paths: list[str], connections: int) -> dict[str, Any]:
    from common import ADMIN_KEY, CLIENT_CPU, ROOT, taskset

    command = [
        *taskset(CLIENT_CPU),
        "wrk",
        "-t1",
        f"-c{connections}",
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


@contextlib.contextmanager
def bare(db: Any, variant: str) -> Iterator[tuple[Any, dict[str, list[str]]]]:
    """The ceiling on `db`, its space and threads made through our API first (the ceiling
    serves only the benchmarked requests)."""
    from common import start_ceiling, start_ours

    ours = start_ours(db, f"positions-{variant}-setup")
    try:
        scenarios = arrange(ours.base)
    finally:
        ours.stop()
    events = "on" if variant == "bare-events" else "off"
    server = start_ceiling(db, f"positions-{variant}", {"CEILING_EVENTS": events})
    try:
        yield server, scenarios
    finally:
        server.stop()


def threads_of_spaces(base: str) -> list[str]:
    """A thread in each of SPREAD new spaces: writers that no counter row orders."""
    import httpx
    from common import ADMIN_KEY

    threads = []
    with httpx.Client(base_url=base, headers={"X-API-Key": ADMIN_KEY}, timeout=30) as http:
        for n in range(SPREAD):
            space = http.post("/v1/spaces", json={"name": f"positions {n}"}).json()["id"]
            reply = http.post(f"/v1/spaces/{space}/threads/messages", json={"content": "t"})
            threads.append(reply.json()["thread"]["id"])
    return threads


async def add_xid_schema(url: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        for statement in XID_SCHEMA:
            await connection.execute(statement)
    finally:
        await connection.close()


def measure(kind: str) -> dict[str, dict[str, dict[str, float | None]]]:
    """Every variant's server runs at once, idle but for its turn: each round runs the
    variants back to back on each scenario, in rotating order, so that the ratios to `off`
    are taken between runs seconds apart (the load of a shared machine drifts slower)."""
    from common import fresh_database, log, migrate, start_ours

    postgres_only = {"xid", "counter-no-notify", "notify-only"}
    variants = [v for v in VARIANTS if kind == "postgres" or v not in postgres_only]
    if "off" not in variants:
        variants.insert(0, "off")  # what the others are compared with
    if any(v.startswith("bare-") for v in variants) and "bare-off" not in variants:
        variants.append("bare-off")
    samples: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    with contextlib.ExitStack() as servers:
        env = {"THREADS_API_LOG_LEVEL": "WARNING"}
        started = {}
        for variant in variants:
            # A database each: an idle server's background writers (the webhook dispatcher
            # catching up on another's events; on SQLite, the one write lock) stay out of
            # the others' turns.
            db = servers.enter_context(fresh_database(kind, f"positions-{variant}"))
            migrate(db)
            if kind == "postgres":
                asyncio.run(add_xid_schema(db.url))
                if variant == "off":
                    database_only_url = db.url
            if variant.startswith("bare-"):
                started[variant] = servers.enter_context(bare(db, variant))
                continue
            command = [sys.executable, str(Path(__file__).resolve()), "serve", variant]
            server = start_ours(db, f"positions-{variant}", extra_env=env, command=command)
            servers.callback(server.stop)
            started[variant] = (server, arrange(server.base))
        if kind == "postgres" and DATABASE_ONLY:
            spread_over_spaces = threads_of_spaces(started["off"][0].base)
        for round_no in range(ROUNDS):
            order = variants[round_no % len(variants) :] + variants[: round_no % len(variants)]
            for writers, connections in itertools.product(started["off"][1], CONNECTIONS):
                name = f"{writers}, {connections} connections"
                for variant in order:
                    server, scenarios = started[variant]
                    cpu = server.cpu_seconds()
                    result = wrk(server.base, scenarios[writers], connections)
                    cpu = server.cpu_seconds() - cpu
                    if result["errors"]:
                        raise RuntimeError(f"{variant} {name}: {result['errors']} errors")
                    rps = result["requests"] / (result["duration_us"] / 1e6)
                    cpu_ms = 1000 * cpu / max(1, result["requests"])
                    samples.setdefault(variant, {}).setdefault(name, []).append(
                        (rps, cpu_ms, result["p99_us"] / 1000)
                    )
                    log(f"{kind} {variant} {name}: {rps:.0f} req/s, {cpu_ms:.2f} ms CPU/req")
            if kind == "postgres" and DATABASE_ONLY:
                paths = started["off"][1][f"{SPREAD} threads"]
                threads = [path.split("/")[-2] for path in paths]
                writers_of = {
                    "one thread": threads[:1],
                    f"{SPREAD} threads": threads,
                    f"{SPREAD} spaces": spread_over_spaces,
                }
                for variant in DATABASE_ONLY_VARIANTS:
                    for (writers, ids), connections in itertools.product(
                        writers_of.items(), CONNECTIONS
                    ):
                        name = f"{writers}, {connections} connections"
                        tps = asyncio.run(
                            database_only(database_only_url, variant, ids, connections)
                        )
                        samples.setdefault(f"{variant} (database only)", {}).setdefault(
                            name, []
                        ).append((tps, 0.0, 0.0))
                        log(f"{kind} {variant}, database only, {name}: {tps:.0f} tx/s")
    report: dict[str, dict[str, dict[str, float | None]]] = {}
    for variant, by_name in samples.items():
        if "database" in variant:
            base = samples["off (database only)"]
        else:
            base = samples["bare-off" if variant.startswith("bare-") else "off"]
        for name, runs in by_name.items():
            figures = report.setdefault(variant, {})[name] = {
                "req_per_s": round(statistics.median(s[0] for s in runs)),
                "cpu_ms_per_req": round(statistics.median(s[1] for s in runs), 3),
                "p99_ms": round(statistics.median(s[2] for s in runs), 1),
                # The median of each round's ratio to `off` in that round.
                "req_per_s_vs_off_percent": _median_change(runs, base[name], 0),
            }
            if figures["cpu_ms_per_req"]:
                figures["cpu_vs_off_percent"] = _median_change(runs, base[name], 1)
    return report


def _median_change(
    runs: list[tuple[float, float, float]], base: list[tuple[float, float, float]], field: int
) -> float | None:
    """None when no round measured both (a run that served nothing: the machine stalled)."""
    changes = [
        run[field] / off[field] - 1
        for run, off in zip(runs, base, strict=True)
        if run[0] and off[0] and off[field]
    ]
    return round(100 * statistics.median(changes), 1) if changes else None


def main() -> None:
    from common import OUT

    report: dict[str, Any] = {
        "seconds": SECONDS,
        "rounds": ROUNDS,
        "connections": CONNECTIONS,
        "load_before": Path("/proc/loadavg").read_text().strip(),
    }
    for kind in KINDS:
        report[kind] = measure(kind)
    report["load_after"] = Path("/proc/loadavg").read_text().strip()
    OUT.mkdir(exist_ok=True)
    output = OUT / os.environ.get("BENCH_OUTPUT", "event_positions.json")
    output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "serve":
        serve(sys.argv[2], sys.argv[3:])
    else:
        main()
