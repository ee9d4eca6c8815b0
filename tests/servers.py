"""Real `threads-api serve` processes for the tests that need one (mark them `slow`).

Most tests want the `server_factory` fixture (tests/conftest.py), which stops its servers
after the test; `start_server` is for tests that manage a server's life themselves.
"""

import os
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.helpers import ADMIN_SECRET


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A `threads-api serve` process."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self, timeout: float = 15) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


def start_server(
    database_url: str, log_dir: Path, *, workers: int = 1, env: dict[str, str] | None = None
) -> Server:
    """`serve --port 0`: the server binds a free port itself and prints it, so no other process
    can take the port between choosing and binding it (as with `free_port()`)."""
    log = log_dir / f"server-{uuid.uuid4().hex[:8]}.log"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("THREADS_API_")},
        "THREADS_API_DATABASE_URL": database_url,
        "THREADS_API_ADMIN_KEY": ADMIN_SECRET,
        **(env or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "threads_api",
                "serve",
                "--port",
                "0",
                "--workers",
                str(workers),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=environment,
            cwd=log_dir,
        )
    server = Server(announced_url(log, process), process, log)
    if server.url and wait_until_ready(server.url, process):
        return server
    if process.poll() is not None:
        raise RuntimeError(f"server exited:\n{log.read_text()}")
    server.stop()
    raise RuntimeError(f"server did not become ready:\n{log.read_text()}")


def announced_url(output: Path, process: subprocess.Popen[bytes], timeout: float = 30) -> str:
    """The URL in the `Threads API on http://…` line that `serve` writes to `output` once it
    listens; "" if the process exits or time runs out first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(rb"Threads API on (http://\S+)", output.read_bytes())
        if found:
            return found.group(1).decode()
        if process.poll() is not None:
            return ""
        time.sleep(0.05)
    return ""


def wait_until_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 30) -> bool:
    """True once `url` answers /readyz with 200; False if the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False
