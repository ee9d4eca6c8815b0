"""Fixtures for running `threads-api` as an operator would: in a fresh directory, with a clean
environment (helpers that tests import are in support.py)."""

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.cli.support import Invoke
from tests.helpers import pg_admin, pg_database_url
from threads_api.cli import main


@pytest.fixture
def invoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    """`invoke(*args)`: the CLI in this process (quicker than a subprocess), run from an
    empty directory with no THREADS_API_* variables; `env=` adds some."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("THREADS_API_"):
            monkeypatch.delenv(name)

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(main, list(args), env=env)

    return run


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database that exists but holds no tables at all."""
    if request.param == "sqlite":
        path = tmp_path / "empty.db"
        path.touch()
        yield f"sqlite:///{path}"
        return
    name = f"threads_cli_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_database_url(name)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
