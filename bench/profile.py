"""Where a request's time goes: SQL round trips counted in-process, CPU sampled with py-spy.

    .venv/bin/python bench/profile.py count           # statements / transactions per request
    .venv/bin/python bench/profile.py spy [SECONDS]   # py-spy under wrk load, summarised
    .venv/bin/python bench/profile.py                 # both

`count` runs the app in-process (httpx over ASGI) on a fresh SQLite database and counts, per
request and scenario, the SQL statements, transactions (BEGIN) and pool checkouts, from
SQLAlchemy events. `spy` starts the real server (pinned to CPU 0), drives POST message and
GET thread with wrk (CPU 1), records py-spy raw stacks (bench/out/pyspy-*.txt, also a flame
graph .svg) and prints the share of CPU samples spent under each layer. `BENCH_SCENARIOS`
picks the scenarios, `BENCH_DATABASE=postgres` profiles on PostgreSQL. `count` sees the
engines' statements only, not those of the plain reads and writes (reads.py, writes.py).

py-spy is a bench-only tool: `.venv/bin/pip install py-spy` (not a project dependency).
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ADMIN_KEY,
    CLIENT_CPU,
    OUT,
    VENV_BIN,
    fresh_database,
    log,
    migrate,
    start_ours,
    taskset,
    wrk,
)

MESSAGE = {"content": "A benchmark message: short, like most chat messages are.", "author": "bench"}
THREAD = {"content": "Benchmark thread\nIts first message, a line or two long.", "author": "bench"}


# --- count: round trips per request --------------------------------------------------------


async def _count(kind: str, db: Any) -> dict[str, Any]:
    import httpx
    from sqlalchemy import event

    from threads_api.api_key.service import api_key as api_key_service
    from threads_api.app import create_app
    from threads_api.config import Settings
    from threads_api.state import app_state

    report: dict[str, Any] = {}
    if True:  # the database is made by count(), outside the event loop
        settings = Settings(database_url=db.url, admin_key=ADMIN_KEY)
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            database = app_state(app).database
            await api_key_service.bootstrap(database, ADMIN_KEY)
            seen: list[tuple[str, str]] = []
            engines = {"read": database.read_engine, "write": database.write_engine}
            if database.read_engine is database.write_engine:
                engines = {"rw": database.read_engine}
            for role, engine in engines.items():

                def on_sql(conn, cursor, statement, params, context, executemany, role=role):
                    seen.append((role, "SQL " + " ".join(statement.split()[:3])))

                def on_begin(conn, role=role):
                    seen.append((role, "BEGIN"))

                def on_commit(conn, role=role):
                    seen.append((role, "COMMIT"))

                def on_checkout(dbapi_conn, record, proxy, role=role):
                    seen.append((role, "CHECKOUT"))

                event.listen(engine.sync_engine, "before_cursor_execute", on_sql)
                event.listen(engine.sync_engine, "begin", on_begin)
                event.listen(engine.sync_engine, "commit", on_commit)
                event.listen(engine.sync_engine.pool, "checkout", on_checkout)

                def on_savepoint(conn, name, role=role):
                    seen.append((role, "SAVEPOINT"))

                event.listen(engine.sync_engine, "savepoint", on_savepoint)

            # Every driver call SQLAlchemy awaits: a hop to aiosqlite's thread and back on
            # SQLite, a network round trip on PostgreSQL (pre-ping included).
            hops = [0]
            import sqlalchemy.connectors.asyncio as connectors
            import sqlalchemy.dialects.postgresql.asyncpg as pg_dialect
            import sqlalchemy.dialects.sqlite.aiosqlite as sqlite_dialect

            original_await = connectors.await_

            def counted(awaitable):
                hops[0] += 1
                return original_await(awaitable)

            for module in (connectors, pg_dialect, sqlite_dialect):
                module.await_ = counted

            # On SQLite, the hops to aiosqlite's thread themselves (some calls make several).
            thread_hops = [0]
            import aiosqlite.core

            original_execute = aiosqlite.core.Connection._execute

            async def counted_execute(self, fn, *args, **kwargs):
                thread_hops[0] += 1
                return await original_execute(self, fn, *args, **kwargs)

            aiosqlite.core.Connection._execute = counted_execute

            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                headers = {"X-API-Key": ADMIN_KEY}

                async def call(
                    method: str, path: str, body: Any = None, extra: dict[str, str] | None = None
                ) -> httpx.Response:
                    return await client.request(
                        method, path, json=body, headers={**headers, **(extra or {})}
                    )

                space = (await call("POST", "/v1/spaces", {"name": "p"})).json()["id"]
                base = f"/v1/spaces/{space}/threads"
                thread = (await call("POST", f"{base}/messages", THREAD)).json()["thread"]["id"]
                for _ in range(60):
                    await call("POST", f"{base}/{thread}/messages", MESSAGE)
                for _ in range(60):
                    await call("POST", f"{base}/messages", THREAD)
                replay = uuid.uuid4().hex
                await call(
                    "POST", f"{base}/{thread}/messages", MESSAGE, {"Idempotency-Key": replay}
                )
                scenarios = {
                    "POST message": ("POST", f"{base}/{thread}/messages", MESSAGE, "unique"),
                    "POST message (replay)": ("POST", f"{base}/{thread}/messages", MESSAGE, replay),
                    "POST thread+message": ("POST", f"{base}/messages", THREAD, "unique"),
                    "GET thread": ("GET", f"{base}/{thread}", None, None),
                    "GET 50 messages": ("GET", f"{base}/{thread}/messages?limit=50", None, None),
                    "GET 50 threads": ("GET", f"{base}?limit=50", None, None),
                }
                for name, (method, path, body, idem) in scenarios.items():
                    extra = {}
                    if idem == "unique":
                        extra["Idempotency-Key"] = uuid.uuid4().hex
                    elif idem:
                        extra["Idempotency-Key"] = idem
                    seen.clear()
                    hops[0] = thread_hops[0] = 0
                    response = await call(method, path, body, extra)
                    assert response.status_code < 300, (name, response.status_code)
                    events = list(seen)
                    report[name] = {
                        "statements": sum(1 for _, e in events if e.startswith("SQL")),
                        "transactions": sum(1 for _, e in events if e == "BEGIN"),
                        "checkouts": sum(1 for _, e in events if e == "CHECKOUT"),
                        "savepoints": sum(1 for _, e in events if e == "SAVEPOINT"),
                        "driver_calls": hops[0],
                        "thread_hops": thread_hops[0],
                        "sequence": [f"{role}:{e}" for role, e in events],
                    }
    return report


def count() -> None:
    for kind in ("sqlite", "postgres"):
        with fresh_database(kind, "profile-count") as db:
            migrate(db)
            report = asyncio.run(_count(kind, db))
        (OUT / f"profile-count-{kind}.json").write_text(json.dumps(report, indent=2))
        print(f"\n## Round trips per request ({kind}; last_used_at already fresh)\n")
        print(
            "| scenario | SQL statements | transactions | savepoints | pool checkouts "
            "| driver calls awaited | aiosqlite thread hops |"
        )
        print("|---|---|---|---|---|---|---|")
        for name, r in report.items():
            print(
                f"| {name} | {r['statements']} | {r['transactions']} | {r['savepoints']} "
                f"| {r['checkouts']} | {r['driver_calls']} | {r['thread_hops'] or '-'} |"
            )
        for name, r in report.items():
            print(f"\n{name}: " + ", ".join(r["sequence"]))


# --- spy: CPU samples under load -----------------------------------------------------------

# (label, substring of a frame "function (file:line)"): a sample counts toward each label
# whose marker appears anywhere on its stack (inclusive time).
LAYERS = [
    ("uvicorn+httptools (outside the app)", "uvicorn/protocols/http"),
    ("our middleware (request id, log line)", "threads_api/middleware.py"),
    ("  routes it serves itself (middleware.DirectRoutes)", "._serve_directly (threads_api/"),
    ("  the request log line (logs.py)", "threads_api/logs.py"),
    ("  logging: JSON log line", "logging/__init__.py"),
    ("plain reads (reads.py)", "threads_api/reads.py"),
    ("  on a SQLite reader thread", "._run_sqlite (threads_api/reads.py"),
    ("plain writes (writes.py)", "threads_api/writes.py"),
    ("  units run by the SQLite writer (their Python and SQL)", "._run_unit (threads_api/"),
    ("event log append (event/repository.py)", "threads_api/event/repository.py"),
    ("starlette/FastAPI routing (match, request objects)", "starlette/routing.py"),
    ("ApiRoute.checked_handler", "threads_api/routing.py"),
    ("  authenticate (cache or own transaction)", "authenticate (threads_api/auth/service.py"),
    ("  read body + json.loads", "_read_body (threads_api/routing.py"),
    ("FastAPI solve_dependencies", "solve_dependencies"),
    ("  get_session (open/commit)", "get_session (threads_api/state.py"),
    ("  space visibility + scope", "threads_api/space/dependencies.py"),
    ("  Idempotency-Key header + fingerprint", "idempotency_key (threads_api/idempotency"),
    ("  body validation (pydantic)", "request_body_to_args"),
    ("FastAPI serialize_response (response_model)", "serialize_response"),
    ("idempotency (claim, complete)", "threads_api/idempotency/"),
    ("message service", "threads_api/message/service.py"),
    ("thread service", "threads_api/thread/service.py"),
    ("ETag (kit/etag.py)", "threads_api/kit/etag.py"),
    ("pagination (build_page, cursor)", "threads_api/pages.py"),
    ("revocation watcher (background)", "threads_api/auth/watcher.py"),
    ("SQLAlchemy (any)", "sqlalchemy/"),
    ("  SQLAlchemy ORM", "sqlalchemy/orm/"),
    ("  SQLAlchemy compile", "sqlalchemy/sql/compiler.py"),
    ("  SQLAlchemy pool (checkout, reset)", "sqlalchemy/pool/"),
    ("aiosqlite worker thread", "aiosqlite/core.py"),
    ("  sqlite3 execute/fetch", "_execute (aiosqlite"),
    ("asyncpg", "asyncpg/"),
    ("pydantic", "pydantic"),
    ("json (stdlib)", "json/"),
    ("hashlib/hmac", "hmac.py"),
]


# Self time: each sample goes to one bucket, by the file of its innermost frame.
SELF_BUCKETS = [
    ("event loop, sockets (uvloop C; leaf Runner.run)", "asyncio/runners.py"),
    ("uvicorn + httptools", "uvicorn/"),
    ("starlette", "starlette/"),
    ("fastapi", "fastapi/"),
    ("pydantic", "pydantic"),
    ("SQLAlchemy ORM (session, unit of work)", "sqlalchemy/orm/"),
    ("SQLAlchemy engine (execute, results)", "sqlalchemy/engine/"),
    ("SQLAlchemy SQL (build, compile, cache key)", "sqlalchemy/sql/"),
    ("SQLAlchemy pool", "sqlalchemy/pool/"),
    ("SQLAlchemy other (greenlets, events, dialect)", "sqlalchemy/"),
    ("greenlet", "greenlet"),
    ("aiosqlite (its thread, sqlite3 calls, queue)", "aiosqlite/"),
    ("asyncpg", "asyncpg/"),
    ("threads_api (our own code)", "threads_api/"),
    ("logging (the JSON log line)", "logging/"),
    ("json", "json/"),
    ("other stdlib (uuid, datetime, hashlib, typing…)", ""),
]


def _self_time(raw_path: Path) -> list[tuple[str, float]]:
    samples: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        leaf = stack.split(";")[-1]
        total += int(n)
        for label, marker in SELF_BUCKETS:
            if marker in leaf:
                samples[label] += int(n)
                break
    return [(label, 100 * samples[label] / total if total else 0.0) for label, _ in SELF_BUCKETS]


def summarise_saved() -> None:
    """Self time per bucket from the raw stacks the last `spy` run saved, µs per request
    given as `BENCH_CPU_US="POST message=6967,GET thread=1913,…"` (logged by `spy`)."""
    cpu = dict(
        (name.strip(), float(us))
        for name, _, us in (
            item.partition("=") for item in os.environ.get("BENCH_CPU_US", "").split(",") if item
        )
    )
    raws = sorted(OUT.glob("pyspy-*.txt"))
    names = [p.stem.removeprefix("pyspy-") for p in raws]
    print("| self time in | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    tables = [_self_time(p) for p in raws]
    for i, (label, _) in enumerate(SELF_BUCKETS):
        cells = []
        for name, rows in zip(names, tables, strict=True):
            pct = rows[i][1]
            us = next((v for k, v in cpu.items() if k.lower().replace(" ", "-") == name), None)
            cells.append(f"{pct:.1f} %" + (f" ≈ {pct * us / 100:.0f} µs" if us else ""))
        print(f"| {label} | " + " | ".join(cells) + " |")


def _summarise(raw_path: Path) -> list[tuple[str, float]]:
    samples: collections.Counter[str] = collections.Counter()
    total = 0
    leaf: collections.Counter[str] = collections.Counter()
    for line in raw_path.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count_ = int(n)
        total += count_
        for label, marker in LAYERS:
            if marker in stack:
                samples[label] += count_
        frames = stack.split(";")
        leaf[frames[-1].split(" (")[0] + " (" + frames[-1].split("/")[-1]] += count_
    rows = [(label, 100 * samples[label] / total if total else 0.0) for label, _ in LAYERS]
    rows.append(("top leaf frames", 0.0))
    rows.extend((f"  {name}", 100 * n / total) for name, n in leaf.most_common(12))
    return rows


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spy(seconds: int) -> None:
    py_spy = VENV_BIN / "py-spy"
    if not py_spy.exists():
        py_spy = Path(shutil.which("py-spy") or "py-spy")
    import bench as b

    with fresh_database(os.environ.get("BENCH_DATABASE", "sqlite"), "profile-spy") as db:
        server = start_ours(db, "profile-spy", {"THREADS_API_LOG_LEVEL": "INFO"})
        try:
            f = b.prepare(server.base)
            wanted = os.environ.get("BENCH_SCENARIOS", "POST message,GET thread").split(",")
            targets = [s for s in b.scenarios(f) if s.name in [w.strip() for w in wanted]]
            for s in targets:
                slug = s.name.lower().replace(" ", "-")
                raw = OUT / f"pyspy-{slug}.txt"
                svg = OUT / f"pyspy-{slug}.svg"
                for fmt, path in (("raw", raw), ("flamegraph", svg)):
                    recorder = subprocess.Popen(
                        [
                            *taskset(CLIENT_CPU),
                            str(py_spy),
                            "record",
                            "--pid",
                            str(server.process.pid),
                            "--duration",
                            str(seconds),
                            "--rate",
                            "250",
                            "--nonblocking",
                            "--gil",
                            "--format",
                            fmt,
                            "--output",
                            str(path),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.PIPE,
                    )
                    cpu_before = _cpu_seconds(server.process.pid)
                    result = wrk(
                        server.base,
                        s.method,
                        s.path,
                        seconds=seconds + 1,
                        connections=10,
                        mode=s.mode,
                        body=s.body,
                        key=f"{s.key}spy-{fmt}-" if s.mode == "unique" else s.key,
                    )
                    _, err = recorder.communicate()
                    if recorder.returncode != 0:
                        raise RuntimeError(f"py-spy failed: {err.decode()}")
                    if fmt == "raw":
                        # The server's CPU time (all threads) per request while sampled.
                        cpu_us = (_cpu_seconds(server.process.pid) - cpu_before) * 1e6
                        per_request = cpu_us / max(1, result.requests)
                        log(
                            f"{s.name}: {result.rps:.0f} req/s while sampled, "
                            f"{per_request:.0f} µs of server CPU per request"
                        )
                print(
                    f"\n## {s.name}: share of CPU samples (inclusive), py-spy {seconds}s; "
                    f"{result.rps:.0f} req/s, {per_request:.0f} µs CPU per request\n"
                )
                print("| layer | % of samples | ≈ µs per request |")
                print("|---|---|---|")
                for label, pct in _summarise(raw):
                    us = f"{pct * per_request / 100:.0f}" if pct else ""
                    print(f"| {label} | {pct:.1f} | {us} |" if pct else f"| {label} | | |")
        finally:
            server.stop()


# --- micro: one statement, three ways -------------------------------------------------------


async def _micro(n: int) -> list[tuple[str, float]]:
    import time as _time

    import aiosqlite
    from sqlalchemy import bindparam, select

    from threads_api.config import Settings
    from threads_api.db import Database
    from threads_api.models import Thread
    from threads_api.thread.schemas import Thread as ThreadOut

    rows: list[tuple[str, float]] = []

    async def timed(label: str, call: Any, runs: int = n) -> None:
        for _ in range(runs // 10):  # warm the statement caches
            await call()
        started = _time.perf_counter()
        for _ in range(runs):
            await call()
        rows.append((label, (_time.perf_counter() - started) / runs * 1e6))

    table = Thread.__table__
    prebuilt_core = select(table).where(
        table.c.id == bindparam("thread_id"), table.c.space_id == bindparam("space_id")
    )
    prebuilt_orm = select(Thread).where(
        Thread.id == bindparam("thread_id"), Thread.space_id == bindparam("space_id")
    )
    params = {"thread_id": "thr_1", "space_id": "spc_1"}

    async def sqlalchemy_rows(suffix: str) -> None:
        database = Database(Settings(database_url=db.url))
        try:
            async with database.reader() as session, session.begin():
                conn = await session.connection()

                async def core_built() -> None:
                    query = select(table).where(table.c.id == "thr_1", table.c.space_id == "spc_1")
                    (await conn.execute(query)).first()

                async def core_prebuilt() -> None:
                    (await conn.execute(prebuilt_core, params)).first()

                async def orm_built() -> None:
                    await session.scalar(
                        select(Thread).where(Thread.id == "thr_1", Thread.space_id == "spc_1")
                    )

                async def orm_prebuilt() -> None:
                    await session.scalar(prebuilt_orm, params)

                await timed(f"Core, statement built per call{suffix}", core_built)
                await timed(f"Core, prebuilt statement + bindparams{suffix}", core_prebuilt)
                await timed(f"ORM entity, statement built per call (as now){suffix}", orm_built)
                await timed(f"ORM entity, prebuilt statement{suffix}", orm_prebuilt)
                if not suffix:
                    row = await session.scalar(prebuilt_orm, params)

                    async def to_json() -> None:
                        ThreadOut.model_validate(row).model_dump_json()

                    await timed("Thread.model_validate(row).model_dump_json()", to_json)
            if not suffix:

                async def whole_session() -> None:
                    async with database.reader() as session, session.begin():
                        await session.scalar(prebuilt_orm, params)

                await timed(
                    "a reader session: checkout, BEGIN, 1 select, COMMIT, reset",
                    whole_session,
                    n // 4,
                )
        finally:
            await database.dispose()

    with fresh_database("sqlite", "profile-micro") as db:
        migrate(db)
        async with aiosqlite.connect(str(db.path), isolation_level=None) as conn:
            await conn.execute(
                "INSERT INTO spaces VALUES ('spc_1', 's', '{}', "
                "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
            )
            await conn.execute(
                "INSERT INTO threads VALUES ('thr_1', 'spc_1', 't', 'open', '{}', 1, "
                "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000', "
                "'2026-01-01 00:00:00.000000', NULL)"
            )
            sql = (
                "SELECT id, space_id, title, status, metadata, message_count, last_message_at, "
                "created_at, updated_at, archived_at FROM threads WHERE id = ? AND space_id = ?"
            )

            async def raw() -> None:
                await conn.execute_fetchall(sql, ("thr_1", "spc_1"))

            await timed("aiosqlite execute_fetchall (1 thread hop)", raw)
        await sqlalchemy_rows("")
    return rows


def micro(n: int = 4000) -> None:
    rows = asyncio.run(_micro(n))
    print(f"\n## One SQLite point read, in-process, unloaded ({n} runs, µs per call)\n")
    print("| how | µs |")
    print("|---|---|")
    for name, us in rows:
        print(f"| {name} | {us:.0f} |")


# --- json: a page of 50 messages, from driver rows to response bytes, several ways -------------


def serialise(n: int = 2000) -> None:
    import time as _time
    from datetime import UTC, datetime

    import ceiling_units as cu
    from pydantic import TypeAdapter

    from threads_api.kit.pagination import Page
    from threads_api.kit.schemas import format_timestamp
    from threads_api.message.schemas import Message

    stamp = "2026-11-29 15:12:53.579621"
    content = "A benchmark message: short, like most chat messages are."
    raw = [
        (f"msg_{i:026d}", "spc_x", "thr_x", i, "bench", content, "{}", stamp, 1, None, None)
        for i in range(50)
    ]

    class Row:  # what SQLAlchemy hands the service: attributes, aware datetimes
        def __init__(self, r: tuple) -> None:
            (self.id, self.space_id, self.thread_id, self.seq, self.author, self.content) = r[:6]
            self.metadata_ = {}
            self.created_at = datetime.fromisoformat(r[7]).replace(tzinfo=UTC)
            self.version, self.edited_at, self.deleted_at = r[8], None, None

    rows = [Row(r) for r in raw]
    page_adapter = TypeAdapter(Page[Message])
    list_adapter = TypeAdapter(list[Message])
    d = cu.SqliteDialect
    import orjson
    import pydantic_core

    def as_now() -> bytes:  # model_validate per row, then FastAPI's response_model pass
        items = [Message.model_validate(r) for r in rows]
        page = Page[Message](data=items, has_more=True, next_cursor="c")
        return page_adapter.dump_json(page_adapter.validate_python(page.model_dump()))

    def validate_once() -> bytes:  # rows validated once, dumped once (no response_model pass)
        items = [Message.model_validate(r) for r in rows]
        return page_adapter.dump_json(Page[Message](data=items, has_more=True, next_cursor="c"))

    def dicts() -> list[dict]:
        return [cu.message_json(d, r) for r in raw]

    ways = {
        "as now: model_validate each row + response_model round trip": as_now,
        "model_validate each row, one dump_json (no response_model)": validate_once,
        "TypeAdapter(list[Message]).validate_python(dicts) + dump_json": lambda: (
            list_adapter.dump_json(list_adapter.validate_python(dicts()))
        ),
        "dicts from rows + pydantic_core.to_json (no validation)": lambda: pydantic_core.to_json(
            {"object": "list", "data": dicts(), "has_more": True, "next_cursor": "c"}
        ),
        "dicts from rows + stdlib json (one prebuilt encoder)": lambda: cu.json_dumps_stdlib(
            {"object": "list", "data": dicts(), "has_more": True, "next_cursor": "c"}
        ),
        "dicts from rows + orjson": lambda: orjson.dumps(
            {"object": "list", "data": dicts(), "has_more": True, "next_cursor": "c"}
        ),
        "dicts from rows only": dicts,
        "format_timestamp(aware datetime) x 50": lambda: [
            format_timestamp(r.created_at) for r in rows
        ],
        "SQLite text -> RFC 3339 (replace) x 50": lambda: [d.out(r[7]) for r in raw],
    }
    print(f"\n## A page of 50 messages to JSON bytes ({n} runs, µs per page)\n")
    print("| how | µs per page |")
    print("|---|---|")
    for label, fn in ways.items():
        for _ in range(n // 10):
            fn()
        started = _time.perf_counter()
        for _ in range(n):
            fn()
        print(f"| {label} | {(_time.perf_counter() - started) / n * 1e6:.0f} |")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    what = sys.argv[1] if len(sys.argv) > 1 else "all"
    if what in ("count", "all"):
        count()
    if what in ("micro", "all"):
        micro()
    if what == "json":
        serialise()
    if what == "summarise":
        summarise_saved()
    if what in ("spy", "all"):
        spy(int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("BENCH_SECONDS", "8")))


if __name__ == "__main__":
    main()
