"""Helpers for the idempotency tests: a POST with or without a key, and what a replay is."""

from typing import Any

import httpx

from tests.helpers import ADMIN_SECRET

KEY = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


def messages_path(space_id: str, thread_id: str) -> str:
    return f"/v1/spaces/{space_id}/threads/{thread_id}/messages"


async def count(client: httpx.AsyncClient, list_path: str, secret: str = ADMIN_SECRET) -> int:
    """How many items a list endpoint shows (all tests stay far below one page)."""
    separator = "&" if "?" in list_path else "?"
    response = await client.get(f"{list_path}{separator}limit=200", headers={"X-API-Key": secret})
    assert response.status_code == 200, response.text
    assert response.json()["has_more"] is False
    return len(response.json()["data"])


async def post(
    client: httpx.AsyncClient,
    path: str,
    body: Any,
    key: str | bytes | None,
    *,
    secret: str = ADMIN_SECRET,
) -> httpx.Response:
    headers: dict[str, Any] = {"X-API-Key": secret}
    if key is not None:
        headers[KEY] = key
    if isinstance(body, str | bytes):
        headers["Content-Type"] = "application/json"
        return await client.post(path, content=body, headers=headers)
    return await client.post(path, json=body, headers=headers)


def assert_replay_of(replay: httpx.Response, original: httpx.Response) -> None:
    assert replay.status_code == original.status_code
    if original.json().get("object") == "api_key":
        # A new key's secret is shown once and never stored: its replay is the rest.
        assert replay.json() == {**original.json(), "secret": None}
    else:
        assert replay.content == original.content
    assert replay.headers.get("location") == original.headers.get("location")
    assert replay.headers["content-type"] == original.headers["content-type"]
    assert replay.headers.get(REPLAYED) == "true"
