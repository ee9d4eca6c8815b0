"""The first admin key: from THREADS_API_ADMIN_KEY, or generated and shown once (§2)."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.servers import announced_url, wait_until_ready

# Every test starts `threads-api serve`.
pytestmark = pytest.mark.slow

BOOTSTRAP_SECRET = "tk_bootstrap_from_env_0123456789abcdef"


@dataclass
class Run:
    """A `threads-api serve` process with its stdout and stderr kept apart."""

    url: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    runs: list[Run] = []

    def start(database_url: str, admin_key: str | None) -> Run:
        n = len(runs)
        stdout, stderr = tmp_path / f"stdout-{n}.txt", tmp_path / f"stderr-{n}.txt"
        env = {k: v for k, v in os.environ.items() if not k.startswith("THREADS_API_")}
        env["THREADS_API_DATABASE_URL"] = database_url
        if admin_key is not None:
            env["THREADS_API_ADMIN_KEY"] = admin_key
        with stdout.open("wb") as out, stderr.open("wb") as err:
            process = subprocess.Popen(
                [sys.executable, "-m", "threads_api", "serve", "--port", "0"],
                stdout=out,
                stderr=err,
                env=env,
                cwd=tmp_path,
            )
        run = Run(announced_url(stdout, process), process, stdout, stderr)
        runs.append(run)
        if run.url and wait_until_ready(run.url, process):
            return run
        run.stop()
        raise AssertionError(f"serve never became ready:\n{stdout.read_text()}{stderr.read_text()}")

    yield start
    for run in runs:
        run.stop()


def keys(url: str, secret: str) -> list[dict]:
    response = httpx.get(f"{url}/v1/api-keys", headers={"X-API-Key": secret}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def json_lines(path: Path) -> list[dict]:
    """Every non-blank line of a log, each of which must be one JSON object."""
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert lines
    entries = [json.loads(line) for line in lines]
    for entry in entries:
        assert {"time", "level", "message"} <= set(entry)
    return entries


def test_admin_key_from_env_is_created_once_and_stays_revoked(database_url: str, serve) -> None:
    admin = {"X-API-Key": BOOTSTRAP_SECRET}
    first = serve(database_url, BOOTSTRAP_SECRET)
    created = keys(first.url, BOOTSTRAP_SECRET)
    assert len(created) == 1
    assert created[0]["scopes"] == ["admin"]
    assert created[0]["revoked_at"] is None
    assert BOOTSTRAP_SECRET.startswith(created[0]["prefix"])
    first.stop()

    # A restart with the same secret finds the key and leaves it as it is.
    second = serve(database_url, BOOTSTRAP_SECRET)
    again = keys(second.url, BOOTSTRAP_SECRET)
    assert [(k["id"], k["created_at"]) for k in again] == [
        (created[0]["id"], created[0]["created_at"])
    ]
    other = httpx.post(
        f"{second.url}/v1/api-keys",
        json={"name": "second admin", "scopes": ["admin"]},
        headers=admin,
    )
    assert other.status_code == 201
    other_secret = other.json()["secret"]
    revoked = httpx.delete(
        f"{second.url}/v1/api-keys/{created[0]['id']}", headers={"X-API-Key": other_secret}
    )
    assert revoked.status_code == 200
    second.stop()

    # Revoked stays revoked: the bootstrap neither re-creates nor revives it, and says so.
    third = serve(database_url, BOOTSTRAP_SECRET)
    assert httpx.get(f"{third.url}/v1/spaces", headers=admin).status_code == 401
    listed = keys(third.url, other_secret)
    assert len(listed) == 2
    bootstrap_key = next(k for k in listed if k["id"] == created[0]["id"])
    assert bootstrap_key["revoked_at"] == revoked.json()["revoked_at"]
    third.stop()
    warnings = [
        e for e in json_lines(third.stderr) if e["level"] == "warning" and "revoked" in e["message"]
    ]
    assert len(warnings) == 1
    assert created[0]["id"] in warnings[0]["message"]

    for run in (first, second, third):
        assert BOOTSTRAP_SECRET not in run.stdout.read_text()
        assert BOOTSTRAP_SECRET not in run.stderr.read_text()
        assert other_secret not in run.stderr.read_text()
        json_lines(run.stderr)


def test_generated_admin_key_is_printed_once_on_stdout(database_url: str, serve) -> None:
    first = serve(database_url, None)
    first.stop()
    printed = [w for w in first.stdout.read_text().split() if w.startswith("tk_")]
    assert len(printed) == 1, first.stdout.read_text()
    secret = printed[0]

    second = serve(database_url, None)
    listed = keys(second.url, secret)
    assert len(listed) == 1
    assert listed[0]["scopes"] == ["admin"]
    assert secret.startswith(listed[0]["prefix"])
    second.stop()
    assert "tk_" not in second.stdout.read_text()

    for run in (first, second):
        assert secret not in run.stderr.read_text()
        json_lines(run.stderr)


def test_invalid_admin_key_refuses_to_start(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADS_API_")}
    env["THREADS_API_DATABASE_URL"] = f"sqlite:///{tmp_path / 'threads.db'}"
    env["THREADS_API_ADMIN_KEY"] = "short"
    result = subprocess.run(
        [sys.executable, "-m", "threads_api", "serve", "--port", "0"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert b"ADMIN_KEY" in result.stderr
    assert b"short" not in result.stderr
