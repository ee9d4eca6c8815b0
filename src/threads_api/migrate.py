"""Bring the schema up to date with Alembic, safely from several processes at once."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from threads_api.config import Settings
from threads_api.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant: PostgreSQL advisory lock that serialises concurrent `migrate` runs.
_MIGRATION_LOCK_ID = 7_402_113


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


class SchemaNotReady(RuntimeError):
    """The database's schema is not the one this code needs: absent, older or newer."""


def _schema_problem(connection: Connection, *, migrating: bool) -> str | None:
    """Why the schema cannot be used as it is; None when it is at the head revision."""
    script = ScriptDirectory.from_config(alembic_config())
    current = set(MigrationContext.configure(connection).get_current_heads())
    unknown = current - {revision.revision for revision in script.walk_revisions()}
    if unknown:
        # Upgrading from a revision we do not know is impossible: say why, not alembic's words.
        return (
            f"has schema revision {', '.join(sorted(unknown))}, unknown to this threads-api: "
            "it was migrated by a newer version; run that version instead"
        )
    heads = set(script.get_heads())
    if migrating or current == heads:
        return None
    if not current:
        return "has no Threads API tables: run `threads-api migrate` to create them"
    return (
        f"has an out-of-date schema (revision {', '.join(sorted(current))}, this threads-api "
        f"needs {', '.join(sorted(heads))}): run `threads-api migrate`"
    )


async def check_schema(database: Database) -> None:
    """Raise SchemaNotReady unless the schema is exactly the one this code was written for."""
    async with database.read_engine.connect() as connection:
        problem = await connection.run_sync(_schema_problem, migrating=False)
        await connection.rollback()
    if problem is not None:
        raise SchemaNotReady(problem)


def _upgrade(connection: Connection) -> None:
    problem = _schema_problem(connection, migrating=True)
    if problem is not None:
        raise SchemaNotReady(problem)
    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(settings: Settings) -> None:
    database = Database(settings, migrating=True)
    try:
        # The writer: on SQLite its BEGIN IMMEDIATE holds off other writers meanwhile.
        async with database.write_engine.begin() as connection:
            if database.dialect == "postgresql":
                await connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID}
                )
            await connection.run_sync(_upgrade)
    finally:
        await database.dispose()
