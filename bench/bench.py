"""`make bench`: the Threads API against its ceiling, scenario by scenario.

For each database (SQLite, then PostgreSQL): a fresh database, our server (`threads-api serve`,
one uvicorn worker) and bench/ceiling.py (a raw ASGI app on the same uvicorn, same database;
see its docstring for what it does and does not do) both pinned to CPU 0,
wrk pinned to CPU 1. Each scenario is warmed up and measured on ours, then on the ceiling
(the order alternates between rounds), and one table is printed.

Environment:
  BENCH_SECONDS      seconds per measured run (default 10)
  BENCH_WARMUP       seconds of warm-up before each measured run (default 3)
  BENCH_CONNECTIONS  wrk connections (default 10)
  BENCH_ROUNDS       measured runs per scenario and server; the median is reported (default 1)
  BENCH_DATABASES    "sqlite postgres" (default), or one of them
  BENCH_SCENARIOS    names to run (default: all)
  BENCH_CEILING_MODE how the SQLite ceiling drives the database (default group: statements
                     inline, writes group-committed, the COMMIT on the writer's thread;
                     hybrid: the same with one COMMIT per request; inline, thread,
                     aiosqlite; see bench/ceiling_db.py); PostgreSQL: asyncpg either way
  BENCH_SMOKE=1      CI smoke: SQLite only, 1-second runs, no warm-up
  BENCH_POSTGRES_URL server to create the throw-away database on
                     (default postgresql://postgres@127.0.0.1:5432/postgres)
  THREADS_API_ADMIN_KEY  the admin key both apps authenticate with
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    OUT,
    Result,
    Server,
    call,
    expect,
    fresh_database,
    log,
    machine,
    start_ceiling,
    start_ours,
    wrk,
)

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
SECONDS = 1 if SMOKE else int(os.environ.get("BENCH_SECONDS", "10"))
WARMUP = 0 if SMOKE else int(os.environ.get("BENCH_WARMUP", "3"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "10"))
ROUNDS = 1 if SMOKE else int(os.environ.get("BENCH_ROUNDS", "1"))
DATABASES = ["sqlite"] if SMOKE else os.environ.get("BENCH_DATABASES", "sqlite postgres").split()
CEILING_MODE = os.environ.get("BENCH_CEILING_MODE", "group")

MESSAGE = {"content": "A benchmark message: short, like most chat messages are.", "author": "bench"}
THREAD = {"content": "Benchmark thread\nIts first message, a line or two long.", "author": "bench"}


@dataclass
class Fixture:
    space: str
    read_thread: str  # 100 messages: GET thread, GET a page of 50 messages
    post_thread: str  # POST message lands here
    replay_key: str


@dataclass
class Scenario:
    name: str
    method: str
    path: str
    mode: str = "none"  # none | unique | fixed
    body: Any = None
    key: str = ""
    status: int = 200


def prepare(base: str, *, threads_count: int = 120, messages_count: int = 100) -> Fixture:
    """Data through our API: a space with 120 threads, one of them with 100 messages (smoke:
    60 and 60: still a full page of 50 with a next cursor)."""
    space = expect(call(base, "POST", "/v1/spaces", {"name": "bench"}), 201, "space").body["id"]
    threads = f"/v1/spaces/{space}/threads"
    created = [
        expect(call(base, "POST", f"{threads}/messages", THREAD), 201, "thread").body["thread"][
            "id"
        ]
        for _ in range(threads_count)
    ]
    read_thread, post_thread = created[0], created[1]
    for _ in range(messages_count - 1):
        expect(call(base, "POST", f"{threads}/{read_thread}/messages", MESSAGE), 201, "message")
    replay_key = f"bench-replay-{uuid.uuid4().hex}"
    expect(
        call(
            base,
            "POST",
            f"{threads}/{post_thread}/messages",
            MESSAGE,
            headers={"Idempotency-Key": replay_key},
        ),
        201,
        "replay seed",
    )
    return Fixture(space, read_thread, post_thread, replay_key)


def scenarios(f: Fixture) -> list[Scenario]:
    threads = f"/v1/spaces/{f.space}/threads"
    run = uuid.uuid4().hex[:8]
    every = [
        Scenario(
            "POST message",
            "POST",
            f"{threads}/{f.post_thread}/messages",
            "unique",
            MESSAGE,
            f"bench-{run}-m-",
            201,
        ),
        Scenario(
            "POST message (replay)",
            "POST",
            f"{threads}/{f.post_thread}/messages",
            "fixed",
            MESSAGE,
            f.replay_key,
            201,
        ),
        Scenario(
            "POST thread+message",
            "POST",
            f"{threads}/messages",
            "unique",
            THREAD,
            f"bench-{run}-t-",
            201,
        ),
        Scenario("GET thread", "GET", f"{threads}/{f.read_thread}"),
        Scenario("GET 50 messages", "GET", f"{threads}/{f.read_thread}/messages?limit=50"),
        Scenario("GET 50 threads", "GET", f"{threads}?limit=50&sort=last_message_at"),
    ]
    wanted = os.environ.get("BENCH_SCENARIOS")
    if wanted:
        every = [
            s for s in every if any(w.strip().lower() in s.name.lower() for w in wanted.split(","))
        ]
    return every


def preflight(server: Server, s: Scenario) -> None:
    """One request by hand, so that a broken scenario fails loudly instead of measuring 4xx."""
    headers = {}
    if s.mode == "unique":
        headers["Idempotency-Key"] = f"{s.key}preflight-{server.name}"
    elif s.mode == "fixed":
        headers["Idempotency-Key"] = s.key
    reply = call(server.base, s.method, s.path, s.body, headers=headers)
    expect(reply, s.status, f"{server.name} {s.name}")
    if s.mode == "fixed" and reply.headers.get("idempotent-replayed") != "true":
        raise RuntimeError(f"{server.name} {s.name}: not a replay")
    if s.name.startswith("GET 50") and len(reply.body["data"]) != 50:
        raise RuntimeError(f"{server.name} {s.name}: {len(reply.body['data'])} items")


def measure(server: Server, s: Scenario, tag: str) -> Result:
    key = f"{s.key}{server.name}-{tag}-"
    if WARMUP:
        wrk(
            server.base,
            s.method,
            s.path,
            seconds=WARMUP,
            connections=CONNECTIONS,
            mode=s.mode,
            body=s.body,
            key=key + "w" if s.mode == "unique" else s.key,
        )
    cpu = server.cpu_seconds()
    result = wrk(
        server.base,
        s.method,
        s.path,
        seconds=SECONDS,
        connections=CONNECTIONS,
        mode=s.mode,
        body=s.body,
        key=key if s.mode == "unique" else s.key,
    )
    # The server's CPU time per request: robust where req/s is not, on a shared machine.
    result.raw["cpu_us"] = (server.cpu_seconds() - cpu) * 1e6 / max(1, result.requests)
    if result.errors:
        log(f"WARNING {server.name} {s.name}: {result.raw}")
    return result


def median_result(results: list[Result]) -> Result:
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def run_database(kind: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with fresh_database(kind, "bench") as db:
        log(f"{kind}: starting servers")
        ours = start_ours(db, f"bench-{kind}")
        ceiling = None
        try:
            fixture = prepare(
                ours.base, **({"threads_count": 60, "messages_count": 60} if SMOKE else {})
            )
            ceiling = start_ceiling(db, f"bench-{kind}", {"CEILING_MODE": CEILING_MODE})
            every = scenarios(fixture)
            # Reads first, on the data prepare() made: the write scenarios add thousands of
            # threads and messages (and, on PostgreSQL, autovacuum work) that would otherwise
            # land in the middle of the read measurements.
            for s in sorted(every, key=lambda s: s.method != "GET"):
                preflight(ours, s)
                preflight(ceiling, s)
                runs: dict[str, list[Result]] = {"ours": [], "ceiling": []}
                for round_no in range(ROUNDS):
                    pair = [ours, ceiling] if round_no % 2 == 0 else [ceiling, ours]
                    for server in pair:
                        runs[server.name].append(measure(server, s, f"r{round_no}"))
                o, c = median_result(runs["ours"]), median_result(runs["ceiling"])
                ours_cpu = statistics.median(r.raw["cpu_us"] for r in runs["ours"])
                ceiling_cpu = statistics.median(r.raw["cpu_us"] for r in runs["ceiling"])
                row = {
                    "db": kind,
                    "scenario": s.name,
                    "ours_rps": o.rps,
                    "ours_p50": o.p50_ms,
                    "ours_p99": o.p99_ms,
                    "ceiling_rps": c.rps,
                    "ceiling_p50": c.p50_ms,
                    "ceiling_p99": c.p99_ms,
                    "ratio": o.rps / c.rps if c.rps else 0.0,
                    "ours_cpu_us": ours_cpu,
                    "ceiling_cpu_us": ceiling_cpu,
                    "cpu_ratio": ceiling_cpu / ours_cpu if ours_cpu else 0.0,
                    "errors": o.errors + c.errors,
                    "ours_all_rps": [r.rps for r in runs["ours"]],
                    "ceiling_all_rps": [r.rps for r in runs["ceiling"]],
                }
                rows.append(row)
                log(
                    f"{kind} {s.name}: ours {o.rps:.0f}/s, ceiling {c.rps:.0f}/s, "
                    f"ratio {row['ratio']:.2f}; CPU per request {ours_cpu:.0f} / "
                    f"{ceiling_cpu:.0f} µs, ratio {row['cpu_ratio']:.2f}"
                )
        finally:
            ours.stop()
            if ceiling is not None:
                ceiling.stop()
    order = [s.name for s in every]
    return sorted(rows, key=lambda r: order.index(r["scenario"]))


def table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| db | scenario | ours req/s | ours p50 ms | ours p99 ms | ceiling req/s "
        "| ceiling p50 ms | ceiling p99 ms | ours/ceiling | ours CPU µs/req "
        "| ceiling CPU µs/req | by CPU |"
    )
    lines = [header, "|" + "---|" * 12]
    for r in rows:
        lines.append(
            f"| {r['db']} | {r['scenario']} | {r['ours_rps']:.0f} | {r['ours_p50']:.2f} "
            f"| {r['ours_p99']:.2f} | {r['ceiling_rps']:.0f} | {r['ceiling_p50']:.2f} "
            f"| {r['ceiling_p99']:.2f} | {r['ratio']:.2f} | {r['ours_cpu_us']:.0f} "
            f"| {r['ceiling_cpu_us']:.0f} | {r['cpu_ratio']:.2f} |"
            + ("  (errors!)" if r["errors"] else "")
        )
    return "\n".join(lines)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    info = machine()
    settings = {
        "seconds": SECONDS,
        "warmup": WARMUP,
        "connections": CONNECTIONS,
        "rounds": ROUNDS,
        "databases": DATABASES,
        "smoke": SMOKE,
        "ceiling_mode": CEILING_MODE,
    }
    log(f"machine: {info}")
    log(f"settings: {settings}")
    rows: list[dict[str, Any]] = []
    for kind in DATABASES:
        rows.extend(run_database(kind))
    text = table(rows)
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"bench-{stamp}.json").write_text(
        json.dumps({"machine": info, "settings": settings, "rows": rows}, indent=2)
    )
    (OUT / f"bench-{stamp}.md").write_text(text + "\n")
    log(f"written bench/out/bench-{stamp}.json and .md")
    return 1 if any(r["errors"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
