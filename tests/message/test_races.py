"""Racing edits and erasures: one winner per ETag, and an erasure leaves no content behind,
whatever a racing edit did."""

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.helpers import ADMIN_SECRET, Api
from tests.message.support import (
    first_message,
    message_url,
    new_marker,
    rows_holding,
    wait_until_no_file_holds,
)
from tests.servers import Server

RACERS = 12


async def arrange(api: Api, content: str = "original") -> dict[str, Any]:
    space = await api.space()
    thread = await api.thread(space["id"], content)
    return await first_message(api.http, thread)


async def test_racing_edits_with_one_etag_have_one_winner(
    api: Api, client: httpx.AsyncClient
) -> None:
    message = await arrange(api)
    etag = (await client.get(message_url(message))).headers["etag"]

    responses = await asyncio.gather(
        *(
            client.patch(
                message_url(message), json={"content": f"edit {n}"}, headers={"If-Match": etag}
            )
            for n in range(RACERS)
        )
    )

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * (RACERS - 1), [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 200)
    assert winner["version"] == 2
    assert (await client.get(message_url(message))).json() == winner
    history = (await client.get(f"{message_url(message)}/versions")).json()["data"]
    assert [(v["version"], v["content"]) for v in history] == [(1, "original")]


async def test_racing_edits_without_if_match_each_make_a_version(
    api: Api, client: httpx.AsyncClient
) -> None:
    message = await arrange(api)

    responses = await asyncio.gather(
        *(client.patch(message_url(message), json={"content": f"e{n}"}) for n in range(RACERS))
    )

    assert [r.status_code for r in responses] == [200] * RACERS
    assert sorted(r.json()["version"] for r in responses) == list(range(2, RACERS + 2))
    history = (await client.get(f"{message_url(message)}/versions")).json()["data"]
    assert [v["version"] for v in history] == list(range(RACERS, 0, -1))


async def test_an_edit_racing_an_erasure_leaves_no_content(
    api: Api, client: httpx.AsyncClient, database_url: str
) -> None:
    for _ in range(4):
        before, during = new_marker(), new_marker()
        message = await arrange(api, f"{before} first")
        edit, erase = await asyncio.gather(
            client.patch(message_url(message), json={"content": f"{during} edit"}),
            client.delete(message_url(message)),
        )

        assert erase.status_code == 200
        assert edit.status_code in (200, 409), edit.text
        if edit.status_code == 409:
            assert edit.json()["code"] == "message_deleted"
        final = (await client.get(message_url(message))).json()
        assert final["content"] is None and final["deleted_at"] is not None
        assert (await client.get(f"{message_url(message)}/versions")).json()["data"] == []
        for marker in (before, during):
            assert await rows_holding(database_url, marker) == {}
            if database_url.startswith("sqlite"):
                assert wait_until_no_file_holds(database_url, marker) == []


# --- the same against real servers (several processes on PostgreSQL) ---------------------


def race_edits(urls: list[str], url: str, etag: str) -> list[httpx.Response]:
    barrier = threading.Barrier(RACERS)

    def patch(n: int) -> httpx.Response:
        headers = {"X-API-Key": ADMIN_SECRET, "If-Match": etag}
        with httpx.Client(base_url=urls[n % len(urls)], headers=headers, timeout=60) as http:
            http.get("/healthz")  # connected before the start line
            barrier.wait(timeout=30)
            return http.patch(url, json={"content": f"server edit {n}"})

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        return list(pool.map(patch, range(RACERS)))


@pytest.mark.slow
def test_racing_edits_across_server_processes(server_factory: Any, database_url: str) -> None:
    workers = 1 if database_url.startswith("sqlite") else 2
    servers: list[Server] = [server_factory(database_url, workers=workers)]
    if workers > 1:
        servers.append(server_factory(database_url, workers=workers))
    urls = [s.url for s in servers]
    with httpx.Client(base_url=urls[0], headers={"X-API-Key": ADMIN_SECRET}, timeout=30) as http:
        space = http.post("/v1/spaces", json={"name": "race"}).json()
        created = http.post(
            f"/v1/spaces/{space['id']}/threads/messages", json={"content": "original"}
        ).json()
        url = message_url(created["message"])
        etag = http.get(url).headers["etag"]

        responses = race_edits(urls, url, etag)

        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200] + [412] * (RACERS - 1), [r.text for r in responses]
        final = http.get(url).json()
        assert final["version"] == 2
        assert final == next(r.json() for r in responses if r.status_code == 200)
