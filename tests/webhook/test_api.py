"""The webhooks management API (contract §15): create, read and list; admin only, and never
a secret after its one showing."""

from typing import Any

import httpx
import pytest

from tests.auth.support import as_key
from tests.helpers import Api, flip, problem
from tests.webhook.support import (
    FIELDS,
    UNKNOWN_DELIVERY,
    UNKNOWN_SPACE,
    UNKNOWN_WEBHOOK,
    URL,
    create,
    etag_of,
    listed_ids,
    messages,
)


class TestCreate:
    async def test_create_shows_the_secret_once(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/webhooks", json={"url": URL, "description": "bot"})

        assert response.status_code == 201, response.text
        created = response.json()
        assert set(created) == FIELDS | {"secret"}
        assert created["object"] == "webhook"
        assert created["id"].startswith("whk_")
        assert response.headers["location"] == f"/v1/webhooks/{created['id']}"
        assert created["secret"].startswith("whsec_")
        assert len(created["secret"]) >= 32
        assert created["url"] == URL
        assert created["description"] == "bot"
        assert created["space_ids"] is None and created["types"] is None
        assert created["enabled"] is True and created["disabled_reason"] is None
        assert created["created_at"] == created["updated_at"]

        fetched = await client.get(response.headers["location"])
        listed = await client.get("/v1/webhooks")
        for shown in (fetched, listed):
            assert shown.status_code == 200, shown.text
            assert "secret" not in shown.text and "whsec_" not in shown.text
        assert fetched.json() == {k: v for k, v in created.items() if k != "secret"}
        assert fetched.headers["etag"] == etag_of(fetched.content)
        # The webhook's tag, as GET shows it: the secret is no part of what If-Match compares.
        assert response.headers["etag"] == fetched.headers["etag"]
        assert listed.json()["data"] == [fetched.json()]

    async def test_each_webhook_gets_its_own_secret(self, client: httpx.AsyncClient) -> None:
        assert (await create(client))["secret"] != (await create(client))["secret"]

    async def test_idempotent_replay_is_the_same_webhook_without_its_secret(
        self, client: httpx.AsyncClient
    ) -> None:
        headers = {"Idempotency-Key": "create-hook-1"}
        body = {"url": URL, "types": ["message.created"]}
        first = await client.post("/v1/webhooks", json=body, headers=headers)
        again = await client.post("/v1/webhooks", json=body, headers=headers)

        assert first.status_code == again.status_code == 201
        assert "idempotent-replayed" not in first.headers
        assert again.headers["idempotent-replayed"] == "true"
        assert again.headers["location"] == first.headers["location"]
        # The webhook's own tag, as GET shows it, whatever the secret field says.
        assert again.headers["etag"] == first.headers["etag"]
        assert first.json()["secret"].startswith("whsec_")
        assert again.json() == {**first.json(), "secret": None}
        assert await listed_ids(client) == [first.json()["id"]]

        other = await client.post("/v1/webhooks", json={"url": URL}, headers=headers)
        problem(other, 422)
        assert await listed_ids(client) == [first.json()["id"]]

    async def test_lists_are_stored_without_duplicates(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        first, second = await api.space("a"), await api.space("b")
        created = await create(
            client,
            space_ids=[second["id"], first["id"], second["id"]],
            types=["message.created", "thread.created", "message.created"],
        )
        assert created["space_ids"] == sorted([first["id"], second["id"]])
        assert created["types"] == ["message.created", "thread.created"]

    async def test_invalid_urls_are_refused_with_the_reason(
        self, client: httpx.AsyncClient
    ) -> None:
        cases = {
            "ftp://example.com/hook": "must start with http:// or https://",
            "example.com/hook": "must start with http:// or https://",
            "http:///hook": "must name a host",
            "https://user:pass@example.com/hook": "must not hold credentials (user:password@)",
            "https://token@example.com/hook": "must not hold credentials (user:password@)",
            "https://example.com/hook#part": "must not have a fragment",
            "https://example.com/hook#": "must not have a fragment",
            "https://example.com/hook\x00": "must be printable ASCII without spaces",
            "https://example.com/a hook": "must be printable ASCII without spaces",
            "https://exämple.com/hook": "must be printable ASCII without spaces",
            "https://example.com/\u00e9": "must be printable ASCII without spaces",
            "https://example.com:99999/": "is not a valid URL",
            "https://example.com:0/": "must not use port 0",
            "https://exa_mple!.com/": "has a host name that is not valid",
            "https://example.com/" + "a" * 2029: "String should have at most 2048 characters",
            "": "String should have at least 1 character",
        }
        for url, reason in cases.items():
            [(loc, message)] = messages(await client.post("/v1/webhooks", json={"url": url}))
            assert loc == ["body", "url"], url
            assert message.startswith(reason), (url, message)
            assert url not in message or not url  # the message never echoes the input
        assert await listed_ids(client) == []

    async def test_a_url_of_2048_characters_is_accepted(self, client: httpx.AsyncClient) -> None:
        url = "https://example.com/" + "a" * 2028
        assert len(url) == 2048
        assert (await create(client, url=url))["url"] == url

    # As in production: deliveries to private addresses refused.
    @pytest.mark.parametrize("settings_overrides", [{"webhooks_allow_private": False}])
    async def test_a_literal_private_address_is_accepted_until_delivery(
        self, client: httpx.AsyncClient
    ) -> None:
        # Whether it may be sent to is decided per attempt, where a name resolves too.
        for url in (
            "http://127.0.0.1:9/hook",
            "http://10.1.2.3/hook",
            "http://169.254.169.254/latest",
            "http://[::1]:8080/hook",
            "http://localhost/hook",
        ):
            assert (await create(client, url=url))["url"] == url

    async def test_invalid_fields_are_refused_and_nothing_is_created(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        space = await api.space()
        cases: list[tuple[dict[str, Any], list[Any]]] = [
            ({"types": ["message.exploded"]}, ["body", "types", 0]),
            ({"types": []}, ["body", "types"]),
            ({"types": "message.created"}, ["body", "types"]),
            ({"space_ids": []}, ["body", "space_ids"]),
            ({"space_ids": ["not-a-space"]}, ["body", "space_ids", 0]),
            ({"space_ids": [space["id"] + "\x00"]}, ["body", "space_ids", 0]),
            ({"description": "d" * 501}, ["body", "description"]),
            ({"description": "a\x00b"}, ["body", "description"]),
            ({"secret": "whsec_chosen_by_the_client"}, ["body", "secret"]),
            ({"enabled": False}, ["body", "enabled"]),
        ]
        for fields, loc in cases:
            response = await client.post("/v1/webhooks", json={"url": URL, **fields})
            assert loc in [error_loc for error_loc, _ in messages(response)], fields
        problem(await client.post("/v1/webhooks", json={}), 422)
        assert await listed_ids(client) == []
        assert (await create(client, description="d" * 500))["description"] == "d" * 500

    async def test_an_unknown_space_is_unknown_space(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        space = await api.space()
        response = await client.post(
            "/v1/webhooks", json={"url": URL, "space_ids": [space["id"], UNKNOWN_SPACE]}
        )
        body = problem(response, 422, "unknown_space")
        assert body["errors"] == [{"loc": ["body", "space_ids"], "message": "unknown space id"}]
        assert await listed_ids(client) == []


class TestAccess:
    async def test_only_admin_keys_manage_webhooks(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        webhook = await create(client)
        space = await api.space()
        path = f"/v1/webhooks/{webhook['id']}"
        requests = [
            ("POST", "/v1/webhooks", {"url": URL}),
            ("GET", "/v1/webhooks", None),
            ("GET", path, None),
            ("GET", f"/v1/webhooks/{UNKNOWN_WEBHOOK}", None),
            ("PATCH", path, {"enabled": False}),
            ("DELETE", path, None),
            ("POST", f"{path}/rotate-secret", {}),
            ("GET", f"{path}/deliveries", None),
            ("POST", f"{path}/deliveries/{UNKNOWN_DELIVERY}/retry", None),
        ]
        for scopes in (["read"], ["write"]):
            secret = await api.key(scopes, [space["id"]])
            for method, url, body in requests:
                response = await client.request(method, url, json=body, headers=as_key(secret))
                problem(response, 403, "forbidden")
                assert webhook["url"] not in response.text
        assert await listed_ids(client) == [webhook["id"]]
        fetched = (await client.get(path)).json()
        assert fetched == {k: v for k, v in webhook.items() if k != "secret"}

    async def test_malformed_or_unknown_ids_are_webhook_not_found(
        self, client: httpx.AsyncClient
    ) -> None:
        webhook = await create(client)
        for webhook_id in (
            UNKNOWN_WEBHOOK,
            "nope",
            "whk_",
            webhook["id"].lower(),
            webhook["id"] + "0",
            "spc_" + webhook["id"][4:],
            "whk_%00",
        ):
            path = f"/v1/webhooks/{webhook_id}"
            for method, url, body in (
                ("GET", path, None),
                ("PATCH", path, {"enabled": False}),
                ("DELETE", path, None),
                ("POST", f"{path}/rotate-secret", {}),
                ("GET", f"{path}/deliveries", None),
                ("POST", f"{path}/deliveries/{UNKNOWN_DELIVERY}/retry", None),
            ):
                response = await client.request(method, url, json=body)
                problem(response, 404, "webhook_not_found")
        assert (await client.get(f"/v1/webhooks/{webhook['id']}")).json()["enabled"] is True


class TestList:
    async def test_pages_in_creation_order_with_cursors_and_link(
        self, client: httpx.AsyncClient
    ) -> None:
        created = [(await create(client, description=f"hook {n}"))["id"] for n in range(5)]
        seen: list[str] = []
        url: str | None = "/v1/webhooks?limit=2"
        pages = 0
        while url is not None:
            response = await client.get(url)
            assert response.status_code == 200, response.text
            page = response.json()
            assert page["object"] == "list"
            seen += [webhook["id"] for webhook in page["data"]]
            pages += 1
            if page["has_more"]:
                link = response.headers["link"]
                assert link.startswith("</v1/webhooks?") and link.endswith('>; rel="next"')
                url = link[1 : link.index(">")]
                assert httpx.URL(url).params["cursor"] == page["next_cursor"]
            else:
                assert page["next_cursor"] is None and "link" not in response.headers
                url = None
        assert seen == created
        assert pages == 3

    async def test_a_bad_cursor_is_400(self, client: httpx.AsyncClient, api: Api) -> None:
        for _ in range(2):
            await create(client)
            await api.space()
        webhooks = (await client.get("/v1/webhooks", params={"limit": 1})).json()
        spaces = (await client.get("/v1/spaces", params={"limit": 1})).json()
        # The signature's first character: the last ones of a base64 text may not carry data.
        signed = webhooks["next_cursor"]
        tampered = flip(signed, signed.index(".") + 1)
        for cursor in (tampered, spaces["next_cursor"], "nope"):
            response = await client.get("/v1/webhooks", params={"cursor": cursor})
            problem(response, 400, "invalid_cursor")


async def test_an_unknown_type_is_told_every_type_there_is(client: httpx.AsyncClient) -> None:
    refused = await client.post("/v1/webhooks", json={"url": URL, "types": ["message.exploded"]})
    [error] = problem(refused, 422)["errors"]
    assert "'message.deleted'" in error["message"]  # the last one, whole
