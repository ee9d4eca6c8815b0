"""Field lengths are counted in code points (contract §10): content, title, author, space name."""

import pytest

from tests.field_rules.support import (
    EMOJI,
    assert_422,
    message_count,
    messages_url,
    new_thread,
    post_message,
    post_thread,
    thread_url,
)


async def test_content_of_32768_emoji_is_accepted(api, client):
    thread = await new_thread(api)
    content = EMOJI * 32_768

    response = await post_message(client, thread, content=content)

    assert response.status_code == 201, response.text[:300]
    stored = await client.get(response.headers["location"])
    assert stored.json()["content"] == content


async def test_content_of_32769_characters_is_422(api, client):
    thread = await new_thread(api)

    response = await post_message(client, thread, content=EMOJI * 32_769)

    assert_422(response)
    assert await message_count(client, thread) == 1


async def test_first_message_content_limit_is_the_same(api, client):
    space = await api.space()

    accepted = await post_thread(client, space["id"], content="a" * 32_768)
    refused = await post_thread(client, space["id"], content="a" * 32_769)

    assert accepted.status_code == 201
    assert_422(refused)


async def test_empty_content_is_422(api, client):
    thread = await new_thread(api)

    assert_422(await post_message(client, thread, content=""))


async def test_missing_content_is_422(api, client):
    thread = await new_thread(api)

    assert_422(await client.post(messages_url(thread), json={"author": "a"}))


@pytest.mark.parametrize("content", [" ", "   \n\t  ", "\r\n", "\u3000\u00a0"])
async def test_whitespace_only_content_is_422(api, client, content):
    thread = await new_thread(api)
    space_id = thread["space_id"]

    assert_422(await post_message(client, thread, content=content))
    assert_422(await post_thread(client, space_id, content=content))
    assert await message_count(client, thread) == 1


@pytest.mark.parametrize("content", [1, None, ["a"], {"a": "b"}, True])
async def test_non_string_content_is_422(api, client, content):
    thread = await new_thread(api)

    assert_422(await post_message(client, thread, content=content))


async def test_title_of_200_characters_is_accepted(api, client):
    thread = await new_thread(api)
    space = thread["space_id"]

    created = await post_thread(client, space, title=EMOJI * 200)
    patched = await client.patch(thread_url(thread), json={"title": "t" * 200})

    assert created.status_code == 201, created.text
    assert created.json()["thread"]["title"] == EMOJI * 200
    assert patched.status_code == 200, patched.text


async def test_title_of_201_characters_is_422(api, client):
    thread = await new_thread(api)

    assert_422(await post_thread(client, thread["space_id"], title=EMOJI * 201))
    assert_422(await client.patch(thread_url(thread), json={"title": "t" * 201}))
    assert (await client.get(thread_url(thread))).json()["title"] == "first"


async def test_empty_title_is_422(api, client):
    thread = await new_thread(api)

    assert_422(await post_thread(client, thread["space_id"], title=""))
    assert_422(await client.patch(thread_url(thread), json={"title": ""}))


async def test_author_of_128_characters_is_accepted(api, client):
    thread = await new_thread(api)

    response = await post_message(client, thread, author=EMOJI * 128)

    assert response.status_code == 201, response.text
    assert response.json()["author"] == EMOJI * 128


async def test_author_of_129_characters_is_422(api, client):
    thread = await new_thread(api)

    assert_422(await post_message(client, thread, author=EMOJI * 129))
    assert_422(await post_thread(client, thread["space_id"], author="a" * 129))


async def test_empty_author_is_422(api, client):
    thread = await new_thread(api)

    assert_422(await post_message(client, thread, author=""))


async def test_space_name_of_200_characters_is_accepted(client):
    response = await client.post("/v1/spaces", json={"name": EMOJI * 200})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == EMOJI * 200


async def test_space_name_of_201_characters_is_422(client):
    assert_422(await client.post("/v1/spaces", json={"name": EMOJI * 201}))
    assert_422(await client.post("/v1/spaces", json={"name": ""}))
