"""Helpers for the thread tests: URLs, and reading and patching a thread over HTTP."""

from typing import Any

import httpx


def threads_url(space_id: str) -> str:
    return f"/v1/spaces/{space_id}/threads"


def thread_url(thread: dict[str, Any]) -> str:
    return f"/v1/spaces/{thread['space_id']}/threads/{thread['id']}"


async def list_ids(client: httpx.AsyncClient, space_id: str, **params: Any) -> list[str]:
    response = await client.get(threads_url(space_id), params={"limit": 200, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["has_more"] is False
    return [t["id"] for t in body["data"]]


async def get(client: httpx.AsyncClient, thread: dict[str, Any]) -> dict[str, Any]:
    response = await client.get(thread_url(thread))
    assert response.status_code == 200, response.text
    return response.json()


async def patch(client: httpx.AsyncClient, thread: dict[str, Any], body: Any, **kw: Any):
    return await client.patch(thread_url(thread), json=body, **kw)
