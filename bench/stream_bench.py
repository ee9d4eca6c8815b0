"""Fan-out of the event stream: server workers on one database (SQLite by default), many SSE
subscribers spread over them, a steady rate of messages posted to them in turn.

    .venv/bin/python bench/stream_bench.py
    BENCH_SUBSCRIBERS=1000 BENCH_RATE=10 BENCH_SECONDS=30 .venv/bin/python bench/stream_bench.py
    BENCH_DATABASE=postgres BENCH_PROCESSES=2 BENCH_CONNECT_SPACING_MS=10 \
        .venv/bin/python bench/stream_bench.py

BENCH_SUBSCRIBERS and BENCH_RATE are totals over the BENCH_PROCESSES servers: subscriber n
and message n go to server n mod BENCH_PROCESSES, so with two, half of what a subscriber
receives was written by the other process (PostgreSQL: woken by LISTEN/NOTIFY). The servers
are pinned to BENCH_SERVER_CPU, this client to BENCH_CLIENT_CPU. Reports:

- whether every subscriber got every event exactly once, in order;
- fan-out latency to each subscriber, p50, p99, max: from the event's `created_at` (stamped
  in the writing transaction before its commit, so it includes the commit: on SQLite with
  `synchronous=FULL` now and then a WAL checkpoint of 100–200 ms), and from the moment the
  poster got its `201` (after the commit: commit to received), also split by whether the
  subscriber's server wrote the event or another did;
- each server's RSS before and after its subscribers connected, and per subscriber;
- this client's CPU and the lag of its event loop (a 10 ms sleep, overshoot): what the
  measurement itself adds.

Subscribers are raw asyncio connections reading the chunked body (one SSE event a chunk), so
that the client's own cost stays small next to the server's; the client's garbage collector is
off while it measures. Results: bench/out/stream_bench.json (SQLite, one process) or
bench/out/stream_bench-DATABASE-PROCESSES.json.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ADMIN_KEY,
    CLIENT_CPU,
    OUT,
    Server,
    fresh_database,
    log,
    milliseconds,
    start_ours,
)

SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "1000"))
DATABASE = os.environ.get("BENCH_DATABASE", "sqlite")
PROCESSES = int(os.environ.get("BENCH_PROCESSES", "1"))
# Between two subscribers' connects: the listen backlog is finite, and opening a stream takes
# a few short transactions (on PostgreSQL, each waits for a pooled connection: at 2 ms, two
# processes sharing one core time out on the pool before all 1,000 are open).
CONNECT_SPACING = float(os.environ.get("BENCH_CONNECT_SPACING_MS", "2")) / 1000
RATE = float(os.environ.get("BENCH_RATE", "10"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
CREATED_AT = b'"created_at":"'
MESSAGE_ID = b'"data":{"id":"'


class Subscriber:
    def __init__(self, server: int) -> None:
        self.server = server  # which of the servers it reads from
        self.positions: list[int] = []
        self.latencies: list[float] = []
        self.arrivals: dict[str, float] = {}  # message id -> when it arrived here
        self.error: str | None = None

    async def run(self, port: int, path: str, opened: asyncio.Event, stop: asyncio.Event) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        except OSError as error:
            self.error = f"connect: {error}"
            opened.set()
            return
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: bench\r\nX-API-Key: {ADMIN_KEY}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode()
        )
        try:
            status = await reader.readline()
            if b" 200 " not in status:
                self.error = status.decode(errors="replace").strip()
                return
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            opened.set()
            while not stop.is_set():
                size = int((await reader.readline()).strip() or b"0", 16)
                if size == 0:
                    break
                chunk = await reader.readexactly(size + 2)
                if chunk.startswith(b"id: "):
                    self._received(chunk, time.time())
        except (OSError, asyncio.IncompleteReadError, ValueError) as error:
            self.error = f"read: {type(error).__name__}"
        finally:
            opened.set()
            writer.close()

    def _received(self, chunk: bytes, now: float) -> None:
        self.positions.append(int(chunk[4 : chunk.index(b"\n")]))
        start = chunk.index(CREATED_AT) + len(CREATED_AT)
        created = datetime.fromisoformat(chunk[start : chunk.index(b'"', start)].decode())
        self.latencies.append(now - created.timestamp())
        message = chunk.index(MESSAGE_ID) + len(MESSAGE_ID)
        self.arrivals[chunk[message : message + 30].decode()] = now


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def post_steadily(
    https: list[httpx.AsyncClient], path: str, count: int
) -> tuple[list[int], dict[str, float], dict[str, int]]:
    """`count` messages at RATE per second, message n to server n mod len(https); the status
    of each, when the answer of each created message arrived (its transaction had committed
    by then), and which server wrote it."""
    started = time.monotonic()
    statuses, committed, writer = [], {}, {}
    for n in range(count):
        delay = started + n / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        response = await https[n % len(https)].post(path, json={"content": f"bench message {n}"})
        statuses.append(response.status_code)
        if response.status_code == 201:
            message = response.json()["id"]
            committed[message] = time.time()
            writer[message] = n % len(https)
    return statuses, committed, writer


async def loop_lag(stop: asyncio.Event, lags: list[float]) -> None:
    """How late this client's event loop wakes from a 10 ms sleep: what it adds to latency."""
    while not stop.is_set():
        asleep = time.monotonic()
        await asyncio.sleep(0.01)
        lags.append(time.monotonic() - asleep - 0.01)


async def bench(servers: list[tuple[int, int]]) -> dict[str, object]:
    """`servers`: (port, pid) of each server process, all on one database."""
    https = [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"X-API-Key": ADMIN_KEY}, timeout=30
        )
        for port, _ in servers
    ]
    http = https[0]
    try:
        space = (await http.post("/v1/spaces", json={"name": "stream bench"})).json()["id"]
        thread = (
            await http.post(f"/v1/spaces/{space}/threads/messages", json={"content": "warm-up"})
        ).json()["thread"]["id"]
        messages = f"/v1/spaces/{space}/threads/{thread}/messages"
        for _ in range(20):  # warm the servers' paths before measuring their memory
            for each in https:
                await each.post(messages, json={"content": "warm-up"})
                await each.get(messages)
        await asyncio.sleep(1)
        rss_before = [rss_kib(pid) for _, pid in servers]

        stop = asyncio.Event()
        subscribers = [Subscriber(n % len(servers)) for n in range(SUBSCRIBERS)]
        opened = [asyncio.Event() for _ in subscribers]
        path = f"/v1/spaces/{space}/events/stream"
        tasks = []
        for subscriber, event in zip(subscribers, opened, strict=True):
            port = servers[subscriber.server][0]
            tasks.append(asyncio.create_task(subscriber.run(port, path, event, stop)))
            await asyncio.sleep(CONNECT_SPACING)
        await asyncio.gather(*(event.wait() for event in opened))
        failed = [s.error for s in subscribers if s.error]
        await asyncio.sleep(1)
        rss_connected = [rss_kib(pid) for _, pid in servers]
        log(
            f"{SUBSCRIBERS - len(failed)} subscribers open; RSS {rss_before} -> {rss_connected} KiB"
        )

        count = int(RATE * SECONDS)
        lags: list[float] = []
        lag_task = asyncio.create_task(loop_lag(stop, lags))
        # This client's own garbage collector would pause all 1,000 readers at once and count
        # as the server's latency: off while measuring (it has little garbage to collect).
        gc.disable()
        server_cpu = sum(cpu_seconds(pid) for _, pid in servers)
        client_cpu, wall = time.process_time(), time.monotonic()
        statuses, committed, writer = await post_steadily(https, messages, count)
        wall = time.monotonic() - wall
        server_cpu = sum(cpu_seconds(pid) for _, pid in servers) - server_cpu
        client_cpu = time.process_time() - client_cpu
        lags_while_posting = list(lags)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
            len(s.positions) < count for s in subscribers if not s.error
        ):
            await asyncio.sleep(0.2)
        rss_after = [rss_kib(pid) for _, pid in servers]
        gc.enable()
        stop.set()
        for task in [*tasks, lag_task]:
            task.cancel()
        await asyncio.gather(*tasks, lag_task, return_exceptions=True)
    finally:
        for each in https:
            await each.aclose()

    # Exactly once, in order: as many events as messages, positions strictly increasing,
    # and the messages they are about are the ones posted.
    posted = set(committed)
    complete = [
        s
        for s in subscribers
        if not s.error
        and len(s.positions) == count
        and s.positions == sorted(set(s.positions))
        and set(s.arrivals) == posted
    ]
    latencies = [lat for s in subscribers for lat in s.latencies]
    # Measured from the 201's arrival, after the commit: a little early for the subscribers
    # served before the poster read its answer (those can be negative).
    same_process, other_process = [], []
    by_message: dict[str, list[float]] = {message: [] for message in committed}
    for s in subscribers:
        for message, at in s.arrivals.items():
            if message in committed:
                mine = writer[message] == s.server
                (same_process if mine else other_process).append(at - committed[message])
                by_message[message].append(at - committed[message])
    # A tail made of a few messages late for everyone (the writer, the database or the
    # machine stalled) rather than of some subscribers late for every message.
    order = sorted(committed, key=committed.__getitem__)
    slowest = sorted(
        (
            {
                "message": order.index(message),
                "written_by": writer[message],
                "median_ms": round(statistics.median(lags) * 1000, 1),
                "max_ms": round(max(lags) * 1000, 1),
            }
            for message, lags in by_message.items()
            if lags
        ),
        key=lambda late: -late["median_ms"],
    )[:5]
    per_server = [
        SUBSCRIBERS // len(servers) + (n < SUBSCRIBERS % len(servers)) for n in range(len(servers))
    ]
    return {
        "database": DATABASE,
        "processes": len(servers),
        "subscribers": SUBSCRIBERS,
        "rate_per_second": RATE,
        "messages": count,
        "posted_201": statuses.count(201),
        "subscribers_failed": len(failed),
        "first_failures": failed[:3],
        "subscribers_with_every_event_once_in_order": len(complete),
        "events_received": len(latencies),
        "latency_ms_from_event_created_at": milliseconds(latencies),
        "latency_ms_from_commit": milliseconds(same_process + other_process),
        "latency_ms_from_commit_written_by_own_server": milliseconds(same_process),
        "latency_ms_from_commit_written_by_other_server": milliseconds(other_process),
        "slowest_messages": slowest,
        "cpu_percent_while_posting": {
            "servers": round(100 * server_cpu / wall),
            "client": round(100 * client_cpu / wall),
        },
        "client_loop_lag_ms_while_posting": milliseconds(lags_while_posting),
        "server_rss_kib": {"before": rss_before, "connected": rss_connected, "end": rss_after},
        "rss_per_subscriber_kib": [
            round((c - b) / n, 1)
            for b, c, n in zip(rss_before, rss_connected, per_server, strict=True)
        ],
        "rss_per_subscriber_kib_at_end": [
            round((e - b) / n, 1) for b, e, n in zip(rss_before, rss_after, per_server, strict=True)
        ],
    }


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    OUT.mkdir(exist_ok=True)
    each = -(-SUBSCRIBERS // PROCESSES)  # subscribers per server, rounded up
    env = {
        "THREADS_API_LOG_LEVEL": "WARNING",
        "THREADS_API_MAX_CONNECTIONS": str(each + 100),
        "THREADS_API_MAX_STREAMS_PER_KEY": str(each + 10),
    }
    load_before = loadavg()
    with fresh_database(DATABASE, "stream") as db:
        servers: list[Server] = []
        try:
            for n in range(PROCESSES):  # one after the other: the first migrates
                servers.append(start_ours(db, f"stream-{n + 1}", extra_env=env))
            result = asyncio.run(bench([(s.port, s.process.pid) for s in servers]))
        finally:
            for server in servers:
                server.stop()
    result["load"] = {"before": load_before, "after": loadavg()}
    name = (
        "stream_bench"
        if (DATABASE, PROCESSES) == ("sqlite", 1)
        else (f"stream_bench-{DATABASE}-{PROCESSES}")
    )
    (OUT / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
