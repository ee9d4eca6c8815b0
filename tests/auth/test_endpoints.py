"""Authentication, scopes, space visibility and the API key endpoints (contract §2, §4)."""

import re
from typing import Any

import httpx

from tests.conftest import ADMIN_SECRET

MISSING_SPACE = "spc_" + "0" * 26
MISSING_KEY = "key_" + "0" * 26
PROBLEM_FIELDS = ("type", "title", "status", "detail", "code")
MALFORMED_SPACE_IDS = [
    "nope",
    "spc_",
    "spc_" + "0" * 25,
    "spc_" + "0" * 27,
    "spc_" + "I" * 26,  # not Crockford base32
    "spc_" + "a" * 26,
    "thr_" + "0" * 26,
    "spc_%00",
    "%00",
]


def as_key(secret: str | None) -> dict[str, str]:
    """Headers that replace the client's admin key (or drop it, for `None`)."""
    return {"X-API-Key": secret} if secret is not None else {}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def without_request_id(body: dict[str, Any]) -> dict[str, Any]:
    return {field: body[field] for field in PROBLEM_FIELDS}


async def key_record(client: httpx.AsyncClient, secret: str) -> dict[str, Any]:
    """The listed key whose prefix starts `secret` (the tests make keys one at a time)."""
    response = await client.get("/v1/api-keys", params={"limit": 200})
    matches = [k for k in response.json()["data"] if secret.startswith(k["prefix"])]
    assert len(matches) == 1
    return matches[0]


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


class TestSpaceVisibility:
    async def test_other_space_looks_like_a_missing_one(
        self, client: httpx.AsyncClient, api
    ) -> None:
        mine, other = await api.space("mine"), await api.space("other")
        thread = await api.thread(other["id"])
        secret = await api.key(["write"], [mine["id"]])

        missing = problem(
            await client.get(f"/v1/spaces/{MISSING_SPACE}", headers=as_key(secret)), 404
        )
        as_admin = problem(await client.get(f"/v1/spaces/{MISSING_SPACE}"), 404)
        assert without_request_id(missing) == without_request_id(as_admin)
        assert missing["code"] == "space_not_found"

        for method, path, body in [
            ("GET", f"/v1/spaces/{other['id']}", None),
            ("GET", f"/v1/spaces/{other['id']}/threads", None),
            ("GET", f"/v1/spaces/{other['id']}/threads/{thread['id']}", None),
            ("GET", f"/v1/spaces/{other['id']}/threads/{thread['id']}/messages", None),
            ("POST", f"/v1/spaces/{other['id']}/threads/messages", {"content": "x"}),
            ("POST", f"/v1/spaces/{other['id']}/threads/{thread['id']}/messages", {"content": "x"}),
            ("PATCH", f"/v1/spaces/{other['id']}/threads/{thread['id']}", {"title": "x"}),
            ("DELETE", f"/v1/spaces/{other['id']}/threads/{thread['id']}", None),
        ]:
            response = await client.request(method, path, json=body, headers=as_key(secret))
            hidden = problem(response, 404)
            assert without_request_id(hidden) == without_request_id(missing), (method, path)

        # Nothing was changed in the hidden space.
        after = (await client.get(f"/v1/spaces/{other['id']}/threads/{thread['id']}")).json()
        assert after["message_count"] == thread["message_count"]
        assert after["status"] == "open"

    async def test_malformed_space_id_is_404(self, client: httpx.AsyncClient) -> None:
        for space_id in MALFORMED_SPACE_IDS:
            response = await client.get(f"/v1/spaces/{space_id}")
            assert problem(response, 404)["code"] == "space_not_found", space_id
            response = await client.get(f"/v1/spaces/{space_id}/threads")
            assert problem(response, 404)["code"] == "space_not_found", space_id

    async def test_malformed_space_id_is_404_for_a_bound_key(
        self, client: httpx.AsyncClient, api
    ) -> None:
        space = await api.space()
        secret = await api.key(["read"], [space["id"]])
        for space_id in MALFORMED_SPACE_IDS:
            response = await client.get(f"/v1/spaces/{space_id}", headers=as_key(secret))
            assert problem(response, 404)["code"] == "space_not_found", space_id


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
        for space_ids in ([MISSING_SPACE], [space["id"], MISSING_SPACE], ["not-an-id"]):
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
