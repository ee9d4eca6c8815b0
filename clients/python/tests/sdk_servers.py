"""Real `threads-api serve` processes for the SDK tests (fixtures in conftest.py start them).

The server is started with THREADS_API_SERVER_PYTHON (a Python that has the `threads_api`
package), by default the Python running the tests.
"""

import os
import re
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx

ADMIN_KEY = "tk_sdk_tests_admin_secret_0123456789"
SERVER_PYTHON = os.environ.get("THREADS_API_SERVER_PYTHON", sys.executable)
POSTGRES_SERVER = os.environ.get(
    "THREADS_API_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# Runs with the server's Python, which has asyncpg; the SDK's tests need no database driver.
_PG_ADMIN = """
import asyncio, sys, asyncpg
async def main():
    connection = await asyncpg.connect(sys.argv[1], timeout=10)
    try:
        await connection.execute(sys.argv[2])
    finally:
        await connection.close()
asyncio.run(main())
"""


def pg_admin(statement: str) -> None:
    subprocess.run([SERVER_PYTHON, "-c", _PG_ADMIN, POSTGRES_SERVER, statement], check=True)


def postgres_url(database: str) -> str:
    parts = urlsplit(POSTGRES_SERVER)
    return urlunsplit(parts._replace(scheme="postgresql+asyncpg", path=f"/{database}"))


@dataclass
class Server:
    url: str
    process: "subprocess.Popen[bytes]"
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(database_url: str, directory: Path) -> Server:
    """`serve --port 0`: the server picks a free port and announces its URL."""
    log = directory / f"server-{uuid.uuid4().hex[:8]}.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADS_API_")}
    env |= {"THREADS_API_DATABASE_URL": database_url, "THREADS_API_ADMIN_KEY": ADMIN_KEY}
    # The webhook tests deliver to a receiver on this machine, a private address.
    env["THREADS_API_WEBHOOKS_ALLOW_PRIVATE"] = "true"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [SERVER_PYTHON, "-m", "threads_api", "serve", "--port", "0"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=directory,
        )
    deadline = time.monotonic() + 30
    url = ""
    while time.monotonic() < deadline and process.poll() is None:
        if not url:
            found = re.search(rb"Threads API on (http://\S+)", log.read_bytes())
            url = found.group(1).decode() if found else ""
        if url:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    return Server(url, process, log)
            except httpx.HTTPError:
                pass
        time.sleep(0.1)
    server = Server(url, process, log)
    server.stop()
    raise RuntimeError(f"the server did not become ready:\n{log.read_text()}")
