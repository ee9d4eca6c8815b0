"""Identical requests racing against real server processes: exactly one resource each time.

Every client thread opens its connection first, then all of them send at once, released by
a barrier. Each response must be the one 201 (the original or its replay, byte for byte) or a
409 problem with `Retry-After` (contract §8).
"""

import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.helpers import ADMIN_SECRET
from tests.servers import Server

pytestmark = pytest.mark.slow

CLIENTS = 32
ROUNDS = 5
KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def race(urls: list[str], path: str, body: dict[str, Any], key: str) -> list[httpx.Response]:
    """`CLIENTS` identical POSTs, spread over `urls`, released together."""
    barrier = threading.Barrier(CLIENTS)
    tls = ssl.create_default_context()  # unused over http://, but costly to build 32 times
    clients = [
        httpx.Client(
            base_url=urls[i % len(urls)],
            headers={"X-API-Key": ADMIN_SECRET},
            timeout=60,
            verify=tls,
        )
        for i in range(CLIENTS)
    ]

    def send(client: httpx.Client) -> httpx.Response:
        assert client.get("/healthz").status_code == 200  # connect before the start line
        barrier.wait(timeout=30)
        return client.post(path, json=body, headers={KEY: key})

    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            return list(pool.map(send, clients))
    finally:
        for client in clients:
            client.close()


def check_round(responses: list[httpx.Response]) -> httpx.Response:
    """The one original 201; every other response is its replay or an in-flight 409."""
    created = [r for r in responses if r.status_code == 201]
    others = [r for r in responses if r.status_code != 201]
    originals = [r for r in created if REPLAYED not in r.headers]
    assert len(originals) == 1, [(r.status_code, r.headers.get(REPLAYED)) for r in responses]
    original = originals[0]
    for replay in created:
        assert replay.content == original.content
        assert replay.headers["location"] == original.headers["location"]
    for response in others:
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == "idempotency_in_flight"
        assert int(response.headers["retry-after"]) >= 1
    return original


def ids(http: httpx.Client, list_path: str) -> list[str]:
    """The ids a list shows (the tests stay within one page)."""
    response = http.get(list_path, params={"limit": 200})
    assert response.status_code == 200, response.text
    assert response.json()["has_more"] is False
    return [item["id"] for item in response.json()["data"]]


def arrange(url: str) -> tuple[str, str]:
    with httpx.Client(base_url=url, headers={"X-API-Key": ADMIN_SECRET}) as http:
        space = http.post("/v1/spaces", json={"name": "race"}).json()
        response = http.post(
            f"/v1/spaces/{space['id']}/threads/messages", json={"content": "first"}
        )
        assert response.status_code == 201, response.text
        return space["id"], response.json()["thread"]["id"]


def race_messages(urls: list[str]) -> dict[str, int]:
    space_id, thread_id = arrange(urls[0])
    path = f"/v1/spaces/{space_id}/threads/{thread_id}/messages"
    tally = {"replayed": 0, "in_flight": 0, "slowest_round_ms": 0}
    created: list[str] = []
    with httpx.Client(base_url=urls[-1], headers={"X-API-Key": ADMIN_SECRET}) as http:
        for round_ in range(ROUNDS):
            started = time.monotonic()
            responses = race(urls, path, {"content": f"round {round_}"}, f"race-{round_}")
            elapsed_ms = int((time.monotonic() - started) * 1000)
            original = check_round(responses)
            tally["replayed"] += sum(REPLAYED in r.headers for r in responses)
            tally["in_flight"] += sum(r.status_code == 409 for r in responses)
            tally["slowest_round_ms"] = max(tally["slowest_round_ms"], elapsed_ms)
            created.append(original.json()["id"])
            assert original.json()["seq"] == round_ + 2
            # Exactly one new message per round, and it is the one every client was told of.
            assert ids(http, path)[1:] == created
            late = http.post(
                path, json={"content": f"round {round_}"}, headers={KEY: f"race-{round_}"}
            )
            assert late.status_code == 201 and late.headers[REPLAYED] == "true"
            assert late.content == original.content
    return tally


def race_threads(urls: list[str]) -> None:
    space_id, first_thread = arrange(urls[0])
    path = f"/v1/spaces/{space_id}/threads/messages"
    created = {first_thread}
    with httpx.Client(base_url=urls[-1], headers={"X-API-Key": ADMIN_SECRET}) as http:
        for round_ in range(ROUNDS):
            body = {"content": f"round {round_}", "title": f"thread {round_}"}
            original = check_round(race(urls, path, body, f"race-thread-{round_}"))
            created.add(original.json()["thread"]["id"])
            assert set(ids(http, f"/v1/spaces/{space_id}/threads?status=all")) == created
            thread_id = original.json()["thread"]["id"]
            assert len(ids(http, f"/v1/spaces/{space_id}/threads/{thread_id}/messages")) == 1


def test_racing_duplicate_messages_create_one_message(
    database_url: str, server_factory: Callable[..., Server]
) -> None:
    tally = race_messages([server_factory(database_url).url])
    print(f"\nmessages, one server: {tally}")


def test_racing_duplicate_threads_create_one_thread(
    database_url: str, server_factory: Callable[..., Server]
) -> None:
    race_threads([server_factory(database_url).url])


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_racing_duplicates_across_two_server_processes(
    database_url: str, server_factory: Callable[..., Server]
) -> None:
    """Two processes share nothing but the database, which alone must arbitrate."""
    urls = [server_factory(database_url).url, server_factory(database_url).url]
    tally = race_messages(urls)
    print(f"\nmessages, two servers: {tally}")
    race_threads(urls)
