"""Stream tokens (contract §14): what a browser's EventSource opens a stream with, since it
cannot send X-API-Key. Valid 60 s, for one stream, read-only, bound to a space and a key."""

import re
from typing import Any

import httpx
import pytest

from tests.event.live import Live
from tests.event.support import listening, post_messages
from tests.helpers import problem


@pytest.fixture
def settings_overrides(fast_streams: dict[str, Any]) -> dict[str, Any]:
    return fast_streams


async def token_for(live: Live, space_id: str, key: str) -> str:
    response = await live.http.post(
        f"/v1/spaces/{space_id}/events/stream-tokens", headers={"X-API-Key": key}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"token", "expires_at"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["expires_at"])
    assert response.headers["etag"]
    token: str = body["token"]
    return token


async def test_a_token_opens_one_stream_without_an_api_key(live: Live) -> None:
    space = await live.api.space()
    thread = await live.api.thread(space["id"], "watched")
    key = await live.api.key(["read"], [space["id"]])
    token = await token_for(live, space["id"], key)
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as browser:
        async with listening(browser, space["id"], params={"token": token}) as stream:
            ids = await post_messages(live.http, thread, 2)
            events = await stream.count(2)
        assert [e.json["data"]["id"] for e in events] == ids
        again = await browser.get(
            f"/v1/spaces/{space['id']}/events/stream", params={"token": token}
        )
        problem(again, 401, "unauthorized")


async def test_a_token_is_bound_to_its_space_and_to_the_stream(live: Live) -> None:
    space, other = await live.api.space("a"), await live.api.space("b")
    token = await token_for(live, space["id"], await live.api.key(["read"], [space["id"]]))
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as browser:
        elsewhere = await browser.get(
            f"/v1/spaces/{other['id']}/events/stream", params={"token": token}
        )
        problem(elsewhere, 404, "space_not_found")
        # Nowhere but the stream: not the list, not a write.
        listed = await browser.get(f"/v1/spaces/{space['id']}/events", params={"token": token})
        problem(listed, 401)
        write = await browser.post(
            f"/v1/spaces/{space['id']}/threads/messages",
            params={"token": token},
            json={"content": "x"},
        )
        problem(write, 401)


async def test_a_token_of_an_admin_key_is_read_only_and_bound_to_one_space(live: Live) -> None:
    space, other = await live.api.space("a"), await live.api.space("b")
    token = await token_for(live, space["id"], live.http.headers["X-API-Key"])
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as browser:
        elsewhere = await browser.get(
            f"/v1/spaces/{other['id']}/events/stream", params={"token": token}
        )
        problem(elsewhere, 404, "space_not_found")


async def test_an_api_key_is_never_accepted_in_the_url(live: Live) -> None:
    space = await live.api.space()
    key = live.http.headers["X-API-Key"]
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as browser:
        for name in ("token", "api_key", "key", "X-API-Key"):
            response = await browser.get(
                f"/v1/spaces/{space['id']}/events/stream", params={name: key}
            )
            problem(response, 401)


async def test_a_token_ends_with_its_key(live: Live) -> None:
    space = await live.api.space()
    thread = await live.api.thread(space["id"], "revoked")
    created = await live.http.post(
        "/v1/api-keys", json={"name": "k", "scopes": ["read"], "space_ids": [space["id"]]}
    )
    key = created.json()
    token = await token_for(live, space["id"], key["secret"])
    unused = await token_for(live, space["id"], key["secret"])
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as browser:
        async with listening(browser, space["id"], params={"token": token}) as stream:
            await post_messages(live.http, thread, 1)
            await stream.count(1)
            assert (await live.http.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
            await stream.end()
        refused = await browser.get(
            f"/v1/spaces/{space['id']}/events/stream", params={"token": unused}
        )
        problem(refused, 401)


async def test_creating_a_token_needs_the_read_scope_on_the_space(live: Live) -> None:
    space = await live.api.space()
    url = f"/v1/spaces/{space['id']}/events/stream-tokens"
    problem(await live.http.post(url, headers={"X-API-Key": "tk_nobody"}), 401)
    writer = await live.api.key(["write"], [space["id"]])
    assert (await live.http.post(url, headers={"X-API-Key": writer})).status_code == 200
