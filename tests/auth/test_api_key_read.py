"""Listing, reading and revoking API keys (contract §4), and when `last_used_at` moves."""

import re
from typing import Any

import httpx

from tests.auth.support import MISSING_KEY, as_key, key_record
from tests.helpers import problem


class TestApiKeyReading:
    async def test_list_in_creation_order_with_cursors(
        self, client: httpx.AsyncClient, api
    ) -> None:
        space = await api.space()
        created = []
        for n in range(5):
            response = await client.post(
                "/v1/api-keys",
                json={"name": f"k{n}", "scopes": ["read"], "space_ids": [space["id"]]},
            )
            created.append(response.json()["id"])

        seen: list[dict[str, Any]] = []
        url: str | None = "/v1/api-keys?limit=2"
        pages = 0
        while url is not None:
            response = await client.get(url)
            assert response.status_code == 200, response.text
            page = response.json()
            assert page["object"] == "list"
            assert len(page["data"]) <= 2
            seen += page["data"]
            pages += 1
            if page["has_more"]:
                assert page["next_cursor"]
                link = response.headers["link"]
                match = re.fullmatch(r'<([^>]+)>; rel="next"', link)
                assert match, link
                assert "limit=2" in match.group(1)
                url = match.group(1)
            else:
                assert page["next_cursor"] is None
                assert "link" not in response.headers
                url = None
        # The bootstrap admin key first, then the new ones in the order they were made.
        assert pages == 3
        assert [k["id"] for k in seen][1:] == created
        assert [k["name"] for k in seen][1:] == [f"k{n}" for n in range(5)]
        assert len({k["id"] for k in seen}) == 6

    async def test_cursor_tampering_is_400(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        await api.space("second")
        await api.key(["read"], [space["id"]])
        cursor = (await client.get("/v1/api-keys", params={"limit": 1})).json()["next_cursor"]
        assert cursor
        tampered = ("A" if cursor[0] != "A" else "B") + cursor[1:]
        response = await client.get("/v1/api-keys", params={"cursor": tampered})
        assert problem(response, 400)["code"] == "invalid_cursor"
        space_cursor = (await client.get("/v1/spaces", params={"limit": 1})).json()["next_cursor"]
        response = await client.get("/v1/api-keys", params={"cursor": space_cursor})
        problem(response, 400)

    async def test_get_one_key(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        secret = await api.key(["write"], [space["id"]])
        key = await key_record(client, secret)
        response = await client.get(f"/v1/api-keys/{key['id']}")
        assert response.status_code == 200
        assert response.json() == key
        assert response.json()["scopes"] == ["write"]

    async def test_get_missing_key_is_404(self, client: httpx.AsyncClient) -> None:
        for key_id in [MISSING_KEY, "nope", "key_%00", "spc_" + "0" * 26]:
            problem(await client.get(f"/v1/api-keys/{key_id}"), 404)
            problem(await client.delete(f"/v1/api-keys/{key_id}"), 404)

    async def test_revoking_twice_is_harmless(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        secret = await api.key(["read"], [space["id"]])
        key = await key_record(client, secret)
        first = await client.delete(f"/v1/api-keys/{key['id']}")
        second = await client.delete(f"/v1/api-keys/{key['id']}")
        assert first.status_code == second.status_code == 200
        assert first.json()["revoked_at"] is not None
        assert second.json() == first.json()
        assert (await client.get(f"/v1/api-keys/{key['id']}")).json() == first.json()
        assert secret not in first.text

    async def test_last_used_at_is_set_once_a_minute(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        secret = await api.key(["read"], [space["id"]])
        key = await key_record(client, secret)
        assert key["last_used_at"] is None

        assert (await client.get("/v1/spaces", headers=as_key(secret))).status_code == 200
        used = (await client.get(f"/v1/api-keys/{key['id']}")).json()["last_used_at"]
        assert used is not None
        assert used >= key["created_at"]

        assert (await client.get("/v1/spaces", headers=as_key(secret))).status_code == 200
        again = (await client.get(f"/v1/api-keys/{key['id']}")).json()["last_used_at"]
        assert again == used

    async def test_failed_authentication_does_not_touch_keys(
        self, client: httpx.AsyncClient
    ) -> None:
        before = (await client.get("/v1/api-keys")).json()["data"]
        await client.get("/v1/spaces", headers=as_key("tk_unknown_secret_000000000"))
        after = (await client.get("/v1/api-keys")).json()["data"]
        assert [k["last_used_at"] for k in after] == [k["last_used_at"] for k in before]
