"""Racing writers against real `threads-api serve` processes: seqs stay dense and unique."""

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.helpers import ADMIN_SECRET
from tests.servers import Server

pytestmark = pytest.mark.slow

WRITERS = 64
HEADERS = {"X-API-Key": ADMIN_SECRET}


def arrange_thread(url: str) -> dict[str, Any]:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http:
        space = http.post("/v1/spaces", json={"name": "race"})
        assert space.status_code == 201, space.text
        created = http.post(
            f"/v1/spaces/{space.json()['id']}/threads/messages", json={"content": "first"}
        )
        assert created.status_code == 201, created.text
        return created.json()["thread"]


def race(urls: list[str], thread: dict[str, Any]) -> list[httpx.Response]:
    """WRITERS POSTs, released together, spread round-robin over the servers at `urls`."""
    path = f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}/messages"
    barrier = threading.Barrier(WRITERS)

    def post(i: int) -> httpx.Response:
        with httpx.Client(base_url=urls[i % len(urls)], headers=HEADERS, timeout=60) as http:
            http.get("/healthz")  # open the connection before the start line
            barrier.wait(timeout=30)
            return http.post(path, json={"content": f"message {i}", "author": f"w{i}"})

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        return list(pool.map(post, range(WRITERS)))


def assert_dense(url: str, thread: dict[str, Any], responses: list[httpx.Response]) -> None:
    assert [r.status_code for r in responses] == [201] * WRITERS, [
        r.text for r in responses if r.status_code != 201
    ]
    seqs = sorted(r.json()["seq"] for r in responses)
    assert seqs == list(range(2, WRITERS + 2))
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as http:
        base = f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}"
        after = http.get(base).json()
        listed = http.get(f"{base}/messages", params={"limit": 200}).json()
    assert after["message_count"] == WRITERS + 1
    assert [m["seq"] for m in listed["data"]] == list(range(1, WRITERS + 2))
    assert len({m["id"] for m in listed["data"]}) == WRITERS + 1
    # Each response names the message that was stored under its seq.
    stored = {m["seq"]: m for m in listed["data"]}
    for response in responses:
        assert stored[response.json()["seq"]] == response.json()
    # A writer that waited for the lock never stamps its message, or the thread, with a time
    # older than the message before it.
    stamps = [m["created_at"] for m in listed["data"]]
    assert stamps == sorted(stamps)
    assert after["last_message_at"] == stamps[-1]
    assert after["updated_at"] == stamps[-1]


def test_concurrent_posts_to_one_thread_get_dense_seqs(database_url, server_factory):
    server: Server = server_factory(database_url)
    thread = arrange_thread(server.url)

    responses = race([server.url], thread)

    assert_dense(server.url, thread, responses)


def test_concurrent_posts_through_two_processes_get_dense_seqs(database_url, server_factory):
    # The contract requires this on PostgreSQL; SQLite's file lock serialises the two
    # processes as well, so the same test holds there.
    first: Server = server_factory(database_url)
    second: Server = server_factory(database_url)
    thread = arrange_thread(first.url)

    responses = race([first.url, second.url], thread)

    assert_dense(second.url, thread, responses)
