"""Graceful shutdown: SIGTERM under load lets every in-flight request finish, with no 5xx."""

import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.reliability.workload import (
    HEADERS,
    Outcomes,
    check_database,
    resolve_unknown,
    seed,
)
from tests.servers import start_server

pytestmark = pytest.mark.slow

THREADS = 4


def _slow_body(key: str, pause: float, started: threading.Event) -> Iterator[bytes]:
    """A JSON body sent in two parts, `pause` seconds apart: the request is surely in
    flight when the signal arrives."""
    yield b'{"content": "'
    started.set()
    time.sleep(pause)
    yield key.encode() + b'"}'


def test_sigterm_under_load_finishes_in_flight_requests(database_url: str, tmp_path: Path):
    server = start_server(database_url, tmp_path)
    _space, paths = seed(server.url, THREADS)
    outcomes = Outcomes()
    statuses: Counter[int] = Counter()
    late_errors: list[str] = []
    terminated = threading.Event()
    stop = threading.Event()

    def client(index: int) -> None:
        path = paths[index % THREADS]
        with httpx.Client(base_url=server.url, headers=HEADERS, timeout=30) as http:
            number = 0
            while not stop.is_set():
                number += 1
                write = number % 10 < 3  # 70/30 reads/writes
                key = f"s{index}-{uuid.uuid4().hex}"
                sent_before_term = not terminated.is_set()
                try:
                    if write:
                        outcomes.paths[key] = path
                        response = http.post(
                            path, json={"content": key}, headers={"Idempotency-Key": key}
                        )
                    else:
                        response = http.get(path, params={"order": "desc", "limit": 20})
                except httpx.TransportError as error:
                    # Refused or dropped connections are expected once the server stops
                    # accepting work; before the signal they are a failure.
                    if write:
                        outcomes.unknown[key] = path
                    if sent_before_term:
                        late_errors.append(f"{type(error).__name__} before SIGTERM")
                    if terminated.is_set():
                        time.sleep(0.05)
                    continue
                statuses[response.status_code] += 1
                if write and response.status_code == 201:
                    outcomes.acked[key] = response.json()["id"]

    slow_results: list[int] = []

    def slow_writer(index: int, started: threading.Event) -> None:
        key = f"slow{index}-{uuid.uuid4().hex}"
        outcomes.paths[key] = paths[0]
        response = httpx.post(
            f"{server.url}{paths[0]}",
            content=_slow_body(key, 1.5, started),
            headers={**HEADERS, "Content-Type": "application/json", "Idempotency-Key": key},
            timeout=30,
        )
        slow_results.append(response.status_code)
        if response.status_code == 201:
            outcomes.acked[key] = response.json()["id"]

    workers = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    slow_started = [threading.Event() for _ in range(2)]
    slow = [
        threading.Thread(target=slow_writer, args=(i, event))
        for i, event in enumerate(slow_started)
    ]
    for thread in workers:
        thread.start()
    time.sleep(1.0)
    for thread in slow:
        thread.start()
    for event in slow_started:
        assert event.wait(10)
    time.sleep(0.2)

    terminated.set()
    server.process.terminate()  # SIGTERM
    # uvicorn re-raises the signal once it has shut down cleanly: -15 is a clean exit here.
    assert server.process.wait(30) in (0, -signal.SIGTERM), server.log.read_text()[-3000:]
    assert "Application shutdown complete" in server.log.read_text()
    stop.set()
    for thread in [*workers, *slow]:
        thread.join(30)
        assert not thread.is_alive()

    assert slow_results == [201, 201], slow_results  # in flight at SIGTERM, and finished
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 201}, statuses
    assert not late_errors, late_errors[:5]
    assert statuses[201] > 20 and statuses[200] > 50, statuses

    # Nothing acknowledged before or during the shutdown was lost or written twice.
    server = start_server(database_url, tmp_path)
    try:
        resolve_unknown(server.url, outcomes, database_url)
    finally:
        server.stop()
    check_database(database_url, outcomes, seeded=THREADS)
