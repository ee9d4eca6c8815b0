"""Every failure of `threads-api` is one line naming what went wrong and what to do, and a
non-zero exit: a missing or outdated database, an unreachable server, a bad URL, bad input."""

import asyncio
import json
import shutil
import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.cli.support import Invoke, one_line_error, shell
from tests.servers import free_port
from threads_api.api_key.service import api_key as api_key_service
from threads_api.config import Settings
from threads_api.db import Database
from threads_api.migrate import alembic_config

UNKNOWN_KEY = "key_" + "0" * 26
UNKNOWN_SPACE = "spc_" + "0" * 26
NOT_TEXT = "Input should be a valid string, unable to parse raw data as a unicode string"
# Every command that reads or writes the database but does not create it.
DATABASE_COMMANDS = [
    ("keys", "list"),
    ("keys", "create", "--name", "k", "--scope", "admin"),
    ("keys", "revoke", UNKNOWN_KEY),
    ("spaces", "create", "--name", "s"),
    ("spaces", "list"),
]


def _downgrade_one(connection: Connection) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    command.downgrade(config, "-1")


async def downgrade_one(database_url: str) -> None:
    database = Database(Settings(database_url=database_url), migrating=True)
    try:
        async with database.write_engine.begin() as connection:
            await connection.run_sync(_downgrade_one)
    finally:
        await database.dispose()


async def set_revision(database_url: str, revision: str) -> None:
    engine = create_async_engine(Settings(database_url=database_url).database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE alembic_version SET version_num = :r"), {"r": revision}
            )
    finally:
        await engine.dispose()


# --- the database ------------------------------------------------------------------------


@pytest.mark.parametrize("args", DATABASE_COMMANDS, ids=" ".join)
def test_a_missing_database_is_named_with_how_to_create_it(
    invoke: Invoke, args: tuple[str, ...]
) -> None:
    message = one_line_error(invoke(*args))
    assert message == (
        f"no database at {Path.cwd() / 'data' / 'threads.db'}: create it with "
        "`threads-api migrate` (or `threads-api serve`), or name another with --database-url "
        "or THREADS_API_DATABASE_URL"
    )
    assert not (Path.cwd() / "data").exists()  # looking did not create it


@pytest.mark.slow  # a subprocess, as the operator runs it
def test_the_operator_sees_one_line_then_migrates(tmp_path: Path) -> None:
    one_line_error(shell(tmp_path, "keys", "list"))
    migrated = shell(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert str(tmp_path / "data" / "threads.db") in migrated.stdout
    listed = shell(tmp_path, "keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == []


def test_a_database_without_tables_says_to_migrate(invoke: Invoke, empty_database: str) -> None:
    where = "SQLite database " if empty_database.startswith("sqlite") else "PostgreSQL database "
    for args in DATABASE_COMMANDS:
        message = one_line_error(invoke(*args, "--database-url", empty_database))
        assert message.startswith(f"the {where}"), message
        assert message.endswith(
            "has no Threads API tables: run `threads-api migrate` to create them"
        ), message
    assert invoke("migrate", "--database-url", empty_database).exit_code == 0
    assert invoke("spaces", "list", "--database-url", empty_database).exit_code == 0


def test_an_out_of_date_schema_says_to_migrate(invoke: Invoke, empty_database: str) -> None:
    assert invoke("migrate", "--database-url", empty_database).exit_code == 0
    asyncio.run(downgrade_one(empty_database))
    for args in DATABASE_COMMANDS:
        message = one_line_error(invoke(*args, "--database-url", empty_database))
        assert "has an out-of-date schema (revision " in message, message
        assert message.endswith("run `threads-api migrate`"), message
    assert invoke("migrate", "--database-url", empty_database).exit_code == 0
    assert invoke("spaces", "list", "--database-url", empty_database).exit_code == 0


def test_a_schema_from_a_newer_version_is_refused(invoke: Invoke, empty_database: str) -> None:
    assert invoke("migrate", "--database-url", empty_database).exit_code == 0
    asyncio.run(set_revision(empty_database, "9999_from_the_future"))
    for args in [*DATABASE_COMMANDS, ("migrate",)]:
        message = one_line_error(invoke(*args, "--database-url", empty_database))
        assert "has schema revision 9999_from_the_future, unknown to this threads-api" in message
        assert "migrated by a newer version" in message


@pytest.mark.parametrize("args", [*DATABASE_COMMANDS, ("migrate",)], ids=" ".join)
def test_an_unreachable_postgres_is_named_without_its_password(
    invoke: Invoke, args: tuple[str, ...]
) -> None:
    port = free_port()  # nothing listens there
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{port}/threads"
    for result in (
        invoke(*args, "--database-url", url),
        invoke(*args, env={"THREADS_API_DATABASE_URL": url}),
    ):
        message = one_line_error(result)
        assert message.startswith(
            f"cannot use the PostgreSQL database postgresql+asyncpg://postgres:***@127.0.0.1:{port}"
            "/threads: "
        ), message
        assert "s3cret" not in message


def test_a_silent_postgres_times_out(invoke: Invoke) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"postgresql://postgres@127.0.0.1:{silent.getsockname()[1]}/threads"
        result = invoke(
            "spaces",
            "list",
            "--database-url",
            url,
            env={"THREADS_API_DATABASE_TIMEOUT_SECONDS": "0.5"},
        )
    assert one_line_error(result).endswith("/threads: no answer within 0.5 s")


def test_a_file_that_is_not_a_database(invoke: Invoke, tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("not SQLite at all\n" * 100)
    for args in [("spaces", "list"), ("migrate",)]:
        message = one_line_error(invoke(*args, "--database-url", "sqlite:///notes.db"))
        assert (
            message
            == f"cannot use the SQLite database {Path.cwd() / 'notes.db'}: file is not a database"
        )


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("mysql://u:s3cret@db/threads", "must be a postgresql:// or sqlite:// URL"),
        ("postgresql://u:s3cret@db:port/threads", "is not a valid URL (is the port a number?)"),
        ("postgresql://u:s3cret@db:99999/threads", "has a port outside 1-65535"),
    ],
)
def test_an_invalid_url_is_named_without_repeating_it(
    invoke: Invoke, url: str, problem: str
) -> None:
    for args in [*DATABASE_COMMANDS, ("migrate",)]:
        message = one_line_error(invoke(*args, "--database-url", url))
        assert message == f"invalid settings: --database-url: {problem}"
    from_env = one_line_error(invoke("spaces", "list", env={"THREADS_API_DATABASE_URL": url}))
    assert from_env == f"invalid settings: THREADS_API_DATABASE_URL: {problem}"


@pytest.mark.slow  # subprocesses, as the operator runs them
def test_serve_with_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = f"postgresql://postgres:s3cret-pw@127.0.0.1:{free_port()}/threads"
    # Independent commands: side by side, as each spends most of its time starting up.
    with ThreadPoolExecutor(2) as pool:
        unreachable = pool.submit(shell, tmp_path, "serve", "--port", "0", "--database-url", url)
        mysql = {"THREADS_API_DATABASE_URL": "mysql://x"}
        invalid_url = pool.submit(shell, tmp_path, "serve", "--port", "0", env=mysql)
    message = one_line_error(unreachable.result())
    assert message.startswith(
        "cannot use the PostgreSQL database postgresql+asyncpg://postgres:***@"
    )
    assert "s3cret" not in message
    invalid = one_line_error(invalid_url.result())
    assert (
        invalid
        == "invalid settings: THREADS_API_DATABASE_URL: must be a postgresql:// or sqlite:// URL"
    )


# --- bad input ---------------------------------------------------------------------------

BAD_INPUT = [
    (("keys", "revoke", "nope"), "KEY_ID: not an API key id (key_ and 26 letters or digits)"),
    (("keys", "revoke", "key_\x00"), "KEY_ID: not an API key id (key_ and 26 letters or digits)"),
    (("keys", "revoke", UNKNOWN_KEY), "API key not found"),
    (
        ("keys", "create", "--name", "", "--scope", "admin"),
        "--name: String should have at least 1 character",
    ),
    (
        ("keys", "create", "--name", "k" * 201, "--scope", "admin"),
        "--name: String should have at most 200 characters",
    ),
    (
        ("keys", "create", "--name", "a\x00b", "--scope", "admin"),
        "--name: must not contain the NUL character",
    ),
    (("keys", "create", "--name", "k", "--space", "nope"), "--space: is not a space id"),
    (("keys", "create", "--name", "k", "--space", UNKNOWN_SPACE), "--space: unknown space id"),
    (("keys", "create", "--name", "k"), "space_ids is required unless the key has the admin scope"),
    (
        ("keys", "create", "--name", "k", "--scope", "admin", "--space", UNKNOWN_SPACE),
        "an admin key sees every space: leave space_ids empty",
    ),
    (("spaces", "create", "--name", ""), "--name: String should have at least 1 character"),
    (
        ("spaces", "create", "--name", "s" * 201),
        "--name: String should have at most 200 characters",
    ),
    (("spaces", "create", "--name", "a\x00b"), "--name: must not contain the NUL character"),
    # What a name that is not UTF-8 becomes in argv: pydantic refuses it before our rules.
    (("spaces", "create", "--name", "a\udcff"), f"--name: {NOT_TEXT}"),
]


def test_bad_input_names_the_option_and_changes_nothing(invoke: Invoke, database_url: str) -> None:
    def listed() -> tuple[str, str]:
        keys = invoke("keys", "list", "--database-url", database_url)
        spaces = invoke("spaces", "list", "--database-url", database_url)
        assert keys.exit_code == spaces.exit_code == 0, keys.stderr + spaces.stderr
        return keys.stdout, spaces.stdout

    before = listed()
    for args, expected in BAD_INPUT:
        assert one_line_error(invoke(*args, "--database-url", database_url)) == expected, args
    assert listed() == before


@pytest.mark.slow  # a subprocess, as the operator runs it
def test_a_name_that_is_not_utf8_is_refused_in_one_line(
    tmp_path: Path, sqlite_template: Path
) -> None:
    # The name is refused before the database is opened: one kind of database is enough
    # (test_bad_input_names_the_option_and_changes_nothing refuses it on both, in-process).
    database = tmp_path / "threads.db"
    shutil.copyfile(sqlite_template, database)
    result = shell(
        tmp_path,
        "spaces",
        "create",
        "--name",
        "caf\udce9",
        "--database-url",
        f"sqlite:///{database}",
    )
    assert one_line_error(result) == f"--name: {NOT_TEXT}"


def test_an_unforeseen_error_is_one_line_without_its_message(
    invoke: Invoke, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("details that may hold a s3cret")

    monkeypatch.setattr(api_key_service, "page", broken)
    message = one_line_error(invoke("keys", "list", "--database-url", database_url))
    assert message == "unexpected RuntimeError; please report it with the command you ran"
