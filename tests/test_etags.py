"""Every response that carries one object carries the strong ETag of its body (contract §1),
creates and their idempotent replays included; lists carry none."""

import hashlib
from typing import Any

import httpx

from tests.helpers import Api


def etag_of(body: bytes) -> str:
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'


def assert_tagged(response: httpx.Response, status: int = 200) -> str:
    assert response.status_code == status, response.text
    assert response.headers["etag"] == etag_of(response.content), response.request.url
    return response.headers["etag"]


async def test_every_single_object_response_carries_the_etag_of_its_body(
    api: Api, client: httpx.AsyncClient
) -> None:
    space = await client.post("/v1/spaces", json={"name": "tagged"})
    assert_tagged(space, 201)
    space_url = space.headers["location"]
    assert_tagged(await client.get(space_url))
    assert_tagged(await client.patch(space_url, json={"name": "renamed"}))

    started = await client.post(f"{space_url}/threads/messages", json={"content": "first"})
    assert_tagged(started, 201)
    thread_url = started.headers["location"]
    assert_tagged(await client.get(thread_url))
    assert_tagged(await client.patch(thread_url, json={"title": "new title"}))

    message = await client.post(f"{thread_url}/messages", json={"content": "second"})
    assert_tagged(message, 201)
    assert_tagged(await client.get(message.headers["location"]))
    assert_tagged(await client.delete(thread_url))

    body = {"name": "k", "scopes": ["read"], "space_ids": [space.json()["id"]]}
    key = await client.post("/v1/api-keys", json=body)
    assert_tagged(key, 201)
    assert_tagged(await client.get(key.headers["location"]))
    assert_tagged(await client.delete(key.headers["location"]))


async def test_a_created_object_has_the_etag_it_has_when_read(
    api: Api, client: httpx.AsyncClient
) -> None:
    created = await client.post("/v1/spaces", json={"name": "same"})
    read = await client.get(created.headers["location"])
    assert created.headers["etag"] == read.headers["etag"]

    thread = await api.thread(created.json()["id"])
    path = f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}/messages"
    message = await client.post(path, json={"content": "x"})
    read = await client.get(message.headers["location"])
    assert message.headers["etag"] == read.headers["etag"]


async def test_replays_carry_the_etag_of_the_replayed_body(
    api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    creates: list[tuple[str, dict[str, Any]]] = [
        ("/v1/spaces", {"name": "again"}),
        (f"/v1/spaces/{space['id']}/threads/messages", {"content": "again"}),
        (f"/v1/spaces/{space['id']}/threads/{thread['id']}/messages", {"content": "again"}),
        ("/v1/api-keys", {"name": "again", "scopes": ["admin"]}),
    ]
    for path, body in creates:
        headers = {"Idempotency-Key": f"etag-{path}"}
        original = await client.post(path, json=body, headers=headers)
        replay = await client.post(path, json=body, headers=headers)
        assert replay.headers["idempotent-replayed"] == "true"
        assert_tagged(original, 201)
        assert_tagged(replay, 201)
        if path != "/v1/api-keys":  # a replayed key shows `secret: null`: another body
            assert replay.headers["etag"] == original.headers["etag"]


async def test_lists_carry_no_etag(api: Api, client: httpx.AsyncClient) -> None:
    await api.space()
    response = await client.get("/v1/spaces")
    assert response.status_code == 200
    assert "etag" not in response.headers
