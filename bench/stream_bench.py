"""Fan-out of the event stream: one server worker on SQLite, many SSE subscribers, a steady
rate of posted messages.

    .venv/bin/python bench/stream_bench.py
    BENCH_SUBSCRIBERS=1000 BENCH_RATE=10 BENCH_SECONDS=30 .venv/bin/python bench/stream_bench.py

The server is pinned to BENCH_SERVER_CPU, this client to BENCH_CLIENT_CPU. Reports:

- whether every subscriber got every event, in order;
- fan-out latency to each subscriber, p50, p99, max: from the event's `created_at` (stamped
  in the writing transaction before its commit, so it includes the commit: on SQLite with
  `synchronous=FULL` now and then a WAL checkpoint of 100–200 ms), and from the moment the
  poster got its `201` (after the commit: commit to received);
- the server's RSS before and after the subscribers connected, and per subscriber.

Subscribers are raw asyncio connections reading the chunked body (one SSE event a chunk), so
that the client's own cost stays small next to the server's; the client's garbage collector is
off while it measures. Results: bench/out/stream_bench.json.
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

from common import ADMIN_KEY, CLIENT_CPU, OUT, fresh_database, log, start_ours

SUBSCRIBERS = int(os.environ.get("BENCH_SUBSCRIBERS", "1000"))
RATE = float(os.environ.get("BENCH_RATE", "10"))
SECONDS = float(os.environ.get("BENCH_SECONDS", "30"))
CREATED_AT = b'"created_at":"'
MESSAGE_ID = b'"data":{"id":"'


class Subscriber:
    def __init__(self) -> None:
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


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def post_steadily(
    http: httpx.AsyncClient, path: str, count: int
) -> tuple[list[int], dict[str, float]]:
    """`count` messages at RATE per second; the status of each, and when the answer of each
    created message arrived (its transaction had committed by then)."""
    started = time.monotonic()
    statuses, committed = [], {}
    for n in range(count):
        delay = started + n / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        response = await http.post(path, json={"content": f"bench message {n}"})
        statuses.append(response.status_code)
        if response.status_code == 201:
            committed[response.json()["id"]] = time.time()
    return statuses, committed


async def bench(port: int, pid: int) -> dict[str, object]:
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(
        base_url=url, headers={"X-API-Key": ADMIN_KEY}, timeout=30
    ) as http:
        space = (await http.post("/v1/spaces", json={"name": "stream bench"})).json()["id"]
        thread = (
            await http.post(f"/v1/spaces/{space}/threads/messages", json={"content": "warm-up"})
        ).json()["thread"]["id"]
        messages = f"/v1/spaces/{space}/threads/{thread}/messages"
        for _ in range(20):  # warm the server's paths before measuring its memory
            await http.post(messages, json={"content": "warm-up"})
            await http.get(messages)
        await asyncio.sleep(1)
        rss_before = rss_kib(pid)

        stop = asyncio.Event()
        subscribers = [Subscriber() for _ in range(SUBSCRIBERS)]
        opened = [asyncio.Event() for _ in subscribers]
        path = f"/v1/spaces/{space}/events/stream"
        tasks = []
        for subscriber, event in zip(subscribers, opened, strict=True):
            tasks.append(asyncio.create_task(subscriber.run(port, path, event, stop)))
            await asyncio.sleep(0.002)  # not all at once: the listen backlog is finite
        await asyncio.gather(*(event.wait() for event in opened))
        failed = [s.error for s in subscribers if s.error]
        await asyncio.sleep(1)
        rss_connected = rss_kib(pid)
        log(
            f"{SUBSCRIBERS - len(failed)} subscribers open; RSS {rss_before} -> {rss_connected} KiB"
        )

        count = int(RATE * SECONDS)
        # This client's own garbage collector would pause all 1,000 readers at once and count
        # as the server's latency: off while measuring (it has little garbage to collect).
        gc.disable()
        server_cpu, client_cpu, wall = cpu_seconds(pid), time.process_time(), time.monotonic()
        statuses, committed = await post_steadily(http, messages, count)
        wall = time.monotonic() - wall
        server_cpu = cpu_seconds(pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(
            len(s.positions) < count for s in subscribers if not s.error
        ):
            await asyncio.sleep(0.2)
        rss_after = rss_kib(pid)
        gc.enable()
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    complete = [s for s in subscribers if not s.error and len(s.positions) == count]
    in_order = all(s.positions == sorted(set(s.positions)) for s in complete)
    latencies = [lat for s in subscribers for lat in s.latencies]
    # Measured from the 201's arrival, after the commit: a little early for the subscribers
    # served before the poster read its answer (those can be negative).
    after_commit = [
        at - committed[message]
        for s in subscribers
        for message, at in s.arrivals.items()
        if message in committed
    ]
    return {
        "subscribers": SUBSCRIBERS,
        "rate_per_second": RATE,
        "messages": count,
        "posted_201": statuses.count(201),
        "subscribers_failed": len(failed),
        "first_failures": failed[:3],
        "subscribers_with_every_event": len(complete),
        "every_subscriber_in_order": in_order,
        "events_received": len(latencies),
        "latency_ms_from_event_created_at": {
            "p50": round(statistics.median(latencies) * 1000, 1),
            "p99": round(percentile(latencies, 0.99) * 1000, 1),
            "max": round(max(latencies) * 1000, 1),
        },
        "latency_ms_from_commit": {
            "p50": round(statistics.median(after_commit) * 1000, 1),
            "p99": round(percentile(after_commit, 0.99) * 1000, 1),
            "max": round(max(after_commit) * 1000, 1),
        },
        "cpu_percent_while_posting": {
            "server": round(100 * server_cpu / wall),
            "client": round(100 * client_cpu / wall),
        },
        "server_rss_kib": {"before": rss_before, "connected": rss_connected, "end": rss_after},
        "rss_per_subscriber_kib": round((rss_connected - rss_before) / SUBSCRIBERS, 1),
        "rss_per_subscriber_kib_at_end": round((rss_after - rss_before) / SUBSCRIBERS, 1),
    }


def main() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    OUT.mkdir(exist_ok=True)
    env = {
        "THREADS_API_LOG_LEVEL": "WARNING",
        "THREADS_API_MAX_CONNECTIONS": str(SUBSCRIBERS + 100),
        "THREADS_API_MAX_STREAMS_PER_KEY": str(SUBSCRIBERS + 10),
    }
    with fresh_database("sqlite", "stream") as db:
        server = start_ours(db, "stream", extra_env=env)
        try:
            result = asyncio.run(bench(server.port, server.process.pid))
        finally:
            server.stop()
    (OUT / "stream_bench.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
