"""Connections of the real server (contract §16, §9): the header deadline, 431 past 16 KiB of
headers, 503 server_busy past the connection limit, a problem for bytes that are not HTTP,
and a clear line when the port is taken.

All of it is decided in the connection, before a request reaches the database: the servers
run on SQLite only (`sqlite_database_url`)."""

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.helpers import ADMIN_SECRET
from tests.servers import Server

pytestmark = pytest.mark.slow

# A 1 s header deadline, so that the tests wait seconds rather than tens of seconds.
QUICK = {"THREADS_API_HEADER_TIMEOUT_SECONDS": "1"}
# Generous bounds for "closed after about a second" on a busy two-core machine.
CLOSE_WITHIN = 15.0


def connect(server: Server) -> socket.socket:
    address = urlsplit(server.url)
    assert address.hostname and address.port
    return socket.create_connection((address.hostname, address.port), timeout=10)


def read_until_closed(sock: socket.socket, within: float = CLOSE_WITHIN) -> bytes | None:
    """Everything the server sends until it closes the connection; None if it is still open
    after `within` seconds."""
    received = b""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            data = sock.recv(65536)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return received
        if not data:
            return received
        received += data
    return None


def parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length, leaving the connection open."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        data = sock.recv(65536)
        assert data, f"closed after {raw!r}"
        raw += data
    status, headers, body = parse(raw)
    while len(body) < int(headers["content-length"]):
        data = sock.recv(65536)
        assert data, f"closed after {raw + body!r}"
        body += data
    return status, headers, body


def assert_problem(raw: bytes | None, status: int, code: str) -> dict[str, str]:
    assert raw, "the server closed the connection without an answer"
    got, headers, body = parse(raw)
    assert got == status, raw[:300]
    assert headers["content-type"] == "application/problem+json"
    assert headers["connection"] == "close"
    problem = json.loads(body)
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"] == f"urn:threads-api:problem:{code}"
    assert problem["request_id"] == headers["x-request-id"]
    return headers


def dribbled_until_closed(sock: socket.socket, data: bytes) -> bool:
    """Send `data` a byte every 0.2 s; True once the server closes the connection."""
    deadline = time.monotonic() + CLOSE_WITHIN
    sock.settimeout(0.2)
    for byte in data:
        if time.monotonic() > deadline:
            return False
        try:
            sock.sendall(bytes([byte]))
            if sock.recv(1) == b"":
                return True
        except TimeoutError:
            pass
        except (ConnectionResetError, BrokenPipeError):
            return True
    return False


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n"


class TestHeaderDeadline:
    def test_slow_headers_are_cut_off_while_healthz_answers(
        self, sqlite_database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        """Slowloris: a few hundred sockets that never finish their headers."""
        server = server_factory(sqlite_database_url, env=QUICK)
        slow = []
        for n in range(300):
            sock = connect(server)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Slow-%d: " % n)
            slow.append(sock)
        silent = connect(server)  # sends nothing at all

        with httpx.Client(base_url=server.url, timeout=10) as http:
            for _ in range(10):
                assert http.get("/healthz").status_code == 200

        for sock in [*slow, silent]:
            # The rest of a header, too late: nothing comes back but the close.
            with contextlib.suppress(OSError):
                sock.sendall(b"more")
            assert read_until_closed(sock) == b""
            sock.close()
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200

    def test_a_later_request_on_a_keep_alive_connection_has_its_own_deadline(
        self, sqlite_database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(sqlite_database_url, env=QUICK)
        with connect(server) as sock:
            # Requests spread over more than the deadline on one connection are all served:
            # the clock starts again after each response.
            for _ in range(4):
                sock.sendall(HEALTHZ)
                assert read_response(sock)[0] == 200
                time.sleep(0.4)
            # Then a request whose headers dribble in, a byte at a time. Each byte would stop
            # uvicorn's keep-alive timer; the header deadline still closes the connection.
            dribble = HEALTHZ[:-2] + b"X-Dribble: " + b"a" * 1000
            assert dribbled_until_closed(sock, dribble), "still open"


class TestHeaderSize:
    def test_headers_over_16_kib_are_refused_with_431(
        self, sqlite_database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(sqlite_database_url, env=QUICK)
        with connect(server) as sock:
            # 15 KiB of headers are fine.
            sock.sendall(
                b"GET /healthz HTTP/1.1\r\nHost: test\r\nX-Big: %s\r\n\r\n" % (b"a" * 15360)
            )
            assert read_response(sock)[0] == 200
        with connect(server) as sock:
            key = b"tk_" + b"a" * (17 * 1024)
            sock.sendall(b"GET /v1/spaces HTTP/1.1\r\nHost: test\r\nX-API-Key: %s\r\n\r\n" % key)
            assert_problem(read_until_closed(sock), 431, "request_header_fields_too_large")
        # Many small headers count together.
        with connect(server) as sock:
            many = b"".join(b"X-H-%d: %s\r\n" % (n, b"v" * 100) for n in range(200))
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n" + many + b"\r\n")
            assert_problem(read_until_closed(sock), 431, "request_header_fields_too_large")

    def test_a_50_mb_header_is_cut_off_not_read(
        self, sqlite_database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(sqlite_database_url, env=QUICK)
        total = 50 * 1024 * 1024
        sent = 0
        with connect(server) as sock:
            sock.sendall(b"GET /v1/spaces HTTP/1.1\r\nHost: test\r\nX-API-Key: tk_")
            chunk = b"a" * 65536
            with pytest.raises((ConnectionResetError, BrokenPipeError)):
                while sent < total:
                    sock.sendall(chunk)
                    sent += len(chunk)
            # The server answered and closed after its 16 KiB; the kernel's buffers took the
            # rest of what was sent before the reset.
            assert sent < total // 4
            try:
                answer = read_until_closed(sock)
            except OSError:
                answer = b""
            if answer:
                assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
        assert '"status": 431' in server.log.read_text()
        assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200


class TestConnectionLimit:
    def test_past_the_limit_the_answer_is_503_server_busy(
        self, sqlite_database_url: str, server_factory: Callable[..., Server]
    ) -> None:
        server = server_factory(sqlite_database_url, env={"THREADS_API_MAX_CONNECTIONS": "3"})
        held = [connect(server) for _ in range(3)]
        try:
            with connect(server) as sock:
                sock.sendall(HEALTHZ)
                headers = assert_problem(read_until_closed(sock), 503, "server_busy")
                assert headers["retry-after"] == "1"
            # An ordinary client sees the same problem document.
            response = httpx.get(f"{server.url}/healthz", timeout=10)
            assert response.status_code == 503
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["retry-after"] == "1"
            assert response.json()["code"] == "server_busy"
            assert response.json()["request_id"] == response.headers["x-request-id"]
            # The held connections are served as usual.
            held[0].sendall(HEALTHZ)
            assert read_response(held[0])[0] == 200
        finally:
            for sock in held:
                sock.close()
        # Once they are gone, so is the refusal.
        deadline = time.monotonic() + CLOSE_WITHIN
        while httpx.get(f"{server.url}/healthz", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "still refused after the connections closed"
            time.sleep(0.1)


def test_bytes_that_are_not_http_get_a_400_problem(
    sqlite_database_url: str, server_factory: Callable[..., Server]
) -> None:
    server = server_factory(sqlite_database_url)
    with connect(server) as sock:
        sock.sendall(b"HELLO THERE\r\n\r\n")
        assert_problem(read_until_closed(sock), 400, "bad_request")


def test_a_taken_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("THREADS_API_")}
        env["THREADS_API_DATABASE_URL"] = f"sqlite:///{tmp_path / 'threads.db'}"
        env["THREADS_API_ADMIN_KEY"] = ADMIN_SECRET
        result = subprocess.run(
            [sys.executable, "-m", "threads_api", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert result.stdout == ""  # not "Threads API on …"
    assert result.stderr.strip().splitlines()[-1] == (
        f"Error: port {port} on 127.0.0.1 is in use; choose another with --port"
    )
    assert "Traceback" not in result.stderr
    # Refused before anything else: not even the database was created.
    assert not (tmp_path / "threads.db").exists()
