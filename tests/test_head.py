"""Every GET route answers HEAD: same status and headers, no body, no extra operation (§5, §16)."""

from typing import Any

import httpx


async def _get_paths(client: httpx.AsyncClient, api) -> list[str]:
    """One concrete URL for every documented GET operation, filled with real ids."""
    space = await api.space()
    thread = await api.thread(space["id"])
    message = await api.message(space["id"], thread["id"])
    keys = (await client.get("/v1/api-keys")).json()["data"]
    webhook = await client.post("/v1/webhooks", json={"url": "https://example.com/hook"})
    ids = {
        "webhook_id": webhook.json()["id"],
        "space_id": space["id"],
        "thread_id": thread["id"],
        "message_id": message["id"],
        "key_id": keys[0]["id"],
    }
    document = (await client.get("/openapi.json")).json()
    # A stream's GET never ends; its HEAD is tested with the streams (tests/event/).
    paths = [p for p, ops in document["paths"].items() if "get" in ops and p.endswith("/stream")]
    assert paths == ["/v1/spaces/{space_id}/events/stream"]
    return [
        path.format(**ids)
        for path, ops in document["paths"].items()
        if "get" in ops and path not in paths
    ]


async def test_head_answers_like_get_on_every_get_route(client: httpx.AsyncClient, api) -> None:
    paths = await _get_paths(client, api)
    assert len(paths) >= 8
    for path in paths:
        get = await client.get(path)
        head = await client.head(path)
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        for header in ("content-type", "content-length", "etag", "link"):
            assert head.headers.get(header) == get.headers.get(header), (path, header)
        assert head.headers["x-request-id"]


async def test_head_keeps_errors_and_preconditions(client: httpx.AsyncClient, api) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url = f"/v1/spaces/{space['id']}/threads/{thread['id']}"
    etag = (await client.get(url)).headers["etag"]

    assert (await client.head(url, headers={"If-None-Match": etag})).status_code == 304
    unauthenticated = await client.head(url, headers={"X-API-Key": ""})
    assert unauthenticated.status_code == 401
    assert unauthenticated.content == b""
    assert (await client.head("/v1/spaces/spc_nope")).status_code == 404


async def test_head_is_allowed_where_get_is(client: httpx.AsyncClient, api) -> None:
    space = await api.space()
    response = await client.put(f"/v1/spaces/{space['id']}", json={})
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == {"GET", "HEAD", "PATCH"}


async def test_head_is_not_an_operation_in_the_document(client: httpx.AsyncClient) -> None:
    document: dict[str, Any] = (await client.get("/openapi.json")).json()
    assert all("head" not in operations for operations in document["paths"].values())
    ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


async def test_head_of_an_open_route_needs_no_key(client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/readyz", "/openapi.json"):
        response = await client.head(path, headers={"X-API-Key": ""})
        assert response.status_code == 200, path
        assert response.content == b""
