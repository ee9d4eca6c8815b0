"""`make bench-scale`: does a page cost the same at any size? (issue 6, part 2)

Loads, with direct SQL (not the API; executemany / COPY in big batches):
  - space BIG: 100,000 threads; one of them (HUGE) holds 1,000,000 messages, one (FRESH) one
    message, the rest one message each;
  - space SMALL: 1,000 threads; one of them (K) holds 1,000 messages.
Then starts the server (one worker, CPU 0) and measures with wrk (CPU 1), each read on the big
list against the same read on the small one:
  GET 50 messages at the start, the middle (cursor), the end (cursor), `order=desc`,
  `after_seq` polling at the tail; GET 50 threads (by activity) at the start, middle and end;
and POST message into HUGE against FRESH. The ratio is big-list cost / small-list cost, from
req/s (best of BENCH_ROUNDS runs each, alternating); the target is <= 1.3.

Cursors are made with the app's CursorCodec and a secret handed to the server
(THREADS_API_SECRET_KEY), with the list bindings the endpoints use; each URL is checked by hand
first, so a cursor the server refuses fails the run instead of measuring a 400.

Environment: BENCH_DATABASES ("sqlite postgres"), BENCH_SECONDS (5 per run), BENCH_ROUNDS (2),
BENCH_SCALE_THREADS (100000), BENCH_SCALE_MESSAGES (1000000), BENCH_CONNECTIONS (10),
BENCH_SMOKE=1 (SQLite, 10,000 threads / 100,000 messages, 1-second runs).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sqlite3
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    OUT,
    Database,
    call,
    fresh_database,
    log,
    machine,
    migrate,
    start_ours,
    wrk,
)

SMOKE = os.environ.get("BENCH_SMOKE") == "1"
N_THREADS = 10_000 if SMOKE else int(os.environ.get("BENCH_SCALE_THREADS", "100000"))
N_MESSAGES = 100_000 if SMOKE else int(os.environ.get("BENCH_SCALE_MESSAGES", "1000000"))
N_SMALL_THREADS = 1_000
N_SMALL_MESSAGES = 1_000
SECONDS = 1 if SMOKE else int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = 1 if SMOKE else int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "10"))
DATABASES = ["sqlite"] if SMOKE else os.environ.get("BENCH_DATABASES", "sqlite postgres").split()
BATCH = 50_000
SECRET_KEY = secrets.token_hex(32)

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
CONTENT = "Loaded message {}: " + "a realistic line of chat text, neither long nor short. " * 2


class Ids:
    """Valid, increasing prefixed ids (ULID-like), far cheaper than one random draw each."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.head = (int(time.time() * 1000) << 80) | secrets.randbits(40) << 40
        self.n = 0

    def __call__(self) -> str:
        self.n += 1
        value = self.head + self.n
        chars = [ALPHABET[(value >> shift) & 31] for shift in range(125, -5, -5)]
        return f"{self.prefix}_{''.join(chars)}"


@dataclass
class Layout:
    big: str
    small: str
    huge: str  # N_MESSAGES messages, in BIG
    fresh: str  # 1 message, in BIG
    k: str  # N_SMALL_MESSAGES messages, in SMALL


def _rows(layout: Layout) -> tuple[list[tuple], Iterator[list[tuple]], Iterator[list[tuple]]]:
    """Spaces; threads in batches; messages in batches. Timestamps as aware datetimes."""
    space_rows = [
        (layout.big, "big", "{}", BASE_TIME, BASE_TIME),
        (layout.small, "small", "{}", BASE_TIME, BASE_TIME),
    ]
    thread_ids = Ids("thr")
    message_ids = Ids("msg")
    # Per thread: (id, space, message count); HUGE and K are active last, so they sort first.
    plan: list[tuple[str, str, int]] = [(layout.fresh, layout.big, 1)]
    plan += [(thread_ids(), layout.big, 1) for _ in range(N_THREADS - 2)]
    plan += [(thread_ids(), layout.small, 1) for _ in range(N_SMALL_THREADS - 1)]
    plan += [(layout.huge, layout.big, N_MESSAGES), (layout.k, layout.small, N_SMALL_MESSAGES)]

    def threads() -> Iterator[list[tuple]]:
        batch = []
        for i, (thread_id, space_id, count) in enumerate(plan):
            created = BASE_TIME + timedelta(seconds=i)
            last = created + timedelta(milliseconds=count)
            batch.append(
                (thread_id, space_id, f"Thread {i}", "open", "{}", count, last, created, last, None)
            )
            if len(batch) == BATCH:
                yield batch
                batch = []
        if batch:
            yield batch

    def messages() -> Iterator[list[tuple]]:
        batch = []
        for i, (thread_id, space_id, count) in enumerate(plan):
            created = BASE_TIME + timedelta(seconds=i)
            for seq in range(1, count + 1):
                batch.append(
                    (
                        message_ids(),
                        space_id,
                        thread_id,
                        seq,
                        "loader",
                        CONTENT.format(seq),
                        "{}",
                        created + timedelta(milliseconds=seq),
                        1,  # version: never edited
                    )
                )
                if len(batch) == BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch

    return space_rows, threads(), messages()


def _sqlite_ts(value: datetime | None) -> str | None:
    # SQLAlchemy's SQLite DateTime storage format, naive UTC: what the app writes and reads.
    return None if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(db: Database, layout: Layout) -> None:
    spaces, threads, messages = _rows(layout)
    conn = sqlite3.connect(str(db.path), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")  # a loader: the file is thrown away on failure
    conn.execute("PRAGMA cache_size=-262144")
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO spaces VALUES (?, ?, ?, ?, ?)",
        [(*r[:3], _sqlite_ts(r[3]), _sqlite_ts(r[4])) for r in spaces],
    )
    for batch in threads:
        conn.executemany(
            "INSERT INTO threads (id, space_id, title, status, metadata, message_count, "
            "last_message_at, created_at, updated_at, archived_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r[:6], _sqlite_ts(r[6]), _sqlite_ts(r[7]), _sqlite_ts(r[8]), None) for r in batch],
        )
    conn.execute("COMMIT")
    for batch in messages:
        conn.execute("BEGIN")
        conn.executemany(
            "INSERT INTO messages (id, space_id, thread_id, seq, author, content, metadata, "
            "created_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r[:7], _sqlite_ts(r[7]), r[8]) for r in batch],
        )
        conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


async def _load_postgres(db: Database, layout: Layout) -> None:
    import asyncpg

    spaces, threads, messages = _rows(layout)
    conn = await asyncpg.connect(db.plain_url)
    try:
        await conn.execute("SET synchronous_commit = off")  # this session only: a loader
        await conn.copy_records_to_table(
            "spaces", records=spaces, columns=["id", "name", "metadata", "created_at", "updated_at"]
        )
        for batch in threads:
            await conn.copy_records_to_table(
                "threads",
                records=batch,
                columns=[
                    "id",
                    "space_id",
                    "title",
                    "status",
                    "metadata",
                    "message_count",
                    "last_message_at",
                    "created_at",
                    "updated_at",
                    "archived_at",
                ],
            )
        for batch in messages:
            await conn.copy_records_to_table(
                "messages",
                records=batch,
                columns=[
                    "id",
                    "space_id",
                    "thread_id",
                    "seq",
                    "author",
                    "content",
                    "metadata",
                    "created_at",
                    "version",
                ],
            )
        # What autovacuum would do soon after such a load; without it the planner guesses.
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


def thread_position(db: Database, space_id: str, rank: int) -> tuple[datetime, str]:
    """(last_message_at, id) of the thread at `rank` (0-based) in activity order, newest first."""
    sql = (
        "SELECT last_message_at, id FROM threads WHERE space_id = {p} "
        "ORDER BY last_message_at DESC, id DESC LIMIT 1 OFFSET {q}"
    )
    if db.kind == "sqlite":
        conn = sqlite3.connect(str(db.path))
        try:
            ts, thread_id = conn.execute(sql.format(p="?", q="?"), (space_id, rank)).fetchone()
        finally:
            conn.close()
        return datetime.fromisoformat(ts).replace(tzinfo=UTC), thread_id

    async def fetch() -> tuple[datetime, str]:
        import asyncpg

        conn = await asyncpg.connect(db.plain_url)
        try:
            row = await conn.fetchrow(sql.format(p="$1", q="$2"), space_id, rank)
        finally:
            await conn.close()
        return row[0], row[1]

    return asyncio.run(fetch())


@dataclass
class Read:
    name: str
    big: str
    small: str
    first_seq_big: int | None = None
    first_seq_small: int | None = None
    items: int = 50
    # The page query the repositories issue, for timing the SQL alone: (kind, list id,
    # keyset position or None, order, after_seq).
    sql_big: tuple | None = None
    sql_small: tuple | None = None


MESSAGE_COLUMNS = "id, space_id, thread_id, seq, author, content, metadata, created_at"
THREAD_COLUMNS = (
    "id, space_id, title, status, metadata, message_count, last_message_at, "
    "created_at, updated_at, archived_at"
)


def page_sql(kind: str, spec: tuple) -> tuple[str, list[Any]]:
    """The same keyset query as kit/pagination.py builds (limit 50 + 1), in plain SQL."""
    what, list_id, position, order, after_seq = spec
    params: list[Any] = [list_id]
    op = "<" if order == "desc" else ">"
    if what == "messages":
        sql = f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE thread_id = ?"
        if after_seq is not None:
            sql += " AND seq > ?"
            params.append(after_seq)
        if position is not None:
            sql += f" AND seq {op} ?"
            params.append(position)
        sql += f" ORDER BY seq {order.upper()} LIMIT 51"
    else:
        sql = (
            f"SELECT {THREAD_COLUMNS} FROM threads WHERE space_id = ? "
            "AND status IN ('open', 'locked')"
        )
        if position is not None:
            sql += f" AND (last_message_at, id) {op} (?, ?)"
            params.extend(position)
        sql += f" ORDER BY last_message_at {order.upper()}, id {order.upper()} LIMIT 51"
    if kind == "postgres":
        parts = sql.split("?")
        sql = "".join(p + (f"${i + 1}" if i < len(parts) - 1 else "") for i, p in enumerate(parts))
    return sql, params


def sql_cost(db: Database, specs: list[tuple], runs: int = 300) -> list[tuple[float, str]]:
    """Median µs of each page query with the plain driver, and its plan."""
    import statistics

    out: list[tuple[float, str]] = []
    if db.kind == "sqlite":
        conn = sqlite3.connect(str(db.path))
        try:
            for spec in specs:
                sql, params = page_sql("sqlite", _sqlite_params(spec))
                plan = "; ".join(r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    conn.execute(sql, params).fetchall()
                    times.append(time.perf_counter() - started)
                out.append((statistics.median(times) * 1e6, plan))
        finally:
            conn.close()
        return out

    async def measure() -> None:
        import asyncpg

        conn = await asyncpg.connect(db.plain_url)
        try:
            for spec in specs:
                sql, params = page_sql("postgres", spec)
                plan_rows = await conn.fetch("EXPLAIN " + sql, *params)
                plan = " / ".join(r[0].strip() for r in plan_rows[:3])
                times = []
                for _ in range(runs):
                    started = time.perf_counter()
                    await conn.fetch(sql, *params)
                    times.append(time.perf_counter() - started)
                out.append((statistics.median(times) * 1e6, plan))
        finally:
            await conn.close()

    asyncio.run(measure())
    return out


def _sqlite_params(spec: tuple) -> tuple:
    what, list_id, position, order, after_seq = spec
    if what == "threads" and position is not None:
        position = [_sqlite_ts(position[0]), position[1]]
    return what, list_id, position, order, after_seq


def reads(db: Database, layout: Layout) -> list[Read]:
    from threads_api.kit.cursor import CursorCodec
    from threads_api.kit.schemas import format_timestamp
    from threads_api.message.endpoints import messages_binding
    from threads_api.thread.endpoints import threads_binding

    codec = CursorCodec(SECRET_KEY.encode())

    def messages(thread_id: str, query: str = "") -> str:
        return f"/v1/spaces/{{space}}/threads/{thread_id}/messages?limit=50{query}"

    def after(thread_id: str, seq: int) -> str:
        return "&cursor=" + codec.encode(messages_binding(thread_id, "asc", None), [seq])

    positions: dict[tuple[str, int], tuple[datetime, str]] = {}

    def threads_after(space_id: str, rank: int) -> str:
        ts, thread_id = positions.setdefault((space_id, rank), thread_position(db, space_id, rank))
        binding = threads_binding(space_id, None, "last_message_at", "desc")
        cursor = codec.encode(binding, [format_timestamp(ts), thread_id])
        return f"&cursor={cursor}"

    def m(
        thread_id: str,
        position: int | None = None,
        order: str = "asc",
        after_seq: int | None = None,
    ) -> tuple:
        return ("messages", thread_id, position, order, after_seq)

    def t(space_id: str, rank: int | None = None) -> tuple:
        position = None if rank is None else list(positions[(space_id, rank)])
        return ("threads", space_id, position, "desc", None)

    big_thread = messages(layout.huge).replace("{space}", layout.big)
    small_thread = messages(layout.k).replace("{space}", layout.small)
    n, s = N_MESSAGES, N_SMALL_MESSAGES
    t_big, t_small = N_THREADS, N_SMALL_THREADS
    threads_big = f"/v1/spaces/{layout.big}/threads?limit=50&sort=last_message_at"
    threads_small = f"/v1/spaces/{layout.small}/threads?limit=50&sort=last_message_at"
    every = [
        Read(
            "messages: first page",
            big_thread,
            small_thread,
            1,
            1,
            sql_big=m(layout.huge),
            sql_small=m(layout.k),
        ),
        Read(
            "messages: middle page (cursor)",
            big_thread + after(layout.huge, n // 2),
            small_thread + after(layout.k, s // 2),
            n // 2 + 1,
            s // 2 + 1,
            sql_big=m(layout.huge, n // 2),
            sql_small=m(layout.k, s // 2),
        ),
        Read(
            "messages: last page (cursor)",
            big_thread + after(layout.huge, n - 50),
            small_thread + after(layout.k, s - 50),
            n - 49,
            s - 49,
            sql_big=m(layout.huge, n - 50),
            sql_small=m(layout.k, s - 50),
        ),
        Read(
            "messages: newest first (order=desc)",
            big_thread + "&order=desc",
            small_thread + "&order=desc",
            n,
            s,
            sql_big=m(layout.huge, order="desc"),
            sql_small=m(layout.k, order="desc"),
        ),
        Read(
            "messages: after_seq poll at the tail (5 new)",
            big_thread + f"&after_seq={n - 5}",
            small_thread + f"&after_seq={s - 5}",
            n - 4,
            s - 4,
            items=5,
            sql_big=m(layout.huge, after_seq=n - 5),
            sql_small=m(layout.k, after_seq=s - 5),
        ),
        Read(
            "messages: after_seq poll, nothing new",
            big_thread + f"&after_seq={n}",
            small_thread + f"&after_seq={s}",
            None,
            None,
            items=0,
            sql_big=m(layout.huge, after_seq=n),
            sql_small=m(layout.k, after_seq=s),
        ),
        Read(
            "threads: first page",
            threads_big,
            threads_small,
            sql_big=t(layout.big),
            sql_small=t(layout.small),
        ),
    ]
    for name, big_rank, small_rank in (
        ("threads: middle page (cursor)", t_big // 2, t_small // 2),
        ("threads: last page (cursor)", t_big - 51, t_small - 51),
    ):
        big_url = threads_big + threads_after(layout.big, big_rank)
        small_url = threads_small + threads_after(layout.small, small_rank)
        every.append(
            Read(
                name,
                big_url,
                small_url,
                sql_big=t(layout.big, big_rank),
                sql_small=t(layout.small, small_rank),
            )
        )
    return every


def check(base: str, path: str, first_seq: int | None, items: int) -> None:
    reply = call(base, "GET", path)
    if reply.status != 200:
        raise RuntimeError(f"GET {path}: {reply.status} {reply.body}")
    data = reply.body["data"]
    if len(data) != items:
        raise RuntimeError(f"GET {path}: {len(data)} items, expected {items}")
    if first_seq is not None and data[0]["seq"] != first_seq:
        raise RuntimeError(f"GET {path}: first seq {data[0]['seq']}, expected {first_seq}")


def best(base: str, method: str, path: str, **kwargs: Any) -> Any:
    return wrk(base, method, path, seconds=SECONDS, connections=CONNECTIONS, **kwargs)


def run(kind: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with fresh_database(kind, "scale") as db:
        migrate(db)
        layout = Layout(
            big=Ids("spc")(),
            small=Ids("spc")(),
            huge=Ids("thr")(),
            fresh=Ids("thr")(),
            k=Ids("thr")(),
        )
        # Distinct ids: every Ids() starts from its own random head.
        started = time.monotonic()
        if kind == "sqlite":
            load_sqlite(db, layout)
        else:
            asyncio.run(_load_postgres(db, layout))
        load_seconds = time.monotonic() - started
        total = N_MESSAGES + N_SMALL_MESSAGES + N_THREADS + N_SMALL_THREADS - 4
        log(
            f"{kind}: loaded {N_THREADS + N_SMALL_THREADS:,} threads and {total:,} messages "
            f"in {load_seconds:.1f}s"
        )
        rows.append({"db": kind, "read": "load", "seconds": load_seconds, "messages": total})
        server = start_ours(db, f"scale-{kind}", {"THREADS_API_SECRET_KEY": SECRET_KEY})
        try:
            every = reads(db, layout)
            specs = [spec for r in every for spec in (r.sql_big, r.sql_small)]
            costs = sql_cost(db, specs)
            for r in every:
                items = 50 if r.items == 50 else r.items
                check(server.base, r.big, r.first_seq_big, items)
                check(server.base, r.small, r.first_seq_small, items)
                results: dict[str, list[Any]] = {"big": [], "small": []}
                for round_no in range(ROUNDS):
                    pair = [("small", r.small), ("big", r.big)]
                    for label, path in pair if round_no % 2 == 0 else pair[::-1]:
                        results[label].append(best(server.base, "GET", path))
                big = max(results["big"], key=lambda x: x.rps)
                small = max(results["small"], key=lambda x: x.rps)
                row = {
                    "db": kind,
                    "read": r.name,
                    "big_rps": big.rps,
                    "small_rps": small.rps,
                    "big_p50": big.p50_ms,
                    "small_p50": small.p50_ms,
                    "ratio": small.rps / big.rps if big.rps else float("inf"),
                    "errors": big.errors + small.errors,
                }
                (sql_big, plan_big), (sql_small, _) = costs[0], costs[1]
                costs = costs[2:]
                row.update(
                    sql_big_us=sql_big,
                    sql_small_us=sql_small,
                    sql_ratio=sql_big / sql_small,
                    plan=plan_big,
                )
                rows.append(row)
                log(
                    f"{kind} {r.name}: big {big.rps:.0f}/s, small {small.rps:.0f}/s, "
                    f"cost ratio {row['ratio']:.2f}"
                )
            # POST message into the 1,000,000-message thread against a 1-message thread.
            run_id = uuid.uuid4().hex[:8]
            body = {
                "content": "A benchmark message: short, like most chat messages are.",
                "author": "bench",
            }
            results = {"big": [], "small": []}
            for round_no in range(ROUNDS):
                pair = [("small", layout.fresh), ("big", layout.huge)]
                for label, thread_id in pair if round_no % 2 == 0 else pair[::-1]:
                    path = f"/v1/spaces/{layout.big}/threads/{thread_id}/messages"
                    results[label].append(
                        best(
                            server.base,
                            "POST",
                            path,
                            mode="unique",
                            body=body,
                            key=f"s-{run_id}-{label}{round_no}-",
                        )
                    )
            big = max(results["big"], key=lambda x: x.rps)
            small = max(results["small"], key=lambda x: x.rps)
            rows.append(
                {
                    "db": kind,
                    "read": "POST message (1M-message thread vs fresh)",
                    "big_rps": big.rps,
                    "small_rps": small.rps,
                    "big_p50": big.p50_ms,
                    "small_p50": small.p50_ms,
                    "ratio": small.rps / big.rps,
                    "errors": big.errors + small.errors,
                }
            )
            log(f"{kind} POST: big {big.rps:.0f}/s, fresh {small.rps:.0f}/s")
        finally:
            server.stop()
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| db | read | big list req/s | small list req/s | big p50 ms | small p50 ms "
        "| HTTP cost ratio big/small | SQL µs big / small | SQL ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        if r["read"] == "load":
            continue
        flag = "" if r["ratio"] <= 1.3 else " **over 1.3**"
        sql = (
            f"{r['sql_big_us']:.0f} / {r['sql_small_us']:.0f} | {r['sql_ratio']:.2f}"
            if "sql_big_us" in r
            else "- | -"
        )
        lines.append(
            f"| {r['db']} | {r['read']} | {r['big_rps']:.0f} | {r['small_rps']:.0f} "
            f"| {r['big_p50']:.2f} | {r['small_p50']:.2f} | {r['ratio']:.2f}{flag} "
            f"| {sql} |" + (" (errors!)" if r["errors"] else "")
        )
    plans = [f"- {r['db']} {r['read']}: `{r['plan']}`" for r in rows if r.get("plan")]
    return "\n".join(lines) + "\n\nQuery plans on the big list:\n" + "\n".join(plans)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    info = machine()
    settings = {
        "threads": N_THREADS,
        "messages": N_MESSAGES,
        "seconds": SECONDS,
        "rounds": ROUNDS,
        "connections": CONNECTIONS,
        "databases": DATABASES,
    }
    log(f"machine: {info}")
    log(f"settings: {settings}")
    rows: list[dict[str, Any]] = []
    for kind in DATABASES:
        rows.extend(run(kind))
    text = table(rows)
    loads = [
        f"{r['db']}: {r['messages']:,} messages + threads loaded in {r['seconds']:.1f}s"
        for r in rows
        if r["read"] == "load"
    ]
    print("\n".join(loads))
    print(text)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    (OUT / f"scale-{stamp}.json").write_text(
        json.dumps({"machine": info, "settings": settings, "rows": rows}, indent=2)
    )
    (OUT / f"scale-{stamp}.md").write_text("\n".join(loads) + "\n\n" + text + "\n")
    log(f"written bench/out/scale-{stamp}.json and .md")
    return 1 if any(r.get("errors") for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
