"""Metadata limits (contract §10): at most 16 keys of 1–64 characters, string values of at
most 512."""

import pytest

from tests.field_rules.support import (
    EMOJI,
    assert_422,
    new_thread,
    post_message,
    post_thread,
    thread_url,
)


async def test_metadata_of_16_keys_is_accepted(api, client):
    thread = await new_thread(api)
    metadata = {f"key{i}": "v" for i in range(16)}

    response = await post_message(client, thread, metadata=metadata)

    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == metadata


async def test_metadata_of_17_keys_is_422(api, client):
    thread = await new_thread(api)
    metadata = {f"key{i}": "v" for i in range(17)}

    assert_422(await post_message(client, thread, metadata=metadata))
    assert_422(await post_thread(client, thread["space_id"], thread_metadata=metadata))
    assert_422(await client.patch(thread_url(thread), json={"metadata": metadata}))


@pytest.mark.parametrize("key", ["", "k" * 65, EMOJI * 65])
async def test_metadata_key_length_out_of_bounds_is_422(api, client, key):
    thread = await new_thread(api)

    assert_422(await post_message(client, thread, metadata={key: "v"}))
    assert_422(await post_thread(client, thread["space_id"], thread_metadata={key: "v"}))
    assert_422(await client.patch(thread_url(thread), json={"metadata": {key: "v"}}))


async def test_metadata_key_of_64_characters_is_accepted(api, client):
    thread = await new_thread(api)
    key = EMOJI * 64

    response = await post_message(client, thread, metadata={key: "v"})

    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == {key: "v"}


async def test_metadata_value_of_512_characters_is_accepted(api, client):
    thread = await new_thread(api)

    response = await client.patch(thread_url(thread), json={"metadata": {"k": EMOJI * 512}})

    assert response.status_code == 200, response.text
    assert response.json()["metadata"] == {"k": EMOJI * 512}


async def test_metadata_empty_value_is_accepted(api, client):
    thread = await new_thread(api)

    response = await post_message(client, thread, metadata={"k": ""})

    assert response.status_code == 201, response.text
    assert response.json()["metadata"] == {"k": ""}


async def test_metadata_value_of_513_characters_is_422(api, client):
    thread = await new_thread(api)
    value = EMOJI * 513

    assert_422(await post_message(client, thread, metadata={"k": value}))
    assert_422(await post_thread(client, thread["space_id"], thread_metadata={"k": value}))
    assert_422(await client.patch(thread_url(thread), json={"metadata": {"k": value}}))


@pytest.mark.parametrize("value", [1, 1.5, True, ["a"], {"a": "b"}])
async def test_metadata_non_string_value_is_422(api, client, value):
    thread = await new_thread(api)

    assert_422(await post_message(client, thread, metadata={"k": value}))
    assert_422(await post_thread(client, thread["space_id"], thread_metadata={"k": value}))
    assert_422(await client.patch(thread_url(thread), json={"metadata": {"k": value}}))


async def test_metadata_null_value_on_create_is_422(api, client):
    thread = await new_thread(api)

    assert_422(await post_message(client, thread, metadata={"k": None}))


@pytest.mark.parametrize("metadata", [["k", "v"], "k=v", 1])
async def test_metadata_that_is_not_an_object_is_422(api, client, metadata):
    thread = await new_thread(api)

    assert_422(await post_message(client, thread, metadata=metadata))
    assert_422(await client.patch(thread_url(thread), json={"metadata": metadata}))
