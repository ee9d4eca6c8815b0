"""Where a space's counter row is locked, and what that costs writers (PostgreSQL alone).

ADR 0009 takes a space's next event position by bumping its counter row, which stays
locked until the transaction ends: positions commit in order, and a space's writers queue
on the row. In the service the bump is the unit's last statement, so the lock is held
across a round trip and the event loop's turn before the COMMIT is sent. This measures
whether taking it *at* COMMIT instead — the event inserted without a position, a deferred
constraint trigger bumping the counter and setting it as the transaction commits — would
give the writers their parallelism back. Variants, each a write transaction of its own
(`UPDATE threads` for the seq, then the message and its event), on throw-away tables:

    off        the message only: no event, no counter
    last       the counter bumped by the event's statement, as src/ does (with NOTIFY)
    at-commit  the event inserted without a position; the deferred trigger bumps the
               counter, sets the position and NOTIFYs at COMMIT
    last-quiet, at-commit-quiet   the same without NOTIFY

Writers: asyncpg connections on one thread or spread over 100 threads of one space; each
burns BENCH_BUSY_US of CPU after every statement (default 120), standing in for the other
requests an event loop serves between a statement's answer and the next. Medians of
BENCH_ROUNDS rounds (variants in turn), BENCH_SECONDS each, at BENCH_CONNECTIONS. The
writers share one event loop, whose two busy-waits per transaction cap it below 4,000
transactions/s: over many threads `off` measures this client as much as the database, so
read the variants against each other more than against `off`.

    .venv/bin/python bench/event_commit_order.py
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]  # no stubs

sys.path.insert(0, str(Path(__file__).resolve().parent))

SECONDS = float(os.environ.get("BENCH_SECONDS", "3"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
BUSY_US = int(os.environ.get("BENCH_BUSY_US", "120"))
CONNECTIONS = [int(n) for n in os.environ.get("BENCH_CONNECTIONS", "10 32").split()]
VARIANTS = ["off", "last", "at-commit", "last-quiet", "at-commit-quiet"]

SCHEMA = """
CREATE TABLE threads (id text PRIMARY KEY, message_count int NOT NULL DEFAULT 0);
CREATE TABLE messages (id text PRIMARY KEY, thread_id text, seq int, content text);
CREATE TABLE event_counters (space_id text PRIMARY KEY, last_position bigint NOT NULL);
CREATE TABLE events (id text PRIMARY KEY, space_id text NOT NULL, position bigint,
    type text, thread_id text, message_id text, data text);
CREATE UNIQUE INDEX ON events (space_id, position);
CREATE INDEX ON events (thread_id, position);
CREATE INDEX ON events (message_id);
CREATE FUNCTION take_position() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE taken bigint;
BEGIN
    INSERT INTO event_counters VALUES (NEW.space_id, 1) ON CONFLICT (space_id)
        DO UPDATE SET last_position = event_counters.last_position + 1
        RETURNING last_position INTO taken;
    UPDATE events SET position = taken WHERE id = NEW.id;
    IF NEW.type <> 'quiet' THEN
        PERFORM pg_notify('bench', NEW.space_id || ':' || taken);
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER take_position AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.position IS NULL)
    EXECUTE FUNCTION take_position();
"""
COUNT = "UPDATE threads SET message_count = message_count + 1 WHERE id = $1 RETURNING 1"
MESSAGE = "INSERT INTO messages VALUES ($2, $3, 1, $4)"
MESSAGE_ALONE = "INSERT INTO messages VALUES ($1, $2, 1, $3)"
LAST = (
    f"WITH written AS ({MESSAGE}), bumped AS (INSERT INTO event_counters VALUES ($1, 1)"
    " ON CONFLICT (space_id) DO UPDATE SET last_position = event_counters.last_position + 1"
    " RETURNING last_position), added AS (INSERT INTO events SELECT $5, $1, last_position,"
    " $6, $3, $2, $4 FROM bumped RETURNING position)"
    " SELECT position, CASE WHEN $6 <> 'quiet' THEN pg_notify('bench', $1 || ':' || position)"
    " END FROM added"
)
AT_COMMIT = f"WITH written AS ({MESSAGE}) INSERT INTO events VALUES ($5, $1, NULL, $6, $3, $2, $4)"


def burn() -> None:
    end = time.perf_counter() + BUSY_US / 1e6
    while time.perf_counter() < end:
        pass


class Counter:
    """Transactions committed by a variant's writers."""

    def __init__(self) -> None:
        self.committed = 0


async def writer(
    pool: asyncpg.Pool, variant: str, threads: list[str], stop: float, counter: Counter
) -> None:
    statement = AT_COMMIT if variant.startswith("at-commit") else LAST
    # The event's type tells the trigger (and LAST's CASE) whether to NOTIFY.
    kind = "quiet" if variant.endswith("quiet") else "message.created"
    async with pool.acquire() as connection:
        while time.perf_counter() < stop:
            thread = random.choice(threads)
            async with connection.transaction():
                await connection.execute(COUNT, thread)
                burn()
                message, event = uuid.uuid4().hex, uuid.uuid4().hex
                if variant == "off":
                    await connection.execute(MESSAGE_ALONE, message, thread, "x" * 200)
                else:
                    args = ("spc", message, thread, "x" * 200, event, kind)
                    await connection.execute(statement, *args)
                burn()
            counter.committed += 1


async def measure(url: str, variant: str, threads: list[str], connections: int) -> float:
    pool = await asyncpg.create_pool(url, min_size=connections, max_size=connections)
    counter = Counter()
    stop = time.perf_counter() + SECONDS
    await asyncio.gather(
        *(writer(pool, variant, threads, stop, counter) for _ in range(connections))
    )
    await pool.close()
    return counter.committed / SECONDS


async def measure_all(url: str) -> None:
    from common import log

    connection = await asyncpg.connect(url)
    await connection.execute(SCHEMA)
    threads = [f"thr{n}" for n in range(100)]
    await connection.executemany("INSERT INTO threads VALUES ($1)", [(t,) for t in threads])
    await connection.close()
    for writers, ids in (("100 threads", threads), ("one thread", threads[:1])):
        for connections in CONNECTIONS:
            rates: dict[str, list[float]] = {v: [] for v in VARIANTS}
            for round_no in range(ROUNDS):
                first = round_no % len(VARIANTS)
                for variant in VARIANTS[first:] + VARIANTS[:first]:
                    rates[variant].append(await measure(url, variant, ids, connections))
            off = statistics.median(rates["off"])
            figures = ", ".join(
                f"{v} {statistics.median(r):.0f}/s ({statistics.median(r) / off - 1:+.1%})"
                for v, r in rates.items()
            )
            log(f"{writers}, {connections} connections: {figures}")


def main() -> None:
    from common import fresh_database

    with fresh_database("postgres", "commit-order") as db:
        asyncio.run(measure_all(db.plain_url))


if __name__ == "__main__":
    main()
