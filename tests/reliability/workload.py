"""Writers that hammer a real server, and checks of what the database holds afterwards.

Each message's content is its Idempotency-Key, so a row can always be traced to the one
request that created it.
"""

import asyncio
import contextlib
import sqlite3
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.helpers import ADMIN_SECRET

HEADERS = {"X-API-Key": ADMIN_SECRET}


@dataclass
class Outcomes:
    """What the clients saw, by idempotency key."""

    acked: dict[str, str] = field(default_factory=dict)  # key -> id of the message in the 201
    unknown: dict[str, str] = field(default_factory=dict)  # key -> path; no answer, or a 503
    paths: dict[str, str] = field(default_factory=dict)  # key -> path, of every key sent
    unexpected: list[tuple[str, int, str]] = field(default_factory=list)
    statuses: Counter[int | str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)


def seed(url: str, threads: int = 4) -> tuple[str, list[str]]:
    """A space with `threads` threads, each holding one message; the message paths."""
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http:
        response = http.post("/v1/spaces", json={"name": "reliability"})
        assert response.status_code == 201, response.text
        space_id = response.json()["id"]
        paths = []
        for i in range(threads):
            response = http.post(
                f"/v1/spaces/{space_id}/threads/messages",
                json={"content": f"seed-{i}", "title": f"thread {i}"},
            )
            assert response.status_code == 201, response.text
            paths.append(
                f"/v1/spaces/{space_id}/threads/{response.json()['thread']['id']}/messages"
            )
    return space_id, paths


class Writers:
    """`count` threads, each POSTing messages with fresh idempotency keys until stopped."""

    def __init__(self, url: str, paths: list[str], outcomes: Outcomes, count: int = 8) -> None:
        self.url = url
        self.paths = paths
        self.outcomes = outcomes
        self.stopping = threading.Event()
        self.threads = [
            threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(count)
        ]

    def __enter__(self) -> "Writers":
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(30)
            assert not thread.is_alive(), "a writer hung"

    def _run(self, index: int) -> None:
        out = self.outcomes
        path = self.paths[index % len(self.paths)]
        with httpx.Client(base_url=self.url, headers=HEADERS, timeout=30) as http:
            while not self.stopping.is_set():
                key = f"w{index}-{uuid.uuid4().hex}"
                with out.lock:
                    out.paths[key] = path
                try:
                    response = http.post(
                        path, json={"content": key}, headers={"Idempotency-Key": key}
                    )
                except httpx.TransportError as error:
                    with out.lock:
                        out.unknown[key] = path
                        out.statuses[type(error).__name__] += 1
                    time.sleep(0.1)
                    continue
                with out.lock:
                    out.statuses[response.status_code] += 1
                    if response.status_code == 201:
                        out.acked[key] = response.json()["id"]
                    elif response.status_code == 503:
                        # The commit may have happened before the database went away.
                        assert response.headers.get("Retry-After"), response.headers
                        out.unknown[key] = path
                    else:
                        out.unexpected.append((key, response.status_code, response.text[:300]))
                if response.status_code != 201:
                    time.sleep(0.1)


def resolve_unknown(
    url: str, outcomes: Outcomes, database_url: str, deadline_seconds: float = 30
) -> None:
    """Retry every request whose outcome the client did not learn, with the same key and
    body: each must end in a 201 (first run or replay); its message joins `acked`."""
    deadline = time.monotonic() + deadline_seconds
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http:
        for key, path in list(outcomes.unknown.items()):
            while True:
                response = http.post(path, json={"content": key}, headers={"Idempotency-Key": key})
                if response.status_code == 201:
                    outcomes.acked[key] = response.json()["id"]
                    break
                if response.status_code not in (409, 503) or time.monotonic() > deadline:
                    raise AssertionError(
                        f"retry of {key} on {path}: {response.status_code} {response.text}\n"
                        f"record: {_record_of(database_url, key)}"
                    )
                time.sleep(0.2)
        outcomes.unknown.clear()


def _record_of(database_url: str, key: str) -> object:
    """What the database holds for a key, to explain a failed retry."""
    return (
        query(
            database_url,
            "SELECT fingerprint, status_code, created_at, expires_at, location "
            f"FROM idempotency_records WHERE key = '{key}'",
        ),
        query(database_url, f"SELECT id, thread_id, seq FROM messages WHERE content = '{key}'"),
    )


def replay_sample(url: str, outcomes: Outcomes, count: int = 20) -> None:
    """Acknowledged keys replay their first answer and create nothing."""
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http:
        for key, message_id in list(outcomes.acked.items())[-count:]:
            response = http.post(
                outcomes.paths[key], json={"content": key}, headers={"Idempotency-Key": key}
            )
            assert response.status_code == 201, response.text
            assert response.headers.get("Idempotent-Replayed") == "true"
            assert response.json()["id"] == message_id


def query(database_url: str, sql: str) -> list[tuple[Any, ...]]:
    """Read the database directly, not through the service under test."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        with contextlib.closing(sqlite3.connect(url.database, timeout=30)) as connection:
            return connection.execute(sql).fetchall()

    async def fetch() -> list[tuple[Any, ...]]:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn, timeout=10)
        try:
            return [tuple(row) for row in await connection.fetch(sql)]
        finally:
            await connection.close()

    return asyncio.run(fetch())


def check_database(database_url: str, outcomes: Outcomes, seeded: int) -> int:
    """Everything acknowledged is there exactly once, nothing else is, seqs are dense and
    counters equal the rows. Returns the number of messages."""
    rows = query(database_url, "SELECT id, thread_id, seq, content FROM messages")
    by_content = Counter(content for _, _, _, content in rows)
    duplicated = {c: n for c, n in by_content.items() if n > 1}
    assert not duplicated, f"messages stored more than once: {list(duplicated.items())[:5]}"

    ids = {content: message_id for message_id, _, _, content in rows}
    missing = [key for key, message_id in outcomes.acked.items() if ids.get(key) != message_id]
    assert not missing, f"{len(missing)} acknowledged messages lost or changed: {missing[:5]}"
    phantoms = set(ids) - set(outcomes.acked) - {f"seed-{i}" for i in range(seeded)}
    assert not phantoms, f"messages nobody was told about: {sorted(phantoms)[:5]}"

    seqs: dict[str, list[int]] = {}
    for _, thread_id, seq, _ in rows:
        seqs.setdefault(thread_id, []).append(seq)
    counts = dict(query(database_url, "SELECT id, message_count FROM threads"))
    assert set(counts) == set(seqs)
    for thread_id, thread_seqs in seqs.items():
        assert sorted(thread_seqs) == list(range(1, len(thread_seqs) + 1)), thread_id
        assert counts[thread_id] == len(thread_seqs), (thread_id, counts[thread_id])
    return len(rows)


def integrity_check(database_url: str) -> None:
    assert query(database_url, "PRAGMA integrity_check") == [("ok",)]
