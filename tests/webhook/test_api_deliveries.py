"""The webhooks management API (contract §15) and real deliveries: secret rotation as a
receiver sees it, the deliveries log, a manual retry, and logs without secrets."""

import logging

import httpx
import pytest
import standardwebhooks

from tests.helpers import Api, problem
from tests.webhook.receiver import Receiver
from tests.webhook.support import (
    UNKNOWN_DELIVERY,
    create,
    etag_of,
    messages,
    signatures,
    until,
    verifies,
)
from threads_api.logs import JsonFormatter


class TestRotation:
    async def test_rotation_shows_a_new_secret_once(self, client: httpx.AsyncClient) -> None:
        webhook = await create(client)
        path = f"/v1/webhooks/{webhook['id']}"

        response = await client.post(f"{path}/rotate-secret", json={})

        assert response.status_code == 200, response.text
        rotated = response.json()
        assert rotated["secret"].startswith("whsec_")
        assert rotated["secret"] != webhook["secret"]
        fetched = await client.get(path)
        assert fetched.json() == {k: v for k, v in rotated.items() if k != "secret"}
        assert response.headers["etag"] == fetched.headers["etag"]
        assert "whsec_" not in fetched.text
        assert "whsec_" not in (await client.get("/v1/webhooks")).text

    async def test_rotation_bounds(self, client: httpx.AsyncClient) -> None:
        webhook = await create(client)
        path = f"/v1/webhooks/{webhook['id']}/rotate-secret"
        for body in (
            {"expire_old_in_seconds": -1},
            {"expire_old_in_seconds": 7 * 86_400 + 1},
            {"expire_old_in_seconds": None},
            {"expire_old_in_seconds": "soon"},
            {"expire_old_in_seconds": 1.5},
            {"expire_old_in_seconds": True},
            {"secret": "whsec_chosen"},
        ):
            messages(await client.post(path, json=body))
        for seconds in (0, 7 * 86_400):
            response = await client.post(path, json={"expire_old_in_seconds": seconds})
            assert response.status_code == 200, response.text

    async def test_rotation_without_a_body_takes_the_default(
        self, client: httpx.AsyncClient
    ) -> None:
        webhook = await create(client)
        response = await client.post(f"/v1/webhooks/{webhook['id']}/rotate-secret")
        assert response.status_code == 200, response.text
        assert response.json()["secret"].startswith("whsec_")
        empty_json = await client.post(
            f"/v1/webhooks/{webhook['id']}/rotate-secret",
            content=b"",
            headers={"Content-Type": "application/json"},
        )
        assert empty_json.status_code == 400, empty_json.text  # empty is not JSON
        for not_an_object in ([], "soon", 3600):
            messages(
                await client.post(f"/v1/webhooks/{webhook['id']}/rotate-secret", json=not_an_object)
            )

    async def test_the_old_secret_keeps_signing_next_to_the_new_one(
        self, client: httpx.AsyncClient, api: Api, receiver: Receiver
    ) -> None:
        webhook = await create(client, url=receiver.url, types=["thread.created"])
        old = webhook["secret"]
        rotation = await client.post(
            f"/v1/webhooks/{webhook['id']}/rotate-secret", json={"expire_old_in_seconds": 3600}
        )
        new = rotation.json()["secret"]
        space = await api.space()
        thread = await api.thread(space["id"])

        [request] = await receiver.wait_for(1)

        new_signature, old_signature = signatures(request)
        assert new_signature.startswith("v1,") and old_signature.startswith("v1,")
        assert verifies(new, request) and verifies(old, request)
        assert verifies(new, request, new_signature)
        assert not verifies(new, request, old_signature)
        assert verifies(old, request, old_signature)
        assert not verifies(old, request, new_signature)
        event = standardwebhooks.Webhook(new).verify(request.body, request.headers)
        assert event["thread_id"] == thread["id"]

    async def test_expiring_at_once_signs_with_the_new_secret_only(
        self, client: httpx.AsyncClient, api: Api, receiver: Receiver
    ) -> None:
        webhook = await create(client, url=receiver.url, types=["thread.created"])
        path = f"/v1/webhooks/{webhook['id']}/rotate-secret"
        # An earlier rotation's secret, still in its day of grace, goes at once too.
        earlier = (await client.post(path, json={})).json()["secret"]
        new = (await client.post(path, json={"expire_old_in_seconds": 0})).json()["secret"]
        space = await api.space()
        await api.thread(space["id"])

        [request] = await receiver.wait_for(1)

        assert len(signatures(request)) == 1
        assert verifies(new, request)
        assert not verifies(earlier, request)
        assert not verifies(webhook["secret"], request)


class TestDeliveries:
    async def test_deliveries_are_listed_newest_first(
        self, client: httpx.AsyncClient, api: Api, receiver: Receiver
    ) -> None:
        webhook = await create(client, url=receiver.url, types=["message.created"])
        path = f"/v1/webhooks/{webhook['id']}/deliveries"
        space = await api.space()
        thread = await api.thread(space["id"])
        for n in range(2):
            await api.message(space["id"], thread["id"], f"more {n}")
        received = await receiver.wait_for(3)

        async def all_logged() -> bool:
            return len((await client.get(path)).json()["data"]) == 3

        await until(all_logged)
        deliveries = (await client.get(path)).json()["data"]

        assert [d["id"] for d in deliveries] == sorted((d["id"] for d in deliveries), reverse=True)
        created = [d["created_at"] for d in deliveries]
        assert created == sorted(created, reverse=True)
        assert {d["event_id"] for d in deliveries} == {r.headers["webhook-id"] for r in received}
        for delivery in deliveries:
            assert delivery["object"] == "webhook_delivery"
            assert delivery["webhook_id"] == webhook["id"]
            assert delivery["attempt"] == 1
            assert delivery["status_code"] == 200
            assert delivery["error"] is None
            assert delivery["next_retry_at"] is None
            assert delivery["duration_ms"] >= 0

        first_page = await client.get(path, params={"limit": 2})
        assert [d["id"] for d in first_page.json()["data"]] == [d["id"] for d in deliveries[:2]]
        assert first_page.headers["link"].startswith(f"<{path}?")
        rest = await client.get(path, params={"cursor": first_page.json()["next_cursor"]})
        assert rest.json()["data"] == deliveries[2:]

    async def test_a_manual_retry_sends_the_event_again(
        self, client: httpx.AsyncClient, api: Api, receiver: Receiver
    ) -> None:
        webhook = await create(client, url=receiver.url, types=["thread.created"])
        path = f"/v1/webhooks/{webhook['id']}/deliveries"
        space = await api.space()
        await api.thread(space["id"])
        [first] = await receiver.wait_for(1)

        async def logged() -> bool:
            return bool((await client.get(path)).json()["data"])

        await until(logged)
        [delivery] = (await client.get(path)).json()["data"]

        response = await client.post(f"{path}/{delivery['id']}/retry")

        assert response.status_code == 200, response.text
        retried = response.json()
        assert response.headers["etag"] == etag_of(response.content)
        assert retried["attempt"] == 2 and retried["status_code"] == 200
        assert retried["event_id"] == delivery["event_id"]
        second = receiver.requests[1]
        assert second.headers["webhook-id"] == first.headers["webhook-id"]
        assert second.body == first.body
        assert verifies(webhook["secret"], second)
        assert [d["id"] for d in (await client.get(path)).json()["data"]] == [
            retried["id"],
            delivery["id"],
        ]

    async def test_retrying_an_unknown_delivery_is_404(
        self, client: httpx.AsyncClient, api: Api, receiver: Receiver
    ) -> None:
        webhook = await create(client, url=receiver.url, types=["thread.created"])
        other = await create(client)
        space = await api.space()
        await api.thread(space["id"])
        await receiver.wait_for(1)
        path = f"/v1/webhooks/{webhook['id']}/deliveries"

        async def logged() -> bool:
            return bool((await client.get(path)).json()["data"])

        await until(logged)
        [delivery] = (await client.get(path)).json()["data"]

        for webhook_id, delivery_id in (
            (webhook["id"], UNKNOWN_DELIVERY),
            (webhook["id"], "nope"),
            (webhook["id"], delivery["id"].lower()),
            (other["id"], delivery["id"]),  # a delivery of another webhook
        ):
            url = f"/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"
            problem(await client.post(url), 404, "webhook_delivery_not_found")
        assert len(receiver.requests) == 1


async def test_secrets_never_reach_the_logs(
    client: httpx.AsyncClient, api: Api, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = {"Idempotency-Key": "logged"}
    body = {"url": receiver.url, "types": ["thread.created"]}
    webhook = (await client.post("/v1/webhooks", json=body, headers=headers)).json()
    await client.post("/v1/webhooks", json=body, headers=headers)
    rotated = await client.post(f"/v1/webhooks/{webhook['id']}/rotate-secret", json={})
    space = await api.space()
    await api.thread(space["id"])
    await receiver.wait_for(1)
    await client.patch(f"/v1/webhooks/{webhook['id']}", json={"enabled": False})

    # Each record as the server writes it: one JSON line, with its extra fields.
    lines = [JsonFormatter().format(record) for record in caplog.records]
    assert any("webhook delivery succeeded" in line for line in lines)
    for secret in (webhook["secret"], rotated.json()["secret"]):
        assert all(secret.removeprefix("whsec_") not in line for line in lines)
    assert all("whsec_" not in line for line in lines)
    # Our lines show URLs without their query (a driver's debug lines quote SQL parameters).
    ours = [line for line in lines if '"logger": "threads_api' in line]
    assert any(receiver.url.split("?")[0] in line for line in ours)
    assert all("sekrit" not in line for line in ours)
