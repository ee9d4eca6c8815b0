"""Migrations: from nothing to head on both databases, idempotent, and matching the models."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, MetaData, String, Table, inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.helpers import make_settings, pg_admin, pg_database_url
from threads_api.migrate import alembic_config, migrate
from threads_api.models import Base

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'new' / 'threads.db'}"
        return
    name = f"threads_mig_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_database_url(name)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        table: {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "indexes": sorted(i["name"] or "" for i in inspector.get_indexes(table)),
            "unique": sorted(u["name"] or "" for u in inspector.get_unique_constraints(table)),
            "fks": sorted(f["name"] or "" for f in inspector.get_foreign_keys(table)),
        }
        for table in sorted(inspector.get_table_names())
    }


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, Base.metadata)


async def _inspect(database_url: str) -> tuple[dict[str, Any], list[Any], str | None]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            schema = await connection.run_sync(_schema)
            differences = await connection.run_sync(_differences)
            version = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one_or_none()
            return schema, differences, version
    finally:
        await engine.dispose()


async def _execute(database_url: str, statement: str) -> Any:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement))
            return result.all() if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_migrate_from_empty_matches_the_models(empty_database: str) -> None:
    await migrate(make_settings(empty_database))
    schema, differences, version = await _inspect(empty_database)
    assert version == HEAD
    assert set(schema) >= {
        "alembic_version",
        "api_key_spaces",
        "api_keys",
        "app_secrets",
        "idempotency_records",
        "messages",
        "spaces",
        "threads",
    }
    assert set(schema) - {"alembic_version"} == set(Base.metadata.tables)
    assert differences == []


async def test_migrating_twice_changes_nothing(empty_database: str) -> None:
    settings = make_settings(empty_database)
    await migrate(settings)
    await _execute(
        empty_database,
        "INSERT INTO spaces (id, name, metadata, created_at, updated_at) VALUES "
        "('spc_00000000000000000000000001', 'kept', '{}', "
        "'2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    )
    before = await _inspect(empty_database)

    await migrate(settings)
    after = await _inspect(empty_database)
    assert after == before
    rows = await _execute(empty_database, "SELECT id, name FROM spaces")
    assert [tuple(r) for r in rows] == [("spc_00000000000000000000000001", "kept")]
    versions = await _execute(empty_database, "SELECT version_num FROM alembic_version")
    assert [tuple(r) for r in versions] == [(HEAD,)]


@pytest.mark.slow
async def test_concurrent_migrations_do_not_collide(empty_database: str, tmp_path: Path) -> None:
    """Several processes starting at once on a new database (as several containers would)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("THREADS_API_")}
    env["THREADS_API_DATABASE_URL"] = empty_database
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "threads_api", "migrate"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for process in processes:
        out, err = process.communicate(timeout=60)
        assert process.returncode == 0, err.decode()
        assert b"up to date" in out
    _, differences, version = await _inspect(empty_database)
    assert version == HEAD
    assert differences == []


async def test_test_databases_are_at_head(database_url: str) -> None:
    _, differences, version = await _inspect(database_url)
    assert version == HEAD
    assert differences == []


async def test_the_comparison_sees_a_difference(database_url: str) -> None:
    """Guards the test above: a model the migrations lack must show up as a difference."""
    metadata = MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(metadata)
    Table("not_migrated", metadata, Column("id", String(30), primary_key=True))

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, metadata)

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            found = await connection.run_sync(differences)
    finally:
        await engine.dispose()
    assert [d[0] for d in found] == ["add_table"]
    assert found[0][1].name == "not_migrated"
