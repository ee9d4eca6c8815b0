"""Health, readiness, request ids and the JSON request log (contract §11)."""

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.helpers import ADMIN_SECRET, admin_client, make_settings, problem, started_app
from tests.servers import Server

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


class TestHealth:
    async def test_healthz(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            response = await anonymous.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert REQUEST_ID.fullmatch(response.headers["x-request-id"])

    async def test_readyz(self, app: Any) -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as anonymous:
            response = await anonymous.get("/readyz")
        assert response.status_code == 200
        assert response.json() == {"status": "ready"}


class TcpProxy:
    """A TCP relay to PostgreSQL that can be cut off and restored, like a network outage."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self.writers += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, asyncio.CancelledError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def outage(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Any, Any, Any]]:
    """An app, and two callables that take its database away and bring it back.

    SQLite: the database file is moved away from its path (as when a volume is unmounted)
    and back. PostgreSQL: the app reaches the server through a TCP relay that is cut off.
    """
    proxy: TcpProxy | None = None
    if database_url.startswith("sqlite"):
        path = Path(make_url(database_url).database or "")
        away = path.with_name("moved-away.db")
        url = database_url

        async def cut() -> None:
            path.rename(away)

        async def restore() -> None:
            away.rename(path)
    else:
        server = make_url(database_url)
        proxy = TcpProxy(server.host or "127.0.0.1", server.port or 5432)
        await proxy.start()
        url = server.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
        cut, restore = proxy.stop, proxy.start

    settings = make_settings(url, database_timeout_seconds=2)
    async with started_app(settings) as application, admin_client(application) as client:
        yield client, cut, restore
    if proxy is not None:
        await proxy.stop()


async def eventually(client: httpx.AsyncClient, path: str, status: int) -> httpx.Response:
    """The first response to `path` with `status`, retried for a few seconds."""
    for _ in range(50):
        response = await client.get(path)
        if response.status_code == status:
            return response
        await asyncio.sleep(0.1)
    raise AssertionError(f"{path} never answered {status}: {response.status_code} {response.text}")


class TestReadiness:
    async def test_database_outage_is_503_with_retry_after(self, outage: Any) -> None:
        client, cut, restore = outage
        assert (await client.get("/readyz")).status_code == 200
        assert (await client.get("/v1/spaces")).status_code == 200

        await cut()
        response = await client.get("/readyz")
        body = problem(response, 503)
        assert body["code"] == "database_unavailable"
        assert int(response.headers["retry-after"]) >= 1
        assert (await client.get("/healthz")).status_code == 200

        response = await client.get("/v1/spaces")
        problem(response, 503)
        assert int(response.headers["retry-after"]) >= 1
        response = await client.post("/v1/spaces", json={"name": "during the outage"})
        problem(response, 503)

        await restore()
        await eventually(client, "/readyz", 200)
        listed = await eventually(client, "/v1/spaces", 200)
        assert listed.json()["data"] == []
        assert (await client.post("/v1/spaces", json={"name": "after"})).status_code == 201


class TestRequestId:
    async def test_valid_request_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        for request_id in ["abc", "A-Z_a.z:0-9", "x" * 128, "0"]:
            response = await client.get("/v1/spaces", headers={"X-Request-ID": request_id})
            assert response.status_code == 200
            assert response.headers["x-request-id"] == request_id

    async def test_invalid_request_id_is_replaced(self, client: httpx.AsyncClient) -> None:
        invalid: list[str | bytes] = [
            "",
            "has space",
            "x" * 129,
            "a/b",
            "a;b",
            "é".encode(),
            "<script>",
            "a\tb",
        ]
        for request_id in invalid:
            response = await client.get("/v1/spaces", headers={"X-Request-ID": request_id})
            assert response.status_code == 200
            generated = response.headers["x-request-id"]
            assert REQUEST_ID.fullmatch(generated)
            sent = request_id if isinstance(request_id, str) else request_id.decode()
            assert generated != sent

    async def test_generated_ids_differ(self, client: httpx.AsyncClient) -> None:
        ids = {(await client.get("/healthz")).headers["x-request-id"] for _ in range(5)}
        assert len(ids) == 5
        assert all(REQUEST_ID.fullmatch(i) for i in ids)

    async def test_every_error_carries_the_request_id(self, client: httpx.AsyncClient, api) -> None:
        space = await api.space()
        cases = [
            ("GET", "/v1/spaces", {"X-API-Key": "tk_wrong_0000000000000000"}, None, 401),
            ("GET", "/v1/spaces/spc_" + "0" * 26, {}, None, 404),
            ("GET", "/no/such/route", {}, None, 404),
            ("PUT", f"/v1/spaces/{space['id']}", {}, b"{}", 405),
            ("POST", "/v1/spaces", {"Content-Type": "application/json"}, b"{", 400),
            ("POST", "/v1/spaces", {"Content-Type": "text/plain"}, b"{}", 415),
            ("POST", "/v1/spaces", {"Content-Type": "application/json"}, b"{}", 422),
            (
                "POST",
                "/v1/spaces",
                {"Content-Type": "application/json"},
                b" " * (1024 * 1024 + 1),
                413,
            ),
        ]
        for n, (method, path, headers, content, status) in enumerate(cases):
            request_id = f"err-{n}"
            response = await client.request(
                method, path, headers={**headers, "X-Request-ID": request_id}, content=content
            )
            body = problem(response, status)
            assert body["request_id"] == request_id
            assert response.headers["x-request-id"] == request_id


def request_lines(log: Path) -> list[dict[str, Any]]:
    """The JSON request-log lines of a server's output."""
    lines = []
    for line in log.read_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if "status" in entry:
                lines.append(entry)
    return lines


@pytest.mark.slow
class TestRequestLog:
    def test_one_json_line_per_request_and_no_secrets(
        self, database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(database_url)
        admin = {"X-API-Key": ADMIN_SECRET}
        with httpx.Client(base_url=server.url, timeout=10) as http:
            space = http.post("/v1/spaces", json={"name": "s"}, headers=admin).json()
            created = http.post(
                "/v1/api-keys",
                json={"name": "k", "scopes": ["read"], "space_ids": [space["id"]]},
                headers={**admin, "X-Request-ID": "log-create-key"},
            )
            assert created.status_code == 201
            secret = created.json()["secret"]
            key_id = created.json()["id"]
            used = http.get(
                f"/v1/spaces/{space['id']}",
                params={"api_key": secret},
                headers={"X-API-Key": secret, "X-Request-ID": "log-with-key"},
            )
            assert used.status_code == 200
            wrong = "tk_this_is_a_wrong_secret_123456"
            refused = http.get(
                "/v1/spaces", headers={"X-API-Key": wrong, "X-Request-ID": "log-refused"}
            )
            assert refused.status_code == 401
            missing = http.get("/nowhere", headers={"X-Request-ID": "log-missing"})
            assert missing.status_code == 404
            replaced = http.get("/healthz", headers={"X-Request-ID": "not valid!"})
        server.stop()

        entries = request_lines(server.log)
        by_id: dict[str, list[dict[str, Any]]] = {}
        for entry in entries:
            by_id.setdefault(entry["request_id"], []).append(entry)
        for request_id in ("log-create-key", "log-with-key", "log-refused", "log-missing"):
            assert len(by_id.get(request_id, [])) == 1, (request_id, entries)
        assert len(by_id[replaced.headers["x-request-id"]]) == 1

        for entry in entries:
            for field in (
                "time",
                "level",
                "request_id",
                "method",
                "path",
                "status",
                "duration_ms",
                "api_key_id",
            ):
                assert field in entry, (field, entry)
            datetime.fromisoformat(entry["time"])
            assert isinstance(entry["duration_ms"], int | float)
            assert entry["duration_ms"] >= 0

        create = by_id["log-create-key"][0]
        assert create["method"] == "POST"
        assert create["path"] == "/v1/api-keys"
        assert create["status"] == 201
        assert create["level"] == "info"
        assert create["api_key_id"] is not None
        assert create["api_key_id"] != key_id

        with_key = by_id["log-with-key"][0]
        assert with_key["api_key_id"] == key_id
        assert with_key["path"] == f"/v1/spaces/{space['id']}"
        assert with_key["status"] == 200
        assert by_id["log-refused"][0]["status"] == 401
        assert by_id["log-refused"][0]["api_key_id"] is None
        assert by_id["log-missing"][0]["status"] == 404

        text = server.log.read_text()
        for secret_text in (secret, ADMIN_SECRET, wrong):
            assert secret_text not in text

    def test_a_line_is_written_within_100_ms_with_no_request_after_it(
        self, sqlite_database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        # Lines are written in batches (logs.RequestLog): the last request's line must not
        # wait for the next request.
        server = server_factory(sqlite_database_url)
        httpx.get(f"{server.url}/healthz", headers={"X-Request-ID": "alone"}, timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = server.log.read_text().splitlines()
            # Taken after the read, so when the line is the file's last one, this is when the
            # server wrote it (by the server's clock, whatever this process's delays).
            written_at = server.log.stat().st_mtime
            if lines and '"request_id": "alone"' in lines[-1]:
                break
            time.sleep(0.01)
        else:
            raise AssertionError(server.log.read_text())
        made_at = datetime.fromisoformat(json.loads(lines[-1])["time"]).timestamp()
        assert written_at - made_at < 0.1

    def test_no_line_is_lost_at_shutdown(
        self, sqlite_database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(sqlite_database_url)
        with httpx.Client(base_url=server.url, timeout=10) as http:
            for n in range(20):
                http.get("/healthz", headers={"X-Request-ID": f"before-stop-{n}"})
        server.stop()  # SIGTERM at once: nothing waits for the lines to be written
        logged = {e["request_id"] for e in request_lines(server.log)}
        assert logged >= {f"before-stop-{n}" for n in range(20)}


@pytest.mark.slow
class TestClientDisconnect:
    def test_a_client_that_leaves_mid_body_is_logged_at_info_without_traceback(
        self, database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(database_url)
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(
                b"POST /v1/spaces HTTP/1.1\r\nHost: x\r\nX-Request-ID: left-early\r\n"
                b"X-API-Key: " + ADMIN_SECRET.encode() + b"\r\n"
                b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                b'{"name": "'
            )
            time.sleep(0.3)  # the server is now waiting for the rest of the body
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = [e for e in request_lines(server.log) if e["request_id"] == "left-early"]
            if lines:
                break
            time.sleep(0.1)
        server.stop()
        assert len(lines) == 1, server.log.read_text()
        assert lines[0]["status"] == 499
        assert lines[0]["level"] == "info"
        text = server.log.read_text()
        assert "Traceback" not in text
        assert '"level": "error"' not in text


def test_served_app_keeps_full_collections_rare(tmp_path: Path) -> None:
    # The collector's settings are the process's: checked in a process of its own, built by
    # the factory uvicorn calls.
    script = (
        "import gc\n"
        "from threads_api.app import FULL_COLLECTION_AFTER, create_server_app\n"
        "default = gc.get_threshold()\n"
        "create_server_app()\n"
        "served = gc.get_threshold()[2]\n"
        "print(default[2], served, FULL_COLLECTION_AFTER, gc.get_freeze_count() > 0)\n"
    )
    env = {
        **os.environ,
        "THREADS_API_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gc.db'}",
        "THREADS_API_ADMIN_KEY": ADMIN_SECRET,
    }
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    default, served, wanted, frozen = done.stdout.split()
    assert int(served) == int(wanted) > int(default)
    assert frozen == "True"
