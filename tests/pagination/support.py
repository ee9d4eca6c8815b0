"""Helpers for the pagination tests (contract §7): follow every page, arrange lists."""

import re
from typing import Any

import httpx

from tests.helpers import problem

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
            assert not next_url.is_absolute_url  # resolved against the request's URL (§16)
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
    problem(response, 400, "invalid_cursor")


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


async def list_paths(api) -> list[str]:
    space = await api.space()
    thread = await api.thread(space["id"])
    return [
        f"/v1/spaces/{space['id']}/threads",
        f"/v1/spaces/{space['id']}/threads/{thread['id']}/messages",
        "/v1/spaces",
        "/v1/api-keys",
    ]
