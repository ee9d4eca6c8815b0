"""The webhooks management API (contract §15): change (a JSON merge patch) and delete,
with If-Match."""

import httpx

from tests.helpers import Api, problem
from tests.webhook.receiver import Receiver
from tests.webhook.support import (
    FIELDS,
    UNKNOWN_SPACE,
    URL,
    create,
    etag_of,
    listed_ids,
    messages,
    until,
)


class TestUpdate:
    async def test_absent_fields_stay(self, client: httpx.AsyncClient, api: Api) -> None:
        space = await api.space()
        webhook = await create(
            client, space_ids=[space["id"]], types=["message.created"], description="d"
        )
        del webhook["secret"]

        response = await client.patch(
            f"/v1/webhooks/{webhook['id']}", json={"url": "https://example.org/other"}
        )

        assert response.status_code == 200, response.text
        updated = response.json()
        assert response.headers["etag"] == etag_of(response.content)
        assert updated["updated_at"] > webhook["updated_at"]
        unchanged = {"url", "updated_at"}
        assert {k: updated[k] for k in FIELDS - unchanged} == {
            k: webhook[k] for k in FIELDS - unchanged
        }
        assert updated["url"] == "https://example.org/other"
        assert (await client.get(f"/v1/webhooks/{webhook['id']}")).json() == updated

    async def test_null_spaces_and_types_mean_all(
        self, client: httpx.AsyncClient, api: Api
    ) -> None:
        space = await api.space()
        webhook = await create(
            client, space_ids=[space["id"]], types=["thread.created"], description="d"
        )
        response = await client.patch(
            f"/v1/webhooks/{webhook['id']}",
            json={"space_ids": None, "types": None, "description": None},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        assert response.status_code == 200, response.text
        updated = response.json()
        assert updated["space_ids"] is None
        assert updated["types"] is None
        assert updated["description"] is None

    async def test_null_url_or_enabled_and_bad_values_are_422(
        self, client: httpx.AsyncClient
    ) -> None:
        webhook = await create(client)
        path = f"/v1/webhooks/{webhook['id']}"
        before = (await client.get(path)).json()
        for patch, loc in (
            ({"url": None}, ["body", "url"]),
            ({"enabled": None}, ["body", "enabled"]),
            ({"url": "ftp://example.com/"}, ["body", "url"]),
            ({"types": []}, ["body", "types"]),
            ({"space_ids": []}, ["body", "space_ids"]),
            ({"secret": "whsec_x"}, ["body", "secret"]),
            ({"disabled_reason": None}, ["body", "disabled_reason"]),
        ):
            response = await client.patch(path, json=patch)
            # A PATCH field that may be absent but not null is a union: pydantic adds a part.
            assert loc in [error_loc[:2] for error_loc, _ in messages(response)], patch
        response = await client.patch(path, json={"space_ids": [UNKNOWN_SPACE]})
        problem(response, 422, "unknown_space")
        assert (await client.get(path)).json() == before

    async def test_same_values_change_nothing(self, client: httpx.AsyncClient) -> None:
        webhook = await create(client, types=["thread.created", "message.created"])
        path = f"/v1/webhooks/{webhook['id']}"
        before = await client.get(path)

        response = await client.patch(
            path,
            json={
                "url": URL,
                "types": ["message.created", "thread.created", "message.created"],
                "enabled": True,
                "description": None,
            },
        )

        assert response.status_code == 200, response.text
        assert response.json() == before.json()
        assert response.headers["etag"] == before.headers["etag"]
        assert (await client.get(path)).headers["etag"] == before.headers["etag"]

    async def test_disabling_and_enabling_through_the_api_gives_no_reason(
        self, client: httpx.AsyncClient
    ) -> None:
        webhook = await create(client)
        path = f"/v1/webhooks/{webhook['id']}"
        disabled = (await client.patch(path, json={"enabled": False})).json()
        assert disabled["enabled"] is False and disabled["disabled_reason"] is None
        enabled = (await client.patch(path, json={"enabled": True})).json()
        assert enabled["enabled"] is True and enabled["disabled_reason"] is None

    async def test_enabling_again_clears_the_disabled_reason(
        self, client: httpx.AsyncClient, api: Api, receiver: Receiver
    ) -> None:
        receiver.status = 410
        webhook = await create(client, url=receiver.url, types=["thread.created"])
        path = f"/v1/webhooks/{webhook['id']}"
        space = await api.space()
        await api.thread(space["id"])
        await receiver.wait_for(1)

        async def disabled() -> bool:
            return (await client.get(path)).json()["enabled"] is False

        await until(disabled)
        gone = (await client.get(path)).json()
        assert gone["disabled_reason"]
        assert "410" in gone["disabled_reason"]

        enabled = await client.patch(path, json={"enabled": True})

        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["enabled"] is True
        assert enabled.json()["disabled_reason"] is None
        assert enabled.json()["updated_at"] > gone["updated_at"]

    async def test_a_stale_if_match_is_412_and_changes_nothing(
        self, client: httpx.AsyncClient
    ) -> None:
        webhook = await create(client)
        path = f"/v1/webhooks/{webhook['id']}"
        stale = (await client.get(path)).headers["etag"]
        current = await client.patch(path, json={"description": "changed"})
        etag = current.headers["etag"]
        assert etag != stale

        for method, body in (("PATCH", {"description": "lost"}), ("DELETE", None)):
            response = await client.request(method, path, json=body, headers={"If-Match": stale})
            problem(response, 412, "precondition_failed")
            assert (await client.get(path)).json() == current.json()

        patched = await client.patch(path, json={"description": "kept"}, headers={"If-Match": etag})
        assert patched.status_code == 200, patched.text
        deleted = await client.delete(path, headers={"If-Match": patched.headers["etag"]})
        assert deleted.status_code == 200, deleted.text


class TestDelete:
    async def test_delete_answers_with_the_webhook_then_it_is_gone(
        self, client: httpx.AsyncClient
    ) -> None:
        kept = await create(client)
        webhook = await create(client)
        path = f"/v1/webhooks/{webhook['id']}"
        before = await client.get(path)

        deleted = await client.delete(path)

        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == before.json()
        assert deleted.headers["etag"] == before.headers["etag"]
        for method, url in (
            ("GET", path),
            ("DELETE", path),
            ("GET", f"{path}/deliveries"),
            ("POST", f"{path}/rotate-secret"),
        ):
            body = {} if method == "POST" else None
            problem(await client.request(method, url, json=body), 404, "webhook_not_found")
        assert await listed_ids(client) == [kept["id"]]
