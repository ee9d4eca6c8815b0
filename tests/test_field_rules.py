"""Field rules of contract §10: lengths in code points, text hygiene (NUL, lone surrogates,
blank content), metadata limits, unknown fields — and exact round-trips of valid text."""

from typing import Any

import httpx
import pytest

EMOJI = "😀"  # one code point, four UTF-8 bytes, two UTF-16 units


def assert_422(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["errors"]


async def new_thread(api) -> dict[str, Any]:
    space = await api.space()
    return await api.thread(space["id"], "first")


def messages_url(thread: dict[str, Any]) -> str:
    return f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}/messages"


def thread_url(thread: dict[str, Any]) -> str:
    return f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}"


async def post_message(client, thread, /, **body: Any) -> httpx.Response:
    return await client.post(messages_url(thread), json={"content": "x", **body})


async def post_thread(client, space_id: str, /, **body: Any) -> httpx.Response:
    return await client.post(
        f"/v1/spaces/{space_id}/threads/messages", json={"content": "x", **body}
    )


async def message_count(client, thread) -> int:
    return (await client.get(thread_url(thread))).json()["message_count"]


# --- lengths, in code points ------------------------------------------------------------


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


# --- NUL and lone surrogates ------------------------------------------------------------


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


# --- metadata ---------------------------------------------------------------------------


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


# --- unknown and server-owned fields ----------------------------------------------------

SERVER_OWNED_MESSAGE = {
    "id": "msg_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "object": "message",
    "seq": 99,
    "space_id": "spc_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "thread_id": "thr_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "created_at": "2020-01-01T00:00:00.000000Z",
    "colour": "red",
}
SERVER_OWNED_THREAD = {
    "id": "thr_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "space_id": "spc_01ARZ3NDEKTSV4RRFFQ69G5FAV",
    "created_at": "2020-01-01T00:00:00.000000Z",
    "updated_at": "2020-01-01T00:00:00.000000Z",
    "last_message_at": "2020-01-01T00:00:00.000000Z",
    "archived_at": "2020-01-01T00:00:00.000000Z",
    "message_count": 7,
    "colour": "red",
}


async def test_message_create_refuses_unknown_and_server_owned_fields(api, client):
    thread = await new_thread(api)

    for field, value in SERVER_OWNED_MESSAGE.items():
        response = await post_message(client, thread, **{field: value})

        assert response.status_code == 422, field
    assert_422(response)
    assert await message_count(client, thread) == 1


async def test_thread_create_refuses_unknown_and_server_owned_fields(api, client):
    space = await api.space()

    for field, value in {**SERVER_OWNED_THREAD, "status": "locked", "seq": 1}.items():
        response = await post_thread(client, space["id"], **{field: value})

        assert response.status_code == 422, field
    assert_422(response)
    assert (await client.get(f"/v1/spaces/{space['id']}/threads")).json()["data"] == []


async def test_thread_patch_refuses_unknown_and_server_owned_fields(api, client):
    thread = await new_thread(api)

    for field, value in SERVER_OWNED_THREAD.items():
        response = await client.patch(thread_url(thread), json={field: value, "title": "new"})

        assert response.status_code == 422, field
    assert_422(response)
    assert (await client.get(thread_url(thread))).json() == thread


async def test_unknown_field_is_named_in_errors(api, client):
    thread = await new_thread(api)

    response = await post_message(client, thread, colour="red")

    assert any("colour" in [str(part) for part in e["loc"]] for e in response.json()["errors"])


# --- exact round trips ------------------------------------------------------------------

ROUND_TRIP = [
    "\u202eRTL override\u202c and \u200fرسالة\u200f mixed",
    "👩\u200d👩\u200d👧\u200d👦 family, 🇫🇷 flag, 👍🏽 tone",
    "e\u0301 (decomposed) vs \u00e9 (composed), Z\u0351\u0332a\u0308l\u0300g\u030do",
    "'; DROP TABLE messages; -- \" OR 1=1 /* */ %s %(x)s ? $1 \\x00",
    "  leading and trailing spaces kept  \n\n\ttabs\r\nCRLF\n",
    "\u200b\ufeff zero-width and BOM \U0010ffff \ue000 private use",
    '<script>alert("x")</script> & &amp; {"json": [1]}',
]


async def test_message_text_round_trips_exactly(api, client):
    thread = await new_thread(api)

    created = [await post_message(client, thread, content=t, author=t[:128]) for t in ROUND_TRIP]

    assert [r.status_code for r in created] == [201] * len(ROUND_TRIP)
    listed = (await client.get(messages_url(thread))).json()["data"][1:]
    for text, response, in_list in zip(ROUND_TRIP, created, listed, strict=True):
        fetched = (await client.get(response.headers["location"])).json()
        for message in (response.json(), fetched, in_list):
            assert message["content"] == text
            assert message["author"] == text[:128]


async def test_thread_text_round_trips_exactly(api, client):
    space = await api.space()

    for text in ROUND_TRIP:
        metadata = {text[:64]: text}

        created = await post_thread(
            client,
            space["id"],
            content=text,
            title=text,
            thread_metadata=metadata,
            metadata=metadata,
        )

        assert created.status_code == 201, created.text
        body = created.json()
        fetched = (await client.get(created.headers["location"])).json()
        for thread in (body["thread"], fetched):
            assert thread["title"] == text
            assert thread["metadata"] == metadata
        assert body["message"]["content"] == text
        assert body["message"]["metadata"] == metadata


async def test_decomposed_and_composed_text_stay_distinct(api, client):
    thread = await new_thread(api)
    decomposed, composed = "e\u0301", "\u00e9"

    first = await post_message(client, thread, content=decomposed)
    second = await post_message(client, thread, content=composed)

    assert first.json()["content"] == decomposed
    assert second.json()["content"] == composed
    listed = (await client.get(messages_url(thread))).json()["data"]
    assert [m["content"] for m in listed[1:]] == [decomposed, composed]


async def test_sql_like_title_patch_round_trips(api, client):
    thread = await new_thread(api)
    title = "Robert'); DROP TABLE threads;--"

    await client.patch(thread_url(thread), json={"title": title, "metadata": {"q": "' OR '1'='1"}})

    fetched = (await client.get(thread_url(thread))).json()
    assert fetched["title"] == title
    assert fetched["metadata"] == {"q": "' OR '1'='1"}
