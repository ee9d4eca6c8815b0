"""A key sees only its spaces: another space, or a malformed id, looks just like a missing one."""

import httpx

from tests.auth.support import MALFORMED_SPACE_IDS, MISSING_SPACE, as_key, without_request_id
from tests.helpers import problem


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
