"""Revocation across real server processes on one database (api.md §2, ADR 0005): a key
revoked through one process fails in another for every request that starts more than 100 ms
after the revocation's response."""

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.helpers import ADMIN_SECRET
from tests.servers import Server

pytestmark = pytest.mark.slow

ADMIN = {"X-API-Key": ADMIN_SECRET}
BOUND_SECONDS = 0.1
HAMMER_SECONDS = 1.0
HAMMERS = 4


def hammer(url: str, key: dict[str, str], space_id: str, messages: str) -> Counter[int]:
    """Statuses of writes and reads with `key`, sent one after another for HAMMER_SECONDS."""
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + HAMMER_SECONDS
    with httpx.Client(base_url=url, headers=key, timeout=10) as http:
        while time.monotonic() < deadline:
            statuses[http.post(messages, json={"content": "after"}).status_code] += 1
            statuses[http.get(f"/v1/spaces/{space_id}").status_code] += 1
    return statuses


def test_a_key_revoked_in_one_process_fails_in_another_after_100_ms(
    database_url: str, server_factory: Callable[..., Server]
) -> None:
    a = server_factory(database_url)
    b = server_factory(database_url)
    with (
        httpx.Client(base_url=a.url, headers=ADMIN, timeout=10) as on_a,
        httpx.Client(base_url=b.url, timeout=10) as on_b,
    ):
        space = on_a.post("/v1/spaces", json={"name": "s"}).json()
        created = on_a.post(
            "/v1/api-keys", json={"name": "k", "scopes": ["write"], "space_ids": [space["id"]]}
        ).json()
        key = {"X-API-Key": created["secret"]}
        first = on_b.post(
            f"/v1/spaces/{space['id']}/threads/messages", json={"content": "0"}, headers=key
        )
        assert first.status_code == 201, first.text
        messages = f"/v1/spaces/{space['id']}/threads/{first.json()['thread']['id']}/messages"
        # B serves K from its cache from here on, right up to the revocation.
        for n in range(1, 20):
            assert on_b.post(messages, json={"content": str(n)}, headers=key).status_code == 201

        assert on_a.delete(f"/v1/api-keys/{created['id']}").status_code == 200
        time.sleep(BOUND_SECONDS)

        with ThreadPoolExecutor(HAMMERS) as pool:
            runs = [pool.submit(hammer, b.url, key, space["id"], messages) for _ in range(HAMMERS)]
            statuses = sum((run.result() for run in runs), Counter[int]())
        assert set(statuses) == {401}, statuses
        assert sum(statuses.values()) >= 2 * HAMMERS

        listed = on_a.get(messages, params={"limit": 100}).json()["data"]
        assert [m["content"] for m in listed] == [str(n) for n in range(20)]
