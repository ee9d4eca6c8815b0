"""Authentication (contract §2): a missing, empty, unknown or revoked key is 401, alike."""

from typing import Any

import httpx

from tests.auth.support import as_key, key_record
from tests.helpers import problem


class TestAuthentication:
    async def test_missing_key_is_401(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            response = await anonymous.get("/v1/spaces")
        body = problem(response, 401)
        assert body["code"] == "unauthorized"

    async def test_empty_key_is_401(self, client: httpx.AsyncClient) -> None:
        problem(await client.get("/v1/spaces", headers={"X-API-Key": ""}), 401)

    async def test_unknown_key_is_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/spaces", headers=as_key("tk_not_a_real_key_at_all_0000"))
        assert problem(response, 401)["code"] == "unauthorized"

    async def test_missing_and_unknown_keys_answer_alike(self, client: httpx.AsyncClient) -> None:
        missing = await client.get("/v1/spaces", headers={"X-API-Key": ""})
        unknown = await client.get("/v1/spaces", headers=as_key("tk_unknown_secret_000000000"))
        assert problem(missing, 401)["type"] == problem(unknown, 401)["type"]

    async def test_revoked_key_is_refused_at_once(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        secret = await api.key(["read"], [space["id"]])
        assert (await client.get("/v1/spaces", headers=as_key(secret))).status_code == 200
        key = await key_record(client, secret)

        revoked = await client.delete(f"/v1/api-keys/{key['id']}")
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"] is not None

        response = await client.get("/v1/spaces", headers=as_key(secret))
        assert problem(response, 401)["code"] == "unauthorized"
        response = await client.get(f"/v1/spaces/{space['id']}", headers=as_key(secret))
        problem(response, 401)

    async def test_unauthenticated_operations_endpoints(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
                assert (await anonymous.get(path)).status_code == 200, path
