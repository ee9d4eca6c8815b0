"""Bodies over the limit are 413, refused before they are read, also by a real server (on
SQLite only: the size check does not depend on the database)."""

import json
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.errors.support import MAX_BODY, post_raw
from tests.helpers import ADMIN_SECRET, problem
from tests.servers import Server


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

    @pytest.mark.slow
    def test_real_server_answers_413_before_a_chunked_body_ends(
        self, sqlite_database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(sqlite_database_url, env={"THREADS_API_MAX_BODY_BYTES": "1000"})
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

    @pytest.mark.slow
    def test_real_server_refuses_a_declared_length_at_once(
        self, sqlite_database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(sqlite_database_url, env={"THREADS_API_MAX_BODY_BYTES": "1000"})
        address = urlsplit(server.url)
        with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/spaces HTTP/1.1\r\nHost: test\r\n"
                b"X-API-Key: " + ADMIN_SECRET.encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{"
            )
            head = sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 413"), head
