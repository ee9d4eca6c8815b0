"""Creating API keys (contract §4): the secret is shown once, and what a key may be bound to."""

import re

import httpx

from tests.auth.support import MISSING_SPACE, as_key
from tests.helpers import problem


class TestApiKeyCreation:
    async def test_create_shows_the_secret_once(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        response = await client.post(
            "/v1/api-keys", json={"name": "bot", "scopes": ["write"], "space_ids": [space["id"]]}
        )
        assert response.status_code == 201, response.text
        created = response.json()
        assert set(created) == {
            "id",
            "object",
            "name",
            "scopes",
            "space_ids",
            "prefix",
            "created_at",
            "last_used_at",
            "revoked_at",
            "secret",
        }
        assert created["object"] == "api_key"
        assert re.fullmatch(r"key_[0-9A-HJKMNP-TV-Z]{26}", created["id"])
        assert created["name"] == "bot"
        assert created["scopes"] == ["write"]
        assert created["space_ids"] == [space["id"]]
        assert created["last_used_at"] is None
        assert created["revoked_at"] is None
        secret = created["secret"]
        assert secret.startswith("tk_")
        assert len(secret) >= 32
        assert 4 <= len(created["prefix"]) < len(secret)
        assert secret.startswith(created["prefix"])

        fetched = await client.get(f"/v1/api-keys/{created['id']}")
        listed = await client.get("/v1/api-keys")
        for response in (fetched, listed):
            assert response.status_code == 200
            assert secret not in response.text
            assert "secret" not in response.text
        assert fetched.json() == {k: v for k, v in created.items() if k != "secret"}
        assert all("secret" not in k and "hash" not in k for k in listed.json()["data"][0])

    async def test_new_key_works(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        secret = await api.key(["read"], [space["id"]])
        response = await client.get(f"/v1/spaces/{space['id']}", headers=as_key(secret))
        assert response.status_code == 200

    async def test_two_keys_get_different_secrets(self, api) -> None:
        space = await api.space()
        first = await api.key(["read"], [space["id"]])
        second = await api.key(["read"], [space["id"]])
        assert first != second

    async def test_space_ids_required_unless_admin(self, client: httpx.AsyncClient) -> None:
        for body in [
            {"name": "k", "scopes": ["read", "write"]},
            {"name": "k", "scopes": ["read"], "space_ids": []},
        ]:
            problem(await client.post("/v1/api-keys", json=body), 422)
        assert len((await client.get("/v1/api-keys")).json()["data"]) == 1

    async def test_admin_key_needs_no_space(self, client: httpx.AsyncClient, api) -> None:
        response = await client.post("/v1/api-keys", json={"name": "root", "scopes": ["admin"]})
        assert response.status_code == 201, response.text
        assert response.json()["space_ids"] == []
        # ...and it sees every space.
        space = await api.space()
        secret = response.json()["secret"]
        assert (await client.get(f"/v1/spaces/{space['id']}", headers=as_key(secret))).is_success

    async def test_unknown_space_is_422(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        before = (await client.get("/v1/api-keys")).json()["data"]
        for space_ids in (
            [MISSING_SPACE],
            [space["id"], MISSING_SPACE],
            ["not-an-id"],
            ["x\u0000"],  # a 500 on PostgreSQL once: ids in a body are checked like path ids
            [space["id"][:-1] + "\u0000"],
        ):
            response = await client.post(
                "/v1/api-keys", json={"name": "k", "scopes": ["read"], "space_ids": space_ids}
            )
            problem(response, 422)
        assert (await client.get("/v1/api-keys")).json()["data"] == before

    async def test_invalid_body_is_422(self, client: httpx.AsyncClient) -> None:
        for body in [
            {"name": "k", "scopes": ["root"], "space_ids": []},
            {"name": "k", "scopes": [], "space_ids": []},
            {"name": "", "scopes": ["admin"]},
            {"name": "k", "scopes": ["admin"], "secret": "tk_chosen_by_the_client_123456"},
            {"scopes": ["admin"]},
            {"name": "k", "scopes": "admin"},
        ]:
            problem(await client.post("/v1/api-keys", json=body), 422)
        assert len((await client.get("/v1/api-keys")).json()["data"]) == 1
