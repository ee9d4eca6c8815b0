"""Pagination invariants of every list (contract §7): each item exactly once and in order,
exact `has_more`, the `Link` header, `after_seq` polling, limit bounds and cursors that
refuse to be altered or reused elsewhere."""

import re
from typing import Any

import httpx
import pytest

LINK = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


async def collect(
    client: httpx.AsyncClient, path: str, limit: int, **params: Any
) -> list[dict[str, Any]]:
    """Every item of a list, following `Link` headers page by page, checking each page."""
    items: list[dict[str, Any]] = []
    url: str | None = str(client.base_url.join(path))
    first = True
    while url is not None:
        response = await client.get(url, params={**params, "limit": limit} if first else None)
        first = False
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["object"] == "list"
        assert len(body["data"]) <= limit
        items += body["data"]
        if body["has_more"]:
            assert len(body["data"]) == limit
            assert body["next_cursor"]
            match = LINK.match(response.headers["link"])
            assert match, response.headers["link"]
            url = match["url"]
            next_url = httpx.URL(url)
            assert next_url.host == client.base_url.host
            assert next_url.path == path
            assert next_url.params["cursor"] == body["next_cursor"]
            assert next_url.params["limit"] == str(limit)
            for name, value in params.items():
                assert next_url.params[name] == str(value)
        else:
            assert body["next_cursor"] is None
            assert "link" not in response.headers
            url = None
    return items


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


async def page(client: httpx.AsyncClient, path: str, **params: Any) -> httpx.Response:
    return await client.get(path, params=params)


def assert_invalid_cursor(response: httpx.Response) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_cursor"


# --- arrangements -----------------------------------------------------------------------


async def arrange_threads(api, client) -> tuple[str, list[dict[str, Any]]]:
    """Seven threads whose activity order differs from their creation order."""
    space = await api.space()
    threads = [await api.thread(space["id"], f"thread {i}") for i in range(7)]
    for index in (3, 0, 5):
        await api.message(space["id"], threads[index]["id"])
    response = await client.get(f"/v1/spaces/{space['id']}/threads", params={"limit": 200})
    return space["id"], response.json()["data"]


async def arrange_messages(api, count: int = 7) -> tuple[str, list[dict[str, Any]]]:
    space = await api.space()
    thread = await api.thread(space["id"], "m1")
    for i in range(2, count + 1):
        await api.message(space["id"], thread["id"], f"m{i}")
    return f"/v1/spaces/{space['id']}/threads/{thread['id']}/messages", thread


# --- every item exactly once, in order --------------------------------------------------


@pytest.mark.parametrize("sort", ["last_message_at", "created_at"])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_threads_page_through_every_item_once_in_order(api, client, sort, order):
    space_id, threads = await arrange_threads(api, client)
    expected = ids(sorted(threads, key=lambda t: (t[sort], t["id"]), reverse=order == "desc"))
    path = f"/v1/spaces/{space_id}/threads"

    for limit in (1, 2, 3, 7, 8):
        seen = ids(await collect(client, path, limit, sort=sort, order=order))

        assert seen == expected, limit


async def test_threads_page_through_with_status_filter(api, client):
    space_id, threads = await arrange_threads(api, client)
    for thread in threads[:3]:
        await client.delete(f"/v1/spaces/{space_id}/threads/{thread['id']}")
    path = f"/v1/spaces/{space_id}/threads"

    archived = ids(await collect(client, path, 2, status="archived"))
    everything = ids(await collect(client, path, 2, status="all"))

    assert sorted(archived) == sorted(ids(threads[:3]))
    assert sorted(everything) == sorted(ids(threads))
    assert len(everything) == len(set(everything))


@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_messages_page_through_every_item_once_in_order(api, client, order):
    path, _ = await arrange_messages(api)
    expected = list(range(1, 8)) if order == "asc" else list(range(7, 0, -1))

    for limit in (1, 2, 3, 7, 8):
        seen = [m["seq"] for m in await collect(client, path, limit, order=order)]

        assert seen == expected, limit


async def test_spaces_page_through_in_creation_order(api, client):
    created = [await api.space(f"space {i}") for i in range(7)]

    for limit in (1, 2, 3, 7, 8):
        assert ids(await collect(client, "/v1/spaces", limit)) == ids(created), limit


async def test_api_keys_page_through_in_creation_order(api, client):
    bootstrap = (await client.get("/v1/api-keys")).json()["data"]
    assert len(bootstrap) == 1
    created = []
    for i in range(6):
        response = await client.post(
            "/v1/api-keys", json={"name": f"k{i}", "scopes": ["admin"], "space_ids": []}
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    expected = ids(bootstrap) + ids(created)

    for limit in (1, 2, 3, 7, 8):
        assert ids(await collect(client, "/v1/api-keys", limit)) == expected, limit


# --- has_more and Link ------------------------------------------------------------------


async def test_list_of_exactly_limit_items_has_no_more(api, client):
    path, _ = await arrange_messages(api, count=3)

    response = await page(client, path, limit=3)

    body = response.json()
    assert len(body["data"]) == 3
    assert body["has_more"] is False
    assert body["next_cursor"] is None
    assert "link" not in response.headers


async def test_list_of_limit_plus_one_items_has_more(api, client):
    path, _ = await arrange_messages(api, count=4)

    response = await page(client, path, limit=3)

    assert response.json()["has_more"] is True
    assert response.json()["next_cursor"]


async def test_empty_list(api, client):
    space = await api.space()

    response = await page(client, f"/v1/spaces/{space['id']}/threads")

    assert response.json() == {"object": "list", "data": [], "has_more": False, "next_cursor": None}


async def test_link_header_is_the_full_next_url(api, client):
    space_id, _ = await arrange_threads(api, client)
    path = f"/v1/spaces/{space_id}/threads"

    response = await page(client, path, limit=2, sort="created_at", order="asc", status="all")

    match = LINK.match(response.headers["link"])
    assert match
    url = httpx.URL(match["url"])
    assert url.scheme == "http"
    assert url.host == "test"
    assert url.path == path
    assert dict(url.params) == {
        "limit": "2",
        "sort": "created_at",
        "order": "asc",
        "status": "all",
        "cursor": response.json()["next_cursor"],
    }


async def test_default_limit_is_50(api, client):
    space = await api.space()
    thread = await api.thread(space["id"])
    for _ in range(50):
        await api.message(space["id"], thread["id"])
    path = f"/v1/spaces/{space['id']}/threads/{thread['id']}/messages"

    body = (await page(client, path)).json()

    assert len(body["data"]) == 50
    assert body["has_more"] is True


# --- after_seq polling -------------------------------------------------------------------


async def test_after_seq_returns_only_newer_messages(api, client):
    path, _ = await arrange_messages(api, count=6)

    response = await page(client, path, after_seq=3)

    assert [m["seq"] for m in response.json()["data"]] == [4, 5, 6]


async def test_after_seq_at_the_newest_is_empty(api, client):
    path, _ = await arrange_messages(api, count=3)

    response = await page(client, path, after_seq=3)

    assert response.json()["data"] == []
    assert response.json()["has_more"] is False


async def test_after_seq_sees_a_message_posted_later(api, client):
    path, thread = await arrange_messages(api, count=2)
    await api.message(thread["space_id"], thread["id"], "new")

    response = await page(client, path, after_seq=2)

    assert [m["content"] for m in response.json()["data"]] == ["new"]


async def test_after_seq_combines_with_cursor(api, client):
    path, _ = await arrange_messages(api, count=7)

    asc = [m["seq"] for m in await collect(client, path, 2, after_seq=2)]
    desc = [m["seq"] for m in await collect(client, path, 2, after_seq=2, order="desc")]

    assert asc == [3, 4, 5, 6, 7]
    assert desc == [7, 6, 5, 4, 3]


async def test_negative_after_seq_is_422(api, client):
    path, _ = await arrange_messages(api, count=1)

    for value in ("-1", "abc"):
        response = await page(client, path, after_seq=value)

        assert response.status_code == 422, value


# --- limit bounds -----------------------------------------------------------------------


async def list_paths(api) -> list[str]:
    space = await api.space()
    thread = await api.thread(space["id"])
    return [
        f"/v1/spaces/{space['id']}/threads",
        f"/v1/spaces/{space['id']}/threads/{thread['id']}/messages",
        "/v1/spaces",
        "/v1/api-keys",
    ]


async def test_limit_out_of_bounds_is_422(api, client):
    for path in await list_paths(api):
        for limit in ("0", "201", "-1", "abc", "1.5", ""):
            response = await page(client, path, limit=limit)

            assert response.status_code == 422, (path, limit, response.text)
            assert response.json()["code"] == "validation_failed"


async def test_limit_bounds_are_accepted(api, client):
    for path in await list_paths(api):
        for limit in (1, 200):
            response = await page(client, path, limit=limit)

            assert response.status_code == 200, (path, limit, response.text)
            assert len(response.json()["data"]) == 1


# --- cursors ----------------------------------------------------------------------------


def flip(cursor: str, index: int) -> str:
    replacement = "B" if cursor[index] != "B" else "C"
    return cursor[:index] + replacement + cursor[index + 1 :]


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
