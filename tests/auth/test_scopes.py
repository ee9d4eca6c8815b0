"""Scopes (contract §2): a read key reads, a write key writes, only an admin key manages keys
and spaces; visibility is checked before scope, scope before body rules."""

import httpx

from tests.auth.support import as_key, key_record
from tests.helpers import ADMIN_SECRET, problem


class TestScopes:
    async def test_read_key_cannot_create_a_thread(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        secret = await api.key(["read"], [space["id"]])
        response = await client.post(
            f"/v1/spaces/{space['id']}/threads/messages",
            json={"content": "hello"},
            headers=as_key(secret),
        )
        assert problem(response, 403)["code"] == "forbidden"
        listed = await client.get(f"/v1/spaces/{space['id']}/threads")
        assert listed.json()["data"] == []

    async def test_read_key_cannot_change_a_thread(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        thread = await api.thread(space["id"], title="before")
        secret = await api.key(["read"], [space["id"]])
        path = f"/v1/spaces/{space['id']}/threads/{thread['id']}"
        response = await client.patch(path, json={"title": "after"}, headers=as_key(secret))
        problem(response, 403)
        problem(await client.delete(path, headers=as_key(secret)), 403)
        assert (await client.get(path)).json()["title"] == "before"

    async def test_read_key_can_read(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        thread = await api.thread(space["id"])
        secret = await api.key(["read"], [space["id"]])
        response = await client.get(
            f"/v1/spaces/{space['id']}/threads/{thread['id']}", headers=as_key(secret)
        )
        assert response.status_code == 200
        assert response.json()["id"] == thread["id"]

    async def test_write_key_can_write(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        secret = await api.key(["write"], [space["id"]])
        response = await client.post(
            f"/v1/spaces/{space['id']}/threads/messages",
            json={"content": "hello"},
            headers=as_key(secret),
        )
        assert response.status_code == 201, response.text

    async def test_visibility_is_checked_before_scope(self, client: httpx.AsyncClient, api) -> None:
        mine, other = await api.space("mine"), await api.space("other")
        secret = await api.key(["read"], [mine["id"]])
        response = await client.post(
            f"/v1/spaces/{other['id']}/threads/messages",
            json={"content": "hello"},
            headers=as_key(secret),
        )
        problem(response, 404)

    async def test_scope_is_checked_before_body_rules(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        secret = await api.key(["write"], [space["id"]])
        response = await client.post("/v1/spaces", json={"nope": 1}, headers=as_key(secret))
        problem(response, 403)


class TestAdminOnly:
    async def test_non_admin_cannot_manage_keys(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        for scopes in (["read"], ["write"], ["read", "write"]):
            secret = await api.key(scopes, [space["id"]])
            own = await key_record(client, secret)
            headers = as_key(secret)
            problem(await client.get("/v1/api-keys", headers=headers), 403)
            problem(await client.get(f"/v1/api-keys/{own['id']}", headers=headers), 403)
            response = await client.post(
                "/v1/api-keys",
                json={"name": "escalate", "scopes": ["admin"]},
                headers=headers,
            )
            assert problem(response, 403)["code"] == "forbidden"
            problem(await client.delete(f"/v1/api-keys/{own['id']}", headers=headers), 403)
        # Nothing happened: one admin and three bound keys, none of them revoked.
        keys = (await client.get("/v1/api-keys")).json()["data"]
        assert [k["scopes"] for k in keys] == [["admin"], ["read"], ["write"], ["read", "write"]]
        assert all(k["revoked_at"] is None for k in keys)

    async def test_non_admin_cannot_create_or_change_spaces(
        self, client: httpx.AsyncClient, api
    ) -> None:
        space = await api.space("kept")
        secret = await api.key(["write"], [space["id"]])
        response = await client.post("/v1/spaces", json={"name": "x"}, headers=as_key(secret))
        assert problem(response, 403)["code"] == "forbidden"
        response = await client.patch(
            f"/v1/spaces/{space['id']}", json={"name": "changed"}, headers=as_key(secret)
        )
        problem(response, 403)
        spaces = (await client.get("/v1/spaces")).json()["data"]
        assert [s["name"] for s in spaces] == ["kept"]

    async def test_admin_secret_is_the_bootstrap_key(self, client: httpx.AsyncClient) -> None:
        keys = (await client.get("/v1/api-keys")).json()["data"]
        assert len(keys) == 1
        assert keys[0]["scopes"] == ["admin"]
        assert ADMIN_SECRET.startswith(keys[0]["prefix"])
