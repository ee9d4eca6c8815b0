"""`has_more` is exact, and the `Link` header names the next page relative to the request."""

import httpx

from tests.pagination.support import LINK, arrange_messages, arrange_threads, page


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


async def test_link_header_is_the_next_url_relative_to_the_request(api, client):
    space_id, _ = await arrange_threads(api, client)
    path = f"/v1/spaces/{space_id}/threads"

    response = await page(client, path, limit=2, sort="created_at", order="asc", status="all")

    match = LINK.match(response.headers["link"])
    assert match
    url = httpx.URL(match["url"])
    assert not url.is_absolute_url
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
