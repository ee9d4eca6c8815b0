"""Webhook delivery (issue 14): one `threads-api serve` worker, one local receiver.

    .venv/bin/python bench/webhook_bench.py                        # the three scenarios, SQLite
    BENCH_SCENARIOS=profile .venv/bin/python bench/webhook_bench.py   # where the cost goes
    BENCH_SCENARIOS=healthy .venv/bin/python bench/webhook_bench.py
    BENCH_SCENARIOS=outage BENCH_OUTAGE_SECONDS=10 BENCH_EVENTS=2000 \
        .venv/bin/python bench/webhook_bench.py                    # a quick outage run
    BENCH_DATABASE=postgres .venv/bin/python bench/webhook_bench.py

The server is pinned to BENCH_SERVER_CPU; this process (the receiver and the posters) and wrk
to BENCH_CLIENT_CPU. The receiver is a bare asyncio HTTP server in this process: it answers
`200` at once and records each request's `webhook-id`, the payload's event id, position and
`created_at`, and when it arrived. Every
message posted writes one event (`message.created`); positions are dense per space, so the
events a phase owes the receiver are the positions past the one read before it. Scenarios
(BENCH_SCENARIOS, comma-separated; each runs on a fresh database and server):

- `healthy`: BENCH_STEADY_EVENTS messages at BENCH_STEADY_RATE per second (latency when the
  dispatcher keeps up), then BENCH_EVENTS posted as fast as BENCH_POSTERS connections go
  (a burst): delivered rate, how fast the backlog drains once posting stops, event→receipt
  latency (from the event's `created_at` in the payload to the arrival), duplicates, losses;
- `outage`: BENCH_EVENTS messages at a steady rate over BENCH_OUTAGE_SECONDS + 40 s; the
  receiver stops listening (connections refused) 20 s in, for BENCH_OUTAGE_SECONDS: every
  event must arrive once it is back, duplicates only as the same `webhook-id` again; the
  catch-up time after its return (the backoff is 5 s, 30 s, 2 min, … ±20 %, so events that
  failed three times wait up to ~2.4 min for the fourth), and the attempts in the
  deliveries log;
- `throughput`: wrk `POST …/messages` for BENCH_SECONDS, with the webhook enabled or
  disabled (PATCH `enabled`; disabled, the dispatcher skips the events unread), alternating
  rounds (BENCH_ROUNDS per variant) at each of BENCH_CONNECTIONS: the ratio of requests per
  second, server CPU per message, and for the enabled rounds the backlog when wrk stops and
  the catch-up time (wrk end → last arrival). A round starts only once the previous one's
  deliveries have all arrived;
- `profile` (not run by default; needs `.venv/bin/pip install py-spy`): the server runs
  `--serve-counting` (this file: `threads-api serve` counting the SQL of each transaction by
  kind, read out on SIGUSR1), and at the first connection count py-spy (`--gil`, raw stacks
  in bench/out/pyspy-webhook-*.txt) records an enabled burst, its drain (the dispatcher
  alone) and a disabled burst: transactions, statements and write-connection time per
  message and per delivery, and the share of samples by part.

Server log level WARNING (no access log, no per-attempt log line), as the other benches.
Results: bench/out/webhook_bench.json (keyed by database, then scenario, or scenario-LABEL
with BENCH_LABEL, e.g. for a run with another THREADS_API_WEBHOOK_CONCURRENCY_PER_ENDPOINT;
a run replaces only what it ran).
"""

from __future__ import annotations

import asyncio
import collections
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ADMIN_KEY,
    CLIENT_CPU,
    OUT,
    VENV_BIN,
    Server,
    fresh_database,
    log,
    machine,
    milliseconds,
    start_ours,
    taskset,
    wrk,
)

DATABASE = os.environ.get("BENCH_DATABASE", "sqlite")
SCENARIOS = os.environ.get("BENCH_SCENARIOS", "healthy,outage,throughput").split(",")
EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
POSTERS = int(os.environ.get("BENCH_POSTERS", "10"))
STEADY_EVENTS = int(os.environ.get("BENCH_STEADY_EVENTS", "1000"))
STEADY_RATE = float(os.environ.get("BENCH_STEADY_RATE", "50"))
OUTAGE_SECONDS = float(os.environ.get("BENCH_OUTAGE_SECONDS", "60"))
OUTAGE_MARGIN = 20.0  # seconds of posting before the outage, and after it
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONNECTIONS = [int(c) for c in os.environ.get("BENCH_CONNECTIONS", "10,32").split(",")]
LABEL = os.environ.get("BENCH_LABEL", "")  # stored as SCENARIO-LABEL: a variant's results
CATCH_UP_LIMIT = 240.0  # seconds to wait for deliveries before calling them lost
SERVER_ENV = {"THREADS_API_LOG_LEVEL": "WARNING", "THREADS_API_WEBHOOKS_ALLOW_PRIVATE": "true"}
RESULTS = OUT / "webhook_bench.json"


# --- the receiver ----------------------------------------------------------------------------


@dataclass(slots=True)
class Arrival:
    at: float  # time.time() when the body had arrived
    webhook_id: str
    event_id: str
    space_id: str
    position: int
    created_at: float  # the event's, from the payload

    @classmethod
    def of(cls, at: float, webhook_id: bytes, body: bytes) -> Arrival:
        event = json.loads(body)
        created = datetime.fromisoformat(event["created_at"]).timestamp()
        return cls(
            at, webhook_id.decode(), event["id"], event["space_id"], event["position"], created
        )


@dataclass
class Receiver:
    """Answers 200 at once; `stop()` closes the listening socket, so deliveries are refused
    until `start()` listens on the same port again."""

    port: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def start(self) -> Receiver:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, backlog=1024, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = {}
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
            self.arrivals.append(Arrival.of(time.time(), headers[b"webhook-id"], body))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            await writer.drain()
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass
        finally:
            writer.close()


# --- the posters -----------------------------------------------------------------------------


@dataclass
class Posted:
    statuses: collections.Counter[int]
    seconds: float

    @property
    def created(self) -> int:
        return self.statuses[201]


async def post_messages(
    port: int, path: str, count: int, connections: int, rate: float | None = None
) -> Posted:
    """`count` POSTs over `connections` keep-alive connections (raw asyncio: cheap next to
    the server), as fast as they go or, with `rate`, message n sent at n / rate seconds."""
    statuses: collections.Counter[int] = collections.Counter()
    tickets = iter(range(count))
    started = time.monotonic()

    async def one_connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for n in tickets:
                if rate is not None:
                    delay = started + n / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                body = json.dumps({"content": f"webhook bench message {n}"}).encode()
                head = (
                    f"POST {path} HTTP/1.1\r\nHost: bench\r\nX-API-Key: {ADMIN_KEY}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                )
                writer.write(head.encode() + body)
                status = int((await reader.readline()).split(b" ", 2)[1])
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                await reader.readexactly(length)
                statuses[status] += 1
        finally:
            writer.close()

    await asyncio.gather(*(one_connection() for _ in range(connections)))
    return Posted(statuses, time.monotonic() - started)


# --- measuring ---------------------------------------------------------------------------------


def loadavg() -> str:
    return Path("/proc/loadavg").read_text().strip()


@dataclass
class Check:
    """What arrived for the positions (after, through] of a space."""

    expected: int
    arrived: int  # distinct events
    lost: int
    duplicates: int  # arrivals of an event already received (same webhook-id)
    mismatched: int  # webhook-id not the payload's event id, or two ids for one position
    first: dict[int, Arrival]  # position -> first arrival

    def report(self) -> dict[str, int]:
        return {
            "expected": self.expected,
            "arrived": self.arrived,
            "lost": self.lost,
            "duplicates": self.duplicates,
            "mismatched_ids": self.mismatched,
        }


def check(arrivals: list[Arrival], space: str, after: int, through: int) -> Check:
    first: dict[int, Arrival] = {}
    ids: dict[int, str] = {}
    duplicates = mismatched = 0
    for arrival in arrivals:
        position = arrival.position
        if arrival.space_id != space or not after < position <= through:
            continue
        event_id = arrival.event_id
        if arrival.webhook_id != event_id or ids.setdefault(position, event_id) != event_id:
            mismatched += 1
        if position in first:
            duplicates += 1
        else:
            first[position] = arrival
    expected = through - after
    return Check(expected, len(first), expected - len(first), duplicates, mismatched, first)


def latencies(first: dict[int, Arrival]) -> list[float]:
    return [a.at - a.created_at for a in first.values()]


async def wait_for(
    receiver: Receiver, space: str, after: int, through: int, limit: float = CATCH_UP_LIMIT
) -> None:
    """Until every position in (after, through] has arrived, or `limit` seconds."""
    deadline = time.monotonic() + limit
    progress = time.monotonic() + 10
    seen: set[int] = set()
    read = 0
    while time.monotonic() < deadline:
        for arrival in receiver.arrivals[read:]:
            if arrival.space_id == space and after < arrival.position <= through:
                seen.add(arrival.position)
        read = len(receiver.arrivals)
        if len(seen) >= through - after:
            return
        if time.monotonic() > progress:
            log(f"waiting: {len(seen)} of {through - after} arrived")
            progress += 10
        await asyncio.sleep(0.05)
    log(f"gave up waiting: {len(seen)} of {through - after} arrived")


class Api:
    """The admin calls the bench makes, on the server it measures."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.http = httpx.AsyncClient(
            base_url=server.base, headers={"X-API-Key": ADMIN_KEY}, timeout=30
        )

    async def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = await self.http.request(method, path, json=body)
        if response.status_code != status:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    async def thread(self) -> tuple[str, str]:
        """A space and a thread in it: (space id, the thread's messages path)."""
        space = (await self.call("POST", "/v1/spaces", {"name": "webhook bench"}, 201))["id"]
        first = await self.call(
            "POST", f"/v1/spaces/{space}/threads/messages", {"content": "first"}, 201
        )
        return space, f"/v1/spaces/{space}/threads/{first['thread']['id']}/messages"

    async def webhook(self, url: str, space: str) -> str:
        created = await self.call(
            "POST", "/v1/webhooks", {"url": url, "space_ids": [space], "description": "bench"}, 201
        )
        return created["id"]

    async def last_position(self, space: str) -> int:
        return (await self.call("GET", f"/v1/spaces/{space}/events?limit=1"))["last_position"]

    async def deliveries(self, webhook: str) -> list[dict[str, Any]]:
        """The webhook's whole deliveries log."""
        rows: list[dict[str, Any]] = []
        path = f"/v1/webhooks/{webhook}/deliveries?limit=200"
        while True:
            page = await self.call("GET", path)
            rows.extend(page["data"])
            if not page["has_more"]:
                return rows
            path = f"/v1/webhooks/{webhook}/deliveries?limit=200&cursor={page['next_cursor']}"

    async def close(self) -> None:
        await self.http.aclose()


def attempts_report(log_rows: list[dict[str, Any]]) -> dict[str, Any]:
    by_attempt = collections.Counter(row["attempt"] for row in log_rows)
    return {
        "attempts": len(log_rows),
        "failed": sum(1 for row in log_rows if row["error"] is not None),
        "by_attempt_number": dict(sorted(by_attempt.items())),
        "errors": dict(collections.Counter(row["error"] for row in log_rows if row["error"])),
    }


# --- scenarios ---------------------------------------------------------------------------------


async def healthy(server: Server) -> dict[str, Any]:
    api, receiver = Api(server), await Receiver().start()
    try:
        space, messages = await api.thread()
        webhook = await api.webhook(receiver.url, space)
        result: dict[str, Any] = {"webhook": webhook}
        phases = [("steady", STEADY_EVENTS, STEADY_RATE), ("burst", EVENTS, None)]
        for name, count, rate in phases:
            if not count:
                continue
            after = await api.last_position(space)
            log(f"healthy/{name}: {count} messages at {rate or 'full'} /s")
            cpu, started = server.cpu_seconds(), time.time()
            posted = await post_messages(server.port, messages, count, POSTERS, rate)
            posting_ended = time.time()
            through = await api.last_position(space)
            await wait_for(receiver, space, after, through)
            cpu = server.cpu_seconds() - cpu
            got = check(receiver.arrivals, space, after, through)
            times = sorted(a.at for a in got.first.values())
            created = [a.created_at for a in got.first.values()]
            span = (times[-1] - min(created)) if times else 0.0
            after_posting = [t for t in times if t > posting_ended]
            result[name] = {
                **got.report(),
                "posted": dict(posted.statuses),
                "posted_per_second": round(posted.created / posted.seconds, 1),
                "delivered_per_second": round(got.arrived / span, 1) if span else None,
                "delivered_while_posting": len(times) - len(after_posting),
                "backlog_when_posting_ended": len(after_posting),
                "drain_per_second_after_posting": (
                    round(len(after_posting) / (after_posting[-1] - posting_ended), 1)
                    if len(after_posting) > 1
                    else None
                ),
                "catch_up_seconds": round(max(0.0, times[-1] - posting_ended), 2)
                if times
                else None,
                "latency_ms_event_to_receipt": milliseconds(latencies(got.first)),
                "server_cpu_ms_per_event": round(1000 * cpu / max(1, got.expected), 2),
                "wall_seconds": round(time.time() - started, 1),
            }
            log(f"healthy/{name}: {json.dumps(result[name])}")
        log_rows = await api.deliveries(webhook)
        result["deliveries_log"] = attempts_report(log_rows)
        return result
    finally:
        receiver.stop()
        await api.close()


async def outage(server: Server) -> dict[str, Any]:
    api, receiver = Api(server), await Receiver().start()
    try:
        space, messages = await api.thread()
        webhook = await api.webhook(receiver.url, space)
        rate = EVENTS / (OUTAGE_SECONDS + 2 * OUTAGE_MARGIN)
        log(f"outage: {EVENTS} messages at {rate:.0f}/s, receiver down {OUTAGE_SECONDS:g} s")
        after = await api.last_position(space)

        async def take_down() -> tuple[float, float]:
            await asyncio.sleep(OUTAGE_MARGIN)
            receiver.stop()
            down = time.time()
            log("receiver down")
            await asyncio.sleep(OUTAGE_SECONDS)
            await receiver.start()
            log("receiver back")
            return down, time.time()

        started = time.time()
        outage_task = asyncio.create_task(take_down())
        posted = await post_messages(server.port, messages, EVENTS, POSTERS, rate)
        down, back = await outage_task
        posting_ended = time.time()
        through = await api.last_position(space)
        await wait_for(receiver, space, after, through)
        got = check(receiver.arrivals, space, after, through)
        arrivals = sorted(got.first.values(), key=lambda a: a.at)
        waited = [a for a in arrivals if a.at >= back]  # arrived after the receiver returned
        created = {p: a.created_at for p, a in got.first.items()}
        during = [p for p, c in created.items() if down <= c < back]
        log_rows = await api.deliveries(webhook)
        return {
            "webhook": webhook,
            **got.report(),
            "posted": dict(posted.statuses),
            "posted_per_second": round(posted.created / posted.seconds, 1),
            "outage": {
                "starts_after_seconds": round(down - started, 1),
                "seconds": round(back - down, 1),
                "events_created_during": len(during),
            },
            "posting_ended_after_return_seconds": round(posting_ended - back, 1),
            "arrived_after_return": len(waited),
            "catch_up_seconds_after_return": round(arrivals[-1].at - back, 1) if arrivals else None,
            "arrived_after_return_within_seconds": {
                str(s): sum(1 for a in waited if a.at - back <= s) for s in (1, 10, 60, 120, 180)
            },
            "latency_ms_event_to_receipt": milliseconds(latencies(got.first)),
            "latency_ms_events_created_before_outage": milliseconds(
                [got.first[p].at - c for p, c in created.items() if c < down]
            ),
            "latency_ms_events_created_during_outage": milliseconds(
                [got.first[p].at - created[p] for p in during]
            ),
            "latency_ms_events_created_after_return": milliseconds(
                [got.first[p].at - c for p, c in created.items() if c >= back]
            ),
            "deliveries_log": attempts_report(log_rows),
            "wall_seconds": round(time.time() - started, 1),
        }
    finally:
        receiver.stop()
        await api.close()


MESSAGE = {"content": "A benchmark message: short, like most chat messages are."}


@dataclass
class Bench:
    """A server with a space, a thread, a webhook to the receiver in this process."""

    server: Server
    api: Api
    receiver: Receiver
    space: str
    messages: str  # the thread's messages path
    webhook: str

    @classmethod
    async def open(cls, server: Server) -> Bench:
        api, receiver = Api(server), await Receiver().start()
        space, messages = await api.thread()
        return cls(server, api, receiver, space, messages, await api.webhook(receiver.url, space))

    async def close(self) -> None:
        self.receiver.stop()
        await self.api.close()

    async def enable(self, on: bool) -> None:
        await self.api.call("PATCH", f"/v1/webhooks/{self.webhook}", {"enabled": on})

    async def burst(self, connections: int, seconds: int) -> dict[str, Any]:
        """wrk POSTs messages for `seconds`; keys starting with `_` are for the caller."""
        after = await self.api.last_position(self.space)
        cpu = self.server.cpu_seconds()
        result = await asyncio.to_thread(
            wrk,
            self.server.base,
            "POST",
            self.messages,
            seconds=seconds,
            connections=connections,
            body=MESSAGE,
        )
        ended = time.time()
        burst_cpu = self.server.cpu_seconds() - cpu
        await asyncio.sleep(0.2)  # requests wrk left in flight
        through = await self.api.last_position(self.space)
        return {
            "rps": round(result.rps, 1),
            "p50_ms": round(result.p50_ms, 2),
            "p99_ms": round(result.p99_ms, 2),
            "errors": result.errors,
            "requests": result.requests,
            "events": through - after,
            "server_cpu_ms_per_request_during_burst": round(
                1000 * burst_cpu / max(1, result.requests), 3
            ),
            "_after": after,
            "_through": through,
            "_ended": ended,
            "_cpu": cpu,
        }

    async def catch_up(self, measured: dict[str, Any]) -> dict[str, Any]:
        """After an enabled burst: its backlog when wrk stopped, and the wait for the rest."""
        after, through, ended = measured["_after"], measured["_through"], measured["_ended"]
        arrived_by_end = sum(
            1
            for a in self.receiver.arrivals
            if a.at <= ended and a.space_id == self.space and after < a.position <= through
        )
        await wait_for(self.receiver, self.space, after, through)
        got = check(self.receiver.arrivals, self.space, after, through)
        last = max((a.at for a in got.first.values()), default=ended)
        cpu = self.server.cpu_seconds() - measured["_cpu"]
        return {
            **got.report(),
            "backlog_at_end": measured["events"] - arrived_by_end,
            "catch_up_seconds": round(max(0.0, last - ended), 2),
            "latency_ms_event_to_receipt": milliseconds(latencies(got.first)),
            "server_cpu_ms_per_request_with_catch_up": round(
                1000 * cpu / max(1, measured["requests"]), 3
            ),
        }

    async def warm_up(self) -> None:
        log("warm-up: 3 s without, 3 s with the webhook")
        await self.enable(False)
        await self.burst(CONNECTIONS[0], 3)
        await self.enable(True)
        warm = await self.burst(CONNECTIONS[0], 3)
        await wait_for(self.receiver, self.space, warm["_after"], warm["_through"])


def public(measured: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in measured.items() if not k.startswith("_")}


async def throughput(server: Server) -> dict[str, Any]:
    bench = await Bench.open(server)
    try:
        await bench.warm_up()
        rounds: list[dict[str, Any]] = []
        for connections in CONNECTIONS:
            for r in range(ROUNDS):
                for variant in ("webhook", "none") if r % 2 == 0 else ("none", "webhook"):
                    await bench.enable(variant == "webhook")
                    measured = await bench.burst(connections, SECONDS)
                    if variant == "webhook":
                        measured.update(await bench.catch_up(measured))
                    else:
                        await asyncio.sleep(1)  # the same pause as a short catch-up
                    measured = public(measured)
                    rounds.append(
                        {"connections": connections, "round": r, "variant": variant, **measured}
                    )
                    log(f"throughput c{connections} r{r} {variant}: {json.dumps(measured)}")
    finally:
        await bench.close()

    def median(connections: int, variant: str, key: str) -> float:
        values = [
            x[key] for x in rounds if x["connections"] == connections and x["variant"] == variant
        ]
        return round(statistics.median(values), 3)

    summary = {}
    for connections in CONNECTIONS:
        with_hook = median(connections, "webhook", "rps")
        without = median(connections, "none", "rps")
        summary[str(connections)] = {
            "rps_none": without,
            "rps_webhook": with_hook,
            "webhook_vs_none": round(with_hook / without, 3),
            "slower_percent": round(100 * (1 - with_hook / without), 1),
            "cpu_ms_per_request_none": median(
                connections, "none", "server_cpu_ms_per_request_during_burst"
            ),
            "cpu_ms_per_request_webhook_during_burst": median(
                connections, "webhook", "server_cpu_ms_per_request_during_burst"
            ),
            "cpu_ms_per_request_webhook_with_catch_up": median(
                connections, "webhook", "server_cpu_ms_per_request_with_catch_up"
            ),
            "backlog_at_end": median(connections, "webhook", "backlog_at_end"),
            "catch_up_seconds": median(connections, "webhook", "catch_up_seconds"),
        }
    return {"summary": summary, "rounds": rounds}


# --- profile: where the dispatcher's cost goes ---------------------------------------------


async def profile(server: Server) -> dict[str, Any]:
    """At the first connection count: an enabled burst (py-spy), its drain (py-spy; only the
    dispatcher works), then a disabled burst (py-spy), each with the SQL the server ran, by
    kind of transaction (the server runs `serve_counting`)."""
    bench = await Bench.open(server)
    pid, connections = server.process.pid, CONNECTIONS[0]
    try:
        await bench.warm_up()
        await sql_counts(pid)  # from here on
        result: dict[str, Any] = {}

        stacks = OUT / f"pyspy-webhook-{DATABASE}-burst.txt"
        recorder = start_py_spy(pid, stacks, SECONDS)
        measured = await bench.burst(connections, SECONDS)
        await stop_py_spy(recorder, interrupt=False)
        result["burst with webhook"] = {
            **public(measured),
            "sql": await sql_counts(pid, measured["requests"]),
            "share_of_samples_percent": profile_shares(stacks),
        }

        stacks = OUT / f"pyspy-webhook-{DATABASE}-drain.txt"
        drained_from = len(bench.receiver.arrivals)
        cpu, started = server.cpu_seconds(), time.monotonic()
        recorder = start_py_spy(pid, stacks, None)
        await wait_for(bench.receiver, bench.space, measured["_after"], measured["_through"])
        cpu, seconds = server.cpu_seconds() - cpu, time.monotonic() - started
        await stop_py_spy(recorder, interrupt=True)
        drained = len(bench.receiver.arrivals) - drained_from
        result["drain"] = {
            "deliveries": drained,
            "seconds": round(seconds, 2),
            "deliveries_per_second": round(drained / seconds, 1) if seconds else None,
            "server_cpu_ms_per_delivery": round(1000 * cpu / max(1, drained), 3),
            "sql": await sql_counts(pid, drained),
            "share_of_samples_percent": profile_shares(stacks),
        }

        await bench.enable(False)
        await sql_counts(pid)
        stacks = OUT / f"pyspy-webhook-{DATABASE}-none.txt"
        recorder = start_py_spy(pid, stacks, SECONDS)
        measured = await bench.burst(connections, SECONDS)
        await stop_py_spy(recorder, interrupt=False)
        result["burst without webhook"] = {
            **public(measured),
            "sql": await sql_counts(pid, measured["requests"]),
            "share_of_samples_percent": profile_shares(stacks),
        }
        return result
    finally:
        await bench.close()


COUNT_FILE = OUT / "webhook-sql-counts.json"


async def sql_counts(pid: int, per: int = 0) -> dict[str, Any]:
    """The counting server's SQL since the last call (it writes them on SIGUSR1), per kind
    of transaction: transactions, statements, how long the connection was held; also per
    `per` (requests or deliveries)."""
    COUNT_FILE.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    deadline = time.monotonic() + 10
    while not COUNT_FILE.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the counting server did not write its counts")
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.05)  # written whole (a few hundred bytes)
    counts: dict[str, Any] = json.loads(COUNT_FILE.read_text())
    if per:
        for row in counts.values():
            row["transactions_per"] = round(row["transactions"] / per, 3)
            row["statements_per"] = round(row["statements"] / per, 3)
            row["held_ms_per"] = round(row["held_ms"] / per, 3)
    return counts


def transaction_kind(statements: list[str]) -> str:
    text = " ".join(statements).lower()
    if "insert into messages" in text:
        return "POST message: the write transaction"
    if "insert into webhook_deliveries" in text:
        return "dispatcher: record outcomes"
    if "update webhook_jobs set lease_until" in text:
        return "dispatcher: claim jobs, read webhook and events"
    if "from webhook_jobs" in text:
        return "dispatcher: look for due jobs, none"
    if "insert into webhook_jobs" in text:
        return "dispatcher: fan out a space's events"
    if "webhook_cursors" in text:
        return "dispatcher: look for spaces behind"
    if "api_keys" in text:
        return "read: API key"
    return "other: " + " ".join(statements[0].split())[:60]


def serve_counting() -> None:
    """`threads-api serve`, counting the SQL of every transaction by kind
    (transaction_kind); SIGUSR1 writes the counts so far to COUNT_FILE and starts afresh."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from threads_api.cli import main as cli

    running: dict[int, tuple[float, list[str]]] = {}
    totals: dict[str, dict[str, float]] = collections.defaultdict(
        lambda: {"transactions": 0, "statements": 0, "held_ms": 0.0}
    )

    def add(statements: list[str], held: float) -> None:
        row = totals[transaction_kind(statements)]
        row["transactions"] += 1
        row["statements"] += len(statements)
        row["held_ms"] += held * 1000

    @event.listens_for(Engine, "begin")
    def begin(connection: Any) -> None:
        running[id(connection)] = (time.perf_counter(), [])

    @event.listens_for(Engine, "before_cursor_execute")
    def statement(connection: Any, _c: Any, sql: str, _p: Any, _x: Any, _m: Any) -> None:
        if sql.startswith("BEGIN"):
            return
        if id(connection) in running:
            running[id(connection)][1].append(sql)
        else:
            add([sql], 0.0)  # autocommit: the revocation watcher's polls

    def end(connection: Any) -> None:
        started, statements = running.pop(id(connection), (0.0, []))
        if statements:
            add(statements, time.perf_counter() - started)

    event.listen(Engine, "commit", end)
    event.listen(Engine, "rollback", end)

    def dump(*_: Any) -> None:
        COUNT_FILE.write_text(json.dumps(totals, indent=1))
        totals.clear()

    signal.signal(signal.SIGUSR1, dump)
    sys.argv = ["threads-api", "serve", *sys.argv[2:]]
    cli()


def start_py_spy(pid: int, output: Path, seconds: int | None) -> subprocess.Popen[bytes]:
    """py-spy sampling every thread of `pid` (raw stacks), on the client CPU; without
    `seconds`, until it is sent SIGINT."""
    py_spy = VENV_BIN / "py-spy"
    if not py_spy.exists():
        py_spy = Path(shutil.which("py-spy") or "py-spy")
    return subprocess.Popen(
        [
            *taskset(CLIENT_CPU),
            str(py_spy),
            "record",
            "--pid",
            str(pid),
            *(["--duration", str(seconds)] if seconds else []),
            "--rate",
            "250",
            "--nonblocking",
            "--gil",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


async def stop_py_spy(recorder: subprocess.Popen[bytes], interrupt: bool) -> None:
    if interrupt:
        recorder.send_signal(signal.SIGINT)
    _, err = await asyncio.to_thread(recorder.communicate)
    if recorder.returncode not in (0, -signal.SIGINT):
        raise RuntimeError(f"py-spy failed ({recorder.returncode}): {err.decode()}")


# Inclusive: a sample counts for every part its stack passes through (so they overlap).
PROFILE_PARTS = [
    ("HTTP requests (uvicorn → app)", "run_asgi"),
    ("dispatcher: fan-out (events → jobs)", "_fan_out ("),
    ("dispatcher: claim due jobs, read events", "_send_due ("),
    ("dispatcher: one attempt (sign, send, log)", "_send (threads_api/webhook/dispatcher.py"),
    ("  sign (open secrets, HMAC)", "send_event ("),
    ("  sender.post: resolve, connect, exchange", "post (threads_api/webhook/sender.py"),
    ("  log_attempt (JSON, log level off)", "log_attempt ("),
    ("dispatcher: record outcomes", "_record_batch ("),
    ("SQLAlchemy (any caller)", "sqlalchemy/"),
    ("aiosqlite worker thread", "aiosqlite/core.py"),
    ("asyncpg", "asyncpg/"),
    ("event loop (uvloop/asyncio) only", ""),
]


def profile_shares(raw: Path) -> dict[str, float]:
    """Share of py-spy's samples per part (PROFILE_PARTS), and the top leaf functions."""
    parts: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        count, frames = int(n), stack.split(";")
        total += count
        matched = False
        for label, marker in PROFILE_PARTS:
            if marker and marker in stack:
                parts[label] += count
                matched = True
        if not matched:
            parts[PROFILE_PARTS[-1][0]] += count
        leaves[frames[-1]] += count
    shares = {label: round(100 * parts[label] / max(1, total), 1) for label, _ in PROFILE_PARTS}
    shares["samples"] = total
    for leaf, count in leaves.most_common(15):
        shares[f"leaf: {leaf}"] = round(100 * count / max(1, total), 1)
    return shares


# --- main ----------------------------------------------------------------------------------


def main() -> None:
    # Killed, stop the server too (the `finally` below): an orphan server would keep
    # delivering from a database file the next run replaces under it.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(CLIENT_CPU)})
    OUT.mkdir(exist_ok=True)
    runs = {"healthy": healthy, "outage": outage, "throughput": throughput, "profile": profile}
    stored = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    for name in [s.strip() for s in SCENARIOS if s.strip()]:
        load_before = loadavg()
        with fresh_database(DATABASE, f"webhook-{name}") as db:
            counting = [sys.executable, str(Path(__file__).resolve()), "--serve-counting"]
            server = start_ours(
                db,
                f"webhook-{name}",
                extra_env=SERVER_ENV,
                command=counting if name == "profile" else None,
            )
            try:
                gc.disable()  # this process's pauses would count as delivery latency
                started = time.time()
                result = asyncio.run(runs[name](server))
                result["run_seconds"] = round(time.time() - started, 1)
            finally:
                gc.enable()
                server.stop()
        result["load"] = {"before": load_before, "after": loadavg()}
        result["settings"] = {
            k: v
            for k, v in os.environ.items()
            if k.startswith(("BENCH_", "THREADS_API_WEBHOOK")) or k == "THREADS_API_SECRET_KEY"
        }
        if "THREADS_API_SECRET_KEY" in result["settings"]:
            result["settings"]["THREADS_API_SECRET_KEY"] = "(set)"
        result["measured_at"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
        result["machine"] = {**machine(), "nproc": str(os.cpu_count())}  # not the pinned count
        stored.setdefault(DATABASE, {})[name + (f"-{LABEL}" if LABEL else "")] = result
        RESULTS.write_text(json.dumps(stored, indent=2) + "\n")
        print(json.dumps({name: result}, indent=2))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve-counting"]:
        serve_counting()
    else:
        main()
