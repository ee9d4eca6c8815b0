"""The short-lived cache of authenticated keys must not delay revocation: at once in the
process that revokes, within a second (the cache's lifetime) in every other process."""

import asyncio
from typing import Any

import httpx

from tests.conftest import ADMIN_SECRET, Api
from threads_api.app import create_app
from threads_api.auth.cache import DEFAULT_TTL_SECONDS
from threads_api.config import Settings


async def test_revocation_applies_at_once_to_a_cached_key(api: Api, client: httpx.AsyncClient):
    space = await api.space()
    secret = await api.key(["read"], [space["id"]])
    headers = {"X-API-Key": secret}
    assert (await client.get("/v1/spaces", headers=headers)).status_code == 200  # now cached
    key_id = (await client.get("/v1/api-keys")).json()["data"][-1]["id"]

    assert (await client.delete(f"/v1/api-keys/{key_id}")).status_code == 200

    assert (await client.get("/v1/spaces", headers=headers)).status_code == 401


async def test_revocation_in_another_process_applies_within_the_cache_lifetime(
    api: Api, client: httpx.AsyncClient, settings: Settings
):
    space = await api.space()
    secret = await api.key(["read"], [space["id"]])
    key_id = (await client.get("/v1/api-keys")).json()["data"][-1]["id"]
    other: Any = create_app(settings)  # a second process's app on the same database
    async with (
        other.router.lifespan_context(other),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other), base_url="http://other"
        ) as elsewhere,
    ):
        headers = {"X-API-Key": secret}
        assert (await elsewhere.get("/v1/spaces", headers=headers)).status_code == 200

        revoked = await client.delete(f"/v1/api-keys/{key_id}")
        assert revoked.status_code == 200
        await asyncio.sleep(DEFAULT_TTL_SECONDS + 0.1)

        assert (await elsewhere.get("/v1/spaces", headers=headers)).status_code == 401
        admin = {"X-API-Key": ADMIN_SECRET}
        assert (await elsewhere.get("/v1/spaces", headers=admin)).status_code == 200
