"""The engine across real server processes (contract §15): several processes never send one
attempt twice, and a process killed mid-delivery leaves it to be delivered after all."""

import asyncio
from collections import Counter
from collections.abc import Callable

import httpx
import pytest

from tests.helpers import ADMIN_SECRET, Api
from tests.servers import Server
from tests.webhook.receiver import Receiver

pytestmark = pytest.mark.slow

ENV = {"THREADS_API_WEBHOOKS_ALLOW_PRIVATE": "true", "THREADS_API_WEBHOOK_TIMEOUT_SECONDS": "2"}


def client(server: Server) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers={"X-API-Key": ADMIN_SECRET}, timeout=30)


async def test_two_processes_deliver_each_event_once(
    database_url: str, server_factory: Callable[..., Server], receiver: Receiver
) -> None:
    one, two = server_factory(database_url, env=ENV), server_factory(database_url, env=ENV)
    async with client(one) as http_one, client(two) as http_two:
        created = await http_one.post("/v1/webhooks", json={"url": receiver.url})
        assert created.status_code == 201, created.text
        space = await Api(http_two).space()
        threads = [await Api(http).thread(space["id"]) for http in (http_one, http_two)]
        await asyncio.gather(
            *(
                Api(http).message(space["id"], thread["id"], f"{n}")
                for n in range(15)
                for http in (http_one, http_two)
                for thread in threads
            )
        )
        events = (await http_one.get(f"/v1/spaces/{space['id']}/events?limit=200")).json()
    await receiver.wait_for(len(events["data"]))
    await asyncio.sleep(0.5)  # time for a duplicate to show up, if there were one
    ids = Counter(request.headers["webhook-id"] for request in receiver.requests)
    assert set(ids) == {event["id"] for event in events["data"]}
    assert max(ids.values()) == 1


async def test_a_delivery_cut_off_by_kill_9_is_made_after_the_restart(
    database_url: str, server_factory: Callable[..., Server], receiver: Receiver
) -> None:
    receiver.delay = 60  # holds the attempt open while the server dies
    server = server_factory(database_url, env=ENV)
    async with client(server) as http:
        created = await http.post(
            "/v1/webhooks", json={"url": receiver.url, "types": ["thread.created"]}
        )
        space = await Api(http).space()
        await Api(http).thread(space["id"])
    [cut_off] = await receiver.wait_for(1)
    server.kill()
    receiver.delay = 0
    restarted = server_factory(database_url, env=ENV)
    # The lease of the dead process runs out (timeout + 5 s), then the attempt is made again.
    [_, delivered] = await receiver.wait_for(2, timeout=30)
    assert delivered.headers["webhook-id"] == cut_off.headers["webhook-id"]
    assert delivered.body == cut_off.body
    async with client(restarted) as http:
        hook_id = created.json()["id"]
        for _ in range(100):
            log = (await http.get(f"/v1/webhooks/{hook_id}/deliveries")).json()["data"]
            if log:
                break
            await asyncio.sleep(0.05)
    # The killed attempt left no trace but its lease; the one that succeeded is logged.
    assert [(d["attempt"], d["status_code"]) for d in log] == [(1, 200)]
