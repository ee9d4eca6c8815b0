"""Bad characters are 422, and a problem never echoes a bad value back."""

import json

import httpx

from tests.errors.support import JSON, post_raw
from tests.helpers import problem


class TestNoEcho:
    async def test_bad_characters_are_422(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space("unchanged")
        for escaped in [r"\ud800", r"a\udfffb", r"\udc00\ud800", r"\u0000", r"x\u0000"]:
            raw = f'{{"name": "{escaped}"}}'.encode()
            body = problem(await post_raw(client, "/v1/spaces", raw), 422, "validation_failed")
            assert body["errors"]
            response = await client.patch(
                f"/v1/spaces/{space['id']}", content=raw, headers={"Content-Type": JSON}
            )
            problem(response, 422)
        assert (await client.get("/v1/spaces")).json()["data"] == [space]

    async def test_bad_characters_in_a_thread_are_422(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        values = {"content": '"ok"', "title": '"ok"', "author": '"ok"', "metadata": "{}"}
        cases = [
            (field, bad)
            for field in ["content", "title", "author", "metadata_key", "metadata_value"]
            for bad in (r"\ud800", r"\u0000")
        ]
        for field, bad in cases:
            fields = dict(values)
            if field == "metadata_key":
                fields["metadata"] = f'{{"{bad}": "v"}}'
            elif field == "metadata_value":
                fields["metadata"] = f'{{"k": "{bad}"}}'
            else:
                fields[field] = f'"a{bad}b"'
            body = "{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}"
            response = await post_raw(
                client, f"/v1/spaces/{space['id']}/threads/messages", body.encode()
            )
            problem(response, 422)
        listed = await client.get(f"/v1/spaces/{space['id']}/threads", params={"status": "all"})
        assert listed.json()["data"] == []

    async def test_surrogate_in_an_unknown_field_name_is_422(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await post_raw(client, "/v1/spaces", b'{"name": "x", "\\ud800": 1}')
        problem(response, 422)

    async def test_a_large_bad_value_is_not_echoed(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        threads = f"/v1/spaces/{space['id']}/threads/messages"
        for value in ["x" * 100_000, "\ud800" + "x" * 100_000, "x" * 100_000 + "\u0000"]:
            # A bad value is never sent back; a bad key may name the error's location, cut short.
            for path, body, echo_allowed in [
                ("/v1/spaces", {"name": value}, 0),
                ("/v1/spaces", {"name": "ok", "metadata": {"k": value}}, 0),
                ("/v1/spaces", {"name": "ok", "metadata": {value: "v"}}, 100),
                ("/v1/spaces", {"name": "ok", value: "v"}, 100),
                (threads, {"content": value}, 0),
                (threads, {"content": "ok", "junk": value}, 0),
            ]:
                raw = json.dumps(body).encode()  # ensure_ascii: a lone surrogate goes escaped
                response = await post_raw(client, path, raw)
                problem(response, 422)
                assert len(response.content) < 4096
                assert "x" * max(echo_allowed + 1, 20) not in response.text, body.keys()

    async def test_nul_in_a_path_id_is_404(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        problem(await client.get("/v1/spaces/spc_%00"), 404)
        problem(await client.get(f"/v1/spaces/{space['id']}/threads/thr_%00"), 404)
        problem(await client.get(f"/v1/spaces/{space['id']}/threads/%00/messages"), 404)
