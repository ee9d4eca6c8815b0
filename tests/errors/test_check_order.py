"""The order of the checks (contract §9): authentication, body size, media type, JSON syntax,
visibility, scope, then the body's rules."""

from typing import Any

import httpx

from tests.errors.support import MAX_BODY, post_raw
from tests.helpers import problem


class TestCheckOrder:
    async def test_missing_key_comes_before_body_size(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            response = await post_raw(anonymous, "/v1/spaces", b" " * (MAX_BODY + 1))
        problem(response, 401)

    async def test_bad_key_comes_before_content_type(self, client: httpx.AsyncClient) -> None:
        response = await post_raw(
            client, "/v1/spaces", b"name=x", "text/plain", X_API_Key="tk_wrong_key_000000000000"
        )
        problem(response, 401)

    async def test_body_size_comes_before_content_type(self, client: httpx.AsyncClient) -> None:
        response = await post_raw(client, "/v1/spaces", b"x" * (MAX_BODY + 1), "text/plain")
        problem(response, 413)

    async def test_content_type_comes_before_json_syntax(self, client: httpx.AsyncClient) -> None:
        problem(await post_raw(client, "/v1/spaces", b"{not json", "text/plain"), 415)

    async def test_json_syntax_comes_before_visibility(self, client: httpx.AsyncClient) -> None:
        path = "/v1/spaces/spc_" + "0" * 26 + "/threads/messages"
        problem(await post_raw(client, path, b"{not json"), 400)

    async def test_visibility_comes_before_scope_and_rules(
        self, client: httpx.AsyncClient, api
    ) -> None:
        space, other = await api.space(), await api.space("other")
        secret = await api.key(["read"], [space["id"]])
        path = f"/v1/spaces/{other['id']}/threads/messages"
        response = await post_raw(client, path, b'{"bad": 1}', X_API_Key=secret)
        problem(response, 404)
        path = f"/v1/spaces/{space['id']}/threads/messages"
        response = await post_raw(client, path, b'{"bad": 1}', X_API_Key=secret)
        problem(response, 403)
