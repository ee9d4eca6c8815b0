"""Cursors are opaque and signed: altered, forged, garbage or reused on another list or with
other query parameters they are 400 `invalid_cursor`; another `limit` is fine."""

from typing import Any

import httpx

from tests.helpers import flip
from tests.pagination.support import (
    arrange_messages,
    arrange_threads,
    assert_invalid_cursor,
    list_paths,
    page,
)


async def first_cursor(client: httpx.AsyncClient, path: str, **params: Any) -> str:
    response = await page(client, path, limit=1, **params)
    cursor = response.json()["next_cursor"]
    assert cursor, response.text
    return cursor


async def test_cursor_works_unaltered(api, client):
    path, _ = await arrange_messages(api, count=3)
    cursor = await first_cursor(client, path)

    response = await page(client, path, limit=1, cursor=cursor)

    assert [m["seq"] for m in response.json()["data"]] == [2]


async def test_tampered_cursor_is_400(api, client):
    path, _ = await arrange_messages(api, count=3)
    cursor = await first_cursor(client, path)
    dot = cursor.index(".")

    for index in (0, dot - 2, dot + 1, dot + 5):
        response = await page(client, path, limit=1, cursor=flip(cursor, index))

        assert_invalid_cursor(response)


async def test_forged_position_with_a_real_signature_is_400(api, client):
    path, _ = await arrange_messages(api, count=3)
    first = await first_cursor(client, path)
    second = (await page(client, path, limit=1, cursor=first)).json()["next_cursor"]
    forged = second.split(".")[0] + "." + first.split(".")[1]

    assert_invalid_cursor(await page(client, path, limit=1, cursor=forged))


async def test_garbage_cursor_is_400(api, client):
    path, _ = await arrange_messages(api, count=1)

    for garbage in ["garbage", "a.b", "a.b.c", ".", "", "x" * 1000, "😀.😀", "%00", "\x00"]:
        response = await page(client, path, cursor=garbage)

        assert response.status_code == 400, garbage
        assert_invalid_cursor(response)


async def test_garbage_cursor_is_400_on_every_list(api, client):
    for path in await list_paths(api):
        assert_invalid_cursor(await page(client, path, cursor="not-a-cursor"))


async def test_cursor_of_another_thread_is_400(api, client):
    path, thread = await arrange_messages(api, count=3)
    other = await api.thread(thread["space_id"], "o1")
    await api.message(thread["space_id"], other["id"], "o2")
    cursor = await first_cursor(client, path)

    response = await page(
        client, f"/v1/spaces/{thread['space_id']}/threads/{other['id']}/messages", cursor=cursor
    )

    assert_invalid_cursor(response)


async def test_cursor_of_another_space_is_400(api, client):
    space_id, _ = await arrange_threads(api, client)
    other = await api.space("other")
    await api.thread(other["id"])
    await api.thread(other["id"])
    cursor = await first_cursor(client, f"/v1/spaces/{space_id}/threads")

    response = await page(client, f"/v1/spaces/{other['id']}/threads", cursor=cursor)

    assert_invalid_cursor(response)


async def test_cursor_of_another_kind_of_list_is_400(api, client):
    path, thread = await arrange_messages(api, count=3)
    await api.space("second")
    message_cursor = await first_cursor(client, path)
    space_cursor = await first_cursor(client, "/v1/spaces")

    threads_path = f"/v1/spaces/{thread['space_id']}/threads"
    assert_invalid_cursor(await page(client, threads_path, cursor=message_cursor))
    assert_invalid_cursor(await page(client, "/v1/api-keys", cursor=space_cursor))
    assert_invalid_cursor(await page(client, path, cursor=space_cursor))


THREAD_PARAM_CHANGES = [
    ({}, {"order": "asc"}),
    ({"order": "asc"}, {}),
    ({}, {"sort": "created_at"}),
    ({"sort": "created_at"}, {"sort": "last_message_at"}),
    ({}, {"status": "all"}),
    ({"status": "open"}, {"status": "locked"}),
]
MESSAGE_PARAM_CHANGES = [
    ({}, {"order": "desc"}),
    ({"order": "asc"}, {"order": "desc"}),
    ({}, {"after_seq": 1}),
    ({"after_seq": 1}, {"after_seq": 2}),
    ({"after_seq": 1}, {}),
]


async def test_thread_cursor_with_other_query_params_is_400(api, client):
    space_id, _ = await arrange_threads(api, client)
    path = f"/v1/spaces/{space_id}/threads"

    for made_with, used_with in THREAD_PARAM_CHANGES:
        cursor = await first_cursor(client, path, **made_with)

        response = await page(client, path, cursor=cursor, **used_with)

        assert response.status_code == 400, (made_with, used_with)
        assert_invalid_cursor(response)


async def test_message_cursor_with_other_query_params_is_400(api, client):
    path, _ = await arrange_messages(api, count=4)

    for made_with, used_with in MESSAGE_PARAM_CHANGES:
        cursor = await first_cursor(client, path, **made_with)

        response = await page(client, path, cursor=cursor, **used_with)

        assert response.status_code == 400, (made_with, used_with)
        assert_invalid_cursor(response)


async def test_cursor_with_another_limit_is_fine(api, client):
    path, _ = await arrange_messages(api, count=5)
    cursor = await first_cursor(client, path)

    response = await page(client, path, cursor=cursor, limit=3)

    assert [m["seq"] for m in response.json()["data"]] == [2, 3, 4]
