"""Erasing a message: the tombstone, dense seqs, history, and what the thread shows after."""

from typing import Any

import httpx
import pytest

from tests.helpers import Api, problem
from tests.message.support import first_message, message_url, thread_url

TOMBSTONE_KEEPS = ("id", "object", "space_id", "thread_id", "seq", "author", "created_at")


async def arrange(api: Api, content: str = "first", **fields: Any) -> dict[str, Any]:
    space = await api.space()
    return await api.thread(space["id"], content, **fields)


async def add(client: httpx.AsyncClient, thread: dict[str, Any], content: str) -> dict[str, Any]:
    response = await client.post(
        f"{thread_url(thread)}/messages", json={"content": content, "author": "bob"}
    )
    assert response.status_code == 201, response.text
    message: dict[str, Any] = response.json()
    return message


async def test_delete_answers_the_tombstone(api: Api, client: httpx.AsyncClient) -> None:
    thread = await arrange(api)
    message = await add(client, thread, "to be erased")
    await client.patch(message_url(message), json={"metadata": {"k": "v"}})

    response = await client.delete(message_url(message))

    assert response.status_code == 200, response.text
    tombstone = response.json()
    assert {k: tombstone[k] for k in TOMBSTONE_KEEPS} == {k: message[k] for k in TOMBSTONE_KEEPS}
    assert tombstone["content"] is None
    assert tombstone["metadata"] == {}
    assert tombstone["deleted_at"] >= tombstone["created_at"]
    got = await client.get(message_url(message))
    assert got.json() == tombstone
    assert got.headers["etag"] == response.headers["etag"]


async def test_repeating_the_delete_is_harmless(api: Api, client: httpx.AsyncClient) -> None:
    thread = await arrange(api)
    message = await add(client, thread, "twice")
    first = await client.delete(message_url(message))
    thread_before = await client.get(thread_url(thread))

    again = await client.delete(message_url(message))

    assert again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["etag"] == first.headers["etag"]
    assert (await client.get(thread_url(thread))).json() == thread_before.json()


async def test_if_match_guards_the_erasure(api: Api, client: httpx.AsyncClient) -> None:
    thread = await arrange(api)
    message = await add(client, thread, "guarded")
    etag = (await client.get(message_url(message))).headers["etag"]
    await client.patch(message_url(message), json={"content": "changed meanwhile"})

    problem(await client.delete(message_url(message), headers={"If-Match": etag}), 412)
    assert (await client.get(message_url(message))).json()["content"] == "changed meanwhile"

    current = (await client.get(message_url(message))).headers["etag"]
    erased = await client.delete(message_url(message), headers={"If-Match": current})
    assert erased.status_code == 200
    # The tombstone's own ETag still matches: repeating a conditional erasure is harmless.
    tombstone_etag = erased.headers["etag"]
    again = await client.delete(message_url(message), headers={"If-Match": tombstone_etag})
    assert again.status_code == 200


@pytest.mark.parametrize("status", ["locked", "archived"])
async def test_erasure_is_allowed_whatever_the_thread_status(
    api: Api, client: httpx.AsyncClient, status: str
) -> None:
    thread = await arrange(api)
    message = await add(client, thread, "in a closed thread")
    await client.patch(thread_url(thread), json={"status": status})

    response = await client.delete(message_url(message))

    assert response.status_code == 200, response.text
    assert response.json()["content"] is None


async def test_seqs_and_message_count_do_not_change(api: Api, client: httpx.AsyncClient) -> None:
    thread = await arrange(api)
    second = await add(client, thread, "second")
    await add(client, thread, "third")

    await client.delete(message_url(second))
    fourth = await add(client, thread, "fourth")

    assert fourth["seq"] == 4
    assert (await client.get(thread_url(thread))).json()["message_count"] == 4
    listed = (await client.get(f"{thread_url(thread)}/messages")).json()["data"]
    assert [(m["seq"], m["content"]) for m in listed] == [
        (1, "first"),
        (2, None),
        (3, "third"),
        (4, "fourth"),
    ]
    polled = (await client.get(f"{thread_url(thread)}/messages", params={"after_seq": 1})).json()
    assert [m["seq"] for m in polled["data"]] == [2, 3, 4]


async def test_erasure_removes_the_history(api: Api, client: httpx.AsyncClient) -> None:
    thread = await arrange(api)
    message = await add(client, thread, "v1")
    await client.patch(message_url(message), json={"content": "v2"})
    versions = f"{message_url(message)}/versions"
    assert len((await client.get(versions)).json()["data"]) == 1

    await client.delete(message_url(message))

    after = await client.get(versions)
    assert after.status_code == 200
    assert after.json() == {"object": "list", "data": [], "has_more": False, "next_cursor": None}


async def test_last_message_moves_back_past_tombstones(api: Api, client: httpx.AsyncClient) -> None:
    thread = await arrange(api)
    second = await add(client, thread, "second")
    third = await add(client, thread, "third")

    await client.delete(message_url(third))
    after_one = (await client.get(thread_url(thread))).json()
    await client.delete(message_url(second))
    after_two = (await client.get(thread_url(thread))).json()

    assert after_one["last_message"] == {
        "id": second["id"],
        "seq": 2,
        "author": "bob",
        "preview": "second",
        "created_at": second["created_at"],
    }
    assert after_two["last_message"]["seq"] == 1
    assert after_two["last_message"]["preview"] == "first"
    # Activity does not go back: the thread keeps its place in the list.
    assert after_two["last_message_at"] == after_one["last_message_at"] == third["created_at"]
    assert after_two["message_count"] == 3


async def test_last_message_is_null_once_every_message_is_erased(
    api: Api, client: httpx.AsyncClient
) -> None:
    thread = await arrange(api, title="Kept title")
    only = await first_message(client, thread)

    await client.delete(message_url(only))

    after = (await client.get(thread_url(thread))).json()
    assert after["last_message"] is None
    assert after["title"] == "Kept title"
    listed = (await client.get(f"/v1/spaces/{thread['space_id']}/threads")).json()["data"]
    assert listed[0]["last_message"] is None


async def test_erasing_an_older_message_leaves_the_thread_alone(
    api: Api, client: httpx.AsyncClient
) -> None:
    thread = await arrange(api, title="Explicit")
    second = await add(client, thread, "second")
    await add(client, thread, "third")
    before = await client.get(thread_url(thread))

    await client.delete(message_url(second))

    after = await client.get(thread_url(thread))
    assert after.json() == before.json()
    assert after.headers["etag"] == before.headers["etag"]


async def test_a_title_derived_from_the_message_becomes_untitled(
    api: Api, client: httpx.AsyncClient
) -> None:
    thread = await arrange(api, "Secret plans\nmore detail")
    assert thread["title"] == "Secret plans"
    first = await first_message(client, thread)
    await add(client, thread, "a reply")

    await client.delete(message_url(first))

    after = (await client.get(thread_url(thread))).json()
    assert after["title"] == "Untitled"
    assert after["updated_at"] > thread["updated_at"]
    assert after["last_message"]["preview"] == "a reply"


async def test_a_title_derived_from_an_earlier_version_becomes_untitled(
    api: Api, client: httpx.AsyncClient
) -> None:
    thread = await arrange(api, "Original wording")
    first = await first_message(client, thread)
    await client.patch(message_url(first), json={"content": "Reworded"})
    assert (await client.get(thread_url(thread))).json()["title"] == "Original wording"

    await client.delete(message_url(first))

    assert (await client.get(thread_url(thread))).json()["title"] == "Untitled"


async def test_a_title_chosen_by_hand_stays(api: Api, client: httpx.AsyncClient) -> None:
    thread = await arrange(api, "Some content", title="A chosen title")
    first = await first_message(client, thread)

    await client.delete(message_url(first))

    assert (await client.get(thread_url(thread))).json()["title"] == "A chosen title"
