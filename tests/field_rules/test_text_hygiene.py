"""Text hygiene (contract §10): NUL and lone surrogates are refused wherever text goes; an
escaped surrogate pair is one valid character."""

import pytest

from tests.field_rules.support import (
    EMOJI,
    assert_422,
    message_count,
    messages_url,
    new_thread,
    post_thread,
    thread_url,
)


@pytest.mark.parametrize(
    "body",
    [
        {"content": "a\x00b"},
        {"content": "x", "author": "\x00"},
        {"content": "x", "metadata": {"k": "v\x00"}},
        {"content": "x", "metadata": {"k\x00": "v"}},
    ],
    ids=["content", "author", "metadata-value", "metadata-key"],
)
async def test_nul_in_message_is_422(api, client, body):
    thread = await new_thread(api)

    assert_422(await client.post(messages_url(thread), json=body))
    assert await message_count(client, thread) == 1


@pytest.mark.parametrize(
    "body",
    [{"title": "a\x00"}, {"thread_metadata": {"k": "\x00"}}, {"content": "\x00 line"}],
    ids=["title", "thread-metadata", "content"],
)
async def test_nul_in_new_thread_is_422(api, client, body):
    space = await api.space()

    assert_422(await post_thread(client, space["id"], **body))
    listed = await client.get(f"/v1/spaces/{space['id']}/threads")
    assert listed.json()["data"] == []


async def test_nul_in_patch_is_422(api, client):
    thread = await new_thread(api)

    assert_422(await client.patch(thread_url(thread), json={"title": "a\x00"}))
    assert_422(await client.patch(thread_url(thread), json={"metadata": {"k": "\x00"}}))


async def test_nul_in_space_name_is_422(client):
    assert_422(await client.post("/v1/spaces", json={"name": "a\x00b"}))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"content": "\\ud800"}',
        b'{"content": "ok \\udfff ok"}',
        b'{"content": "x", "author": "\\ud83d"}',
        b'{"content": "x", "metadata": {"\\ud800": "v"}}',
        b'{"content": "x", "metadata": {"k": "\\udc00"}}',
    ],
    ids=["content-high", "content-low", "author", "metadata-key", "metadata-value"],
)
async def test_lone_surrogate_in_message_is_422(api, client, raw):
    thread = await new_thread(api)

    response = await client.post(
        messages_url(thread), content=raw, headers={"Content-Type": "application/json"}
    )

    assert_422(response)
    assert await message_count(client, thread) == 1


async def test_lone_surrogate_in_title_is_422(api, client):
    thread = await new_thread(api)
    headers = {"Content-Type": "application/json"}

    created = await client.post(
        f"/v1/spaces/{thread['space_id']}/threads/messages",
        content=b'{"content": "x", "title": "\\ud800"}',
        headers=headers,
    )
    patched = await client.patch(
        thread_url(thread), content=b'{"title": "a\\udbff"}', headers=headers
    )

    assert_422(created)
    assert_422(patched)


async def test_escaped_surrogate_pair_is_one_valid_character(api, client):
    thread = await new_thread(api)

    response = await client.post(
        messages_url(thread),
        content=b'{"content": "\\ud83d\\ude00"}',
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 201, response.text
    assert response.json()["content"] == EMOJI
