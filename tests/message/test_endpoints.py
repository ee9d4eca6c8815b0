"""Messages: creating, reading and listing them, over the ASGI app on both databases."""

from typing import Any

PROBLEM = "application/problem+json"


def messages_url(thread: dict[str, Any]) -> str:
    return f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}/messages"


async def arrange(api) -> dict[str, Any]:
    space = await api.space()
    return await api.thread(space["id"], "first")


async def test_create_message_is_201_with_the_message(api, client):
    thread = await arrange(api)

    response = await client.post(
        messages_url(thread),
        json={"content": "This is a new message.", "author": "bob", "metadata": {"a": "b"}},
    )

    assert response.status_code == 201, response.text
    message = response.json()
    assert message["object"] == "message"
    assert message["id"].startswith("msg_")
    assert message["space_id"] == thread["space_id"]
    assert message["thread_id"] == thread["id"]
    assert message["seq"] == 2
    assert message["author"] == "bob"
    assert message["content"] == "This is a new message."
    assert message["metadata"] == {"a": "b"}
    assert message["created_at"].endswith("Z")


async def test_create_message_location_gets_the_message(api, client):
    thread = await arrange(api)

    response = await client.post(messages_url(thread), json={"content": "hello"})

    location = response.headers["location"]
    assert location.endswith(f"{messages_url(thread)}/{response.json()['id']}")
    fetched = await client.get(location)
    assert fetched.status_code == 200
    assert fetched.json() == response.json()


async def test_create_message_with_idempotency_key_as_in_the_description(api, client):
    thread = await arrange(api)

    response = await client.post(
        messages_url(thread),
        json={"content": "This is a new message."},
        headers={"Idempotency-Key": "unique_key"},
    )

    assert response.status_code == 201, response.text


async def test_author_defaults_to_null(api, client):
    thread = await arrange(api)

    response = await client.post(messages_url(thread), json={"content": "x"})

    assert response.json()["author"] is None
    assert response.json()["metadata"] == {}


async def test_list_messages_oldest_first(api, client):
    thread = await arrange(api)
    second = await api.message(thread["space_id"], thread["id"], "second")
    third = await api.message(thread["space_id"], thread["id"], "third")

    response = await client.get(messages_url(thread))

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    assert body["has_more"] is False
    assert body["next_cursor"] is None
    assert [m["seq"] for m in body["data"]] == [1, 2, 3]
    assert body["data"][1:] == [second, third]


async def test_list_messages_desc_newest_first(api, client):
    thread = await arrange(api)
    await api.message(thread["space_id"], thread["id"], "second")

    response = await client.get(messages_url(thread), params={"order": "desc"})

    assert [m["content"] for m in response.json()["data"]] == ["second", "first"]


async def test_list_messages_only_of_that_thread(api, client):
    thread = await arrange(api)
    other = await api.thread(thread["space_id"], "other")
    await api.message(thread["space_id"], other["id"], "elsewhere")

    response = await client.get(messages_url(thread))

    assert [m["content"] for m in response.json()["data"]] == ["first"]


async def test_get_message(api, client):
    thread = await arrange(api)
    message = await api.message(thread["space_id"], thread["id"], "x")

    response = await client.get(f"{messages_url(thread)}/{message['id']}")

    assert response.status_code == 200
    assert response.json() == message


async def test_get_message_through_another_thread_is_404(api, client):
    thread = await arrange(api)
    other = await api.thread(thread["space_id"], "other")
    message = await api.message(thread["space_id"], thread["id"], "x")

    response = await client.get(f"{messages_url(other)}/{message['id']}")

    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_get_malformed_message_id_is_404(api, client):
    thread = await arrange(api)

    response = await client.get(f"{messages_url(thread)}/msg_bad")

    assert response.status_code == 404


async def test_post_to_unknown_thread_is_404(api, client):
    space = await api.space()

    response = await client.post(
        f"/v1/spaces/{space['id']}/threads/thr_{'0' * 26}/messages", json={"content": "x"}
    )

    assert response.status_code == 404
    assert response.json()["code"] == "thread_not_found"


async def test_post_to_thread_of_another_space_is_404(api, client):
    thread = await arrange(api)
    other = await api.space("other")

    response = await client.post(
        f"/v1/spaces/{other['id']}/threads/{thread['id']}/messages", json={"content": "x"}
    )

    assert response.status_code == 404
    thread_now = await client.get(f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}")
    assert thread_now.json()["message_count"] == 1


async def test_list_messages_of_unknown_thread_is_404(api, client):
    space = await api.space()

    response = await client.get(f"/v1/spaces/{space['id']}/threads/thr_{'0' * 26}/messages")

    assert response.status_code == 404


async def test_create_message_cannot_set_seq_or_id(api, client):
    thread = await arrange(api)

    for field, value in (("seq", 7), ("id", "msg_x"), ("thread_id", "thr_x")):
        response = await client.post(messages_url(thread), json={"content": "x", field: value})

        assert response.status_code == 422, field
    assert (await client.get(messages_url(thread))).json()["data"][-1]["seq"] == 1


async def test_seqs_are_dense_in_order(api, client):
    thread = await arrange(api)

    seqs = [(await api.message(thread["space_id"], thread["id"]))["seq"] for _ in range(5)]

    assert seqs == [2, 3, 4, 5, 6]
