"""Helpers for the field-rule tests (contract §10)."""

from typing import Any

import httpx

from tests.helpers import problem

EMOJI = "😀"  # one code point, four UTF-8 bytes, two UTF-16 units


def assert_422(response: httpx.Response) -> None:
    body = problem(response, 422, "validation_failed")
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
