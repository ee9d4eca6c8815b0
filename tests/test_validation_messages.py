"""`errors[].message` of a 422 is our rule's own words, without pydantic's "Value error, "."""

from typing import Any

import httpx

from tests.helpers import Api, problem


def messages(response: httpx.Response) -> list[tuple[list[Any], str]]:
    body = problem(response, 422, "validation_failed")
    assert "Value error" not in response.text
    return [(error["loc"], error["message"]) for error in body["errors"]]


async def test_nul_in_message_content(client: httpx.AsyncClient, api: Api) -> None:
    space = await api.space()
    thread = await api.thread(space["id"])
    url = f"/v1/spaces/{space['id']}/threads/{thread['id']}/messages"
    assert messages(await client.post(url, json={"content": "a\x00b"})) == [
        (["body", "content"], "must not contain the NUL character")
    ]
    assert messages(await client.post(url, json={"content": " \n "})) == [
        (["body", "content"], "must not be only whitespace")
    ]


async def test_nul_in_a_space_name(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/spaces", json={"name": "a\x00b"})
    assert messages(response) == [(["body", "name"], "must not contain the NUL character")]


async def test_a_rule_on_the_whole_body(client: httpx.AsyncClient, api: Api) -> None:
    space = await api.space()
    body = {"name": "k", "scopes": ["admin"], "space_ids": [space["id"]]}
    assert messages(await client.post("/v1/api-keys", json=body)) == [
        (["body"], "an admin key sees every space: leave space_ids empty")
    ]


async def test_pydantic_own_messages_are_kept(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/spaces", json={"name": "s" * 201})
    assert messages(response) == [(["body", "name"], "String should have at most 200 characters")]
