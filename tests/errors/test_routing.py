"""Unknown routes are 404 and wrong methods 405 (with `Allow`), before authentication."""

from typing import Any

import httpx

from tests.helpers import problem


class TestRouting:
    async def test_unknown_route_is_404_problem(self, client: httpx.AsyncClient) -> None:
        for path in ["/nope", "/v1/nope", "/v1/spaces/x/y/z/w/v", "/v2/spaces", "/v1/"]:
            problem(await client.get(path), 404, "not_found")

    async def test_unknown_route_without_key_is_404(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            problem(await anonymous.get("/v1/nope"), 404)

    async def test_wrong_method_is_405_with_every_allowed_method(
        self, client: httpx.AsyncClient
    ) -> None:
        for method, path, allow in [
            ("PUT", "/v1/spaces/{space}/threads/{thread}", {"DELETE", "GET", "PATCH"}),
            ("POST", "/v1/spaces/{space}/threads/{thread}", {"DELETE", "GET", "PATCH"}),
            ("DELETE", "/v1/spaces", {"GET", "POST"}),
            ("PUT", "/v1/spaces/{space}", {"GET", "PATCH"}),
            ("PATCH", "/v1/api-keys/{key}", {"GET", "DELETE"}),
            # The literal path wins over /threads/{thread_id}: "messages" is not a thread id.
            ("PUT", "/v1/spaces/{space}/threads/messages", {"POST"}),
            ("DELETE", "/v1/spaces/{space}/threads/{thread}/messages", {"GET", "POST"}),
            ("POST", "/healthz", {"GET"}),
        ]:
            url = path.format(
                space="spc_" + "0" * 26, thread="thr_" + "0" * 26, key="key_" + "0" * 26
            )
            response = await client.request(method, url, json={})
            problem(response, 405, "method_not_allowed")
            allowed = {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"}
            assert allowed == allow, (method, path)

    async def test_405_comes_before_authentication(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            response = await anonymous.put("/v1/spaces/spc_" + "0" * 26)
        problem(response, 405)
