"""Problem details from every layer, and the order of the checks (contract §9, pitfalls)."""

import json
import re
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import ADMIN_SECRET, Server

MAX_BODY = 256 * 1024
JSON = "application/json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "request_id"}
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"max_body_bytes": MAX_BODY}


def problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """Assert `response` is an RFC 9457 problem document with `status` and return its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS, body
    assert set(body) - PROBLEM_KEYS <= {"errors"}, body
    assert body["status"] == status
    assert re.fullmatch(r"[a-z]+(_[a-z]+)*", body["code"]), body["code"]
    assert body["type"] and body["title"] and body["detail"]
    assert body["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert body["code"] == code
    return body


async def post_raw(
    client: httpx.AsyncClient,
    path: str,
    content: bytes,
    content_type: str | None = "application/json",
    **headers: str,
) -> httpx.Response:
    all_headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    request = client.build_request("POST", path, content=content, headers=all_headers)
    if content_type is None:
        request.headers.pop("Content-Type", None)
    return await client.send(request)


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


class TestBodySize:
    async def test_declared_oversize_body_is_413(self, client: httpx.AsyncClient) -> None:
        body = json.dumps({"name": "x", "metadata": {"k": "v" * MAX_BODY}}).encode()
        response = await post_raw(client, "/v1/spaces", body)
        assert response.request.headers["content-length"] == str(len(body))
        problem(response, 413, "payload_too_large")
        assert (await client.get("/v1/spaces")).json()["data"] == []

    async def test_body_at_the_limit_passes_the_size_check(self, client: httpx.AsyncClient) -> None:
        body = b'{"name": "x"}'
        body = body + b" " * (MAX_BODY - len(body))
        response = await post_raw(client, "/v1/spaces", body)
        assert response.status_code == 201, response.text
        problem(await post_raw(client, "/v1/spaces", body + b" "), 413)

    async def test_streamed_oversize_body_is_refused_before_it_is_read(
        self, client: httpx.AsyncClient
    ) -> None:
        chunks_sent = 0
        total_chunks = 64

        async def body() -> AsyncIterator[bytes]:
            nonlocal chunks_sent
            for _ in range(total_chunks):
                chunks_sent += 1
                yield b" " * (MAX_BODY // 4)

        response = await client.post(
            "/v1/spaces", content=body(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in response.request.headers
        problem(response, 413, "payload_too_large")
        assert chunks_sent <= 6

    def test_real_server_answers_413_before_a_chunked_body_ends(
        self, database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(database_url, env={"THREADS_API_MAX_BODY_BYTES": "1000"})
        address = urlsplit(server.url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/spaces HTTP/1.1\r\nHost: test\r\n"
                b"X-API-Key: " + ADMIN_SECRET.encode() + b"\r\n"
                b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            chunk = b'{"name": "' + b"x" * 1500
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            # The body is not finished (no last chunk), yet the answer must come.
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                data = sock.recv(65536)
                assert data, f"connection closed after {answer!r}"
                answer += data
        head, body = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 413"), head
        assert b"content-type: application/problem+json" in head.lower()
        assert json.loads(body)["code"] == "payload_too_large"

        # And through an ordinary streaming client, the answer is the same problem document.
        def chunks() -> Any:
            for _ in range(64):
                yield b" " * 16384

        response = httpx.post(
            f"{server.url}/v1/spaces",
            content=chunks(),
            headers={"X-API-Key": ADMIN_SECRET, "Content-Type": "application/json"},
            timeout=10,
        )
        problem(response, 413, "payload_too_large")
        listed = httpx.get(f"{server.url}/v1/spaces", headers={"X-API-Key": ADMIN_SECRET})
        assert listed.json()["data"] == []

    def test_real_server_refuses_a_declared_length_at_once(
        self, database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(database_url, env={"THREADS_API_MAX_BODY_BYTES": "1000"})
        address = urlsplit(server.url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/spaces HTTP/1.1\r\nHost: test\r\n"
                b"X-API-Key: " + ADMIN_SECRET.encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{"
            )
            head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 413"), head


class TestRouting:
    async def test_unknown_route_is_404_problem(self, client: httpx.AsyncClient) -> None:
        for path in ["/nope", "/v1/nope", "/v1/spaces/x/y/z/w/v", "/v2/spaces", "/v1/"]:
            problem(await client.get(path), 404, "not_found")

    async def test_unknown_route_without_key_is_404(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            problem(await anonymous.get("/v1/nope"), 404)

    async def test_wrong_method_is_405_with_every_allowed_method(
        self, client: httpx.AsyncClient
    ) -> None:
        for method, path, allow in [
            ("PUT", "/v1/spaces/{space}/threads/{thread}", {"DELETE", "GET", "PATCH"}),
            ("POST", "/v1/spaces/{space}/threads/{thread}", {"DELETE", "GET", "PATCH"}),
            ("DELETE", "/v1/spaces", {"GET", "POST"}),
            ("PUT", "/v1/spaces/{space}", {"GET", "PATCH"}),
            ("PATCH", "/v1/api-keys/{key}", {"GET", "DELETE"}),
            # The literal path wins over /threads/{thread_id}: "messages" is not a thread id.
            ("PUT", "/v1/spaces/{space}/threads/messages", {"POST"}),
            ("DELETE", "/v1/spaces/{space}/threads/{thread}/messages", {"GET", "POST"}),
            ("POST", "/healthz", {"GET"}),
        ]:
            url = path.format(
                space="spc_" + "0" * 26, thread="thr_" + "0" * 26, key="key_" + "0" * 26
            )
            response = await client.request(method, url, json={})
            problem(response, 405, "method_not_allowed")
            allowed = {m.strip() for m in response.headers["allow"].split(",")} - {"HEAD"}
            assert allowed == allow, (method, path)

    async def test_405_comes_before_authentication(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            response = await anonymous.put("/v1/spaces/spc_" + "0" * 26)
        problem(response, 405)


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


class TestUnexpectedErrors:
    async def test_500_is_a_problem_without_a_traceback(
        self, app: Any, client: httpx.AsyncClient
    ) -> None:
        async def explode() -> None:
            raise RuntimeError("boom: SELECT secret_hash FROM api_keys; " + ADMIN_SECRET)

        app.add_api_route("/test-explode", explode, methods=["GET"])
        response = await client.get("/test-explode", headers={"X-Request-ID": "req-500.test"})
        body = problem(response, 500, "internal_error")
        assert response.headers["x-request-id"] == "req-500.test"
        assert body["request_id"] == "req-500.test"
        for leak in ("Traceback", "RuntimeError", "boom", "SELECT", "secret_hash", ADMIN_SECRET):
            assert leak not in response.text

        generated = await client.get("/test-explode")
        problem(generated, 500)
        assert REQUEST_ID.fullmatch(generated.headers["x-request-id"])

        # The app goes on serving.
        assert (await client.get("/v1/spaces")).status_code == 200

    @pytest.mark.parametrize("what", ["space", "thread"])
    async def test_failed_commit_is_never_reported_as_success(
        self, app: Any, client: httpx.AsyncClient, api, what: str
    ) -> None:
        space = await api.space("existing")  # also records the admin key's last use
        engine = app.state.database.write_engine.sync_engine

        def refuse_commit(connection: Any) -> None:
            raise RuntimeError("commit refused by the test")

        event.listen(engine, "commit", refuse_commit)
        try:
            if what == "space":
                response = await client.post("/v1/spaces", json={"name": "ghost"})
            else:
                response = await client.post(
                    f"/v1/spaces/{space['id']}/threads/messages", json={"content": "ghost"}
                )
        finally:
            event.remove(engine, "commit", refuse_commit)

        assert response.status_code >= 500, response.text
        body = problem(response, response.status_code)
        assert "commit refused" not in response.text
        assert body["request_id"]

        names = [s["name"] for s in (await client.get("/v1/spaces")).json()["data"]]
        assert names == ["existing"]
        threads = await client.get(f"/v1/spaces/{space['id']}/threads", params={"status": "all"})
        assert threads.json()["data"] == []
        # The connection is usable again.
        assert (await client.post("/v1/spaces", json={"name": "after"})).status_code == 201


class TestCheckOrder:
    async def test_missing_key_comes_before_body_size(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            response = await post_raw(anonymous, "/v1/spaces", b" " * (MAX_BODY + 1))
        problem(response, 401)

    async def test_bad_key_comes_before_content_type(self, client: httpx.AsyncClient) -> None:
        response = await post_raw(
            client, "/v1/spaces", b"name=x", "text/plain", X_API_Key="tk_wrong_key_000000000000"
        )
        problem(response, 401)

    async def test_body_size_comes_before_content_type(self, client: httpx.AsyncClient) -> None:
        response = await post_raw(client, "/v1/spaces", b"x" * (MAX_BODY + 1), "text/plain")
        problem(response, 413)

    async def test_content_type_comes_before_json_syntax(self, client: httpx.AsyncClient) -> None:
        problem(await post_raw(client, "/v1/spaces", b"{not json", "text/plain"), 415)

    async def test_json_syntax_comes_before_visibility(self, client: httpx.AsyncClient) -> None:
        path = "/v1/spaces/spc_" + "0" * 26 + "/threads/messages"
        problem(await post_raw(client, path, b"{not json"), 400)

    async def test_visibility_comes_before_scope_and_rules(
        self, client: httpx.AsyncClient, api
    ) -> None:
        space, other = await api.space(), await api.space("other")
        secret = await api.key(["read"], [space["id"]])
        path = f"/v1/spaces/{other['id']}/threads/messages"
        response = await post_raw(client, path, b'{"bad": 1}', X_API_Key=secret)
        problem(response, 404)
        path = f"/v1/spaces/{space['id']}/threads/messages"
        response = await post_raw(client, path, b'{"bad": 1}', X_API_Key=secret)
        problem(response, 403)
