"""What the revocation watcher (ADR 0005) costs an idle server process.

    .venv/bin/python bench/poll_cost.py                 # SQLite and PostgreSQL, 30 s each
    BENCH_SECONDS=10 BENCH_DATABASES=postgres .venv/bin/python bench/poll_cost.py

For each database, one `threads-api serve` polling every 30 ms (the default) and one polling
once an hour (in effect never), each left idle: the server's CPU time over the run as a share
of one core, and on PostgreSQL the transactions per second that its database counted
(pg_stat_database), which with autocommit polls is the number of polls.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import POSTGRES_SERVER, fresh_database, log, start_ours

SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
KINDS = os.environ.get("BENCH_DATABASES", "sqlite postgres").split()
POLLS = {"every 30 ms": "30", "off (1 h)": "3600000"}
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


async def transactions(database: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_SERVER, timeout=10)
    try:
        return int(
            await conn.fetchval(
                "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = $1",
                database,
            )
        )
    finally:
        await conn.close()


def main() -> None:
    rows = []
    for kind in KINDS:
        for label, poll in POLLS.items():
            with fresh_database(kind, "pollcost") as db:
                server = start_ours(db, "pollcost", {"THREADS_API_REVOCATION_POLL_MS": poll})
                try:
                    time.sleep(3)  # past start-up
                    pid = server.process.pid
                    cpu0, started = cpu_seconds(pid), time.monotonic()
                    xact0 = asyncio.run(transactions(db.name)) if db.name else 0
                    time.sleep(SECONDS)
                    time.sleep(1)  # backends report to pg_stat_database about once a second
                    cpu1, elapsed = cpu_seconds(pid), time.monotonic() - started
                    xact1 = asyncio.run(transactions(db.name)) if db.name else 0
                finally:
                    server.stop()
            per_second = f"{(xact1 - xact0) / elapsed:.1f}" if db.name else "-"
            rows.append(
                f"| {kind} | {label} | {100 * (cpu1 - cpu0) / elapsed:.2f} % | {per_second} |"
            )
            log(rows[-1])
    print("| database | poll | server CPU (one core) | transactions/s |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
