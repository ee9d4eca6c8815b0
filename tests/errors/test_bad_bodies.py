"""Bodies that cannot be read: malformed JSON is 400, a media type other than JSON is 415."""

import httpx

from tests.errors.support import MAX_BODY, post_raw
from tests.helpers import problem


class TestBadBodies:
    async def test_malformed_json_is_400(self, client: httpx.AsyncClient) -> None:
        response = await post_raw(client, "/v1/spaces", b'{"name": "x",}')
        problem(response, 400, "malformed_json")

    async def test_empty_body_is_400(self, client: httpx.AsyncClient) -> None:
        problem(await post_raw(client, "/v1/spaces", b""), 400, "malformed_json")

    async def test_non_utf8_body_is_400(self, client: httpx.AsyncClient) -> None:
        problem(await post_raw(client, "/v1/spaces", b'{"name": "\xff\xfe"}'), 400)

    async def test_utf16_body_is_400(self, client: httpx.AsyncClient) -> None:
        problem(await post_raw(client, "/v1/spaces", '{"name": "x"}'.encode("utf-16")), 400)

    async def test_deeply_nested_json_is_400(self, client: httpx.AsyncClient) -> None:
        depth = 100_000
        body = b'{"name": ' + b"[" * depth + b"]" * depth + b"}"
        assert len(body) < MAX_BODY
        problem(await post_raw(client, "/v1/spaces", body), 400, "malformed_json")

    async def test_moderately_nested_json_is_422(self, client: httpx.AsyncClient) -> None:
        body = b'{"name": ' + b"[" * 500 + b"]" * 500 + b"}"
        problem(await post_raw(client, "/v1/spaces", body), 422)

    async def test_nothing_was_created(self, client: httpx.AsyncClient) -> None:
        await post_raw(client, "/v1/spaces", b'{"name": "x"')
        assert (await client.get("/v1/spaces")).json()["data"] == []


class TestContentType:
    async def test_text_plain_is_415(self, client: httpx.AsyncClient) -> None:
        response = await post_raw(client, "/v1/spaces", b'{"name": "x"}', "text/plain")
        problem(response, 415, "unsupported_media_type")
        assert (await client.get("/v1/spaces")).json()["data"] == []

    async def test_missing_content_type_is_415(self, client: httpx.AsyncClient) -> None:
        response = await post_raw(client, "/v1/spaces", b'{"name": "x"}', None)
        assert "content-type" not in response.request.headers
        problem(response, 415, "unsupported_media_type")

    async def test_json_with_charset_is_accepted(self, client: httpx.AsyncClient) -> None:
        response = await post_raw(
            client, "/v1/spaces", b'{"name": "x"}', "application/json; charset=utf-8"
        )
        assert response.status_code == 201, response.text

    async def test_merge_patch_is_accepted_on_patch(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        thread = await api.thread(space["id"])
        for path, body in [
            (f"/v1/spaces/{space['id']}", b'{"name": "renamed"}'),
            (f"/v1/spaces/{space['id']}/threads/{thread['id']}", b'{"title": "renamed"}'),
        ]:
            response = await client.patch(
                path, content=body, headers={"Content-Type": "application/merge-patch+json"}
            )
            assert response.status_code == 200, response.text
            assert "renamed" in response.text

    async def test_merge_patch_is_refused_on_post(self, client: httpx.AsyncClient) -> None:
        response = await post_raw(
            client, "/v1/spaces", b'{"name": "x"}', "application/merge-patch+json"
        )
        problem(response, 415)

    async def test_form_on_patch_is_415(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        response = await client.patch(
            f"/v1/spaces/{space['id']}",
            content=b"name=x",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        problem(response, 415)
