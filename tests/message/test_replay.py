"""Idempotent replays of message creates show the message as it is now (contract §8, §13):
edited after an edit, a tombstone after an erasure; and still create nothing."""

import uuid
from typing import Any

import httpx

from tests.helpers import Api, problem
from tests.message.support import message_url, new_marker, thread_url


async def post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], key: str
) -> httpx.Response:
    return await client.post(url, json=body, headers={"Idempotency-Key": key})


async def test_replay_after_an_edit_shows_the_edited_message(
    api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url, body, key = f"{thread_url(thread)}/messages", {"content": "original"}, uuid.uuid4().hex
    created = await post(client, url, body, key)
    edited = await client.patch(message_url(created.json()), json={"content": "edited"})

    replay = await post(client, url, body, key)

    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == created.headers["location"]
    assert replay.json() == edited.json()
    assert replay.headers["etag"] == edited.headers["etag"]
    assert (await client.get(thread_url(thread))).json()["message_count"] == 2


async def test_replay_after_an_erasure_answers_the_tombstone(
    api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    marker = new_marker()
    url, body, key = f"{thread_url(thread)}/messages", {"content": marker}, uuid.uuid4().hex
    created = await post(client, url, body, key)
    tombstone = await client.delete(message_url(created.json()))

    replay = await post(client, url, body, key)

    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == created.headers["location"]
    assert replay.json() == tombstone.json()
    assert marker not in replay.text
    listed = (await client.get(url)).json()["data"]
    assert [m["seq"] for m in listed] == [1, 2]
    assert (await client.get(thread_url(thread))).json()["message_count"] == 2
    # The record stays: the key still belongs to that request.
    problem(await post(client, url, {"content": "something else"}, key), 422)


async def test_replay_of_a_thread_create_after_edit_and_erasure(
    api: Api, client: httpx.AsyncClient
) -> None:
    space = await api.space()
    marker = new_marker()
    url = f"/v1/spaces/{space['id']}/threads/messages"
    body, key = {"content": f"{marker} in the title\nand more"}, uuid.uuid4().hex
    created = (await post(client, url, body, key)).json()
    message = created["message"]

    edited = (await client.patch(message_url(message), json={"content": "Reworded"})).json()
    after_edit = (await post(client, url, body, key)).json()
    assert after_edit["message"] == edited
    assert after_edit["thread"]["last_message"]["preview"] == "Reworded"
    assert after_edit["thread"]["id"] == created["thread"]["id"]

    tombstone = (await client.delete(message_url(message))).json()
    replay = await post(client, url, body, key)

    assert replay.status_code == 201
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["message"] == tombstone
    assert replay.json()["thread"]["title"] == "Untitled"
    assert replay.json()["thread"]["last_message"] is None
    assert marker not in replay.text
    listed = (await client.get(f"/v1/spaces/{space['id']}/threads")).json()["data"]
    assert len(listed) == 1


async def test_replays_of_other_messages_are_untouched(api: Api, client: httpx.AsyncClient) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url, key = f"{thread_url(thread)}/messages", uuid.uuid4().hex
    kept = await post(client, url, {"content": "kept"}, key)
    other = await api.message(space["id"], thread["id"], "erased")

    await client.delete(message_url(other))
    replay = await post(client, url, {"content": "kept"}, key)

    assert replay.content == kept.content
